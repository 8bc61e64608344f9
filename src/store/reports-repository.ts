import type { BillingMotion } from "../core/billing.ts";
import type { ChargeEvent } from "../core/events.ts";
import type { Store } from "./db.ts";
import { eventFromRow } from "./billing-rows.ts";
import type { PsaWritesTable } from "./schema.ts";

/**
 * The read side of the reconciliation report and the term ledger (docs/reports.md): billing events, the
 * mappings, the write ledger (`psa_writes`) and the held lines, as plain data for src/core's pure report
 * and ledger; and the calendar feed token (migration 0017). Nothing here changes billing or sync data.
 */

export type ReportInvoice = {
  invoiceNumber: string;
  currency: string;
  firstChargeDate: string | null;
  lastChargeDate: string | null;
};

export type ReportConnection = { id: string; name: string; vendor: "connectwise" | "autotask" };

export type ReportMapping = {
  customerTenantId: string;
  motion: BillingMotion;
  psaCompanyName: string | null;
  agreementId: string | null;
  agreementName: string | null;
  syncDate: string | null;
  enabled: boolean;
};

/** One ledger row with its payload (the planned line as sent) parsed. */
export type ReportWrite = {
  writeKey: string;
  customerTenantId: string;
  motion: BillingMotion;
  eventKey: string;
  targetId: string;
  status: PsaWritesTable["status"];
  psaRecordId: string | null;
  lastError: string | null;
  payload: Record<string, unknown>;
};

export type ReportHold = {
  writeKey: string;
  customerTenantId: string;
  motion: BillingMotion;
  eventKey: string;
  status: "held" | "approved";
  unitCost: string;
  unitPrice: string;
};

export async function findInvoice(
  store: Store,
  organizationId: string,
  invoiceNumber: string,
): Promise<ReportInvoice | null> {
  const row = await store.db
    .selectFrom("invoices")
    .select(["invoice_number", "currency", "first_charge_date", "last_charge_date"])
    .where("organization_id", "=", organizationId)
    .where("invoice_number", "=", invoiceNumber)
    .executeTakeFirst();
  return row
    ? {
        invoiceNumber: row.invoice_number,
        currency: row.currency,
        firstChargeDate: row.first_charge_date,
        lastChargeDate: row.last_charge_date,
      }
    : null;
}

/** Invoices, the most recent charge period first (for the month-over-month figures). */
export async function recentInvoices(
  store: Store,
  organizationId: string,
  limit: number,
): Promise<ReportInvoice[]> {
  const rows = await store.db
    .selectFrom("invoices")
    .select(["invoice_number", "currency", "first_charge_date", "last_charge_date"])
    .where("organization_id", "=", organizationId)
    .orderBy("first_charge_date", "desc")
    .orderBy("invoice_number", "desc")
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    invoiceNumber: row.invoice_number,
    currency: row.currency,
    firstChargeDate: row.first_charge_date,
    lastChargeDate: row.last_charge_date,
  }));
}

export async function invoiceEvents(
  store: Store,
  organizationId: string,
  invoiceNumber: string,
): Promise<ChargeEvent[]> {
  const rows = await store.db
    .selectFrom("charge_events")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("invoice_number", "=", invoiceNumber)
    .orderBy("customer_tenant_id")
    .orderBy("charge_start")
    .orderBy("event_key")
    .execute();
  return rows.map(eventFromRow);
}

/** Every Seat-based Annual and Seat-based Monthly event of every invoice (the term ledger's input). */
export async function seatEvents(
  store: Store,
  organizationId: string,
  customerTenantId?: string,
): Promise<ChargeEvent[]> {
  let query = store.db
    .selectFrom("charge_events")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("motion", "in", ["seat-annual", "seat-monthly"]);
  if (customerTenantId) query = query.where("customer_tenant_id", "=", customerTenantId);
  const rows = await query.orderBy("subscription_id").orderBy("charge_start").orderBy("event_key").execute();
  return rows.map(eventFromRow);
}

export async function customerNames(store: Store, organizationId: string): Promise<Map<string, string>> {
  const rows = await store.db
    .selectFrom("customers")
    .select(["tenant_id", "name"])
    .where("organization_id", "=", organizationId)
    .execute();
  return new Map(rows.map((r) => [r.tenant_id, r.name]));
}

export async function reportConnections(store: Store, organizationId: string): Promise<ReportConnection[]> {
  const rows = await store.db
    .selectFrom("connections")
    .select(["id", "name", "vendor"])
    .where("organization_id", "=", organizationId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({ id: r.id, name: r.name, vendor: r.vendor }));
}

export async function reportMappings(
  store: Store,
  organizationId: string,
  connectionId: string,
): Promise<ReportMapping[]> {
  const rows = await store.db
    .selectFrom("mappings")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("connection_id", "=", connectionId)
    .execute();
  return rows.map((r) => ({
    customerTenantId: r.customer_tenant_id,
    motion: r.motion as BillingMotion,
    psaCompanyName: r.psa_company_name,
    agreementId: r.agreement_id,
    agreementName: r.agreement_name,
    syncDate: r.sync_date,
    enabled: Number(r.enabled) === 1,
  }));
}

