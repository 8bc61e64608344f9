import type { BillingMotion } from "../core/billing.ts";
import type { ChargeEvent, EventKind } from "../core/events.ts";
import type { ReportEvent } from "../core/reconciliation-report.ts";
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

/** The charge event fields the reconciliation report reads (src/core/reconciliation-report.ts ReportEvent). */
const REPORT_EVENT_COLUMNS = [
  "event_key",
  "customer_tenant_id",
  "subscription_id",
  "motion",
  "is_billable",
  "kind",
  "charge_start",
  "charge_end",
  "product_id",
  "sku_id",
  "product_name",
  "sku_name",
  "seat_delta",
  "amount",
  "currency",
] as const;

/**
 * One string instance per distinct value: a large invoice repeats the same tenants, products, dates and
 * currency on thousands of rows, and every row read brings its own copies. Keeping one of each is what lets
 * the report of 100,000 lines stay small (BENCHMARKS.md, bench:report).
 */
class Interner {
  private readonly seen = new Map<string, string>();
  of(value: string): string;
  of(value: string | null): string | null;
  of(value: string | null): string | null {
    if (value === null) return null;
    const known = this.seen.get(value);
    if (known !== undefined) return known;
    this.seen.set(value, value);
    return value;
  }
}

/**
 * Rows of a select, one at a time: streamed on SQLite (node:sqlite's `all()` would first build every row,
 * then the driver a copy of each), read at once on PostgreSQL (the pool has no cursor).
 */
async function* rowsOf<R>(
  store: Store,
  query: { stream(): AsyncIterableIterator<R>; execute(): Promise<R[]> },
): AsyncGenerator<R> {
  if (store.dialect === "sqlite") yield* query.stream();
  else yield* await query.execute();
}

/** How many customers' events one PostgreSQL read holds (the pool has no cursor: pages by customer). */
const EVENT_PAGE_CUSTOMERS = 200;
/** Events handed on between two turns of the event loop. */
const YIELD_EVERY = 1000;

/**
 * An invoice's charge events with only what the report reads, repeated strings shared, handed to `onEvent`
 * one at a time in report order (by customer), awaiting it when it returns a promise (an export waiting for
 * its reader). Never all held: SQLite streams them; PostgreSQL reads them in pages of
 * EVENT_PAGE_CUSTOMERS customers. `customers`: only these customers' events (a drill-down).
 */
export async function eachReportEvent(
  store: Store,
  organizationId: string,
  invoiceNumber: string,
  onEvent: (event: ReportEvent) => void | Promise<void>,
  customers?: readonly string[],
): Promise<void> {
  const select = (tenants: readonly string[] | undefined) => {
    let query = store.db
      .selectFrom("charge_events")
      .select(REPORT_EVENT_COLUMNS)
      .where("organization_id", "=", organizationId)
      .where("invoice_number", "=", invoiceNumber);
    if (tenants) query = query.where("customer_tenant_id", "in", tenants);
    return query.orderBy("customer_tenant_id").orderBy("charge_start").orderBy("event_key");
  };
  const text = new Interner();
  const hand = (row: Awaited<ReturnType<ReturnType<typeof select>["execute"]>>[number]) =>
    onEvent({
      eventKey: row.event_key,
      customerTenantId: text.of(row.customer_tenant_id),
      subscriptionId: row.subscription_id,
      motion: text.of(row.motion) as BillingMotion,
      billable: Number(row.is_billable) === 1,
      kind: text.of(row.kind) as EventKind,
      chargeStart: text.of(row.charge_start),
      chargeEnd: text.of(row.charge_end),
      productId: text.of(row.product_id),
      skuId: text.of(row.sku_id),
      productName: text.of(row.product_name),
      skuName: text.of(row.sku_name),
      seatDelta: text.of(row.seat_delta),
      amount: row.amount,
      currency: text.of(row.currency),
    });
  let handed = 0;
  if (store.dialect === "sqlite") {
    for await (const row of select(customers).stream()) {
      const waiting = hand(row);
      if (waiting) await waiting;
      // node:sqlite reads synchronously: without a turn of the event loop now and then the server answers
      // nothing meanwhile, and V8 cannot run the tasks that finish its garbage collections (the heap grows).
      if (++handed % YIELD_EVERY === 0) await new Promise(setImmediate);
    }
    return;
  }
  const tenants = customers ?? (await invoiceTenants(store, organizationId, invoiceNumber));
  for (let i = 0; i < tenants.length; i += EVENT_PAGE_CUSTOMERS) {
    const rows = await select(tenants.slice(i, i + EVENT_PAGE_CUSTOMERS)).execute();
    for (const row of rows) {
      const waiting = hand(row);
      if (waiting) await waiting;
      if (++handed % YIELD_EVERY === 0) await new Promise(setImmediate);
    }
  }
}

