import type { Store } from "./db.ts";
import type { SyncItemsTable, SyncRunsTable } from "./schema.ts";

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
};

function toRunView(row: SyncRunsTable): RunView {
  return {
    id: row.id,
    connectionId: row.connection_id,
    trigger: row.trigger,
    scope: JSON.parse(row.scope) as Record<string, unknown>,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    written: Number(row.written),
    unchanged: Number(row.unchanged),
    warnings: Number(row.warnings),
    errors: Number(row.errors),
    psaRequests: Number(row.psa_requests),
    message: row.message,
  };
}

export async function listRuns(
  store: Store,
  organizationId: string,
  filter: { connectionId?: string; limit?: number } = {},
): Promise<RunView[]> {
  let query = store.db.selectFrom("sync_runs").selectAll().where("organization_id", "=", organizationId);
  if (filter.connectionId) query = query.where("connection_id", "=", filter.connectionId);
  const rows = await query
    .orderBy("started_at", "desc")
    .limit(filter.limit ?? 50)
    .execute();
  return rows.map(toRunView);
}

export async function getRun(
  store: Store,
  organizationId: string,
  runId: string,
): Promise<{ run: RunView; items: RunItemView[] } | null> {
  const run = await store.db
    .selectFrom("sync_runs")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("id", "=", runId)
    .executeTakeFirst();
  if (!run) return null;
  const items = await store.db
    .selectFrom("sync_items")
    .leftJoin("customers", (join) =>
      join
        .onRef("customers.tenant_id", "=", "sync_items.customer_tenant_id")
        .onRef("customers.organization_id", "=", "sync_items.organization_id"),
    )
    .selectAll("sync_items")
    .select("customers.name as customer_name")
    .where("sync_items.run_id", "=", runId)
    .orderBy("sync_items.sequence")
    .execute();
  return {
    run: toRunView(run),
    items: items.map((i) => ({
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
      details: JSON.parse(i.details) as Record<string, unknown>,
    })),
  };
}
