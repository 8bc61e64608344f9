import { randomUUID } from "node:crypto";
import type { RunLockConfig } from "../config.ts";
import type { BillingMotion } from "../core/billing.ts";
import { databaseNowSql } from "./db-clock.ts";
import type { Store } from "./db.ts";
import { RunLock, RunSupersededError } from "./run-lock.ts";
import type { PsaWritesTable, SyncItemsTable, SyncRunsTable } from "./schema.ts";

/**
 * The SQL of billing runs and of the PSA write ledger: runs (`sync_runs`) under the connection's run lock, their
 * items (`sync_items`), and each write's row in `psa_writes` — recorded before the request, its attempts
 * counted, confirmed after. The rules of when to send, look up or wait are the service's
 * (src/services/sync-bookkeeping.ts, which extends this class); this class only keeps the records.
 *
 * Fencing: every statement after which cspsync sends a write or records its result (counting an attempt,
 * confirming, reopening, failing a write, the heartbeat and the run's end) carries the condition "this run is
 * still the connection's running run" in the same statement, so the database decides it atomically.
 */

export type SyncTrigger = "manual" | "schedule" | "import" | "cli";
export type SyncScope = { customerTenantId?: string };

export type ItemOutcome = SyncItemsTable["outcome"];

/** One result of a run, as stored in sync_items and shown in the run detail. */
export type RecordedItem = {
  outcome: ItemOutcome;
  customerTenantId: string | null;
  subscriptionId: string | null;
  eventKey: string | null;
  writeKey: string | null;
  psaRecordId: string | null;
  message: string | null;
};

export type LedgerDeps = {
  store: Store;
  organizationId: string;
  connectionId: string;
  motion: BillingMotion;
  now?: () => Date;
  /** Node name, take-over time and PSA request timeout (default DEFAULT_RUN_LOCK in src/store/run-lock.ts). */
  runLock?: RunLockConfig;
  /**
   * How long before a run's start an import must have finished for the run to have seen its lines (see
   * SyncBookkeeping.nothingNew; default one minute). Tests that import and sync within a second shorten it.
   */
  importCommitMarginMs?: number;
};

/** A write as it is recorded before it is sent. */
export type IntendedWrite = {
  writeKey: string;
  customerTenantId: string;
  eventKey: string;
  targetId: string;
  payload: unknown;
};

export class SyncLedger {
  protected readonly deps: LedgerDeps;

  /** The connection's billing run lock: the same lock (src/store/run-lock.ts) product runs take on theirs. */
  protected readonly lock: RunLock;

  constructor(deps: LedgerDeps) {
    this.deps = deps;
    this.lock = new RunLock(deps.store, "sync_runs", deps.connectionId, deps.runLock);
  }

  clock(): Date {
    return this.deps.now?.() ?? new Date();
  }

  now(): string {
    return this.clock().toISOString();
  }

  /** An update of one write's ledger row that holds only while `runId` still owns the connection. */
  protected fencedLedgerRow(runId: string, writeKey: string) {
    return this.deps.store.db
      .updateTable("psa_writes")
      .where("connection_id", "=", this.deps.connectionId)
      .where("write_key", "=", writeKey)
      .where(({ exists }) => exists(this.stillOwns(runId)));
  }

  /** The condition every fenced statement carries: `runId` is still its connection's running run. */
  protected stillOwns(runId: string) {
    return this.lock.stillOwns(runId);
  }

  /** Inserts a run of this connection and motion, started now by this process; `fields` say how it stands. */
  protected insertRun(
    id: string,
    trigger: SyncTrigger,
    scope: SyncScope,
    fields: Pick<SyncRunsTable, "status" | "finished_at"> &
      Partial<Pick<SyncRunsTable, "errors" | "message">>,
  ) {
    const { store, connectionId, organizationId } = this.deps;
    return store.db
      .insertInto("sync_runs")
      .values({
        id,
        organization_id: organizationId,
        connection_id: connectionId,
        trigger,
        scope: JSON.stringify({ motion: this.deps.motion, ...scope }),
        started_at: this.now(),
        heartbeat_at: this.lock.heartbeatNow(),
        owner: this.lock.owner(),
        written: 0,
        unchanged: 0,
        warnings: 0,
        errors: 0,
        psa_requests: 0,
        message: null,
        ...fields,
      })
      .execute();
  }

  /** Beats on the database's clock; false when the run was taken over (nothing is changed then). */
  heartbeat(runId: string): Promise<boolean> {
    return this.lock.heartbeat(runId);
  }

  /** Appends one result to the run (sync_items are never rewritten). */
  async record<T extends RecordedItem>(runId: string, items: T[], item: T, details: unknown): Promise<void> {
    items.push(item);
    await this.deps.store.db
      .insertInto("sync_items")
      .values({
        id: randomUUID(),
        run_id: runId,
        sequence: items.length,
        organization_id: this.deps.organizationId,
        customer_tenant_id: item.customerTenantId,
        motion: this.deps.motion,
        subscription_id: item.subscriptionId,
        event_key: item.eventKey,
        write_key: item.writeKey,
        outcome: item.outcome,
        psa_record_id: item.psaRecordId,
        message: item.message,
        details: JSON.stringify(details ?? {}),
        created_at: this.now(),
      })
      .execute();
  }

