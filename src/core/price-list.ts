import { addDays, addMonths, daysInclusive, type IsoDate } from "./dates.ts";
import { Dec, type DecimalString } from "./money.ts";

/**
 * Microsoft's new commerce license-based price list (docs/price-lists.md): per product, SKU, term duration,
 * billing plan, market and currency, the partner unit price and the estimated retail price (ERP), each per
 * unit per billing period of the billing plan, from an effective start date. Pure: the store loads the
 * entries, the planners look prices up here.
 */
export const BILLING_PLANS = ["Monthly", "Annual", "Triennial"] as const;
export type BillingPlan = (typeof BILLING_PLANS)[number];

export type PriceListEntry = {
  productId: string;
  skuId: string;
  /** ISO-8601 period as Microsoft writes it: P1M, P1Y, P3Y. */
  termDuration: string;
  billingPlan: BillingPlan;
  market: string;
  currency: string;
  unitPrice: DecimalString;
  erpPrice: DecimalString;
  /** Seat range of a tiered row (inclusive); null when the row is not tiered. */
  tierMin: DecimalString | null;
  tierMax: DecimalString | null;
  effectiveStart: IsoDate;
  /** Last day in effect, inclusive; null: open-ended (Microsoft writes 9999-11-30). */
  effectiveEnd: IsoDate | null;
  productTitle: string;
  skuTitle: string;
};

/** What the planners need from the stored price lists: the entries, and which currencies have a list at all. */
export type PriceListIndex = {
  entries: readonly PriceListEntry[];
  /** Currencies (upper case) some imported price list is in: a miss in one of them is worth a warning. */
  currencies: ReadonlySet<string>;
};

export const EMPTY_PRICE_LIST: PriceListIndex = { entries: [], currencies: new Set() };

/** A charge as the price list sees it. */
export type ErpQuery = {
  productId: string;
  skuId: string;
  /** P1M, P1Y, P3Y; null when the charge's term could not be read. */
  termDuration: string | null;
  billingPlan: BillingPlan | null;
  currency: string;
  /** The day the price is taken on: the term start (NCE locks the price for the term), else the charge start. */
  date: IsoDate;
  /** Seats, for tiered rows. */
  seats: DecimalString;
};

export type ErpMatch =
  | { ok: true; erp: DecimalString; unitPrice: DecimalString; entry: PriceListEntry }
  | { ok: false; reason: string };

/** Terms Microsoft sells, by calendar months. */
const TERM_MONTHS: readonly [number, string][] = [
  [1, "P1M"],
  [12, "P1Y"],
  [36, "P3Y"],
];

/**
 * The ISO-8601 term duration of a term running from `start` to `end` (inclusive): a whole number of calendar
 * months ending the day before the anniversary, within a few days' slack for leap days and Microsoft's
 * occasional off-by-one end dates. Null when the term is none of P1M, P1Y, P3Y.
 */
export function termDurationOf(start: IsoDate | null, end: IsoDate | null): string | null {
  if (!start || !end || end < start) return null;
  for (const [months, duration] of TERM_MONTHS) {
    const expectedEnd = addDays(addMonths(start, months), -1);
    if (Math.abs(daysInclusive(expectedEnd, end) - 1) <= 3) return duration;
  }
  return null;
}

/**
 * The price list's BillingPlan of a charge: the reconciliation data's BillingFrequency; blank means paid up
 * front for the whole term, which the price list calls the plan of the term's length.
 */
export function billingPlanOf(
  billingFrequency: string | null,
  termDuration: string | null,
): BillingPlan | null {
  switch ((billingFrequency ?? "").trim().toLowerCase()) {
    case "monthly":
      return "Monthly";
    case "annual":
    case "yearly":
      return "Annual";
    case "triennial":
      return "Triennial";
    case "":
    case "onetime":
    case "one-time":
      if (termDuration === "P1M") return "Monthly";
      if (termDuration === "P1Y") return "Annual";
      if (termDuration === "P3Y") return "Triennial";
      return null;
    default:
      return null;
  }
}

