import { sql } from "kysely";
import { Dec, type DecimalString } from "../core/money.ts";
import type { Store } from "./db.ts";
import type { RunStatus, SyncItemsTable, SyncRunsTable } from "./schema.ts";

/** Sync history: runs and their per-item results, kept for audit and never rewritten once finished. */
export type RunView = {
  id: string;
  connectionId: string;
  trigger: string;
  scope: Record<string, unknown>;
  status: SyncRunsTable["status"];
  startedAt: string;
  finishedAt: string | null;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psaRequests: number;
  message: string | null;
  /** The one customer the run was scoped to; null for a run over all customers. */
  customerTenantId: string | null;
  customerName: string | null;
};

/**
 * A held item's approval, as data: the web app shows Approve (POST /api/connections/{id}/holds/approve with the
 * write key), the CLI names `cspsync holds approve CONNECTION WRITE-KEY`. status is the hold as it stands now:
 * held (waiting), approved (the next sync writes it), written (the PSA has it), or replaced (held again at
 * another price since, or no longer recorded).
 */
export type ItemHold = {
  writeKey: string;
  unitCost: string | null;
  unitPrice: string | null;
  status: "held" | "approved" | "written" | "replaced";
  approvedBy: string | null;
};

/** The agreement (ConnectWise) or contract (Autotask) a customer's entry writes to, as mapped. */
export type ItemTarget = {
  companyName: string | null;
  agreementId: string | null;
  agreementName: string | null;
  /** The agreement/contract in the PSA's web app; filled in where the connection's host is known. */
  link: string | null;
};

export type RunItemView = {
  sequence: number;
  customerTenantId: string | null;
  customerName: string | null;
  motion: string | null;
  subscriptionId: string | null;
  eventKey: string | null;
  writeKey: string | null;
  outcome: SyncItemsTable["outcome"];
  psaRecordId: string | null;
  message: string | null;
  details: Record<string, unknown>;
  /** Only on held items. */
  hold?: ItemHold;
  /** The mapped agreement/contract of the item's customer and motion on the run's connection, when mapped. */
  target?: ItemTarget;
};

/**
 * What the run's written lines add up to (written and written-with-warning items): the cost and sell price of
 * quantity × unit amount, exact, per the data's currency. price and margin are null when some line has no sell
 * price of its own (the PSA keeps its price).
 */
export type RunTotals = {
  lines: number;
  currency: string | null;
  cost: DecimalString;
  price: DecimalString | null;
  margin: DecimalString | null;
};

export type RunFilter = {
  connectionId?: string;
  motion?: string;
  status?: RunStatus;
  /** Runs scoped to this customer, or over all customers with an item of this customer. */
  customerTenantId?: string;
  /** Started on or after this day (YYYY-MM-DD, UTC). */
  from?: string;
  /** Started on or before this day (YYYY-MM-DD, UTC). */
  to?: string;
  limit?: number;
  offset?: number;
};

function toRunView(row: SyncRunsTable & { customer_name?: string | null }): RunView {
  const scope = JSON.parse(row.scope) as Record<string, unknown>;
  return {
    id: row.id,
    connectionId: row.connection_id,
    trigger: row.trigger,
    scope,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    written: Number(row.written),
    unchanged: Number(row.unchanged),
    warnings: Number(row.warnings),
    errors: Number(row.errors),
    psaRequests: Number(row.psa_requests),
    message: row.message,
    customerTenantId: typeof scope.customerTenantId === "string" ? scope.customerTenantId : null,
    customerName: row.customer_name ?? null,
  };
}

/** The day after a YYYY-MM-DD day, so "to" includes the whole day whatever the instant's time. */
function nextDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().slice(0, 10);
}

/**
 * Sync history, newest first, filtered in the database and paged (limit/offset); total counts every run that
 * matches. The motion and the scoped customer live in the run's scope JSON, read with each dialect's JSON function.
 */
export async function listRunsPage(
  store: Store,
  organizationId: string,
  filter: RunFilter = {},
): Promise<{ runs: RunView[]; total: number }> {
  const scopeField = (field: "motion" | "customerTenantId") =>
    store.dialect === "postgres"
      ? sql<string | null>`(sync_runs.scope::jsonb ->> ${sql.lit(field)})`
      : sql<string | null>`json_extract(sync_runs.scope, ${sql.lit(`$.${field}`)})`;
  let query = store.db.selectFrom("sync_runs").where("sync_runs.organization_id", "=", organizationId);
  if (filter.connectionId) query = query.where("sync_runs.connection_id", "=", filter.connectionId);
  if (filter.status) query = query.where("sync_runs.status", "=", filter.status);
  if (filter.motion) query = query.where(scopeField("motion"), "=", filter.motion);
  if (filter.from) query = query.where("sync_runs.started_at", ">=", filter.from);
  if (filter.to) query = query.where("sync_runs.started_at", "<", nextDay(filter.to));
  const customer = filter.customerTenantId;
  if (customer)
    query = query.where((eb) =>
      eb.or([
        eb(scopeField("customerTenantId"), "=", customer),
        eb.exists(
          eb
            .selectFrom("sync_items")
            .select("sync_items.id")
            .whereRef("sync_items.run_id", "=", "sync_runs.id")
            .where("sync_items.customer_tenant_id", "=", customer),
        ),
      ]),
    );
  const total = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  const rows = await query
    .leftJoin("customers", (join) =>
      join
        .on("customers.tenant_id", "=", scopeField("customerTenantId"))
        .onRef("customers.organization_id", "=", "sync_runs.organization_id"),
    )
    .selectAll("sync_runs")
    .select("customers.name as customer_name")
    .orderBy("sync_runs.started_at", "desc")
    .orderBy("sync_runs.id")
    .limit(filter.limit ?? 50)
    .offset(filter.offset ?? 0)
    .execute();
  return { runs: await withFailureReasons(store, rows.map(toRunView)), total: Number(total.n) };
}

