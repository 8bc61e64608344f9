import { sql } from "kysely";
import { databaseNow, databaseNowSql } from "./db-clock.ts";
import type { Store } from "./db.ts";
import type {
  FetchRunStatus,
  RunStatus,
  SourceConnectionsTable,
  SourceFetchRunsTable,
  SourceInvoicesTable,
  SourceUnbilledSnapshotsTable,
} from "./schema.ts";

/** A fetch run as Sync history shows it: its source's name and the sync runs it led to. */
export type FetchHistoryRow = SourceFetchRunsTable & {
  source_name: string | null;
  sync_runs: {
    id: string;
    connectionId: string;
    connectionName: string | null;
    motion: string | null;
    status: RunStatus;
    written: number;
    errors: number;
    startedAt: string;
  }[];
};

/**
 * Billing-data sources and what was fetched from them (migration 0015, docs/partner-center.md §6). The invoice
 * row doubles as the claim: a worker fetches an invoice only after it turned the row to "fetching" with its own
 * token, which one worker at a time can do. The holder heartbeats the claim (`claimed_at`, on the database's clock
 * like the run lock) while it fetches; a claim silent for longer than the lease is stale (its worker died) and
 * may be taken over.
 */
export class SourcesRepository {
  private readonly store: Store;
  private readonly organizationId: string;

  constructor(store: Store, organizationId: string) {
    this.store = store;
    this.organizationId = organizationId;
  }

  private get db() {
    return this.store.db;
  }

  async insertSource(row: Omit<SourceConnectionsTable, "organization_id">): Promise<void> {
    await this.db
      .insertInto("source_connections")
      .values({ ...row, organization_id: this.organizationId })
      .execute();
  }

  async updateSource(
    id: string,
    fields: Partial<Pick<SourceConnectionsTable, "name" | "config" | "secrets" | "enabled" | "last_test">>,
  ): Promise<void> {
    await this.db
      .updateTable("source_connections")
      .set({ ...fields, updated_at: new Date().toISOString() })
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .execute();
  }

  async listSources(): Promise<SourceConnectionsTable[]> {
    return this.db
      .selectFrom("source_connections")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .orderBy("name")
      .execute();
  }

  /** By id, or else by name. */
  async findSource(idOrName: string): Promise<SourceConnectionsTable | undefined> {
    const rows = await this.db
      .selectFrom("source_connections")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .execute();
    return rows.find((r) => r.id === idOrName) ?? rows[0];
  }

