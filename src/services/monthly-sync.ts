import type { RunLockConfig } from "../config.ts";
import { monthlyTimelines, type MonthlyTimelines } from "../core/monthly-plan.ts";
import type { PriceRule } from "../core/pricing.ts";
import { priceRulesFor } from "./pricing.ts";
import { priceListFor } from "./price-lists.ts";
import type { PriceListIndex } from "../core/price-list.ts";
import { listChargeEvents } from "../store/billing-repository.ts";
import type { Store } from "../store/db.ts";
import type { MonthlyLine, MonthlyPrepared, MonthlyPsaTarget } from "../psa/port.ts";
import type { Mapping, MappingService } from "./mappings.ts";
import {
  isDailyCheck,
  reported,
  SyncBookkeeping,
  type MotionItem,
  type PlanEmitter,
  type PlannedEntry,
  type RunTotals,
  type SyncScope,
  type SyncTrigger,
} from "./sync-bookkeeping.ts";

export { RunAlreadyActiveError, type SyncScope, type SyncTrigger } from "./sync-bookkeeping.ts";

/**
 * The Seat-based Monthly sync (docs/sync-behaviour.md §7): plan, then apply, on the bookkeeping the
 * annual and Azure syncs share. The plan compares the seat timelines of the billing data with what the mapped
 * agreement/contract holds now, so each write is only what is missing; each is keyed (recorded in the ledger
 * before the request), and a write whose outcome is unknown is looked up in the PSA before it is sent again.
 */

/** One write of the monthly motion, and what the sync needs from a PSA: declared in the PSA port. */
export type { MonthlyLine, MonthlyPsaTarget } from "../psa/port.ts";

export type MonthlyPlan<L extends MonthlyLine> = {
  lines: L[];
  invoices: string[];
  skipped: MonthlyTimelines["skipped"];
};

type Prepared = MonthlyPrepared;

/** What planning needs of a target check: whether lines may be written there, or why not. */
type TargetCheck = { ok: true } | { ok: false; reason: string };
type Check = (companyId: string, agreementId: string) => Promise<TargetCheck>;

export type PlannedMonthlyMapping<L extends MonthlyLine> = PlannedEntry<MonthlyPlan<L>, L>;
export type MonthlyItemResult<L extends MonthlyLine> = MotionItem<L>;
export type MonthlyRunSummary<L extends MonthlyLine> = RunTotals & { items: MonthlyItemResult<L>[] };

const MOTION = "seat-monthly";

export type MonthlySyncDeps<L extends MonthlyLine, P extends Prepared> = {
  store: Store;
  organizationId: string;
  mappings: MappingService;
  target: MonthlyPsaTarget<L, P>;
  connectionId: string;
  now?: () => Date;
  /** How runs hold the connection's lock (see SyncBookkeeping). */
  runLock?: RunLockConfig;
  /** See LedgerDeps.importCommitMarginMs (tests shorten it). */
  importCommitMarginMs?: number;
};

export class MonthlySync<L extends MonthlyLine, P extends Prepared = Prepared> {
  private readonly deps: MonthlySyncDeps<L, P>;
  private readonly books: SyncBookkeeping;
  /** Per run and subscription, why a write failed (see MonthlyPsaTarget.dependentLines). */
  private readonly failed = new Map<string, string>();

  constructor(deps: MonthlySyncDeps<L, P>) {
    this.deps = deps;
    this.books = new SyncBookkeeping({ ...deps, motion: MOTION });
  }

