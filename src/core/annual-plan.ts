import type { ChargeEvent } from "./events.ts";
import { addDays, addMonths, daysInclusive, type IsoDate } from "./dates.ts";
import { Dec, roundMoney, type DecimalString } from "./money.ts";
import { erpQueryOf, lookupErp, type PriceListIndex } from "./price-list.ts";
import {
  atCostNote,
  priceLine,
  roundUnit,
  type PricedBy,
  type PriceRule,
  type PriceSource,
  type PricingStrategy,
  type RetailLookup,
} from "./pricing.ts";
import { microsoftSku } from "./product-identity.ts";
import { writeKey } from "./write-keys.ts";

/**
 * Plans the Seat-based Annual sync for one mapping: every billable annual charge event on or after the sync
 * date that has not been written yet becomes exactly one PSA line (docs/sync-behaviour.md §9).
 * The plan is plain data, so it can be shown as a dry run and applied write by write.
 */
export type AnnualMapping = {
  connectionId: string;
  customerTenantId: string;
  customerName: string;
  psaCompanyId: string;
  agreementId: string;
  syncDate: IsoDate | null;
  pricing: PricingStrategy;
  /** The connection's price rules; the one in effect for a line beats `pricing` (see priceLine). */
  priceRules?: readonly PriceRule[];
  /** Imported price lists: cost-and-retail takes their ERP (see docs/price-lists.md). */
  priceList?: PriceListIndex;
};

export type PlannedLine = {
  /** Deterministic idempotency key, stamped into the PSA record and recorded before the write. */
  writeKey: string;
  eventKey: string;
  customerTenantId: string;
  subscriptionId: string;
  productId: string;
  skuId: string;
  productName: string;
  description: string;
  /** Seats (or units) billed; always positive. Credits carry negative unit amounts. */
  quantity: DecimalString;
  unitCost: DecimalString;
  /** Null: keep the PSA product's own price (cost-only pricing). */
  unitPrice: DecimalString | null;
  extendedCost: DecimalString;
  extendedPrice: DecimalString | null;
  /** The price rule that set `unitPrice`; null when the mapping's pricing strategy did. */
  pricedBy: PricedBy | null;
  /** Sold below cost: a warning, or held for approval when the connection says so. */
  belowCost: boolean;
  /** Where the price came from (price list ERP, rule, fallback markup, the data's list price…). */
  priceSource: PriceSource;
  /** A charge sold at or below its cost: flagged (not held; see belowCost for what is held). */
  atOrBelowCost: boolean;
  /** Billing currency of the amounts (the distributor's invoice currency). */
  currency: string;
  effectiveDate: IsoDate;
  billable: boolean;
  isCredit: boolean;
  warnings: string[];
  /** Said with the written line, not a warning: sold at or below cost once a price list is in use. */
  notes: string[];
};

export type SkippedEvent = { eventKey: string; subscriptionId: string; reason: string };
export type AnnualPlan = { lines: PlannedLine[]; skipped: SkippedEvent[] };

export function annualWriteKey(connectionId: string, customerTenantId: string, eventKey: string): string {
  // The agreement is deliberately not part of the key: remapping a customer must not bill a charge again.
  return writeKey([connectionId, customerTenantId, eventKey]);
}

