import { randomUUID } from "node:crypto";
import { IN_DOUBT_MS, sendLookingBeforeRetrying } from "../psa/shared/write-once.ts";
import type { KeyedRecordSource } from "../psa/port.ts";
import { RunSupersededError } from "../store/run-lock.ts";
import {
  SyncLedger,
  type IntendedWrite,
  type ItemOutcome,
  type LedgerDeps,
  type RecordedItem,
  type SyncScope,
  type SyncTrigger,
} from "../store/sync-ledger.ts";
import type { Mapping, MappingService } from "./mappings.ts";
import { findDuplicateKeys, keyedRecordSourceOf } from "./duplicate-keys.ts";
import { PriceHoldGate } from "./price-holds.ts";
import type { PsaWritesTable, RunStatus } from "../store/schema.ts";
import { failureSentence } from "../psa/shared/error-sentences.ts";
import { PsaError } from "../psa/shared/errors.ts";
import { AppError } from "../core/errors.ts";

export { RunSupersededError };
export type { IntendedWrite, ItemOutcome, RecordedItem, SyncScope, SyncTrigger };

export type RunTotals = {
  runId: string;
  status: RunStatus;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psaRequests: number;
};

export class RunAlreadyActiveError extends AppError {
  readonly activeRunId: string;
  constructor(activeRunId: string) {
    super("conflict", `a sync for this connection is already running (run ${activeRunId})`);
    this.activeRunId = activeRunId;
  }
}

// How long an interrupted attempt may still land, and the cap on sends per run: shared with the product sync.
export { IN_DOUBT_MS, MAX_WRITE_ATTEMPTS } from "../psa/shared/write-once.ts";

/** How far back the daily check reads written keys back from the PSA to look for a key written twice. */
const DUPLICATE_LOOKBACK_MS = 7 * 24 * 3_600_000;

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

export type BookkeepingDeps = LedgerDeps;

/** A result of a motion, with the line it is about (kept as the item's details). */
export type MotionItem<L> = RecordedItem & { line?: L };

/** What a failed line needs to be reported as its own error. */
export type ReportedLine = {
  customerTenantId: string;
  eventKey: string;
  writeKey: string;
  subscriptionId?: string;
};

/** A mapping as a motion plans it: its pending lines, or the problem that keeps them from the PSA. */
export type PlannedEntry<P extends { lines: L[] }, L> = {
  mapping: Mapping;
  customerName: string;
  problem: string | null;
  plan: P;
  /** With a problem: the lines it keeps from being written, each reported as its own error. */
  blocked: L[];
};

/** A line a motion writes: it names itself and carries the warnings its write reports. */
export type WritableLine = ReportedLine & {
  warnings: readonly string[];
  /** Said in the item's message without making it a warning (e.g. sold at cost: flagged, not warned). */
  notes?: readonly string[];
};

/** One keyed write as a motion hands it over: its line, where it goes, and how to look for it and send it. */
export type KeyedWrite<P extends { ok: true }, L extends WritableLine> = {
  line: L;
  targetId: string;
  /** What messages call the write: the line's product, the month's description. */
  label: string;
  /** What the in-doubt message calls it: "line", "month". */
  noun: string;
  /** What the write needs from the PSA first (its product); a reason instead fails it before the ledger. */
  prepare(): Promise<P | { ok: false; reason: string }>;
  find(targetId: string): Promise<{ recordId: string } | null>;
  send(targetId: string, prepared: P): Promise<{ recordId: string }>;
};

type TargetCheck = { ok: true } | { ok: false; reason: string };

/**
 * The lane of a planned line: lines of one lane are written one at a time, in plan order; null for a line
 * that may go beside any other (see SyncBookkeeping.writeAsPlanned).
 */
export type LaneOf<L> = (mapping: Mapping, line: L) => string | null;

/** Hands one planned mapping to the run as soon as it is planned (see SyncBookkeeping.writeAsPlanned). */
export type PlanEmitter<L> = (entry: PlannedEntry<{ lines: L[] }, L>) => Promise<void>;