  /**
   * What a sync would write now, mapping by mapping, without changing anything anywhere. A run's daily check
   * (`trigger`) leaves out the entries with nothing new, unread (SyncBookkeeping.nothingNew).
   */
  async plan(
    scope: SyncScope = {},
    options: { trigger?: SyncTrigger; emit?: PlanEmitter<L> } = {},
  ): Promise<PlannedMonthlyMapping<L>[]> {
    const { target, store, organizationId, connectionId } = this.deps;
    const rules = await priceRulesFor(store, organizationId, connectionId);
    const priceList = await priceListFor(store, organizationId);
    // One check per target and plan: planning an entry checks its target before reading its records, and the
    // bookkeeping asks again for the entry's problem.
    const checks = new Map<string, Promise<TargetCheck>>();
    const key = (companyId: string, agreementId: string) => `${companyId}\u0000${agreementId}`;
    const check: Check = (companyId, agreementId) => {
      let checked = checks.get(key(companyId, agreementId));
      if (!checked) {
        checked = target.checkMonthlyTarget(companyId, agreementId);
        checks.set(key(companyId, agreementId), checked);
      }
      return checked;
    };
    // The daily check takes a target as checked when the PSA confirmed a write of the entry to it since the
    // entry was last changed and no run has left the customer unfinished since (docs/sync-behaviour.md §6.4):
    // its one read, the comparison, still fails on a target that is gone, and that target is then checked.
    const taken = isDailyCheck(options.trigger) ? await this.targetsTakenAsChecked() : () => false;
    const plan = (mapping: Mapping, written: ReadonlySet<string>) =>
      this.pending(mapping, rules, written, priceList, check, (companyId, agreementId) => {
        if (!taken(mapping)) return null;
        const k = key(companyId, agreementId);
        if (!checks.has(k)) checks.set(k, Promise.resolve({ ok: true }));
        return () => {
          checks.delete(k);
          return check(companyId, agreementId);
        };
      });
    return this.books.planMappings(
      scope,
      this.deps.mappings,
      (mapping, _name, written) => plan(mapping, written),
      check,
      {
        trigger: options.trigger,
        emit: options.emit,
        unchanged: () => this.books.nothingNew(),
        lookAhead: target.planConcurrency ?? 1,
      },
    );
  }

  /**
   * For the daily check: the entries whose target may be taken as checked without asking the PSA — the PSA
   * confirmed a write of this motion for the entry's customer to the entry's agreement/contract since the
   * entry was last changed, the motion's last full run started after that change, and it left the customer
   * finished (no error, no held line).
   */
  private async targetsTakenAsChecked(): Promise<(mapping: Mapping) => boolean> {
    const last = await this.books.lastFullRun();
    if (!last) return () => false;
    const unfinished = await this.books.unfinishedCustomers(last.id);
    if (unfinished === "everyone") return () => false;
    const { store, connectionId } = this.deps;
    const rows = await store.db
      .selectFrom("psa_writes")
      .select(["customer_tenant_id", "target_id", (eb) => eb.fn.max("updated_at").as("confirmed_at")])
      .where("connection_id", "=", connectionId)
      .where("motion", "=", MOTION)
      .where("status", "=", "confirmed")
      .groupBy(["customer_tenant_id", "target_id"])
      .execute();
    const confirmed = new Map(
      rows.map((r) => [`${r.customer_tenant_id}\u0000${r.target_id}`, r.confirmed_at]),
    );
    return (mapping) => {
      if (mapping.updatedAt === null || mapping.agreementId === null) return false;
      if (unfinished.has(mapping.customerTenantId) || mapping.updatedAt >= last.startedAt) return false;
      const at = confirmed.get(`${mapping.customerTenantId}\u0000${mapping.agreementId}`);
      return at !== undefined && at >= mapping.updatedAt;
    };
  }

  /** Plans and applies under a database-enforced lock: one active run per connection, whatever the motion. */
  run(trigger: SyncTrigger, scope: SyncScope = {}): Promise<MonthlyRunSummary<L>> {
    return this.books.runPlanned(
      trigger,
      scope,
      this.deps.target,
      (emit) => this.plan(scope, { trigger, emit }),
      (runId, mapping, line) => this.applyAfterEarlier(runId, mapping, line),
      // On a target whose lines build on each other (MonthlyPsaTarget.dependentLines), the lines of one entry
      // go one after another, in the order they were planned, while other entries' lines run beside them.
      this.deps.target.dependentLines
        ? (mapping) => `${mapping.customerTenantId}\u0000${mapping.agreementId ?? ""}`
        : undefined,
    );
  }