export function planAnnualLines(
  mapping: AnnualMapping,
  events: readonly ChargeEvent[],
  alreadyWritten: ReadonlySet<string>,
): AnnualPlan {
  const lines: PlannedLine[] = [];
  const skipped: SkippedEvent[] = [];
  for (const event of events) {
    if (event.motion !== "seat-annual" || event.customerTenantId !== mapping.customerTenantId) continue;
    const skip = (reason: string) =>
      skipped.push({ eventKey: event.eventKey, subscriptionId: event.subscriptionId, reason });
    if (mapping.syncDate && event.chargeStart < mapping.syncDate) {
      skip(`charge date ${event.chargeStart} is before the mapping's sync date ${mapping.syncDate}`);
      continue;
    }
    if (!event.billable) {
      skip("zero-value trial, not billable");
      continue;
    }
    if (new Dec(event.amount).isZero() && new Dec(event.seatDelta).isZero()) {
      skip("nothing to bill: the event nets to zero seats and zero amount");
      continue;
    }
    const writeKey = annualWriteKey(mapping.connectionId, mapping.customerTenantId, event.eventKey);
    if (alreadyWritten.has(writeKey)) continue;
    lines.push(planLine(mapping, event, writeKey));
  }
  return { lines, skipped };
}

function planLine(mapping: AnnualMapping, event: ChargeEvent, writeKey: string): PlannedLine {
  const amount = new Dec(event.amount);
  const isCredit = amount.isNegative();
  const seats = new Dec(event.seatDelta).abs();
  // Bill the seats at amount / seats when that reproduces the distributor's amount to the cent; otherwise
  // one unit carrying the exact amount, so the customer invoice always matches the distributor's.
  let quantity = seats.isZero() ? new Dec(1) : seats;
  let unitCost = roundUnit(amount.dividedBy(quantity));
  if (roundMoney(new Dec(unitCost).times(quantity)) !== roundMoney(amount)) {
    quantity = new Dec(1);
    unitCost = roundUnit(amount);
  }
  const retailPerUnit = retailTotal(event, seats, amount, event.listUnitPrice).dividedBy(quantity);
  const { unitPrice, pricedBy, belowCost, priceSource, atOrBelowCost, retailWarning } = priceLine(
    {
      cost: unitCost,
      list: retailPerUnit.toFixed(),
      retail: retailOf(mapping.priceList, event, seats, amount, quantity),
      date: event.chargeStart,
      productKey: microsoftSku(event.productId, event.skuId),
      tenantId: event.customerTenantId,
      units: fullPeriodUnits(event, seats, quantity).toFixed(),
    },
    mapping.pricing,
    mapping.priceRules ?? [],
  );
  const warnings: string[] = [];
  if (retailWarning) warnings.push(retailWarning);
  if (unitPrice !== null && belowCost) {
    warnings.push(`Sell price ${unitPrice} is below cost ${unitCost} per unit for ${event.productName}`);
  }
  const notes =
    atOrBelowCost && !belowCost && mapping.priceList && mapping.priceList.currencies.size > 0
      ? [atCostNote(unitPrice, unitCost, priceSource)]
      : [];
  return {
    writeKey,
    eventKey: event.eventKey,
    customerTenantId: event.customerTenantId,
    subscriptionId: event.subscriptionId,
    productId: event.productId,
    skuId: event.skuId,
    productName: event.skuName ?? event.productName,
    description: describeEvent(event),
    quantity: quantity.toFixed(),
    unitCost,
    unitPrice,
    extendedCost: roundMoney(new Dec(unitCost).times(quantity)),
    extendedPrice: unitPrice === null ? null : roundMoney(new Dec(unitPrice).times(quantity)),
    pricedBy,
    belowCost,
    priceSource,
    atOrBelowCost,
    currency: event.currency,
    effectiveDate: event.chargeStart,
    billable: event.billable,
    isCredit,
    warnings,
    notes,
  };
}

/**
 * How many seats-for-a-whole-billing-period one unit of the line stands for, so a fixed price per seat is
 * prorated like the cost: the share of the billing period for a seat change, the seat count when one unit
 * carries the whole amount.
 */
function fullPeriodUnits(event: ChargeEvent, seats: Dec, quantity: Dec): Dec {
  return (seats.isZero() ? new Dec(1) : seats).times(prorationFactor(event)).dividedBy(quantity);
}

/**
 * The price list's ERP for the event, per unit of the line, prorated exactly like the list price (the same
 * share of the billing period, the same seats, a credit negative); undefined when no price list was imported.
 */