/** How a run plans (see SyncBookkeeping.planMappings); a dry run gives none of it. */
export type PlanOptions<P extends { lines: L[] }, L> = {
  /** The run's trigger: the daily check ("schedule", "import") plans cheaply. */
  trigger?: SyncTrigger;
  /** Receives each mapping as soon as it is planned. */
  emit?: (entry: PlannedEntry<P, L>) => Promise<void>;
  /** Daily check only: which entries have nothing new and are left out unread (see nothingNew). */
  unchanged?: () => Promise<(mapping: Mapping) => boolean>;
  /**
   * How many entries may be planned (and checked) at once, each still handed to `emit` in order; default 1.
   * The PSA's target says (its planConcurrency, within its client's request budget).
   */
  lookAhead?: number;
};

/** The runs that check cheaply: the daily check, and the one queued after an import that brought new lines. */
export function isDailyCheck(trigger: SyncTrigger | undefined): boolean {
  return trigger === "schedule" || trigger === "import";
}

/**
 * An import stamps its finish time in its last statement, and its lines become visible at the commit right
 * after; the importing process's clock may also differ a little from the syncing one's. Lines of an import
 * that finished within this margin before a run started count as new to the next run too.
 */
const IMPORT_COMMIT_MARGIN_MS = 60_000;

export type WriteOutcome = Pick<RecordedItem, "outcome" | "psaRecordId" | "message">;

/**
 * The bookkeeping every sync motion shares: the run lock (one active run per connection, enforced by a
 * partial unique index; a run whose process died is taken over), heartbeats, per-item results, run totals, and
 * the PSA write ledger — each write's idempotency key recorded before the request, its attempts counted, and
 * the PSA record confirmed after. The motions differ only in what they plan and how they write it.
 *
 * Fencing: a run that was taken over (its process froze — a paused VM, a sleeping laptop, a long GC — and
 * another node took the lock) must not go on writing when it wakes up. Every statement after which cspsync
 * sends a write or records its result (counting an attempt, confirming, reopening, failing a write, the
 * heartbeat and the run's end) carries the condition "this run is still the connection's running run", in
 * the same statement, so it is decided atomically by the database. A run that finds itself superseded stops
 * before sending anything more and notes it in its record; its outcome, set by the run that took over, stays.
 *
 * The records themselves (runs, items, ledger rows and their fenced statements) are kept by the class this one
 * extends, src/store/sync-ledger.ts; this one holds the rules of a run: start under the lock, write each
 * planned line once (look before sending again, wait out a write that may still land), end with totals.
 */
export class SyncBookkeeping extends SyncLedger {
  /**
   * Starts a run under the database's one-active-run rule; throws RunAlreadyActiveError when one is active.
   * A run whose process is gone is taken over (src/store/run-lock.ts), and the record says why.
   */
  async startRun(trigger: SyncTrigger, scope: SyncScope): Promise<string> {
    const id = randomUUID();
    const insert = () => this.insertRun(id, trigger, scope, { status: "running", finished_at: null });
    const start = await this.lock.start(id, insert, () => this.now());
    if (!start.started) throw new RunAlreadyActiveError(start.activeRunId);
    return id;
  }

  /**
   * Records a run that failed before it could start (the PSA could not be reached, its credentials cannot be
   * read, its host is not allowed): a finished run with status "error" and the reason as its one item, so every
   * attempted sync is in the history. It takes no lock: it writes nothing anywhere else.
   */
  async recordFailedStart(
    trigger: SyncTrigger,
    scope: SyncScope,
    reason: string,
  ): Promise<RunTotals & { items: RecordedItem[] }> {
    const id = randomUUID();
    const item: RecordedItem = {
      outcome: "error",
      customerTenantId: scope.customerTenantId ?? null,
      subscriptionId: null,
      eventKey: null,
      writeKey: null,
      psaRecordId: null,
      message: reason,
    };
    await this.insertRun(id, trigger, scope, {
      status: "error",
      finished_at: this.now(),
      errors: 1,
      message: reason,
    });
    await this.record(id, [], item, {});
    return {
      runId: id,
      status: "error",
      written: 0,
      unchanged: 0,
      warnings: 0,
      errors: 1,
      psaRequests: 0,
      items: [item],
    };
  }