/**
 * A run that failed item by item (a PSA that could not be reached fails each line, not the run) has no message
 * of its own: it takes its first error's, so history and dashboard say why it failed, as the connection does.
 */
async function withFailureReasons(store: Store, runs: RunView[]): Promise<RunView[]> {
  const silent = runs
    .filter((r) => (r.status === "error" || r.status === "abandoned") && !r.message)
    .map((r) => r.id);
  const first = await firstErrorMessages(store, silent);
  return runs.map((r) => (first.has(r.id) && !r.message ? { ...r, message: first.get(r.id)! } : r));
}

/** Each run's first failed item's message (by sequence), for the runs that have one. */
async function firstErrorMessages(store: Store, runIds: readonly string[]): Promise<Map<string, string>> {
  const first = new Map<string, string>();
  if (runIds.length === 0) return first;
  const errors = await store.db
    .selectFrom("sync_items")
    .select(["run_id", "message"])
    .where("run_id", "in", runIds)
    .where("outcome", "=", "error")
    .orderBy("run_id")
    .orderBy("sequence")
    .execute();
  for (const e of errors) if (e.message && !first.has(e.run_id)) first.set(e.run_id, e.message);
  return first;
}

export async function listRuns(
  store: Store,
  organizationId: string,
  filter: RunFilter = {},
): Promise<RunView[]> {
  return (await listRunsPage(store, organizationId, filter)).runs;
}

/** Quantity × unit amount of one item's line, whichever motion planned it (monthly lines keep a segment). */
function lineAmounts(details: Record<string, unknown>): {
  quantity: string | null;
  unitCost: string | null;
  unitPrice: string | null;
  currency: string | null;
} {
  const segment = (details.segment ?? null) as Record<string, unknown> | null;
  const pick = (key: string) => {
    const value = segment?.[key] ?? details[key];
    return typeof value === "string" || typeof value === "number" ? String(value) : null;
  };
  // A unit adjustment bills the change in seats, not the seats after it.
  const quantity = details.unitChange !== undefined ? String(details.unitChange) : pick("quantity");
  return { quantity, unitCost: pick("unitCost"), unitPrice: pick("unitPrice"), currency: pick("currency") };
}

function runTotals(items: readonly RunItemView[]): RunTotals {
  let cost = new Dec(0);
  let price: Dec | null = new Dec(0);
  let lines = 0;
  const currencies = new Set<string>();
  for (const item of items) {
    if (item.outcome !== "written" && item.outcome !== "warning") continue;
    const line = lineAmounts(item.details);
    if (line.quantity === null || line.unitCost === null) continue;
    lines++;
    if (line.currency) currencies.add(line.currency);
    cost = cost.plus(new Dec(line.quantity).times(line.unitCost));
    price =
      price && line.unitPrice !== null ? price.plus(new Dec(line.quantity).times(line.unitPrice)) : null;
  }
  return {
    lines,
    currency: currencies.size === 1 ? [...currencies][0]! : null,
    cost: cost.toFixed(),
    price: price ? price.toFixed() : null,
    margin: price ? price.minus(cost).toFixed() : null,
  };
}