/** The connection's write ledger for the given customers (every motion). */
export async function reportWrites(
  store: Store,
  organizationId: string,
  connectionId: string,
  customerTenantIds: readonly string[],
): Promise<ReportWrite[]> {
  const writes: ReportWrite[] = [];
  // In slices: PostgreSQL and SQLite both cap the parameters of one statement.
  for (let i = 0; i < customerTenantIds.length; i += 500) {
    const rows = await store.db
      .selectFrom("psa_writes")
      .select([
        "write_key",
        "customer_tenant_id",
        "motion",
        "event_key",
        "target_id",
        "status",
        "psa_record_id",
        "last_error",
        "payload",
      ])
      .where("organization_id", "=", organizationId)
      .where("connection_id", "=", connectionId)
      .where("customer_tenant_id", "in", customerTenantIds.slice(i, i + 500))
      .execute();
    for (const r of rows)
      writes.push({
        writeKey: r.write_key,
        customerTenantId: r.customer_tenant_id,
        motion: r.motion as BillingMotion,
        eventKey: r.event_key,
        targetId: r.target_id,
        status: r.status,
        psaRecordId: r.psa_record_id,
        lastError: r.last_error,
        payload: JSON.parse(r.payload) as Record<string, unknown>,
      });
  }
  return writes;
}

export async function reportHolds(
  store: Store,
  organizationId: string,
  connectionId: string,
): Promise<ReportHold[]> {
  const rows = await store.db
    .selectFrom("price_holds")
    .select(["write_key", "customer_tenant_id", "motion", "event_key", "status", "unit_cost", "unit_price"])
    .where("organization_id", "=", organizationId)
    .where("connection_id", "=", connectionId)
    .execute();
  return rows.map((r) => ({
    writeKey: r.write_key,
    customerTenantId: r.customer_tenant_id,
    motion: r.motion as BillingMotion,
    eventKey: r.event_key,
    status: r.status,
    unitCost: r.unit_cost,
    unitPrice: r.unit_price,
  }));
}

// ------------------------------------------------------------------------------------------ feed token

/** Stores (or replaces) the organization's feed token hash: the previous token stops working. */
export async function saveFeedTokenHash(
  store: Store,
  organizationId: string,
  tokenHash: string,
  createdBy: string | null,
  now: string,
): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    await trx.deleteFrom("report_feed_tokens").where("organization_id", "=", organizationId).execute();
    await trx
      .insertInto("report_feed_tokens")
      .values({
        organization_id: organizationId,
        token_hash: tokenHash,
        created_by: createdBy,
        created_at: now,
        last_used_at: null,
      })
      .execute();
  });
}

/** The organization whose feed token has this hash, marking it used; null when no token matches. */
export async function useFeedToken(store: Store, tokenHash: string, now: string): Promise<string | null> {
  const row = await store.db
    .selectFrom("report_feed_tokens")
    .select("organization_id")
    .where("token_hash", "=", tokenHash)
    .executeTakeFirst();
  if (!row) return null;
  await store.db
    .updateTable("report_feed_tokens")
    .set({ last_used_at: now })
    .where("organization_id", "=", row.organization_id)
    .execute();
  return row.organization_id;
}

export async function feedTokenInfo(
  store: Store,
  organizationId: string,
): Promise<{ createdAt: string; lastUsedAt: string | null } | null> {
  const row = await store.db
    .selectFrom("report_feed_tokens")
    .select(["created_at", "last_used_at"])
    .where("organization_id", "=", organizationId)
    .executeTakeFirst();
  return row ? { createdAt: row.created_at, lastUsedAt: row.last_used_at } : null;
}

/** Errors runs of the connection reported for single events (a write that never reached the ledger). */
export async function reportRunErrors(
  store: Store,
  organizationId: string,
  connectionId: string,
): Promise<{ customerTenantId: string; eventKey: string; message: string; at: string }[]> {
  const rows = await store.db
    .selectFrom("sync_items")
    .innerJoin("sync_runs", "sync_runs.id", "sync_items.run_id")
    .select([
      "sync_items.customer_tenant_id",
      "sync_items.event_key",
      "sync_items.message",
      "sync_items.created_at",
    ])
    .where("sync_items.organization_id", "=", organizationId)
    .where("sync_runs.connection_id", "=", connectionId)
    .where("sync_items.outcome", "=", "error")
    .where("sync_items.event_key", "is not", null)
    .where("sync_items.customer_tenant_id", "is not", null)
    .execute();
  return rows.map((r) => ({
    customerTenantId: r.customer_tenant_id!,
    eventKey: r.event_key!,
    message: r.message ?? "error",
    at: r.created_at,
  }));
}