  async finishRun(runId: string, items: readonly RecordedItem[], psaRequests: number): Promise<RunTotals> {
    const count = (...outcomes: ItemOutcome[]) => items.filter((i) => outcomes.includes(i.outcome)).length;
    const written = count("written", "warning");
    const unchanged = count("found-existing");
    // A line held for approval is a warning: nothing failed, but someone has to look at it.
    const warnings = count("warning", "held");
    const errors = count("error");
    const status: RunStatus =
      errors > 0 ? "error" : warnings > 0 ? "warning" : written + unchanged > 0 ? "success" : "no-change";
    const ended = await this.endRun(runId, {
      status,
      written,
      unchanged,
      warnings,
      errors,
      psa_requests: psaRequests,
    });
    // A run taken over keeps the outcome the taking run gave it ("abandoned", and why); a late end only adds
    // that it woke up and stopped.
    if (!ended) {
      await this.noteSuperseded(runId);
      return { runId, status: "abandoned", written, unchanged, warnings, errors, psaRequests };
    }
    return { runId, status, written, unchanged, warnings, errors, psaRequests };
  }

  /**
   * A pending write whose last attempt came from another run moments ago may still reach the PSA; the time
   * after which it may be sent again, or null when that is safe now.
   */
  inDoubtUntil(
    ledger: Pick<PsaWritesTable, "last_run_id" | "updated_at" | "in_flight">,
    runId: string,
  ): Date | null {
    const lastAttemptAt = Date.parse(ledger.updated_at);
    // The PSA answered the last attempt (a refusal, a clean 500): nothing of it can still land.
    if (!Number(ledger.in_flight)) return null;
    if (ledger.last_run_id === runId || this.clock().getTime() - lastAttemptAt >= IN_DOUBT_MS) return null;
    return new Date(lastAttemptAt + IN_DOUBT_MS);
  }

  /**
   * Plans and applies under the run lock: `work` records each result into the run's items; an unexpected
   * failure is recorded as one more error, and the run always ends with its totals.
   */
  async runLocked<T extends RecordedItem>(
    trigger: SyncTrigger,
    scope: SyncScope,
    psa: { requestCount(): number },
    work: (runId: string, items: T[]) => Promise<void>,
  ): Promise<RunTotals & { items: T[] }> {
    const runId = await this.startRun(trigger, scope);
    const requestsBefore = psa.requestCount();
    const items: T[] = [];
    const stopBeating = this.lock.keepAlive(runId);
    try {
      await work(runId, items);
    } catch (error) {
      // The motions' items only add optional details to RecordedItem, so a bare one fits among them.
      const all: RecordedItem[] = items;
      const message =
        error instanceof RunSupersededError
          ? error.message
          : error instanceof PsaError
            ? failureSentence(error)
            : `An unexpected error occurred: ${failureSentence(error)}`;
      const failure: RecordedItem = {
        outcome: "error",
        customerTenantId: null,
        subscriptionId: null,
        eventKey: null,
        writeKey: null,
        psaRecordId: null,
        message,
      };
      await this.record(runId, all, failure, {});
    } finally {
      stopBeating();
    }
    return { ...(await this.finishRun(runId, items, psa.requestCount() - requestsBefore)), items };
  }

  /**
   * Writes once, under the write's idempotency key: recorded in the ledger before the request, looked up in the
   * PSA before it is ever sent again, confirmed after. Whatever goes wrong fails this write only.
   */
  async applyWrite<P extends { ok: true }, L extends WritableLine>(
    runId: string,
    write: KeyedWrite<P, L>,
  ): Promise<MotionItem<L>> {
    const { line } = write;
    try {
      return { ...reported(line), line, ...(await this.applyUnguarded(runId, write)) };
    } catch (error) {
      // A run that lost its lock stops as a whole, not write by write.
      if (error instanceof RunSupersededError) throw error;
      const message = failureSentence(error);
      await this.markFailed(runId, line.writeKey, message);
      return { ...reported(line), line, outcome: "error", psaRecordId: null, message };
    }
  }