/** The customers an invoice bills (from its lines, through the index by invoice). */
export async function invoiceTenants(
  store: Store,
  organizationId: string,
  invoiceNumber: string,
): Promise<string[]> {
  const rows = await store.db
    .selectFrom("charge_lines")
    .select("customer_tenant_id")
    .distinct()
    .where("organization_id", "=", organizationId)
    .where("invoice_number", "=", invoiceNumber)
    .orderBy("customer_tenant_id")
    .execute();
  return rows.map((r) => r.customer_tenant_id);
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
  // Only what the report reads: every column of 6,000 entries (2,000 customers) was garbage to collect.
  const rows = await store.db
    .selectFrom("mappings")
    .select(["customer_tenant_id", "motion", "agreement_id", "agreement_name", "sync_date", "enabled"])
    .where("organization_id", "=", organizationId)
    .where("connection_id", "=", connectionId)
    .execute();
  return rows.map((r) => ({
    customerTenantId: r.customer_tenant_id,
    motion: r.motion as BillingMotion,
    agreementId: r.agreement_id,
    agreementName: r.agreement_name,
    syncDate: r.sync_date,
    enabled: Number(r.enabled) === 1,
  }));
}

/**
 * The payload fields the report reads (src/core/reconciliation-report.ts): the rest of a planned line (its
 * description parts, dates, price source…) is left out, so 50,000 writes do not hold 50,000 whole lines.
 */
const PAYLOAD_FIELDS = [
  "action",
  "description",
  "eventKeys",
  "subscriptionId",
  "segment",
  "unitCost",
  "unitPrice",
  "quantity",
  "extendedCost",
  "extendedPrice",
  "pricedBy",
  "serviceKey",
  "effectiveDate",
  "unitsAfter",
] as const;

/** Of a monthly segment the report reads when it runs and its quantity; the segment repeats the whole line. */
const SEGMENT_FIELDS = ["start", "end", "quantity"] as const;

function reportPayload(json: string, text: Interner): Record<string, unknown> {
  const full = JSON.parse(json) as Record<string, unknown>;
  const payload: Record<string, unknown> = {};
  for (const field of PAYLOAD_FIELDS) {
    const value = full[field];
    if (value !== undefined) payload[field] = typeof value === "string" ? text.of(value) : value;
  }
  const segment = payload.segment;
  if (segment !== null && typeof segment === "object" && !Array.isArray(segment)) {
    const cut: Record<string, unknown> = {};
    for (const field of SEGMENT_FIELDS) {
      const value = (segment as Record<string, unknown>)[field];
      if (value !== undefined) cut[field] = typeof value === "string" ? text.of(value) : value;
    }
    payload.segment = cut;
  }
  return payload;
}

/** The connection's write ledger for the given customers (every motion), payloads cut to what the report reads. */
export async function reportWrites(
  store: Store,
  organizationId: string,
  connectionId: string,
  customerTenantIds: readonly string[],
): Promise<ReportWrite[]> {
  const writes: ReportWrite[] = [];
  const text = new Interner();
  // In slices: PostgreSQL and SQLite both cap the parameters of one statement.
  for (let i = 0; i < customerTenantIds.length; i += 500) {
    const query = store.db
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
      .where("customer_tenant_id", "in", customerTenantIds.slice(i, i + 500));
    for await (const r of rowsOf(store, query))
      writes.push({
        writeKey: r.write_key,
        customerTenantId: text.of(r.customer_tenant_id),
        motion: text.of(r.motion) as BillingMotion,
        eventKey: r.event_key,
        targetId: text.of(r.target_id),
        status: r.status,
        psaRecordId: r.psa_record_id,
        lastError: r.last_error,
        payload: reportPayload(r.payload, text),
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
