import { randomUUID } from "node:crypto";
import os from "node:os";
import type { BillingMotion } from "../core/billing.ts";
import type { Store } from "../store/db.ts";
import type { PsaWritesTable, RunStatus, SyncItemsTable } from "../store/schema.ts";

/**
 * The bookkeeping every sync motion shares: the run lock (one active run per connection, enforced by a
 * partial unique index; a run whose process died is taken over), heartbeats, per-item results, run totals, and
 * the PSA write ledger — each write's idempotency key recorded before the request, its attempts counted, and
 * the PSA record confirmed after. The motions differ only in what they plan and how they write it.
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

export type RunTotals = {
  runId: string;
  status: RunStatus;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psaRequests: number;
};

export class RunAlreadyActiveError extends Error {
  readonly activeRunId: string;
  constructor(activeRunId: string) {
    super(`a sync for this connection is already running (run ${activeRunId})`);
    this.name = "RunAlreadyActiveError";
    this.activeRunId = activeRunId;
  }
}

const STALE_RUN_MS = 2 * 60_000;
/** How long after an interrupted attempt its request may still land in the PSA (well above request timeouts). */
export const IN_DOUBT_MS = 2 * 60_000;
// Each retry follows a lookup that proved the previous attempt did not land, so retrying is safe; the cap only
// stops a PSA that keeps failing from holding the run forever.
export const MAX_WRITE_ATTEMPTS = 5;
const OWNER = `${os.hostname()}:${process.pid}`;

/** A run may be taken over when its process is gone: dead on this host, or silent for a while anywhere. */
function ownerIsGone(owner: string, heartbeatAt: string, now: Date): boolean {
  if (Date.parse(heartbeatAt) < now.getTime() - STALE_RUN_MS) return true;
  const [host, pid] = owner.split(":");
  if (host !== os.hostname() || !pid || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  // Every worker is waited for, even after one fails: the run must not end (and free its lock) while writes
  // are still in flight.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

export type BookkeepingDeps = {
  store: Store;
  organizationId: string;
  connectionId: string;
  motion: BillingMotion;
  now?: () => Date;
};

export type IntendedWrite = {
  writeKey: string;
  customerTenantId: string;
  eventKey: string;
  targetId: string;
  payload: unknown;
};

export class SyncBookkeeping {
  private readonly deps: BookkeepingDeps;

  constructor(deps: BookkeepingDeps) {
    this.deps = deps;
  }

  clock(): Date {
    return this.deps.now?.() ?? new Date();
  }

  now(): string {
    return this.clock().toISOString();
  }

  /** Starts a run under the database's one-active-run rule; throws RunAlreadyActiveError when one is active. */
  async startRun(trigger: SyncTrigger, scope: SyncScope): Promise<string> {
    const { store, connectionId, organizationId } = this.deps;
    const id = randomUUID();
    const insert = () =>
      store.db
        .insertInto("sync_runs")
        .values({
          id,
          organization_id: organizationId,
          connection_id: connectionId,
          trigger,
          scope: JSON.stringify({ motion: this.deps.motion, ...scope }),
          status: "running",
          started_at: this.now(),
          heartbeat_at: this.now(),
          owner: OWNER,
          finished_at: null,
          written: 0,
          unchanged: 0,
          warnings: 0,
          errors: 0,
          psa_requests: 0,
          message: null,
        })
        .execute();
    try {
      await insert();
      return id;
    } catch (error) {
      const active = await this.activeRun();
      if (!active) throw error;
      if (!ownerIsGone(active.owner, active.heartbeat_at, this.clock()))
        throw new RunAlreadyActiveError(active.id);
      await store.db
        .updateTable("sync_runs")
        .set({
          status: "abandoned",
          finished_at: this.now(),
          message: "the process running it stopped; a later run took over",
        })
        .where("id", "=", active.id)
        .where("status", "=", "running")
        .execute();
      try {
        await insert();
      } catch (raced) {
        // Another process took over the same dead run first; it is now the active one.
        const winner = await this.activeRun();
        if (winner) throw new RunAlreadyActiveError(winner.id);
        throw raced;
      }
      return id;
    }
  }

  private activeRun() {
    return this.deps.store.db
      .selectFrom("sync_runs")
      .select(["id", "heartbeat_at", "owner"])
      .where("connection_id", "=", this.deps.connectionId)
      .where("status", "=", "running")
      .executeTakeFirst();
  }

  async heartbeat(runId: string): Promise<void> {
    await this.deps.store.db
      .updateTable("sync_runs")
      .set({ heartbeat_at: this.now() })
      .where("id", "=", runId)
      .execute();
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

  async finishRun(runId: string, items: readonly RecordedItem[], psaRequests: number): Promise<RunTotals> {
    const count = (...outcomes: ItemOutcome[]) => items.filter((i) => outcomes.includes(i.outcome)).length;
    const written = count("written", "warning");
    const unchanged = count("found-existing");
    const warnings = count("warning");
    const errors = count("error");
    const status: RunStatus =
      errors > 0 ? "error" : warnings > 0 ? "warning" : written + unchanged > 0 ? "success" : "no-change";
    await this.deps.store.db
      .updateTable("sync_runs")
      .set({
        status,
        finished_at: this.now(),
        heartbeat_at: this.now(),
        written,
        unchanged,
        warnings,
        errors,
        psa_requests: psaRequests,
      })
      .where("id", "=", runId)
      .execute();
    return { runId, status, written, unchanged, warnings, errors, psaRequests };
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

  /** Counted just before each request, so a later run knows an attempt may have reached the PSA. */
  async countAttempt(runId: string, writeKey: string, targetId: string): Promise<void> {
    await this.deps.store.db
      .updateTable("psa_writes")
      .set((eb) => ({
        attempts: eb("attempts", "+", 1),
        last_run_id: runId,
        target_id: targetId,
        updated_at: this.now(),
      }))
      .where("connection_id", "=", this.deps.connectionId)
      .where("write_key", "=", writeKey)
      .execute();
  }

  async confirm(runId: string, writeKey: string, recordId: string): Promise<void> {
    await this.deps.store.db
      .updateTable("psa_writes")
      .set({
        status: "confirmed",
        psa_record_id: recordId,
        last_error: null,
        last_run_id: runId,
        updated_at: this.now(),
      })
      .where("connection_id", "=", this.deps.connectionId)
      .where("write_key", "=", writeKey)
      .execute();
  }

  /** Notes why a write failed; a write the PSA already confirmed stays confirmed. */
  async markFailed(writeKey: string, message: string): Promise<void> {
    await this.deps.store.db
      .updateTable("psa_writes")
      .set({ status: "failed", last_error: message, updated_at: this.now() })
      .where("connection_id", "=", this.deps.connectionId)
      .where("write_key", "=", writeKey)
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
   * A pending write whose last attempt came from another run moments ago may still reach the PSA; the time
   * after which it may be sent again, or null when that is safe now.
   */
  inDoubtUntil(ledger: Pick<PsaWritesTable, "last_run_id" | "updated_at">, runId: string): Date | null {
    const lastAttemptAt = Date.parse(ledger.updated_at);
    if (ledger.last_run_id === runId || this.clock().getTime() - lastAttemptAt >= IN_DOUBT_MS) return null;
    return new Date(lastAttemptAt + IN_DOUBT_MS);
  }
}