  private async applyUnguarded<P extends { ok: true }, L extends WritableLine>(
    runId: string,
    write: KeyedWrite<P, L>,
  ): Promise<WriteOutcome> {
    const { line } = write;
    const prepared = await write.prepare();
    if (!prepared.ok)
      return { outcome: "error", psaRecordId: null, message: `${write.label}: ${prepared.reason}` };
    const ledger = await this.reserve(runId, {
      writeKey: line.writeKey,
      customerTenantId: line.customerTenantId,
      eventKey: line.eventKey,
      targetId: write.targetId,
      payload: line,
    });
    if (ledger.status === "confirmed")
      return { outcome: "found-existing", psaRecordId: ledger.psa_record_id, message: "already written" };
    // An earlier attempt may have reached the PSA even though nobody saw the answer: look before writing,
    // on the target it was sent to (the customer may have been remapped since) and on the current one.
    if (ledger.attempts > 0) {
      for (const target of [...new Set([ledger.target_id, write.targetId])]) {
        const existing = await write.find(target);
        if (!existing) continue;
        await this.confirm(runId, write.line.writeKey, existing.recordId);
        return {
          outcome: "found-existing",
          psaRecordId: existing.recordId,
          message: "found in the PSA from an earlier attempt",
        };
      }
      // A request from a run that was interrupted moments ago may still be on its way to the PSA; writing now
      // could bill twice, so the write waits for the next run, when the PSA has settled.
      const waitUntil = this.inDoubtUntil(ledger, runId);
      if (waitUntil) {
        return {
          outcome: "error",
          psaRecordId: null,
          message: `an interrupted run's write of this ${write.noun} may still reach the PSA; it is left for a run after ${waitUntil.toISOString()}`,
        };
      }
    }
    const recordId = await this.sendLookingBeforeRetrying(runId, write, prepared);
    await this.confirm(runId, write.line.writeKey, recordId);
    const warning = line.warnings.length > 0;
    const said = [...line.warnings, ...(line.notes ?? [])];
    return {
      outcome: warning ? "warning" : "written",
      psaRecordId: recordId,
      message: said.length > 0 ? said.join("; ") : null,
    };
  }

  private async sendLookingBeforeRetrying<P extends { ok: true }, L extends WritableLine>(
    runId: string,
    write: KeyedWrite<P, L>,
    prepared: P,
  ): Promise<string> {
    const sent = await sendLookingBeforeRetrying({
      noun: write.noun,
      send: () => write.send(write.targetId, prepared),
      find: async () => (await write.find(write.targetId)) ?? undefined,
      beforeAttempt: () => this.countAttempt(runId, write.line.writeKey, write.targetId),
      afterAnswer: () => this.settleAttempt(runId, write.line.writeKey),
      now: () => this.clock(),
    });
    return sent.recordId;
  }

  /**
   * Runs a motion: plans under the run lock, writing each mapping's lines as soon as it is planned (so the
   * per-mapping checks run alongside the writes, see writeAsPlanned), then reads the PSA back for records
   * carrying one write key twice (see checkDuplicateKeys).
   */
  runPlanned<L extends ReportedLine>(
    trigger: SyncTrigger,
    scope: SyncScope,
    psa: { requestCount(): number; readonly writeConcurrency: number } & Partial<KeyedRecordSource>,
    plan: (emit: PlanEmitter<L>) => Promise<readonly PlannedEntry<{ lines: L[] }, L>[]>,
    apply: (runId: string, mapping: Mapping, line: L) => Promise<MotionItem<L>>,
    laneOf?: LaneOf<L>,
  ): Promise<RunTotals & { items: MotionItem<L>[] }> {
    return this.runLocked<MotionItem<L>>(trigger, scope, psa, async (runId, items) => {
      const planned = await this.writeAsPlanned(
        runId,
        items,
        plan,
        psa.writeConcurrency,
        (mapping, line) => apply(runId, mapping, line),
        laneOf,
      );
      await this.checkDuplicateKeys(runId, items, planned, trigger, keyedRecordSourceOf(psa));
    });
  }