  async deleteSource(id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("source_connections")
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async invoice(invoiceId: string): Promise<SourceInvoicesTable | undefined> {
    return this.db
      .selectFrom("source_invoices")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .executeTakeFirst();
  }

  async listInvoices(sourceId?: string): Promise<SourceInvoicesTable[]> {
    let query = this.db
      .selectFrom("source_invoices")
      .selectAll()
      .where("organization_id", "=", this.organizationId);
    if (sourceId) query = query.where("source_id", "=", sourceId);
    return query.orderBy("invoice_id", "desc").execute();
  }

  /**
   * Claims the invoice for one fetch: true when this caller holds it now. A claim whose last heartbeat is older
   * than `leaseMs` by the database's clock (its worker stopped) may be taken over; a live one may not.
   */
  async claimInvoice(
    invoiceId: string,
    sourceId: string,
    token: string,
    leaseMs: number,
    facts: Pick<SourceInvoicesTable, "currency" | "invoice_total" | "period_start">,
    options: { reclaimSettled?: boolean } = {},
  ): Promise<boolean> {
    const now = databaseNowSql(this.store.dialect);
    // Instants are compared as ISO text, all written on the database's clock.
    const staleBefore = new Date((await databaseNow(this.store)).getTime() - leaseMs).toISOString();
    const inserted = await this.db
      .insertInto("source_invoices")
      .values({
        organization_id: this.organizationId,
        invoice_id: invoiceId,
        source_id: sourceId,
        status: "fetching",
        ...facts,
        etag: null,
        import_id: null,
        line_count: null,
        line_total: null,
        error_kind: null,
        message: null,
        claim_token: token,
        claimed_at: now,
        fetched_at: null,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["organization_id", "invoice_id"]).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    const updated = await this.db
      .updateTable("source_invoices")
      .set({
        status: "fetching",
        source_id: sourceId,
        claim_token: token,
        claimed_at: now,
        updated_at: now,
        ...facts,
      })
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .where((eb) =>
        eb.or([
          // Failed or rejected before: fetched again.
          eb("status", "in", ["failed", "rejected"]),
          // A claim whose worker stopped heartbeating.
          eb.and([eb("status", "=", "fetching"), eb("claimed_at", "<", staleBefore)]),
          // Settled: only when asked for by id, or when the invoice's total is not the one settled.
          ...(options.reclaimSettled
            ? [eb("status", "in", ["imported", "no-data"])]
            : facts.invoice_total !== null
              ? [
                  eb.and([
                    eb("status", "in", ["imported", "no-data"]),
                    eb.or([eb("invoice_total", "is", null), eb("invoice_total", "!=", facts.invoice_total)]),
                  ]),
                ]
              : []),
        ]),
      )
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  }

  /** The claim's heartbeat: false when this caller no longer holds it (taken over after its lease ran out). */
  async heartbeatClaim(invoiceId: string, token: string): Promise<boolean> {
    const result = await this.db
      .updateTable("source_invoices")
      .set({ claimed_at: databaseNowSql(this.store.dialect) })
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .where("claim_token", "=", token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Whether this caller still holds the claim. */
  async holdsClaim(invoiceId: string, token: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("source_invoices")
      .select("invoice_id")
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .where("claim_token", "=", token)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Ends this caller's claim with the outcome (only while it still holds the claim). */
  async settleInvoice(
    invoiceId: string,
    token: string,
    outcome: Partial<
      Pick<
        SourceInvoicesTable,
        | "status"
        | "etag"
        | "import_id"
        | "line_count"
        | "line_total"
        | "error_kind"
        | "message"
        | "fetched_at"
      >
    > & { status: SourceInvoicesTable["status"] },
  ): Promise<void> {
    await this.db
      .updateTable("source_invoices")
      .set({ ...outcome, claim_token: null, updated_at: new Date().toISOString() })
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .where("claim_token", "=", token)
      .execute();
  }

  async insertFetchRun(row: Omit<SourceFetchRunsTable, "organization_id">): Promise<void> {
    await this.db
      .insertInto("source_fetch_runs")
      .values({ ...row, organization_id: this.organizationId })
      .execute();
  }

  /**
   * Starts a fetch run: the row queued for it by "Fetch now" (or left by an attempt the queue retries) turns to
   * running, or a new one is inserted.
   */
  async startFetchRun(row: Omit<SourceFetchRunsTable, "organization_id">): Promise<void> {
    const started = await this.db
      .updateTable("source_fetch_runs")
      .set({
        status: "running",
        started_at: row.started_at,
        error_kind: null,
        message: null,
        finished_at: null,
      })
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", row.id)
      .executeTakeFirst();
    if (Number(started.numUpdatedRows) > 0) return;
    await this.db
      .insertInto("source_fetch_runs")
      .values({ ...row, organization_id: this.organizationId })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
  }

  /**
   * Gives up fetch runs left queued since before `cutoff` (no worker took their job, or the job was lost): they
   * turn failed with error kind "not-run" and `message`, so nothing stays queued forever. A worker that takes the
   * job later still runs it (startFetchRun turns the row to running again). Returns how many were given up.
   */
  async expireQueuedFetchRuns(cutoff: string, message: string): Promise<number> {
    const expired = await this.db
      .updateTable("source_fetch_runs")
      .set({ status: "failed", error_kind: "not-run", message, finished_at: new Date().toISOString() })
      .where("organization_id", "=", this.organizationId)
      .where("status", "=", "queued")
      .where("started_at", "<", cutoff)
      .executeTakeFirst();
    return Number(expired.numUpdatedRows);
  }

  /** The fetch run "Fetch now" queued for a source and that no worker has started yet, if any. */
  async queuedFetchRun(sourceId: string): Promise<SourceFetchRunsTable | undefined> {
    return this.db
      .selectFrom("source_fetch_runs")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("source_id", "=", sourceId)
      .where("status", "=", "queued")
      .orderBy("started_at", "desc")
      .executeTakeFirst();
  }

  async deleteFetchRun(id: string): Promise<void> {
    await this.db
      .deleteFrom("source_fetch_runs")
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .execute();
  }

  /** Records that a sync run was started by a job a fetch queued (migration 0019). */
  async linkSyncRun(fetchRunId: string, syncRunId: string, connectionId: string): Promise<void> {
    await this.db
      .insertInto("source_fetch_links")
      .values({
        organization_id: this.organizationId,
        fetch_run_id: fetchRunId,
        sync_run_id: syncRunId,
        connection_id: connectionId,
        created_at: new Date().toISOString(),
      })
      .onConflict((oc) => oc.columns(["fetch_run_id", "sync_run_id"]).doNothing())
      .execute();
  }

  /**
   * Fetch runs for Sync history, newest first, with their source's name and the sync runs they led to
   * (started on or after `from`, before `before`; both ISO instants, either may be absent).
   */
  async fetchHistory(window: { from?: string; before?: string; limit?: number }): Promise<FetchHistoryRow[]> {
    let query = this.db
      .selectFrom("source_fetch_runs")
      .leftJoin("source_connections", "source_connections.id", "source_fetch_runs.source_id")
      .selectAll("source_fetch_runs")
      .select("source_connections.name as source_name")
      .where("source_fetch_runs.organization_id", "=", this.organizationId);
    if (window.from) query = query.where("source_fetch_runs.started_at", ">=", window.from);
    if (window.before) query = query.where("source_fetch_runs.started_at", "<", window.before);
    const runs = await query
      .orderBy("source_fetch_runs.started_at", "desc")
      .orderBy("source_fetch_runs.id", "desc")
      .limit(window.limit ?? 50)
      .execute();
    if (runs.length === 0) return [];
    const motion =
      this.store.dialect === "postgres"
        ? sql<string | null>`(sync_runs.scope::jsonb ->> 'motion')`
        : sql<string | null>`json_extract(sync_runs.scope, '$.motion')`;
    const links = await this.db
      .selectFrom("source_fetch_links")
      .innerJoin("sync_runs", "sync_runs.id", "source_fetch_links.sync_run_id")
      .leftJoin("connections", "connections.id", "sync_runs.connection_id")
      .select([
        "source_fetch_links.fetch_run_id",
        "sync_runs.id",
        "sync_runs.connection_id",
        "connections.name as connection_name",
        "sync_runs.status",
        "sync_runs.written",
        "sync_runs.errors",
        "sync_runs.started_at",
      ])
      .select(motion.as("motion"))
      .where("source_fetch_links.organization_id", "=", this.organizationId)
      .where(
        "source_fetch_links.fetch_run_id",
        "in",
        runs.map((r) => r.id),
      )
      .orderBy("sync_runs.started_at")
      .orderBy("sync_runs.id")
      .execute();
    return runs.map((run) => ({
      ...run,
      source_name: run.source_name ?? null,
      sync_runs: links
        .filter((l) => l.fetch_run_id === run.id)
        .map((l) => ({
          id: l.id,
          connectionId: l.connection_id,
          connectionName: l.connection_name ?? null,
          motion: l.motion ?? null,
          status: l.status,
          written: Number(l.written),
          errors: Number(l.errors),
          startedAt: l.started_at,
        })),
    }));
  }

  async updateFetchRun(
    id: string,
    fields: Partial<
      Pick<
        SourceFetchRunsTable,
        "status" | "error_kind" | "message" | "steps" | "summary" | "sync_jobs" | "finished_at"
      >
    >,
  ): Promise<void> {
    await this.db
      .updateTable("source_fetch_runs")
      .set(fields)
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .execute();
  }

  async fetchRun(id: string): Promise<SourceFetchRunsTable | undefined> {
    return this.db
      .selectFrom("source_fetch_runs")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  async listFetchRuns(options: { sourceId?: string; status?: FetchRunStatus; limit?: number } = {}) {
    let query = this.db
      .selectFrom("source_fetch_runs")
      .selectAll()
      .where("organization_id", "=", this.organizationId);
    if (options.sourceId) query = query.where("source_id", "=", options.sourceId);
    if (options.status) query = query.where("status", "=", options.status);
    return query
      .orderBy("started_at", "desc")
      .orderBy("id", "desc")
      .limit(options.limit ?? 50)
      .execute();
  }

  async insertUnbilled(row: Omit<SourceUnbilledSnapshotsTable, "organization_id">): Promise<void> {
    await this.db
      .insertInto("source_unbilled_snapshots")
      .values({ ...row, organization_id: this.organizationId })
      .execute();
  }

  /** The latest snapshots of a currency, newest first (the latest and the one before, for "since yesterday"). */
  async latestUnbilled(
    sourceId: string,
    currency: string,
    limit = 2,
  ): Promise<SourceUnbilledSnapshotsTable[]> {
    return this.db
      .selectFrom("source_unbilled_snapshots")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("source_id", "=", sourceId)
      .where("currency", "=", currency)
      .orderBy("fetched_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  }

  async unbilledCurrencies(sourceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("source_unbilled_snapshots")
      .select("currency")
      .distinct()
      .where("organization_id", "=", this.organizationId)
      .where("source_id", "=", sourceId)
      .orderBy("currency")
      .execute();
    return rows.map((r) => r.currency);
  }
}

/** A fetch run's row as it starts now: "queued" (Fetch now, before its job runs) or "running" (the fetch). */
export function newFetchRun(run: {
  id: string;
  sourceId: string;
  trigger: string;
  status: "queued" | "running";
}): Omit<SourceFetchRunsTable, "organization_id"> {
  return {
    id: run.id,
    source_id: run.sourceId,
    trigger: run.trigger,
    status: run.status,
    error_kind: null,
    message: null,
    steps: "[]",
    summary: "{}",
    sync_jobs: "[]",
    started_at: new Date().toISOString(),
    finished_at: null,
  };
}
