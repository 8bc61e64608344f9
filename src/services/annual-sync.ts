import { randomUUID } from "node:crypto";
import os from "node:os";
import { planAnnualLines, type AnnualPlan, type PlannedLine } from "../core/annual-plan.ts";
import { listChargeEvents } from "../store/billing-repository.ts";
import type { Store } from "../store/db.ts";
import type { RunStatus, SyncItemsTable } from "../store/schema.ts";
import { PsaOutcomeUnknownError } from "../psa/shared/errors.ts";
import type { PsaAdapter, ProductMatch } from "../psa/port.ts";
import type { Mapping, MappingService } from "./mappings.ts";

/**
 * The Seat-based Annual sync: plan, then apply. Planning reads the stored charge events and the write
 * ledger and produces the exact PSA lines; applying writes them one by one, each under an idempotency key
 * that is recorded before the request and stamped into the PSA record. A write whose outcome is unknown is
 * looked up in the PSA before it is ever sent again, so crashes, timeouts and double clicks cannot bill twice.
 */
export type SyncTrigger = "manual" | "schedule" | "import" | "cli";
export type SyncScope = { customerTenantId?: string };

export type PlannedMapping = {
  mapping: Mapping;
  customerName: string;
  problem: string | null;
  plan: AnnualPlan;
  /** With a problem: the charge events it keeps from being written, each reported as its own error. */
  blocked: PlannedLine[];
  /** For a dry run: the PSA product each line would be billed as, or why none matches (by write key). */
  products?: Record<string, ProductMatch>;
};

export type ItemResult = {
  outcome: SyncItemsTable["outcome"];
  customerTenantId: string | null;
  subscriptionId: string | null;
  eventKey: string | null;
  writeKey: string | null;
  psaRecordId: string | null;
  message: string | null;
  line?: PlannedLine;
};