function retailOf(
  index: PriceListIndex | undefined,
  event: ChargeEvent,
  seats: Dec,
  amount: Dec,
  quantity: Dec,
): RetailLookup | undefined {
  if (!index || index.currencies.size === 0) return undefined;
  const match = lookupErp(erpQueryOf(event), index);
  if (!match.ok) return { missing: match.reason, warn: index.currencies.has(event.currency.toUpperCase()) };
  return { erp: retailTotal(event, seats, amount, match.erp).dividedBy(quantity).toFixed() };
}

/**
 * The event at a per-period retail price (the data's list price or the price list's ERP): unit price × share
 * of the billing period × seats, signed like the amount. A conversion nets two products, so its retail is its
 * amount scaled by the charged product's retail-to-cost ratio.
 */
function retailTotal(event: ChargeEvent, seats: Dec, amount: Dec, unitRetail: DecimalString): Dec {
  const list = new Dec(unitRetail).abs();
  const cost = new Dec(event.effectiveUnitPrice).abs();
  if (event.kind === "conversion" || seats.isZero()) {
    return cost.isZero() ? amount : amount.times(list.times(prorationFactor(event)).dividedBy(cost));
  }
  return list
    .times(prorationFactor(event))
    .times(seats)
    .times(amount.isNegative() ? -1 : 1);
}

type PeriodFields = Pick<ChargeEvent, "chargeStart" | "chargeEnd" | "termStart" | "termEnd"> &
  Partial<Pick<ChargeEvent, "kind" | "billingFrequency">>;

export type BillingPeriod = { start: IsoDate; end: IsoDate };

// Months in one charge cycle per BillingFrequency (Partner Center's billing cycles,
// docs/billing-data.md §5.2). Blank (or a one-time spelling) means one payment for the whole term.
const CYCLE_MONTHS: Readonly<Record<string, number>> = {
  monthly: 1,
  annual: 12,
  yearly: 12,
  biennial: 24,
  triennial: 36,
};

// Charges for a whole billing period: their charge window is the period itself.
const WHOLE_PERIOD_KINDS: ReadonlySet<string> = new Set(["purchase", "renewal", "cycle"]);

/**
 * The billing period (charge cycle) a charge belongs to: what UnitPrice, the list price, is the price of. A
 * term can be longer than its billing period — a three-year term billed annually is charged one year at a
 * time, and UnitPrice is that year's price — so the period is not the term. Microsoft's ChargeEndDate is the
 * end of the current cycle for every charge (a seat change runs to it), and a cycle lasts one billing
 * interval (365/366 days for a yearly one, docs/billing-data.md §6), so the period is the interval that ends
 * on ChargeEndDate. Without a BillingFrequency the charge is paid up front for the term, and the term is the
 * period — unless the charge is a whole-period one (purchase, renewal, cycle charge) whose window is shorter
 * than the term: then it is an instalment, and its own window is the period. Null when the charge has no end
 * date.
 */
export function billingPeriod(event: PeriodFields): BillingPeriod | null {
  if (!event.chargeEnd) return null;
  const months = CYCLE_MONTHS[(event.billingFrequency ?? "").trim().toLowerCase()];
  if (months !== undefined) {
    return { start: addMonths(addDays(event.chargeEnd, 1), -months), end: event.chargeEnd };
  }
  const term = event.termStart && event.termEnd ? { start: event.termStart, end: event.termEnd } : null;
  if (event.kind && WHOLE_PERIOD_KINDS.has(event.kind)) {
    const window = { start: event.chargeStart, end: event.chargeEnd };
    if (!term || daysInclusive(window.start, window.end) < daysInclusive(term.start, term.end)) return window;
  }
  return term;
}

/**
 * Share of the billing period the charge covers: 1 for a whole period (a purchase, a renewal, a year of a
 * multi-year term billed annually), days charged / days of the period for a seat change or a refund.
 */