  /**
   * Defence in depth: fencing keeps a taken-over run from writing, but a process frozen between counting an
   * attempt and sending it can still leave a key on two records. After a run, the keys it wrote are read
   * back from their agreements/contracts; the daily check (trigger "schedule") reads back every key written
   * in the last week, which also catches a copy that landed after the run that took over had looked. A key
   * found twice is an error naming the records; a later copy the PSA lets cspsync remove (not yet invoiced)
   * is removed, and the item says which. A target that cannot be read is a warning.
   */
  private async checkDuplicateKeys<L extends ReportedLine>(
    runId: string,
    items: MotionItem<L>[],
    planned: readonly PlannedEntry<{ lines: L[] }, L>[],
    trigger: SyncTrigger,
    source: ReturnType<typeof keyedRecordSourceOf>,
  ): Promise<void> {
    if (!source) return;
    const written = await this.keysToCheck(items, trigger);
    if (written.size === 0) return;
    const customerOf = new Map(planned.map((e) => [e.mapping.agreementId ?? "", e.mapping.customerTenantId]));
    const findings = await findDuplicateKeys(source, [...new Set(written.values())], {
      keys: new Set(written.keys()),
      remove: true,
    });
    for (const finding of findings) {
      await this.record(
        runId,
        items,
        {
          outcome: finding.writeKey === null ? "warning" : "error",
          customerTenantId: customerOf.get(finding.targetId) ?? null,
          subscriptionId: null,
          eventKey: null,
          writeKey: finding.writeKey,
          psaRecordId: finding.kept,
          message: finding.message,
        },
        finding,
      );
    }
  }

  /**
   * Write key → the agreement/contract it was written to, for the writes that were sent more than once (the
   * only ones that can be on two records, see SyncLedger.resentWritesSince): this run's, or the last week's
   * (daily check). A run whose every write went out once reads nothing back.
   */
  private async keysToCheck<L extends ReportedLine>(
    items: readonly MotionItem<L>[],
    trigger: SyncTrigger,
  ): Promise<Map<string, string>> {
    const rows: { write_key: string; target_id: string }[] = [];
    if (trigger === "schedule") {
      const since = new Date(this.clock().getTime() - DUPLICATE_LOOKBACK_MS).toISOString();
      rows.push(...(await this.resentWritesSince(since)));
    } else {
      const keys = items
        .filter((i) => i.writeKey && ["written", "warning", "found-existing"].includes(i.outcome))
        .map((i) => i.writeKey!);
      rows.push(...(await this.resentWritesOf(keys)));
    }
    return new Map(rows.map((r) => [r.write_key, r.target_id]));
  }

  /**
   * Plans each enabled mapping of the motion: the lines not yet confirmed in the PSA, or — when the mapped
   * target cannot take them — the problem, with the lines it blocks. Each entry is handed to `emit` as soon as
   * it is planned (a run writes it while the next is planned).
   *
   * The daily check (trigger "schedule" or "import") checks a target only when it has lines to take: an entry
   * with nothing to write costs no PSA request. `unchanged` (a motion that must read the PSA to plan) leaves out
   * the entries it names without planning them (see nothingNew). Other runs check every target, so a broken one
   * is reported even when it has nothing to write.
   */
  async planMappings<P extends { lines: L[] }, L>(
    scope: SyncScope,
    mappings: MappingService,
    pending: (mapping: Mapping, customerName: string, written: ReadonlySet<string>) => Promise<P>,
    check: (companyId: string, agreementId: string) => Promise<TargetCheck>,
    options: PlanOptions<P, L> = {},
  ): Promise<PlannedEntry<P, L>[]> {
    const { connectionId, motion } = this.deps;
    const enabled = await mappings.enabled(connectionId, motion, scope.customerTenantId);
    const written = await this.confirmedKeys();
    const daily = isDailyCheck(options.trigger);
    const unchanged = daily && options.unchanged ? await options.unchanged() : () => false;
    const names = await this.customerNames();
    const planOne = async (mapping: Mapping): Promise<PlannedEntry<P, L>> => {
      const customerName = names.get(mapping.customerTenantId) ?? mapping.customerTenantId;
      const plan = await pending(mapping, customerName, written);
      const problem =
        !mapping.psaCompanyId || !mapping.agreementId
          ? "the mapping has no PSA company and agreement"
          : daily && plan.lines.length === 0
            ? null
            : await check(mapping.psaCompanyId, mapping.agreementId).then((c) => (c.ok ? null : c.reason));
      return problem
        ? { mapping, customerName, problem, plan: { ...plan, lines: [] }, blocked: plan.lines }
        : { mapping, customerName, problem: null, plan, blocked: [] };
    };
    // Up to `lookAhead` entries are planned at once; each is handed over in order, once planned.
    const todo = enabled.filter((mapping) => !unchanged(mapping));
    const ahead = Math.max(1, options.lookAhead ?? 1);
    const started: Promise<PlannedEntry<P, L>>[] = [];
    const result: PlannedEntry<P, L>[] = [];
    for (let i = 0; i < todo.length; i++) {
      while (started.length < Math.min(todo.length, i + ahead)) {
        const planning = planOne(todo[started.length]!);
        planning.catch(() => undefined); // awaited in its turn below
        started.push(planning);
      }
      const entry = await started[i]!;
      result.push(entry);
      await options.emit?.(entry);
    }
    return result;
  }

