import type { IsoDate } from "./dates.ts";
import { Dec, type DecimalString } from "./money.ts";

/**
 * How a mapping turns distributor cost into the MSP's sell price (docs/sync-behaviour.md §10):
 * - cost-and-retail (default): cost from the data, price = the estimated retail price (ERP) of Microsoft's
 *   price list, prorated like the cost (docs/price-lists.md); without a price list entry, cost plus the
 *   optional fallback markup, else the data's list price (which is the partner's price: flagged);
 * - cost-only: cost from the data, the PSA keeps its own price;
 * - markup: price = cost × (1 + percent / 100).
 */
export const PRICING_STRATEGIES = ["cost-and-retail", "cost-only", "markup"] as const;
export type PricingStrategyName = (typeof PRICING_STRATEGIES)[number];
export type PricingStrategy =
  | { strategy: "cost-and-retail"; fallbackMarkupPercent?: DecimalString }
  | { strategy: "cost-only" }
  | { strategy: "markup"; markupPercent: DecimalString };

export const DEFAULT_PRICING: PricingStrategy = { strategy: "cost-and-retail" };

/** Unit amounts written to a PSA carry four decimals, rounded half away from zero. */
export const UNIT_PLACES = 4;

export function roundUnit(value: Dec | DecimalString): DecimalString {
  const rounded = new Dec(value).toDecimalPlaces(UNIT_PLACES, Dec.ROUND_HALF_UP);
  return rounded.isZero() ? "0" : rounded.toFixed();
}

/** Sell price per unit, or null when the PSA's own price should stay. */
export function sellUnitPrice(
  pricing: PricingStrategy,
  unitCost: DecimalString,
  proratedListPrice: DecimalString,
): DecimalString | null {
  switch (pricing.strategy) {
    case "cost-only":
      return null;
    case "markup":
      return roundUnit(new Dec(unitCost).times(new Dec(pricing.markupPercent).dividedBy(100).plus(1)));
    case "cost-and-retail":
      return roundUnit(proratedListPrice);
  }
}

export function describePricing(pricing: PricingStrategy): string {
  switch (pricing.strategy) {
    case "cost-only":
      return "cost only";
    case "markup":
      return `cost + ${pricing.markupPercent}%`;
    case "cost-and-retail":
      return pricing.fallbackMarkupPercent !== undefined
        ? `cost and retail (no retail price: cost + ${pricing.fallbackMarkupPercent}%)`
        : "cost and retail";
  }
}

/**
 * Where a line's sell price came from: a price rule, the price list's ERP, the mapping's fallback markup (no
 * price list entry), the billing data's own list price (no entry, no fallback: usually the partner's price),
 * the mapping's markup, or none (cost only: the PSA keeps its price).
 */
export const PRICE_SOURCES = [
  "price-rule",
  "price-list",
  "fallback-markup",
  "microsoft-list",
  "markup",
  "cost-only",
] as const;
export type PriceSource = (typeof PRICE_SOURCES)[number];

/**
 * The price list's answer for a line: the ERP per unit prorated like the cost, or why there is none.
 * `warn` when a price list in the line's currency exists but lacks the line's product, term or plan.
 */
export type RetailLookup = { erp: DecimalString } | { missing: string; warn: boolean };

/**
 * Price rules: an MSP's own sell prices, per product, per customer or per customer and product, each from an
 * effective date (and until an optional end date, inclusive). A rule either marks the cost up by a percentage
 * or sets a fixed unit price. Where no rule applies, the mapping's pricing strategy prices the line as before.
 */
export const PRICE_RULE_KINDS = ["markup", "fixed"] as const;
export type PriceRuleKind = (typeof PRICE_RULE_KINDS)[number];

export type PriceRule = {
  id: string;
  name: string;
  /** `ProductId` (every SKU of the product) or `ProductId:SkuId`, as the billing data names them; null: any. */
  productKey: string | null;
  /** The customer's tenant id; null: any customer. */
  customerTenantId: string | null;
  kind: PriceRuleKind;
  /** markup: percent on cost ("20" is +20 %); fixed: the sell price of one unit. */
  value: DecimalString;
  effectiveFrom: IsoDate;
  /** Last day the rule applies, inclusive; null: open-ended. */
  effectiveTo: IsoDate | null;
};