  /**
   * Ends the run with its totals if it still holds the lock; false when it was taken over meanwhile (its record
   * keeps the outcome the taking run gave it).
   */
  async endRun(
    runId: string,
    totals: Pick<SyncRunsTable, "status" | "written" | "unchanged" | "warnings" | "errors" | "psa_requests">,
  ): Promise<boolean> {
    const ended = await this.deps.store.db
      .updateTable("sync_runs")
      .set({ ...totals, finished_at: this.now(), heartbeat_at: databaseNowSql(this.deps.store.dialect) })
      .where("id", "=", runId)
      .where("status", "=", "running")
      .executeTakeFirst();
    return Number(ended.numUpdatedRows) > 0;
  }

  /** Adds to a taken-over run's record that it resumed later and stopped; its outcome is left as it is. */
  async noteSuperseded(runId: string): Promise<void> {
    const row = await this.deps.store.db
      .selectFrom("sync_runs")
      .select("message")
      .where("id", "=", runId)
      .executeTakeFirst();
    const note = "it resumed afterwards, found the lock taken and stopped without sending anything more";
    if (!row || (row.message ?? "").includes(note)) return;
    await this.deps.store.db
      .updateTable("sync_runs")
      .set({ message: [row.message, note].filter(Boolean).join("; ") })
      .where("id", "=", runId)
      .where("status", "!=", "running")
      .execute();
  }

  /** Records the intended write before it is sent; returns the ledger row (possibly from an earlier run). */
  async reserve(runId: string, write: IntendedWrite): Promise<PsaWritesTable> {
    const now = this.now();
    await this.deps.store.db
      .insertInto("psa_writes")
      .values({
        connection_id: this.deps.connectionId,
        write_key: write.writeKey,
        organization_id: this.deps.organizationId,
        customer_tenant_id: write.customerTenantId,
        motion: this.deps.motion,
        event_key: write.eventKey,
        target_id: write.targetId,
        status: "pending",
        psa_record_id: null,
        payload: JSON.stringify(write.payload),
        attempts: 0,
        in_flight: 0,
        last_run_id: runId,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["connection_id", "write_key"]).doNothing())
      .execute();
    return this.deps.store.db
      .selectFrom("psa_writes")
      .selectAll()
      .where("connection_id", "=", this.deps.connectionId)
      .where("write_key", "=", write.writeKey)
      .executeTakeFirstOrThrow();
  }

  /**
   * Counted just before each request, so a later run knows an attempt may have reached the PSA — and fenced:
   * a run that lost its lock gets RunSupersededError here, before sending. The attempt is in flight until the
   * PSA answers it (settleAttempt / confirm).
   */
  async countAttempt(runId: string, writeKey: string, targetId: string): Promise<void> {
    const result = await this.fencedLedgerRow(runId, writeKey)
      .set((eb) => ({
        attempts: eb("attempts", "+", 1),
        in_flight: 1,
        last_run_id: runId,
        target_id: targetId,
        updated_at: this.now(),
      }))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new RunSupersededError(runId);
  }

  /** The PSA answered the attempt without applying it (refused it, or failed): nothing of it is on its way. */
  async settleAttempt(runId: string, writeKey: string): Promise<void> {
    await this.fencedLedgerRow(runId, writeKey)
      .set({ in_flight: 0, updated_at: this.now() })
      .where("last_run_id", "=", runId)
      .execute();
  }

  /** Fenced like countAttempt: a run taken over leaves the record for the run that took over to find by key. */
  async confirm(runId: string, writeKey: string, recordId: string): Promise<void> {
    const result = await this.fencedLedgerRow(runId, writeKey)
      .set({
        status: "confirmed",
        psa_record_id: recordId,
        in_flight: 0,
        last_error: null,
        last_run_id: runId,
        updated_at: this.now(),
      })
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new RunSupersededError(runId);
  }

  /**
   * Opens a confirmed write again because its record is gone from the PSA. Attempts are kept, so the write is
   * still looked up before it is sent; this run becomes its last, so it is not held as another run's in-doubt write.
   */
  async reopen(runId: string, writeKey: string): Promise<void> {
    await this.fencedLedgerRow(runId, writeKey)
      .set({
        status: "pending",
        psa_record_id: null,
        last_error: "its PSA record was deleted",
        last_run_id: runId,
        updated_at: this.now(),
      })
      .where("status", "=", "confirmed")
      .execute();
  }

  /** Notes why a write failed; a write the PSA already confirmed stays confirmed. */
  async markFailed(runId: string, writeKey: string, message: string): Promise<void> {
    await this.fencedLedgerRow(runId, writeKey)
      .set({ status: "failed", last_error: message, updated_at: this.now() })
      .where("status", "!=", "confirmed")
      .execute();
  }

