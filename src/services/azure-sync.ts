import type { RunLockConfig } from "../config.ts";
import { planAzureMonths, type AzureMonthLine, type AzurePlan } from "../core/azure-plan.ts";
import { listChargeEvents } from "../store/billing-repository.ts";
import type { Store } from "../store/db.ts";
import type { AzurePsaTarget, ProductMatch } from "../psa/port.ts";
import type { PriceRule } from "../core/pricing.ts";
import type { Mapping, MappingService } from "./mappings.ts";
import { priceRulesFor } from "./pricing.ts";
import {
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
 * The Azure Plan sync (docs/sync-behaviour.md §8): plan, then apply, like the Seat-based Annual sync.
 * Each month of a mapped customer's Azure usage is one keyed write: the key is recorded in the `psa_writes`
 * ledger before the request and stamped into the PSA record, and a write whose outcome is unknown is looked
 * up in the PSA before it is ever sent again. Runs share `sync_runs`' one-active-run-per-connection lock with
 * the other motions (see sync-bookkeeping.ts).
 */

/** What the Azure sync needs from a PSA: declared in the PSA port, implemented by each vendor. */
export type { AzurePsaTarget } from "../psa/port.ts";

export type PlannedAzureMapping = PlannedEntry<AzurePlan, AzureMonthLine> & {
  /** For a dry run: the PSA product the months would be billed as, or why none matches. */
  product?: ProductMatch;
};

// A month sums every Azure subscription of the customer, so its results name no single subscription.
export type AzureItemResult = MotionItem<AzureMonthLine>;
export type AzureRunSummary = RunTotals & { items: AzureItemResult[] };

const MOTION = "azure";

export type AzureSyncDeps = {
  store: Store;
  organizationId: string;
  mappings: MappingService;
  target: AzurePsaTarget;
  connectionId: string;
  now?: () => Date;
  /** How runs hold the connection's lock (see SyncBookkeeping). */
  runLock?: RunLockConfig;
};

export class AzureSync {
  private readonly deps: AzureSyncDeps;
  private readonly books: SyncBookkeeping;

  constructor(deps: AzureSyncDeps) {
    this.deps = deps;
    this.books = new SyncBookkeeping({ ...deps, motion: MOTION });
  }

  /** What a sync would write now, mapping by mapping, without changing anything anywhere. */
  async plan(
    scope: SyncScope = {},
    options: { resolveProducts?: boolean; trigger?: SyncTrigger; emit?: PlanEmitter<AzureMonthLine> } = {},
  ): Promise<PlannedAzureMapping[]> {
    const { target, store, organizationId, connectionId } = this.deps;
    const rules = await priceRulesFor(store, organizationId, connectionId);
    const planned: PlannedAzureMapping[] = await this.books.planMappings(
      scope,
      this.deps.mappings,
      (mapping, customerName, written) => this.pendingMonths(mapping, customerName, written, rules),
      (companyId, agreementId) => target.checkAzureTarget(companyId, agreementId),
      { trigger: options.trigger, emit: options.emit, lookAhead: target.planConcurrency ?? 1 },
    );
    for (const entry of planned) {
      if (options.resolveProducts && !entry.problem && entry.plan.lines.length > 0)
        entry.product = await target.matchAzureProduct();
    }
    return planned;
  }

  /** Plans and applies under a database-enforced lock: one active run per connection, whatever the motion. */
  run(trigger: SyncTrigger, scope: SyncScope = {}): Promise<AzureRunSummary> {
    return this.books.runPlanned(
      trigger,
      scope,
      this.deps.target,
      (emit) => this.plan(scope, { trigger, emit }),
      (runId, mapping, line) => this.apply(runId, mapping, line),
    );
  }

  private async pendingMonths(
    mapping: Mapping,
    customerName: string,
    written: ReadonlySet<string>,
    priceRules: readonly PriceRule[],
  ): Promise<AzurePlan> {
    const events = await listChargeEvents(this.deps.store, this.deps.organizationId, {
      customerTenantId: mapping.customerTenantId,
      motion: MOTION,
    });
    return planAzureMonths(
      {
        connectionId: this.deps.connectionId,
        customerTenantId: mapping.customerTenantId,
        customerName,
        syncDate: mapping.syncDate,
        pricing: mapping.pricing,
        priceRules,
      },
      events,
      written,
    );
  }

  /** Writes one month; whatever goes wrong with it (product lookup included) fails that month only. */
  private async apply(runId: string, mapping: Mapping, line: AzureMonthLine): Promise<AzureItemResult> {
    const { target } = this.deps;
    return this.books.applyWrite(runId, {
      line,
      targetId: mapping.agreementId!,
      label: line.description,
      noun: "month",
      prepare: () => target.matchAzureProduct(),
      find: (agreementId) => target.findAzureMonth(agreementId, line),
      send: (agreementId, product) => target.writeAzureMonth(agreementId, line, product),
    });
  }
}