export function prorationFactor(event: PeriodFields): Dec {
  const period = billingPeriod(event);
  if (!period || !event.chargeEnd) return new Dec(1);
  const periodDays = daysInclusive(period.start, period.end);
  const chargeDays = daysInclusive(event.chargeStart, event.chargeEnd);
  if (periodDays <= 0 || chargeDays >= periodDays) return new Dec(1);
  return new Dec(chargeDays).dividedBy(periodDays);
}

function seatsText(seats: Dec): string {
  return `${seats.toFixed()} seat${seats.equals(1) ? "" : "s"}`;
}

/** The charge window differs from the term: one billing period of a longer term (or a share of one). */
function withinLongerTerm(event: ChargeEvent): boolean {
  return (
    event.chargeEnd !== null &&
    event.termStart !== null &&
    event.termEnd !== null &&
    (event.chargeStart !== event.termStart || event.chargeEnd !== event.termEnd)
  );
}

/**
 * A line an MSP's customer can read on the invoice: product, seats, period and why. A charge for one billing
 * period of a longer term names that period (what it costs), and says when the term ends.
 */
export function describeEvent(event: ChargeEvent): string {
  const product = event.skuName ?? event.productName;
  const seats = new Dec(event.seatDelta).abs();
  const period = event.chargeEnd ? `${event.chargeStart} to ${event.chargeEnd}` : `from ${event.chargeStart}`;
  const term = event.termStart && event.termEnd ? `${event.termStart} to ${event.termEnd}` : period;
  const termEnds = event.termEnd ? ` (term ends ${event.termEnd})` : "";
  switch (event.kind) {
    case "purchase":
      if (!event.chargeEnd)
        return `${product}: ${seats.toFixed()} × one-time purchase on ${event.chargeStart}`;
      if (withinLongerTerm(event))
        return `${product}: ${seatsText(seats)}, billing period ${period}${termEnds}`;
      return `${product}: ${seatsText(seats)}, ${multiYear(event) ? "term" : "annual term"} ${term}`;
    case "renewal":
      return withinLongerTerm(event)
        ? `${product}: ${seatsText(seats)}, renewal for the billing period ${period}${termEnds}`
        : `${product}: ${seatsText(seats)}, renewal for the term ${term}`;
    case "cycle":
      return `${product}: ${seatsText(seats)}, billing period ${period}${termEnds}`;
    case "seat-change": {
      const direction = new Dec(event.seatDelta).isNegative() ? "−" : "+";
      return `${product}: ${direction}${seatsText(seats)} (now ${event.seatsAfter}), prorated ${period}${daysOfPeriod(event)}`;
    }
    case "cancellation":
      return `${product}: cancellation refund for ${seatsText(seats)}, ${period}`;
    case "conversion":
      return `${product}: upgrade to ${event.seatsAfter} seats, prorated ${period}`;
    case "billing-plan-change":
      return `${product}: ${seatsText(seats)} billed annually, ${period}`;
    default:
      return `${product}: ${event.chargeType} ${period}`;
  }
}

/** A term longer than a year (a leap year has 366 days), paid up front: not an "annual" term. */
function multiYear(event: ChargeEvent): boolean {
  return (
    event.termStart !== null && event.termEnd !== null && daysInclusive(event.termStart, event.termEnd) > 366
  );
}

/** " (N days of the term)", or of the billing period when that is shorter than the term. */
function daysOfPeriod(event: ChargeEvent): string {
  if (!event.chargeEnd) return "";
  const days = daysInclusive(event.chargeStart, event.chargeEnd);
  const billing = billingPeriod(event);
  const isTerm = !billing || (billing.start === event.termStart && billing.end === event.termEnd);
  return isTerm
    ? ` (${days} days of the term)`
    : ` (${days} days of the billing period ${billing.start} to ${billing.end})`;
}