/** The BillingPlan column's spelling, or null. */
export function parseBillingPlan(text: string): BillingPlan | null {
  const lower = text.trim().toLowerCase();
  return BILLING_PLANS.find((plan) => plan.toLowerCase() === lower) ?? null;
}

function inEffect(entry: PriceListEntry, date: IsoDate): boolean {
  return entry.effectiveStart <= date && (entry.effectiveEnd === null || date <= entry.effectiveEnd);
}

function tierContains(entry: PriceListEntry, seats: Dec): boolean {
  if (entry.tierMin === null && entry.tierMax === null) return true;
  if (entry.tierMin !== null && seats.lessThan(entry.tierMin)) return false;
  return entry.tierMax === null || seats.lessThanOrEqualTo(entry.tierMax);
}

/**
 * The ERP per unit for the billing period of the charge's plan. Among the rows for the product, SKU, term,
 * plan and currency in effect on the query's date, the latest EffectiveStartDate wins (overlapping rows: the
 * later one applies from its start); a tiered product takes the tier whose seat range holds the seats, else
 * its lowest tier. The reason says which part did not match.
 */
export function lookupErp(query: ErpQuery, index: PriceListIndex): ErpMatch {
  const currency = query.currency.toUpperCase();
  const product = query.productId.toUpperCase();
  const sku = query.skuId.toUpperCase();
  if (!index.currencies.has(currency)) return { ok: false, reason: `no price list in ${currency}` };
  const forSku = index.entries.filter(
    (e) =>
      e.productId.toUpperCase() === product &&
      e.skuId.toUpperCase() === sku &&
      e.currency.toUpperCase() === currency,
  );
  const name = `${query.productId}:${query.skuId}`;
  if (forSku.length === 0) return { ok: false, reason: `${name} is not on the ${currency} price list` };
  if (!query.termDuration || !query.billingPlan)
    return { ok: false, reason: `the term or billing plan of the ${name} charge is not known` };
  const forPlan = forSku.filter(
    (e) => e.termDuration === query.termDuration && e.billingPlan === query.billingPlan,
  );
  if (forPlan.length === 0)
    return {
      ok: false,
      reason: `${name} has no ${query.termDuration} ${query.billingPlan} price on the ${currency} price list`,
    };
  const current = forPlan.filter((e) => inEffect(e, query.date));
  if (current.length === 0)
    return {
      ok: false,
      reason: `${name} ${query.termDuration} ${query.billingPlan} has no price in effect on ${query.date}`,
    };
  const latestStart = current.reduce((max, e) => (e.effectiveStart > max ? e.effectiveStart : max), "");
  const latest = current.filter((e) => e.effectiveStart === latestStart);
  const seats = new Dec(query.seats).abs();
  const byTier = [...latest].sort((a, b) => new Dec(a.tierMin ?? 0).comparedTo(b.tierMin ?? 0));
  const entry = byTier.find((e) => tierContains(e, seats)) ?? byTier[0]!;
  return { ok: true, erp: entry.erpPrice, unitPrice: entry.unitPrice, entry };
}

/** A charge's price list query from the fields every charge event has. */
export function erpQueryOf(event: {
  productId: string;
  skuId: string;
  termStart: IsoDate | null;
  termEnd: IsoDate | null;
  chargeStart: IsoDate;
  billingFrequency: string | null;
  currency: string;
  seatsAfter: DecimalString;
}): ErpQuery {
  const termDuration = termDurationOf(event.termStart, event.termEnd);
  return {
    productId: event.productId,
    skuId: event.skuId,
    termDuration,
    billingPlan: billingPlanOf(event.billingFrequency, termDuration),
    currency: event.currency,
    date: event.termStart ?? event.chargeStart,
    seats: event.seatsAfter,
  };
}