  /**
   * For the daily check of a motion that must read the PSA to plan (Seat-based Monthly): which entries have
   * nothing new since this motion's last run over the whole connection, so that they are not read at all. An
   * entry has nothing new when that run finished it (no error, no held line), it was not changed since, no
   * write of its customer is left unconfirmed, and no import since brought charge lines of the motion for its
   * customer. Without such a run every entry is planned. docs/sync-behaviour.md, "What the daily check reads".
   */
  async nothingNew(): Promise<(mapping: Mapping) => boolean> {
    const last = await this.lastFullRun();
    if (!last) return () => false;
    const unfinished = await this.unfinishedCustomers(last.id);
    if (unfinished === "everyone") return () => false;
    // An import's lines are committed a moment after its finish time is stamped; a margin covers that moment.
    const margin = this.deps.importCommitMarginMs ?? IMPORT_COMMIT_MARGIN_MS;
    const since = new Date(Date.parse(last.startedAt) - margin).toISOString();
    const open = await this.customersWithOpenWrites();
    const imported = await this.customersImportedSince(since);
    return (mapping) =>
      !unfinished.has(mapping.customerTenantId) &&
      !open.has(mapping.customerTenantId) &&
      !imported.has(mapping.customerTenantId) &&
      mapping.updatedAt !== null &&
      mapping.updatedAt < since;
  }

