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
    const checks = new Map<string, ReturnType<MonthlyPsaTarget<L, P>["checkMonthlyTarget"]>>();
    const check = (companyId: string, agreementId: string) => {
      const key = `${companyId}\u0000${agreementId}`;
      let checked = checks.get(key);
      if (!checked) {
        checked = target.checkMonthlyTarget(companyId, agreementId);
        checks.set(key, checked);
      }
      return checked;
    };
    return this.books.planMappings(
      scope,
      this.deps.mappings,
      (mapping, _customerName, written) => this.pending(mapping, rules, written, priceList, check),
      check,
      { trigger: options.trigger, emit: options.emit, unchanged: () => this.books.nothingNew() },
    );
  }

  /** Plans and applies under a database-enforced lock: one active run per connection, whatever the motion. */
  run(trigger: SyncTrigger, scope: SyncScope = {}): Promise<MonthlyRunSummary<L>> {
    return this.books.runPlanned(
      trigger,
      scope,
      this.deps.target,
      (emit) => this.plan(scope, { trigger, emit }),
      (runId, mapping, line) => this.apply(runId, mapping, line),
    );
  }

  private async pending(
    mapping: Mapping,
    priceRules: readonly PriceRule[],
    written: ReadonlySet<string>,
    priceList: PriceListIndex,
    check: MonthlyPsaTarget<L, P>["checkMonthlyTarget"],
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
    const usable =
      mapping.psaCompanyId && mapping.agreementId
        ? (await check(mapping.psaCompanyId, mapping.agreementId)).ok
        : false;
    const planned = await target.planMonthly(mapping, usable ? mapping.agreementId : null, timelines);
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

  private async apply(runId: string, mapping: Mapping, line: L): Promise<MonthlyItemResult<L>> {
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