export type RunSummary = {
  runId: string;
  status: RunStatus;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psaRequests: number;
  items: ItemResult[];
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
const IN_DOUBT_MS = 2 * 60_000;
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

// Each retry follows a lookup that proved the previous attempt did not land, so retrying is safe; the cap only
// stops a PSA that keeps failing from holding the run forever.
const MAX_WRITE_ATTEMPTS = 5;

async function forEachConcurrently<T>(
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

export type AnnualSyncDeps = {
  store: Store;
  organizationId: string;
  mappings: MappingService;
  adapter: PsaAdapter;
  connectionId: string;
  now?: () => Date;
};

export class AnnualSync {
  private readonly deps: AnnualSyncDeps;

  constructor(deps: AnnualSyncDeps) {
    this.deps = deps;
  }

  /**
   * What a sync would write now, mapping by mapping, without changing anything anywhere. With
   * `resolveProducts` (dry runs) each line also says which PSA product it would be billed as — reads only.
   */
  async plan(scope: SyncScope = {}, options: { resolveProducts?: boolean } = {}): Promise<PlannedMapping[]> {
    const { store, organizationId, connectionId, adapter } = this.deps;
    const mappings = await this.deps.mappings.enabled(connectionId, "seat-annual", scope.customerTenantId);
    const written = await this.confirmedKeys();
    const result: PlannedMapping[] = [];
    for (const mapping of mappings) {
      const customer = await store.db
        .selectFrom("customers")
        .select("name")
        .where("organization_id", "=", organizationId)
        .where("tenant_id", "=", mapping.customerTenantId)
        .executeTakeFirst();
      const customerName = customer?.name ?? mapping.customerTenantId;
      const pending = await this.pendingLines(mapping, customerName, written);
      const empty: AnnualPlan = { lines: [], skipped: pending.skipped };
      if (!mapping.psaCompanyId || !mapping.agreementId) {
        const problem = "the mapping has no PSA company and agreement";
        result.push({ mapping, customerName, problem, plan: empty, blocked: pending.lines });
        continue;
      }
      const check = await adapter.checkAnnualTarget(mapping.psaCompanyId, mapping.agreementId);
      if (!check.ok) {
        result.push({ mapping, customerName, problem: check.reason, plan: empty, blocked: pending.lines });
        continue;
      }
      const entry: PlannedMapping = { mapping, customerName, problem: null, plan: pending, blocked: [] };
      if (options.resolveProducts) {
        entry.products = {};
        for (const line of pending.lines) entry.products[line.writeKey] = await adapter.matchProduct(line);
      }
      result.push(entry);
    }
    return result;
  }

  /** Plans and applies under a database-enforced lock: one active run per connection. */
  async run(trigger: SyncTrigger, scope: SyncScope = {}): Promise<RunSummary> {
    const runId = await this.startRun(trigger, scope);
    const requestsBefore = this.deps.adapter.requestCount();
    const items: ItemResult[] = [];
    // A missed heartbeat is harmless (the next one catches up); it must never crash the process mid-write.
    const heartbeat = setInterval(() => this.heartbeat(runId).catch(() => {}), 20_000);
    try {
      const writes: { mapping: Mapping; line: PlannedLine }[] = [];
      for (const planned of await this.plan(scope)) {
        if (planned.problem) {
          await this.recordBlocked(runId, items, planned, planned.problem);
          continue;
        }
        for (const line of planned.plan.lines) writes.push({ mapping: planned.mapping, line });
      }
      // Writes are independent of each other, so they run side by side up to what the PSA allows.
      await forEachConcurrently(writes, this.deps.adapter.writeConcurrency, async ({ mapping, line }) => {
        await this.record(runId, items, await this.apply(runId, mapping, line));
      });
      return await this.finishRun(runId, items, this.deps.adapter.requestCount() - requestsBefore);
    } catch (error) {
      await this.record(runId, items, {
        outcome: "error",
        customerTenantId: null,
        subscriptionId: null,
        eventKey: null,
        writeKey: null,
        psaRecordId: null,
        message: `An unexpected error occurred: ${error instanceof Error ? error.message : String(error)}`,
      });
      return await this.finishRun(runId, items, this.deps.adapter.requestCount() - requestsBefore);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** The mapping's annual charge events not yet confirmed in the PSA, as the lines they would become. */
  private async pendingLines(
    mapping: Mapping,
    customerName: string,
    written: ReadonlySet<string>,
  ): Promise<AnnualPlan> {
    const events = await listChargeEvents(this.deps.store, this.deps.organizationId, {
      customerTenantId: mapping.customerTenantId,
      motion: "seat-annual",
      sinceChargeDate: mapping.syncDate ?? undefined,
    });
    return planAnnualLines(
      {
        connectionId: this.deps.connectionId,
        customerTenantId: mapping.customerTenantId,
        customerName,
        psaCompanyId: mapping.psaCompanyId ?? "",
        agreementId: mapping.agreementId ?? "",
        syncDate: mapping.syncDate,
        pricing: mapping.pricing,
      },
      events,
      written,
    );
  }

  /**
   * A mapping whose target cannot take annual charges fails each charge event it would have written, next to
   * its subscription; with nothing pending, the mapping itself is reported, so a broken target never goes unseen.
   */
  private async recordBlocked(runId: string, items: ItemResult[], planned: PlannedMapping, problem: string) {
    const message = `${planned.customerName}: ${problem}`;
    if (planned.blocked.length === 0) {
      await this.record(runId, items, {
        outcome: "error",
        customerTenantId: planned.mapping.customerTenantId,
        subscriptionId: null,
        eventKey: null,
        writeKey: null,
        psaRecordId: null,
        message,
      });
      return;
    }
    for (const line of planned.blocked) {
      await this.record(runId, items, {
        outcome: "error",
        customerTenantId: line.customerTenantId,
        subscriptionId: line.subscriptionId,
        eventKey: line.eventKey,
        writeKey: line.writeKey,
        psaRecordId: null,
        message,
        line,
      });
    }
  }

  /** Writes one line; whatever goes wrong with it (product lookup included) fails that line only. */
  private async apply(runId: string, mapping: Mapping, line: PlannedLine): Promise<ItemResult> {
    const base = {
      customerTenantId: line.customerTenantId,
      subscriptionId: line.subscriptionId,
      eventKey: line.eventKey,
      writeKey: line.writeKey,
      line,
    };
    try {
      return { ...base, ...(await this.applyLine(runId, mapping, line)) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.deps.store.db
        .updateTable("psa_writes")
        .set({ status: "failed", last_error: message, updated_at: this.now() })
        .where("connection_id", "=", this.deps.connectionId)
        .where("write_key", "=", line.writeKey)
        .where("status", "!=", "confirmed")
        .execute();
      return { ...base, outcome: "error", psaRecordId: null, message };
    }
  }

  private async applyLine(
    runId: string,
    mapping: Mapping,
    line: PlannedLine,
  ): Promise<Pick<ItemResult, "outcome" | "psaRecordId" | "message">> {
    const agreementId = mapping.agreementId!;
    const product = await this.deps.adapter.matchProduct(line);
    if (!product.ok)
      return { outcome: "error", psaRecordId: null, message: `${line.productName}: ${product.reason}` };
    const ledger = await this.reserve(runId, mapping, line);
    if (ledger.status === "confirmed")
      return { outcome: "found-existing", psaRecordId: ledger.psa_record_id, message: "already written" };
    // An earlier attempt may have reached the PSA even though nobody saw the answer: look before writing,
    // on the agreement it was sent to (the customer may have been remapped since) and on the current one.
    if (ledger.attempts > 0) {
      const targets = [...new Set([ledger.target_id, agreementId])];
      for (const target of targets) {
        const existing = await this.deps.adapter.findAnnualLine(target, line.writeKey);
        if (!existing) continue;
        await this.confirm(mapping, line, existing.recordId, runId);
        return {
          outcome: "found-existing",
          psaRecordId: existing.recordId,
          message: "found in the PSA from an earlier attempt",
        };
      }
      // A request from a run that was interrupted moments ago may still be on its way to the PSA; writing now
      // could bill twice, so the line waits for the next run, when the PSA has settled.
      const lastAttemptAt = Date.parse(ledger.updated_at);
      if (ledger.last_run_id !== runId && this.clock().getTime() - lastAttemptAt < IN_DOUBT_MS) {
        return {
          outcome: "error",
          psaRecordId: null,
          message: `an interrupted run's write of this line may still reach the PSA; it is left for a run after ${new Date(lastAttemptAt + IN_DOUBT_MS).toISOString()}`,
        };
      }
    }
    const recordId = await this.writeLookingBeforeRetrying(runId, mapping, line, product, agreementId);
    await this.confirm(mapping, line, recordId, runId);
    const warning = line.warnings.length > 0;
    return {
      outcome: warning ? "warning" : "written",
      psaRecordId: recordId,
      message: warning ? line.warnings.join("; ") : null,
    };
  }

  private async writeLookingBeforeRetrying(
    runId: string,
    mapping: Mapping,
    line: PlannedLine,
    product: Extract<ProductMatch, { ok: true }>,
    agreementId: string,
  ): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      await this.countAttempt(line, runId, agreementId);
      try {
        return (await this.deps.adapter.writeAnnualLine(agreementId, line, product)).recordId;
      } catch (error) {
        if (!(error instanceof PsaOutcomeUnknownError)) throw error;
        const existing = await this.deps.adapter.findAnnualLine(agreementId, line.writeKey);
        if (existing) return existing.recordId;
        if (attempt >= MAX_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  /** Records the intended write before it is sent; returns the ledger row (possibly from an earlier run). */
  private async reserve(runId: string, mapping: Mapping, line: PlannedLine) {
    const now = this.now();
    await this.deps.store.db
      .insertInto("psa_writes")
      .values({
        connection_id: this.deps.connectionId,
        write_key: line.writeKey,
        organization_id: this.deps.organizationId,
        customer_tenant_id: line.customerTenantId,
        motion: mapping.motion,
        event_key: line.eventKey,
        target_id: mapping.agreementId!,
        status: "pending",
        psa_record_id: null,
        payload: JSON.stringify(line),
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
      .where("write_key", "=", line.writeKey)
      .executeTakeFirstOrThrow();
  }

  private async countAttempt(line: PlannedLine, runId: string, agreementId: string) {
    await this.deps.store.db
      .updateTable("psa_writes")
      .set((eb) => ({
        attempts: eb("attempts", "+", 1),
        last_run_id: runId,
        target_id: agreementId,
        updated_at: this.now(),
      }))
      .where("connection_id", "=", this.deps.connectionId)
      .where("write_key", "=", line.writeKey)
      .execute();
  }

  private async confirm(_mapping: Mapping, line: PlannedLine, recordId: string, runId: string) {
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
      .where("write_key", "=", line.writeKey)
      .execute();
  }

  private async confirmedKeys(): Promise<Set<string>> {
    const rows = await this.deps.store.db
      .selectFrom("psa_writes")
      .select("write_key")
      .where("connection_id", "=", this.deps.connectionId)
      .where("status", "=", "confirmed")
      .execute();
    return new Set(rows.map((r) => r.write_key));
  }

  private async startRun(trigger: SyncTrigger, scope: SyncScope): Promise<string> {
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
          scope: JSON.stringify({ motion: "seat-annual", ...scope }),
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

  private async heartbeat(runId: string) {
    await this.deps.store.db
      .updateTable("sync_runs")
      .set({ heartbeat_at: this.now() })
      .where("id", "=", runId)
      .execute();
  }

  private async record(runId: string, items: ItemResult[], item: ItemResult) {
    items.push(item);
    await this.deps.store.db
      .insertInto("sync_items")
      .values({
        id: randomUUID(),
        run_id: runId,
        sequence: items.length,
        organization_id: this.deps.organizationId,
        customer_tenant_id: item.customerTenantId,
        motion: "seat-annual",
        subscription_id: item.subscriptionId,
        event_key: item.eventKey,
        write_key: item.writeKey,
        outcome: item.outcome,
        psa_record_id: item.psaRecordId,
        message: item.message,
        details: JSON.stringify(item.line ?? {}),
        created_at: this.now(),
      })
      .execute();
  }

  private async finishRun(runId: string, items: ItemResult[], psaRequests: number): Promise<RunSummary> {
    const count = (...outcomes: ItemResult["outcome"][]) =>
      items.filter((i) => outcomes.includes(i.outcome)).length;
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
    return { runId, status, written, unchanged, warnings, errors, psaRequests, items };
  }

  private clock(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private now(): string {
    return this.clock().toISOString();
  }
}