/**
 * The product key every Azure Plan month is priced under: a month sums many meters, so a product rule for
 * Azure names the plan as a whole.
 */
export const AZURE_PLAN_PRODUCT_KEY = "AZURE-PLAN";

/** Product keys compare upper-case, so a key typed in any case matches the data's spelling. */
export function normalizeProductKey(key: string): string {
  return key.trim().toUpperCase();
}

/** What a planner knows about a line when it prices it. */
export type LineToPrice = {
  /** Unit cost of the line (negative for credits). */
  cost: DecimalString;
  /** The line's list (retail) value per unit, prorated like the cost; used by cost-and-retail pricing. */
  list: DecimalString;
  /** The date the charge applies from: picks the rule in effect. */
  date: IsoDate;
  /** `ProductId:SkuId` as the data names it (or AZURE_PLAN_PRODUCT_KEY); null: only customer rules apply. */
  productKey: string | null;
  tenantId: string;
  /**
   * How many full-price product units one unit of the line stands for, for fixed prices: 1 for a seat billed
   * for a whole billing period (the term when paid up front, one year of a multi-year term billed annually),
   * the share of that period for a prorated seat, the seat count when one unit carries several.
   */
  units?: DecimalString;
  /** Decimals the sell price is rounded to, half away from zero: 4 for unit prices (default), 2 for totals. */
  places?: number;
  /** The price list's ERP for the line (cost-and-retail); absent: no price list applies (Azure usage). */
  retail?: RetailLookup;
};

export type PricedBy = { ruleId: string; ruleName: string; description: string };

export type LinePrice = {
  /** Sell price per unit, or null when the PSA's own price should stay (cost-only pricing). */
  unitPrice: DecimalString | null;
  /** The rule that priced the line; null when the mapping's pricing strategy did. */
  pricedBy: PricedBy | null;
  /** A charge (not a credit) sold below its cost: warned about, or held for approval. */
  belowCost: boolean;
  priceSource: PriceSource;
  /** A charge (not a credit) sold at or below its cost: flagged in dry runs, results and the Pricing page. */
  atOrBelowCost: boolean;
  /** A price list in the line's currency has no entry for it: worth a warning on the line. */
  retailWarning: string | null;
};

function ruleMatchLevel(rule: PriceRule, line: LineToPrice): number | null {
  if (rule.customerTenantId !== null && rule.customerTenantId !== line.tenantId) return null;
  let productLevel = 0;
  if (rule.productKey !== null) {
    if (line.productKey === null) return null;
    const key = normalizeProductKey(line.productKey);
    const ruleKey = normalizeProductKey(rule.productKey);
    if (ruleKey === key) productLevel = 2;
    else if (ruleKey === key.split(":")[0]) productLevel = 1;
    else return null;
  }
  // Customer and product beats product beats customer; within each, an exact SKU beats its whole product.
  const customerLevel = rule.customerTenantId === null ? 0 : 1;
  if (productLevel === 0) return customerLevel === 1 ? 1 : null;
  return customerLevel === 1 ? 3 + productLevel : 1 + productLevel;
}

function inEffect(rule: PriceRule, date: IsoDate): boolean {
  return rule.effectiveFrom <= date && (rule.effectiveTo === null || date <= rule.effectiveTo);
}

/**
 * The rule that prices a line: among the rules in effect on the line's date, the most specific (customer and
 * product, then product, then customer), then the latest effective date; ties (same scope, same date) go to
 * the name, then the id, so the answer never depends on storage order. Null when none applies.
 */
export function resolvePriceRule(line: LineToPrice, rules: readonly PriceRule[]): PriceRule | null {
  let best: { rule: PriceRule; level: number } | null = null;
  for (const rule of rules) {
    const level = ruleMatchLevel(rule, line);
    if (level === null || !inEffect(rule, line.date)) continue;
    if (!best || outranks(rule, level, best.rule, best.level)) best = { rule, level };
  }
  return best?.rule ?? null;
}