export async function getRun(
  store: Store,
  organizationId: string,
  runId: string,
): Promise<{ run: RunView; items: RunItemView[]; totals: RunTotals } | null> {
  const run = await store.db
    .selectFrom("sync_runs")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("id", "=", runId)
    .executeTakeFirst();
  if (!run) return null;
  const rows = await store.db
    .selectFrom("sync_items")
    .leftJoin("customers", (join) =>
      join
        .onRef("customers.tenant_id", "=", "sync_items.customer_tenant_id")
        .onRef("customers.organization_id", "=", "sync_items.organization_id"),
    )
    .leftJoin("mappings", (join) =>
      join
        .onRef("mappings.customer_tenant_id", "=", "sync_items.customer_tenant_id")
        .onRef("mappings.organization_id", "=", "sync_items.organization_id")
        .onRef("mappings.motion", "=", "sync_items.motion")
        .on("mappings.connection_id", "=", run.connection_id),
    )
    .leftJoin("price_holds", (join) =>
      join
        .onRef("price_holds.write_key", "=", "sync_items.write_key")
        .on("price_holds.connection_id", "=", run.connection_id)
        .on("sync_items.outcome", "=", "held"),
    )
    .leftJoin("psa_writes", (join) =>
      join
        .onRef("psa_writes.write_key", "=", "sync_items.write_key")
        .on("psa_writes.connection_id", "=", run.connection_id)
        .on("sync_items.outcome", "=", "held"),
    )
    .selectAll("sync_items")
    .select([
      "customers.name as customer_name",
      "mappings.psa_company_name as company_name",
      "mappings.agreement_id as agreement_id",
      "mappings.agreement_name as agreement_name",
      "price_holds.status as hold_status",
      "price_holds.unit_cost as hold_unit_cost",
      "price_holds.unit_price as hold_unit_price",
      "price_holds.approved_by as hold_approved_by",
      "psa_writes.status as write_status",
    ])
    .where("sync_items.run_id", "=", runId)
    .orderBy("sync_items.sequence")
    .execute();
  const items = rows.map((i): RunItemView => {
    const details = JSON.parse(i.details) as Record<string, unknown>;
    const view: RunItemView = {
      sequence: Number(i.sequence),
      customerTenantId: i.customer_tenant_id,
      customerName: i.customer_name,
      motion: i.motion,
      subscriptionId: i.subscription_id,
      eventKey: i.event_key,
      writeKey: i.write_key,
      outcome: i.outcome,
      psaRecordId: i.psa_record_id,
      message: i.message,
      details,
    };
    if (i.agreement_id !== null || i.company_name !== null)
      view.target = {
        companyName: i.company_name,
        agreementId: i.agreement_id,
        agreementName: i.agreement_name,
        link: null,
      };
    if (i.outcome === "held" && i.write_key) {
      const line = lineAmounts(details);
      // The hold row is per line, so a later hold at another price replaces this item's question.
      const samePrice =
        i.hold_unit_cost !== null &&
        i.hold_unit_price !== null &&
        line.unitCost !== null &&
        line.unitPrice !== null &&
        new Dec(String(i.hold_unit_cost)).equals(line.unitCost) &&
        new Dec(String(i.hold_unit_price)).equals(line.unitPrice);
      view.hold = {
        writeKey: i.write_key,
        unitCost: line.unitCost,
        unitPrice: line.unitPrice,
        status:
          i.write_status === "confirmed"
            ? "written"
            : samePrice && i.hold_status
              ? i.hold_status
              : "replaced",
        approvedBy: samePrice ? i.hold_approved_by : null,
      };
    }
    return view;
  });
  const customerTenantId = (JSON.parse(run.scope) as { customerTenantId?: unknown }).customerTenantId;
  const customer =
    typeof customerTenantId === "string"
      ? await store.db
          .selectFrom("customers")
          .select("name")
          .where("organization_id", "=", organizationId)
          .where("tenant_id", "=", customerTenantId)
          .executeTakeFirst()
      : undefined;
  return {
    run: toRunView({ ...run, customer_name: customer?.name ?? null }),
    items,
    totals: runTotals(items),
  };
}

/** A connection's last finished sync, as the connection shows it beside its last test. */
export type LastFinishedSync = { at: string; runId: string; status: RunStatus; message: string | null };

/**
 * The last finished (not running) sync of a connection; for a run that failed, the message of its first failed
 * item when it has one (what went wrong, rather than the run's summary). Null when the connection never synced.
 */
export async function lastFinishedSync(store: Store, connectionId: string): Promise<LastFinishedSync | null> {
  const run = await store.db
    .selectFrom("sync_runs")
    .select(["id", "status", "started_at", "finished_at", "message"])
    .where("connection_id", "=", connectionId)
    .where("status", "!=", "running")
    .orderBy("started_at", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!run) return null;
  let message = run.message;
  if (run.status === "error" || run.status === "abandoned")
    message = (await firstErrorMessages(store, [run.id])).get(run.id) ?? message;
  return { at: run.finished_at ?? run.started_at, runId: run.id, status: run.status, message };
}

/** When a connection last finished a sync with one of these statuses (the dashboard's "successful"); null if never. */
export async function lastSyncFinishedAt(
  store: Store,
  organizationId: string,
  connectionId: string,
  statuses: readonly RunStatus[],
): Promise<string | null> {
  const row = await store.db
    .selectFrom("sync_runs")
    .select((eb) => eb.fn.max("finished_at").as("at"))
    .where("organization_id", "=", organizationId)
    .where("connection_id", "=", connectionId)
    .where("status", "in", statuses)
    .executeTakeFirst();
  return row?.at ?? null;
}

/** How many runs of the organization ended in error since this instant. */
export async function countErroredRunsSince(
  store: Store,
  organizationId: string,
  since: string,
): Promise<number> {
  const row = await store.db
    .selectFrom("sync_runs")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("organization_id", "=", organizationId)
    .where("status", "=", "error")
    .where("started_at", ">=", since)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