  /** Keys of writes the PSA confirmed: planning leaves these out. */
  async confirmedKeys(): Promise<Set<string>> {
    const rows = await this.deps.store.db
      .selectFrom("psa_writes")
      .select("write_key")
      .where("connection_id", "=", this.deps.connectionId)
      .where("status", "=", "confirmed")
      .execute();
    return new Set(rows.map((r) => r.write_key));
  }

  /**
   * This motion's confirmed writes updated since `since` that were sent more than once: write key and the
   * agreement/contract it went to. A key reaches the PSA twice only through two counted attempts (the
   * transport never re-sends a write whose outcome is unknown; docs/sync-behaviour.md, "What the daily check
   * reads"), so a write confirmed after one attempt cannot be on two records by cspsync's doing.
   */
  resentWritesSince(since: string): Promise<{ write_key: string; target_id: string }[]> {
    return this.#resentWrites().where("updated_at", ">=", since).execute();
  }

  /** This motion's confirmed writes among `keys` that were sent more than once (see resentWritesSince). */
  async resentWritesOf(keys: readonly string[]): Promise<{ write_key: string; target_id: string }[]> {
    const rows: { write_key: string; target_id: string }[] = [];
    // In slices: a run may write thousands of lines, more than a statement may bind.
    for (let i = 0; i < keys.length; i += 500)
      rows.push(
        ...(await this.#resentWrites()
          .where("write_key", "in", keys.slice(i, i + 500))
          .execute()),
      );
    return rows;
  }

  #resentWrites() {
    const { store, connectionId, motion } = this.deps;
    return store.db
      .selectFrom("psa_writes")
      .select(["write_key", "target_id"])
      .where("connection_id", "=", connectionId)
      .where("motion", "=", motion)
      .where("status", "=", "confirmed")
      .where("attempts", ">=", 2);
  }

  /**
   * This motion's last finished run over every entry of the connection (not one customer's), or null: the run
   * the daily check compares against to leave an entry with nothing new unread (SyncBookkeeping.nothingNew).
   */
  async lastFullRun(): Promise<{ id: string; startedAt: string } | null> {
    const { store, connectionId, motion } = this.deps;
    const run = await store.db
      .selectFrom("sync_runs")
      .select(["id", "started_at"])
      .where("connection_id", "=", connectionId)
      .where("scope", "=", JSON.stringify({ motion }))
      .where("finished_at", "is not", null)
      .where("status", "not in", ["running", "abandoned"])
      .orderBy("started_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return run ? { id: run.id, startedAt: run.started_at } : null;
  }

  /** The customers a run left unfinished (an error or a held line), or "everyone" when it failed as a whole. */
  async unfinishedCustomers(runId: string): Promise<Set<string> | "everyone"> {
    const rows = await this.deps.store.db
      .selectFrom("sync_items")
      .select("customer_tenant_id")
      .distinct()
      .where("run_id", "=", runId)
      .where("outcome", "in", ["error", "held"])
      .execute();
    if (rows.some((r) => r.customer_tenant_id === null)) return "everyone";
    return new Set(rows.map((r) => r.customer_tenant_id!));
  }

  /** Customers of this motion with a write in the ledger that is not confirmed (pending or failed). */
  async customersWithOpenWrites(): Promise<Set<string>> {
    const { store, connectionId, motion } = this.deps;
    const rows = await store.db
      .selectFrom("psa_writes")
      .select("customer_tenant_id")
      .distinct()
      .where("connection_id", "=", connectionId)
      .where("motion", "=", motion)
      .where("status", "!=", "confirmed")
      .execute();
    return new Set(rows.map((r) => r.customer_tenant_id));
  }

  /** Customers with charge lines of this motion stored by an import that finished at or after `since`. */
  async customersImportedSince(since: string): Promise<Set<string>> {
    const { store, organizationId, motion } = this.deps;
    const rows = await store.db
      .selectFrom("charge_lines")
      .innerJoin("imports", "imports.id", "charge_lines.import_id")
      .select("charge_lines.customer_tenant_id")
      .distinct()
      .where("charge_lines.organization_id", "=", organizationId)
      .where("charge_lines.motion", "=", motion)
      .where("imports.finished_at", ">=", since)
      .execute();
    return new Set(rows.map((r) => r.customer_tenant_id));
  }

  /** Every customer's name in the billing data, by tenant id (one read for a whole plan). */
  async customerNames(): Promise<Map<string, string>> {
    const rows = await this.deps.store.db
      .selectFrom("customers")
      .select(["tenant_id", "name"])
      .where("organization_id", "=", this.deps.organizationId)
      .execute();
    return new Map(rows.map((r) => [r.tenant_id, r.name]));
  }

  /** The customer's name in the billing data, or null when it has none. */
  async customerName(tenantId: string): Promise<string | null> {
    const customer = await this.deps.store.db
      .selectFrom("customers")
      .select("name")
      .where("organization_id", "=", this.deps.organizationId)
      .where("tenant_id", "=", tenantId)
      .executeTakeFirst();
    return customer?.name ?? null;
  }
}
