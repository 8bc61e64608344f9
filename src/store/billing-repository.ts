import type { BillingMotion } from "../core/billing.ts";
import type { ChargeEvent } from "../core/events.ts";
import type { Store } from "./db.ts";
import type { ImportsTable } from "./schema.ts";
import { eventFromRow, sourceRecordOf } from "./billing-rows.ts";
import { fieldsInSourceBlock } from "../core/source-blocks.ts";

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

/** Whether the billing data has this customer, by exact tenant id. */
export async function hasCustomer(store: Store, organizationId: string, tenantId: string): Promise<boolean> {
  const row = await store.db
    .selectFrom("customers")
    .select("tenant_id")
    .where("organization_id", "=", organizationId)
    .where("tenant_id", "=", tenantId)
    .executeTakeFirst();
  return row !== undefined;
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
  line: { source: string; import_id: string; source_row: number },
): Promise<Record<string, string>> {
  const owner = await store.db
    .selectFrom("imports")
    .select("source_fields")
    .where("id", "=", line.import_id)
    .executeTakeFirst();
  const sourceFields = owner?.source_fields ?? null;
  if (line.source !== "") return sourceRecordOf(line.source, sourceFields);
  // Stored since migration 0021: the row is in the block of its batch, the last one starting at or before it.
  const block = await store.db
    .selectFrom("charge_line_sources")
    .select("data")
    .where("import_id", "=", line.import_id)
    .where("first_row", "<=", Number(line.source_row))
    .orderBy("first_row", "desc")
    .limit(1)
    .executeTakeFirst();
  const fields = block ? fieldsInSourceBlock(block.data, Number(line.source_row)) : null;
  if (!fields)
    throw new Error(`the source record of row ${line.source_row} of import ${line.import_id} is missing`);
  return sourceRecordOf(JSON.stringify(fields), sourceFields);
}

/** A product (and SKU) that appears in the billing data. */
export type BillingProduct = {
  productId: string;
  skuId: string;
  productName: string;
  skuName: string | null;
};

/**
 * Up to 50 distinct products of the billing data whose product name, SKU name or product id contains the words
 * (case-insensitive; LIKE's wildcards in them are dropped, so they match literally), by name; all when empty.
 */
export async function searchBillingProducts(
  store: Store,
  organizationId: string,
  words: string,
): Promise<BillingProduct[]> {
  const q = words.toLowerCase().replace(/[%_\\]/g, "");
  let select = store.db
    .selectFrom("charge_lines")
    .select(["product_id", "sku_id", "product_name", "sku_name"])
    .distinct()
    .where("organization_id", "=", organizationId);
  if (q !== "")
    select = select.where((eb) =>
      eb.or([
        eb(eb.fn("lower", ["product_name"]), "like", `%${q}%`),
        eb(eb.fn("lower", ["sku_name"]), "like", `%${q}%`),
        eb(eb.fn("lower", ["product_id"]), "like", `%${q}%`),
      ]),
    );
  const rows = await select.orderBy("product_name").orderBy("sku_name").orderBy("sku_id").limit(50).execute();
  return rows.map((r) => ({
    productId: r.product_id,
    skuId: r.sku_id,
    productName: r.product_name,
    skuName: r.sku_name,
  }));
}

/** How many rows of the organization's customers or invoices there are. */
export async function countRows(
  store: Store,
  organizationId: string,
  table: "customers" | "invoices",
): Promise<number> {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("organization_id", "=", organizationId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** In one query: how many customers have a charge line and no mapping row at all (any connection, any motion). */
export async function countUnmappedCustomers(store: Store, organizationId: string): Promise<number> {
  const row = await store.db
    .selectFrom("customers")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("customers.organization_id", "=", organizationId)
    .where(({ exists, not, selectFrom }) =>
      exists(
        selectFrom("charge_lines")
          .select("charge_lines.line_key")
          .whereRef("charge_lines.organization_id", "=", "customers.organization_id")
          .whereRef("charge_lines.customer_tenant_id", "=", "customers.tenant_id"),
      ).and(
        not(
          exists(
            selectFrom("mappings")
              .select("mappings.motion")
              .whereRef("mappings.organization_id", "=", "customers.organization_id")
              .whereRef("mappings.customer_tenant_id", "=", "customers.tenant_id"),
          ),
        ),
      ),
    )
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** One billing file import, as the import history shows it. */
export type ImportRecord = {
  id: string;
  fileName: string;
  format: string;
  status: ImportsTable["status"];
  startedAt: string;
  lines: number;
  newLines: number;
  knownLines: number;
  error: string | null;
};

/** The import history, newest first (ties by id), at most `limit` imports. */
export async function listImports(
  store: Store,
  organizationId: string,
  limit: number,
): Promise<ImportRecord[]> {
  const rows = await store.db
    .selectFrom("imports")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .orderBy("started_at", "desc")
    .orderBy("id")
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    fileName: r.file_name,
    format: r.file_format,
    status: r.status,
    startedAt: r.started_at,
    lines: Number(r.line_count),
    newLines: Number(r.new_line_count),
    knownLines: Number(r.known_line_count),
    error: r.error,
  }));
}