  /**
   * Applies the plan as it is made: each line of a sound mapping joins the writes as soon as its mapping is
   * planned, and up to `concurrency` writes run side by side while the next mappings are planned. Lines of one
   * lane (`laneOf`: e.g. a Seat-based Monthly entry on Autotask, whose adjustments build on each other) go one
   * at a time, in the order they were planned; a writer meanwhile takes the next line of another lane, so the
   * writers stay busy across entries instead of waiting behind one. A mapping with a problem fails each line it
   * blocks, or itself when it blocks none, so a broken target never goes unseen. Returns the whole plan.
   */
  async writeAsPlanned<L extends ReportedLine>(
    runId: string,
    items: MotionItem<L>[],
    plan: (emit: PlanEmitter<L>) => Promise<readonly PlannedEntry<{ lines: L[] }, L>[]>,
    concurrency: number,
    apply: (mapping: Mapping, line: L) => Promise<MotionItem<L>>,
    laneOf?: LaneOf<L>,
  ): Promise<readonly PlannedEntry<{ lines: L[] }, L>[]> {
    const holds = await PriceHoldGate.forRun({ ...this.deps, now: () => this.now() });
    const queue: { mapping: Mapping; line: L; lane: string | null }[] = [];
    /** Lanes with a line being written: their next line waits. */
    const busy = new Set<string>();
    // The first queued line whose lane is free: a lane's lines are queued in plan order, so its earliest goes
    // first. The busy lanes' lines sit at the front, so the search stops within a few entries' lines.
    const take = () => {
      const at = queue.findIndex((q) => q.lane === null || !busy.has(q.lane));
      if (at < 0) return undefined;
      const [next] = queue.splice(at, 1);
      if (next!.lane !== null) busy.add(next!.lane);
      return next;
    };
    let planningDone = false;
    let failure: { error: unknown } | null = null;
    let waiting: (() => void)[] = [];
    const wake = () => {
      const woken = waiting;
      waiting = [];
      for (const resume of woken) resume();
    };
    const emit: PlanEmitter<L> = async (entry) => {
      if (failure) throw failure.error;
      if (entry.problem) await this.recordProblem(runId, items, entry);
      else
        for (const line of entry.plan.lines)
          queue.push({ mapping: entry.mapping, line, lane: laneOf?.(entry.mapping, line) ?? null });
      wake();
    };
    const writer = async () => {
      for (;;) {
        const next = take();
        if (next) {
          try {
            await this.writeOne(runId, items, holds, next.mapping, next.line, apply);
          } catch (error) {
            // A writer that fails (the run lost its lock) stops the planning and the other writers too.
            failure ??= { error };
            queue.length = 0;
            throw error;
          } finally {
            // The lane's next line may go now, to whichever writer is free.
            if (next.lane !== null) busy.delete(next.lane);
            wake();
          }
          continue;
        }
        // Lines left whose lanes are busy wait for those lanes, even once planning is done.
        if ((planningDone && queue.length === 0) || failure) return;
        await new Promise<void>((resume) => waiting.push(resume));
      }
    };
    const planning = plan(emit).finally(() => {
      planningDone = true;
      wake();
    });
    // Every writer is waited for, even after one fails: the run must not end (and free its lock) while writes
    // are still in flight.
    const settled = await Promise.allSettled([
      planning,
      ...Array.from({ length: Math.max(1, concurrency) }, writer),
    ]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    // A writer's failure (set inside the closures above) is the cause; the planning's rejection only follows it.
    const cause = failure as { error: unknown } | null;
    if (failed) throw cause ? cause.error : failed.reason;
    return (settled[0] as PromiseFulfilledResult<readonly PlannedEntry<{ lines: L[] }, L>[]>).value;
  }

  /** Fails each line a mapping's problem blocks, or the mapping itself when it blocks none. */
  private async recordProblem<L extends ReportedLine>(
    runId: string,
    items: MotionItem<L>[],
    entry: PlannedEntry<{ lines: L[] }, L>,
  ): Promise<void> {
    const record = (item: MotionItem<L>) => this.record(runId, items, item, item.line);
    const failed = {
      outcome: "error" as const,
      psaRecordId: null,
      message: `${entry.customerName}: ${entry.problem}`,
    };
    if (entry.blocked.length === 0) {
      await record({
        ...failed,
        customerTenantId: entry.mapping.customerTenantId,
        subscriptionId: null,
        eventKey: null,
        writeKey: null,
      });
    }
    for (const line of entry.blocked) await record({ ...failed, ...reported(line), line });
  }

  /** One line through the price-hold gate, then written (or held, or left waiting) and recorded. */
  private async writeOne<L extends ReportedLine>(
    runId: string,
    items: MotionItem<L>[],
    holds: PriceHoldGate,
    mapping: Mapping,
    line: L,
    apply: (mapping: Mapping, line: L) => Promise<MotionItem<L>>,
  ): Promise<void> {
    const record = (item: MotionItem<L>) => this.record(runId, items, item, item.line);
    const decision = await holds.decide(runId, line);
    if (decision.kind === "waiting") return;
    if (decision.kind === "held") {
      await record({
        ...reported(line),
        line,
        outcome: "held",
        psaRecordId: null,
        message: decision.message,
      });
      return;
    }
    const item = await apply(mapping, line);
    if (decision.kind === "approved" && item.outcome !== "error")
      item.message = [item.message, decision.note].filter(Boolean).join("; ");
    await record(item);
  }
}

/** The item fields that name a line. */
export function reported(
  line: ReportedLine,
): Pick<RecordedItem, "customerTenantId" | "subscriptionId" | "eventKey" | "writeKey"> {
  return {
    customerTenantId: line.customerTenantId,
    subscriptionId: line.subscriptionId ?? null,
    eventKey: line.eventKey,
    writeKey: line.writeKey,
  };
}
