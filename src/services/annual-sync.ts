import { planAnnualLines, type AnnualPlan, type PlannedLine } from "../core/annual-plan.ts";
import { listChargeEvents } from "../store/billing-repository.ts";
import type { Store } from "../store/db.ts";
import { PsaOutcomeUnknownError } from "../psa/shared/errors.ts";
import type { PsaAdapter, ProductMatch } from "../psa/port.ts";
import type { Mapping, MappingService } from "./mappings.ts";
import {
  forEachConcurrently,
  MAX_WRITE_ATTEMPTS,
  SyncBookkeeping,
  type RecordedItem,
  type RunTotals,
  type SyncScope,
  type SyncTrigger,
} from "./sync-bookkeeping.ts";

export { RunAlreadyActiveError, type SyncScope, type SyncTrigger } from "./sync-bookkeeping.ts";

/**
 * The Seat-based Annual sync: plan, then apply. Planning reads the stored charge events and the write
 * ledger and produces the exact PSA lines; applying writes them one by one, each under an idempotency key
 * that is recorded before the request and stamped into the PSA record. A write whose outcome is unknown is
 * looked up in the PSA before it is ever sent again, so crashes, timeouts and double clicks cannot bill twice.
 */
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

export type ItemResult = RecordedItem & { line?: PlannedLine };
export type RunSummary = RunTotals & { items: ItemResult[] };

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
  private readonly books: SyncBookkeeping;

  constructor(deps: AnnualSyncDeps) {
    this.deps = deps;
    this.books = new SyncBookkeeping({ ...deps, motion: "seat-annual" });
  }

  /**
   * What a sync would write now, mapping by mapping, without changing anything anywhere. With
   * `resolveProducts` (dry runs) each line also says which PSA product it would be billed as — reads only.
   */
  async plan(scope: SyncScope = {}, options: { resolveProducts?: boolean } = {}): Promise<PlannedMapping[]> {
    const { store, organizationId, connectionId, adapter } = this.deps;
    const mappings = await this.deps.mappings.enabled(connectionId, "seat-annual", scope.customerTenantId);
    const written = await this.books.confirmedKeys();
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
    const runId = await this.books.startRun(trigger, scope);
    const requestsBefore = this.deps.adapter.requestCount();
    const items: ItemResult[] = [];
    // A missed heartbeat is harmless (the next one catches up); it must never crash the process mid-write.
    const heartbeat = setInterval(() => this.books.heartbeat(runId).catch(() => {}), 20_000);
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
      return {
        ...(await this.books.finishRun(runId, items, this.deps.adapter.requestCount() - requestsBefore)),
        items,
      };
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
      return {
        ...(await this.books.finishRun(runId, items, this.deps.adapter.requestCount() - requestsBefore)),
        items,
      };
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
      await this.books.markFailed(line.writeKey, message);
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
    const ledger = await this.books.reserve(runId, {
      writeKey: line.writeKey,
      customerTenantId: line.customerTenantId,
      eventKey: line.eventKey,
      targetId: agreementId,
      payload: line,
    });
    if (ledger.status === "confirmed")
      return { outcome: "found-existing", psaRecordId: ledger.psa_record_id, message: "already written" };
    // An earlier attempt may have reached the PSA even though nobody saw the answer: look before writing,
    // on the agreement it was sent to (the customer may have been remapped since) and on the current one.
    if (ledger.attempts > 0) {
      const targets = [...new Set([ledger.target_id, agreementId])];
      for (const target of targets) {
        const existing = await this.deps.adapter.findAnnualLine(target, line.writeKey);
        if (!existing) continue;
        await this.books.confirm(runId, line.writeKey, existing.recordId);
        return {
          outcome: "found-existing",
          psaRecordId: existing.recordId,
          message: "found in the PSA from an earlier attempt",
        };
      }
      // A request from a run that was interrupted moments ago may still be on its way to the PSA; writing now
      // could bill twice, so the line waits for the next run, when the PSA has settled.
      const waitUntil = this.books.inDoubtUntil(ledger, runId);
      if (waitUntil) {
        return {
          outcome: "error",
          psaRecordId: null,
          message: `an interrupted run's write of this line may still reach the PSA; it is left for a run after ${waitUntil.toISOString()}`,
        };
      }
    }
    const recordId = await this.writeLookingBeforeRetrying(runId, line, product, agreementId);
    await this.books.confirm(runId, line.writeKey, recordId);
    const warning = line.warnings.length > 0;
    return {
      outcome: warning ? "warning" : "written",
      psaRecordId: recordId,
      message: warning ? line.warnings.join("; ") : null,
    };
  }

  private async writeLookingBeforeRetrying(
    runId: string,
    line: PlannedLine,
    product: Extract<ProductMatch, { ok: true }>,
    agreementId: string,
  ): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      await this.books.countAttempt(runId, line.writeKey, agreementId);
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

  private record(runId: string, items: ItemResult[], item: ItemResult): Promise<void> {
    return this.books.record(runId, items, item, item.line);
  }
}
