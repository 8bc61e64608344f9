import type { RunLockConfig } from "../config.ts";
import { planAnnualLines, type AnnualPlan, type PlannedLine } from "../core/annual-plan.ts";
import { listChargeEvents } from "../store/billing-repository.ts";
import type { Store } from "../store/db.ts";
import type { PsaAdapter, ProductMatch } from "../psa/port.ts";
import type { PriceRule } from "../core/pricing.ts";
import { productNameMismatch, type ProductNameMismatch } from "../core/product-words.ts";
import type { Mapping, MappingService } from "./mappings.ts";
import { priceRulesFor } from "./pricing.ts";
import { priceListFor } from "./price-lists.ts";
import type { PriceListIndex } from "../core/price-list.ts";
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
 * The Seat-based Annual sync: plan, then apply. Planning reads the stored charge events and the write
 * ledger and produces the exact PSA lines; applying writes them one by one, each under an idempotency key
 * that is recorded before the request and stamped into the PSA record. A write whose outcome is unknown is
 * looked up in the PSA before it is ever sent again, so crashes, timeouts and double clicks cannot bill twice.
 */
export type PlannedMapping = PlannedEntry<AnnualPlan, PlannedLine> & {
  /** For a dry run: the PSA product each line would be billed as, or why none matches (by write key). */
  products?: Record<string, PlannedProduct>;
};

/**
 * A line's PSA product in a dry run; `nameMismatch` when the product's name shares no product word with the
 * charge's (see core/product-words.ts) — the line then also carries that warning.
 */
export type PlannedProduct = ProductMatch & { nameMismatch?: ProductNameMismatch };

/** The name check of a matched product: null when the names agree, or cannot be compared. */
export function checkProductName(
  line: Pick<PlannedLine, "productName">,
  match: ProductMatch,
): ProductNameMismatch | null {
  return match.ok && match.record ? productNameMismatch(line.productName, match.record) : null;
}

/** Adds the name check's warning to the line (once), so the dry run and the written item both report it. */
function warnOnMismatch(line: PlannedLine, mismatch: ProductNameMismatch | null): void {
  if (mismatch && !line.warnings.includes(mismatch.message)) line.warnings.push(mismatch.message);
}

export type ItemResult = MotionItem<PlannedLine>;
export type RunSummary = RunTotals & { items: ItemResult[] };

export type AnnualSyncDeps = {
  store: Store;
  organizationId: string;
  mappings: MappingService;
  adapter: PsaAdapter;
  connectionId: string;
  now?: () => Date;
  /** How runs hold the connection's lock (see SyncBookkeeping). */
  runLock?: RunLockConfig;
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
  async plan(
    scope: SyncScope = {},
    options: { resolveProducts?: boolean; trigger?: SyncTrigger; emit?: PlanEmitter<PlannedLine> } = {},
  ): Promise<PlannedMapping[]> {
    const { adapter, store, organizationId, connectionId } = this.deps;
    const rules = await priceRulesFor(store, organizationId, connectionId);
    const priceList = await priceListFor(store, organizationId);
    const planned: PlannedMapping[] = await this.books.planMappings(
      scope,
      this.deps.mappings,
      (mapping, customerName, written) => this.pendingLines(mapping, customerName, written, rules, priceList),
      (companyId, agreementId) => adapter.checkAnnualTarget(companyId, agreementId),
      { trigger: options.trigger, emit: options.emit, lookAhead: adapter.planConcurrency ?? 1 },
    );
    for (const entry of planned) {
      if (!options.resolveProducts || entry.problem) continue;
      entry.products = {};
      for (const line of entry.plan.lines) {
        const match = await adapter.matchProduct(line);
        const mismatch = checkProductName(line, match);
        warnOnMismatch(line, mismatch);
        entry.products[line.writeKey] = mismatch ? { ...match, nameMismatch: mismatch } : match;
      }
    }
    return planned;
  }

  /** Plans and applies under a database-enforced lock: one active run per connection. */
  run(trigger: SyncTrigger, scope: SyncScope = {}): Promise<RunSummary> {
    return this.books.runPlanned(
      trigger,
      scope,
      this.deps.adapter,
      (emit) => this.plan(scope, { trigger, emit }),
      (runId, mapping, line) => this.apply(runId, mapping, line),
    );
  }

  private async pendingLines(
    mapping: Mapping,
    customerName: string,
    written: ReadonlySet<string>,
    priceRules: readonly PriceRule[],
    priceList: PriceListIndex,
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
        priceRules,
        priceList,
      },
      events,
      written,
    );
  }

  /** Writes one line; whatever goes wrong with it (product lookup included) fails that line only. */
  private async apply(runId: string, mapping: Mapping, line: PlannedLine): Promise<ItemResult> {
    const { adapter } = this.deps;
    return this.books.applyWrite(runId, {
      line,
      targetId: mapping.agreementId!,
      label: line.productName,
      noun: "line",
      prepare: async () => {
        const match = await adapter.matchProduct(line);
        warnOnMismatch(line, checkProductName(line, match));
        return match;
      },
      find: (agreementId) => adapter.findAnnualLine(agreementId, line.writeKey),
      send: (agreementId, product) => adapter.writeAnnualLine(agreementId, line, product),
    });
  }
}