  /**
   * `takenAsChecked` says whether the daily check takes the entry's target as checked (see plan), and gives
   * the real check to fall back on when the comparison's read of that target fails.
   */
  private async pending(
    mapping: Mapping,
    priceRules: readonly PriceRule[],
    written: ReadonlySet<string>,
    priceList: PriceListIndex,
    check: Check,
    takenAsChecked: (companyId: string, agreementId: string) => (() => Promise<TargetCheck>) | null,
  ): Promise<MonthlyPlan<L>> {
    const { target } = this.deps;
    const events = await listChargeEvents(this.deps.store, this.deps.organizationId, {
      customerTenantId: mapping.customerTenantId,
      motion: MOTION,
    });
    const timelines = monthlyTimelines(
      {
        connectionId: this.deps.connectionId,
        customerTenantId: mapping.customerTenantId,
        startPoint: mapping.startPoint,
        startInvoice: mapping.startInvoice,
        pricing: mapping.pricing,
        priceRules,
        priceList,
      },
      events,
    );
    // The PSA's records are only read from a target that can take the lines; otherwise the whole timeline is
    // planned, and reported as blocked by the target's problem.
    const { psaCompanyId, agreementId } = mapping;
    const recheck = psaCompanyId && agreementId ? takenAsChecked(psaCompanyId, agreementId) : null;
    let usable = psaCompanyId && agreementId ? (await check(psaCompanyId, agreementId)).ok : false;
    let planned: L[];
    try {
      planned = await target.planMonthly(mapping, usable ? agreementId : null, timelines);
    } catch (error) {
      // A target taken as checked whose read fails is checked for real: gone or no longer fit, its lines are
      // planned as blocked by the problem; still fit, the read's own failure stands.
      if (!recheck || (await recheck()).ok) throw error;
      usable = false;
      planned = await target.planMonthly(mapping, null, timelines);
    }
    const lines =
      usable && target.readsBackByKey ? planned.map((l) => this.rewriteIfDeleted(l, written)) : planned;
    return { lines, invoices: timelines.invoices, skipped: timelines.skipped };
  }

  private rewriteIfDeleted(line: L, written: ReadonlySet<string>): L {
    if (!written.has(line.writeKey)) return line;
    const vendor = this.deps.target.vendor === "connectwise" ? "ConnectWise" : "Autotask";
    const warning = `${line.description}: written earlier (${line.writeKey}) but no longer in ${vendor}, so written again`;
    return { ...line, rewrite: true, warnings: [...line.warnings, warning] };
  }

  private async applyAfterEarlier(runId: string, mapping: Mapping, line: L): Promise<MonthlyItemResult<L>> {
    const { target } = this.deps;
    const subscription = `${runId}:${line.subscriptionId}`;
    const earlier = target.dependentLines ? this.failed.get(subscription) : undefined;
    if (earlier !== undefined)
      return {
        ...reported(line),
        line,
        outcome: "error",
        psaRecordId: null,
        message: `not written: it builds on an earlier change of this subscription that failed (${earlier})`,
      };
    const item = await this.write(runId, mapping, line);
    if (item.outcome === "error") this.failed.set(subscription, item.message ?? "");
    return item;
  }

  private async write(runId: string, mapping: Mapping, line: L): Promise<MonthlyItemResult<L>> {
    const { target } = this.deps;
    if (line.rewrite) await this.books.reopen(runId, line.writeKey);
    return this.books.applyWrite(runId, {
      line,
      targetId: mapping.agreementId!,
      label: line.description,
      noun: "change",
      prepare: () => target.prepareMonthly(line),
      find: (agreementId) => target.findMonthly(agreementId, line),
      send: (agreementId, prepared) => target.writeMonthly(agreementId, line, prepared),
    });
  }
}
