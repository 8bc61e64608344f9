import { Dec, type DecimalString } from "./money.ts";

/**
 * How a mapping turns distributor cost into the MSP's sell price (prism-connect-behaviour.md §3.7):
 * - cost-and-retail (default): cost from the data, price = the data's list price, prorated like the cost;
 * - cost-only: cost from the data, the PSA keeps its own price;
 * - markup: price = cost × (1 + percent / 100).
 */
export const PRICING_STRATEGIES = ["cost-and-retail", "cost-only", "markup"] as const;
export type PricingStrategyName = (typeof PRICING_STRATEGIES)[number];
export type PricingStrategy =
  | { strategy: "cost-and-retail" }
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
      return "cost and retail";
  }
}