function outranks(rule: PriceRule, level: number, other: PriceRule, otherLevel: number): boolean {
  if (level !== otherLevel) return level > otherLevel;
  if (rule.effectiveFrom !== other.effectiveFrom) return rule.effectiveFrom > other.effectiveFrom;
  if (rule.name !== other.name) return rule.name < other.name;
  return rule.id < other.id;
}

export function describePriceRule(rule: Pick<PriceRule, "kind" | "value">): string {
  return rule.kind === "markup" ? `cost + ${rule.value}%` : `fixed price ${rule.value}`;
}

function rulePrice(rule: PriceRule, line: LineToPrice, places: number): DecimalString {
  if (rule.kind === "markup") return markedUp(line.cost, rule.value, places);
  // A credit of a fixed-price product refunds the fixed price: the price takes the cost's sign.
  const sign = new Dec(line.cost).isNegative() ? -1 : 1;
  return roundTo(new Dec(rule.value).times(line.units ?? 1).times(sign), places);
}

function markedUp(cost: DecimalString, percent: DecimalString, places: number): DecimalString {
  return roundTo(new Dec(cost).times(new Dec(percent).dividedBy(100).plus(1)), places);
}

function roundTo(value: Dec, places: number): DecimalString {
  const rounded = value.toDecimalPlaces(places, Dec.ROUND_HALF_UP);
  return rounded.isZero() ? "0" : rounded.toFixed();
}

function strategyPrice(
  strategy: PricingStrategy,
  line: LineToPrice,
  places: number,
): { price: DecimalString | null; source: PriceSource } {
  switch (strategy.strategy) {
    case "cost-only":
      return { price: null, source: "cost-only" };
    case "markup":
      return { price: markedUp(line.cost, strategy.markupPercent, places), source: "markup" };
    case "cost-and-retail":
      if (line.retail && "erp" in line.retail)
        return { price: roundTo(new Dec(line.retail.erp), places), source: "price-list" };
      if (strategy.fallbackMarkupPercent !== undefined)
        return {
          price: markedUp(line.cost, strategy.fallbackMarkupPercent, places),
          source: "fallback-markup",
        };
      return { price: roundTo(new Dec(line.list), places), source: "microsoft-list" };
  }
}

/**
 * Prices one line: the price rule in effect for it (see resolvePriceRule), else the mapping's strategy.
 * Every planner (annual, Azure, monthly) prices through here, so a rule means the same on every motion.
 */
export function priceLine(
  line: LineToPrice,
  mappingStrategy: PricingStrategy,
  rules: readonly PriceRule[],
): LinePrice {
  const places = line.places ?? UNIT_PLACES;
  const rule = resolvePriceRule(line, rules);
  const { price: unitPrice, source } = rule
    ? { price: rulePrice(rule, line, places), source: "price-rule" as const }
    : strategyPrice(mappingStrategy, line, places);
  const cost = new Dec(line.cost);
  const charge = cost.isPositive() && !cost.isZero();
  const retail = line.retail;
  return {
    unitPrice,
    pricedBy: rule ? { ruleId: rule.id, ruleName: rule.name, description: describePriceRule(rule) } : null,
    belowCost: unitPrice !== null && charge && new Dec(unitPrice).lessThan(cost),
    priceSource: source,
    atOrBelowCost: unitPrice !== null && charge && new Dec(unitPrice).lessThanOrEqualTo(cost),
    retailWarning:
      mappingStrategy.strategy === "cost-and-retail" && !rule && retail && "missing" in retail && retail.warn
        ? `No price list price: ${retail.missing}`
        : null,
  };
}

/** How a flagged line reads in run items and dry runs. */
export function describePriceSource(source: PriceSource): string {
  switch (source) {
    case "price-rule":
      return "price rule";
    case "price-list":
      return "price list ERP";
    case "fallback-markup":
      return "fallback markup (no price list entry)";
    case "microsoft-list":
      return "billing data list price (no price list entry)";
    case "markup":
      return "markup";
    case "cost-only":
      return "PSA price (cost only)";
  }
}

/** The flag of a line sold at (not below) its cost, as run items and dry runs say it. */
export function atCostNote(price: DecimalString | null, cost: DecimalString, source: PriceSource): string {
  return `Sold at cost: price ${price ?? "?"} = cost ${cost} per unit (${describePriceSource(source)})`;
}
