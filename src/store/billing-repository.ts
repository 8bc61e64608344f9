import type { BillingMotion } from "../core/billing.ts";
import type { ChargeEvent } from "../core/events.ts";
import type { Store } from "./db.ts";
import { eventFromRow, sourceRecordOf } from "./billing-rows.ts";

/** Read side of the imported billing data, as the CLI, API and sync planner need it. */
export type InvoiceSummary = {
  invoiceNumber: string;
  currency: string;
  firstChargeDate: string | null;
  lastChargeDate: string | null;
  lines: number;
  subtotal: string;
  total: string;
  sourceFile: string;
};

export type CustomerSummary = {
  tenantId: string;
  name: string;
  domain: string | null;
  country: string | null;
  subscriptions: number;
  eventsByMotion: Record<BillingMotion, number>;
};

export async function listInvoices(store: Store, organizationId: string): Promise<InvoiceSummary[]> {
  const rows = await store.db
    .selectFrom("invoices")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .orderBy("first_charge_date", "desc")
    .orderBy("invoice_number")
    .execute();
  return rows.map((r) => ({
    invoiceNumber: r.invoice_number,
    currency: r.currency,
    firstChargeDate: r.first_charge_date,
    lastChargeDate: r.last_charge_date,
    lines: Number(r.line_count),
    subtotal: r.subtotal,
    total: r.total,
    sourceFile: r.source_file,
  }));
}

export async function listCustomers(
  store: Store,
  organizationId: string,
  search?: string,
): Promise<CustomerSummary[]> {
  let query = store.db.selectFrom("customers").selectAll().where("organization_id", "=", organizationId);
  if (search) {
    const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or([
        eb(eb.fn("lower", ["name"]), "like", pattern),
        eb(eb.fn("lower", ["domain"]), "like", pattern),
        eb("tenant_id", "like", pattern),
      ]),
    );
  }
  const customers = await query.orderBy("name").execute();
  const subscriptionCounts = await store.db
    .selectFrom("subscriptions")
    .select(["customer_tenant_id", (eb) => eb.fn.countAll<number>().as("n")])
    .where("organization_id", "=", organizationId)
    .groupBy("customer_tenant_id")
    .execute();
  const eventCounts = await store.db
    .selectFrom("charge_events")
    .select(["customer_tenant_id", "motion", (eb) => eb.fn.countAll<number>().as("n")])
    .where("organization_id", "=", organizationId)
    .groupBy(["customer_tenant_id", "motion"])
    .execute();
  const subs = new Map(subscriptionCounts.map((r) => [r.customer_tenant_id, Number(r.n)]));
  return customers.map((c) => {
    const eventsByMotion: Record<BillingMotion, number> = { "seat-monthly": 0, azure: 0, "seat-annual": 0 };
    for (const r of eventCounts)
      if (r.customer_tenant_id === c.tenant_id) eventsByMotion[r.motion as BillingMotion] = Number(r.n);
    return {
      tenantId: c.tenant_id,
      name: c.name,
      domain: c.domain,
      country: c.country,
      subscriptions: subs.get(c.tenant_id) ?? 0,
      eventsByMotion,
    };
  });
}

export async function findCustomer(store: Store, organizationId: string, idOrName: string) {
  const exact = await store.db
    .selectFrom("customers")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("tenant_id", "=", idOrName.toLowerCase())
    .executeTakeFirst();
  if (exact) return exact;
  const byName = await store.db
    .selectFrom("customers")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where((eb) => eb(eb.fn("lower", ["name"]), "=", idOrName.toLowerCase()))
    .execute();
  return byName.length === 1 ? byName[0] : undefined;
}

export async function listChargeEvents(
  store: Store,
  organizationId: string,
  filter: { customerTenantId: string; motion?: BillingMotion; sinceChargeDate?: string },
): Promise<ChargeEvent[]> {
  let query = store.db
    .selectFrom("charge_events")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("customer_tenant_id", "=", filter.customerTenantId);
  if (filter.motion) query = query.where("motion", "=", filter.motion);
  if (filter.sinceChargeDate) query = query.where("charge_start", ">=", filter.sinceChargeDate);
  const rows = await query.orderBy("charge_start").orderBy("subscription_id").orderBy("event_key").execute();
  return rows.map(eventFromRow);
}

/** A stored line's source record as {column: value} (its non-empty fields), whichever form it was stored in. */
export async function lineSourceRecord(
  store: Store,
  line: { source: string; import_id: string },
): Promise<Record<string, string>> {
  const owner = await store.db
    .selectFrom("imports")
    .select("source_fields")
    .where("id", "=", line.import_id)
    .executeTakeFirst();
  return sourceRecordOf(line.source, owner?.source_fields ?? null);
}
