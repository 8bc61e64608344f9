import type { ChargeEvent } from "./events.ts";
import type { IsoDate } from "./dates.ts";
import { Dec, type DecimalString } from "./money.ts";
import { writeKey } from "./write-keys.ts";
import {
  AZURE_PLAN_PRODUCT_KEY,
  priceLine,
  type PricedBy,
  type PriceRule,
  type PriceSource,
  type PricingStrategy,
} from "./pricing.ts";

/**
 * Plans the Azure Plan sync for one mapping (docs/sync-behaviour.md §8): each calendar month of Azure
 * usage becomes exactly one quantity-1 PSA line carrying the month's charges, dated from the first to the last
 * day of the month. The month is the calendar month of the Azure lines' charge period start, because Azure
 * plan charge periods are calendar months. Like the annual plan, it is plain data: a dry run shows it and
 * the sync applies it line by line.
 */
export type AzureMapping = {
  connectionId: string;
  customerTenantId: string;
  customerName: string;
  syncDate: IsoDate | null;
  pricing: PricingStrategy;
  /** The connection's price rules; the one in effect for a month beats `pricing` (see priceLine). */
  priceRules?: readonly PriceRule[];
};

/** "YYYY-MM" */
export type AzureMonth = string;

export type AzureMonthLine = {
  /** Deterministic idempotency key, stamped into the PSA record and recorded before the write. */
  writeKey: string;
  /** `azure:YYYY-MM`: what the ledger and run items show in place of a single charge event. */
  eventKey: string;
  month: AzureMonth;
  customerTenantId: string;
  description: string;
  quantity: "1";
  /** The month's Azure charges: the exact sum of the event amounts, never rounded. */
  unitCost: DecimalString;
  /** Null: keep the PSA product's own price (cost-only pricing). */
  unitPrice: DecimalString | null;
  /** The price rule that set `unitPrice`; null when the mapping's pricing strategy did. */
  pricedBy: PricedBy | null;
  /** Sold below cost: a warning, or held for approval when the connection says so. */
  belowCost: boolean;
  /** Where the price came from; Azure usage is not on the license-based price list, so never its ERP. */
  priceSource: PriceSource;
  atOrBelowCost: boolean;
  currency: string;
  periodStart: IsoDate;
  periodEnd: IsoDate;
  /** The charge events summed into the line, for the run record. */
  eventKeys: string[];
  subscriptionIds: string[];
  isCredit: boolean;
  warnings: string[];
};

export type SkippedMonth = { month: AzureMonth; reason: string };
export type AzurePlan = { lines: AzureMonthLine[]; skipped: SkippedMonth[] };

export function azureWriteKey(connectionId: string, customerTenantId: string, month: AzureMonth): string {
  // The agreement is deliberately not part of the key: remapping a customer must not bill a month again.
  return writeKey([connectionId, customerTenantId, "azure", month]);
}

const MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
] as const;

export function monthOf(date: IsoDate): AzureMonth {
  return date.slice(0, 7);
}

export function firstDayOf(month: AzureMonth): IsoDate {
  return `${month}-01`;
}

export function lastDayOf(month: AzureMonth): IsoDate {
  const [year, monthNumber] = month.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(year, monthNumber, 0)).toISOString().slice(0, 10);
}

/** The first day of the month after `month`. */
export function nextMonthStart(month: AzureMonth): IsoDate {
  const [year, monthNumber] = month.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(year, monthNumber, 1)).toISOString().slice(0, 10);
}

export function describeAzureMonth(month: AzureMonth): string {
  const [year, monthNumber] = month.split("-").map(Number) as [number, number];
  return `Azure plan usage ${MONTH_NAMES[monthNumber - 1]} ${year}`;
}

export function planAzureMonths(
  mapping: AzureMapping,
  events: readonly ChargeEvent[],
  alreadyWritten: ReadonlySet<string>,
): AzurePlan {
  const byMonth = new Map<AzureMonth, ChargeEvent[]>();
  for (const event of events) {
    if (event.motion !== "azure" || event.customerTenantId !== mapping.customerTenantId) continue;
    const month = monthOf(event.chargeStart);
    byMonth.set(month, [...(byMonth.get(month) ?? []), event]);
  }
  const lines: AzureMonthLine[] = [];
  const skipped: SkippedMonth[] = [];
  for (const month of [...byMonth.keys()].sort()) {
    const skip = (reason: string) => skipped.push({ month, reason });
    // A month is synced when it starts on or after the sync date, the annual rule applied to the month.
    if (mapping.syncDate && firstDayOf(month) < mapping.syncDate) {
      skip(`${month} starts before the mapping's sync date ${mapping.syncDate}`);
      continue;
    }
    const billable = byMonth.get(month)!.filter((event) => event.billable);
    const currencies = new Set(billable.map((event) => event.currency));
    if (currencies.size > 1) {
      skip(`the month's Azure charges are in more than one currency (${[...currencies].join(", ")})`);
      continue;
    }
    const cost = billable.reduce((sum, event) => sum.plus(event.amount), new Dec(0));
    if (cost.isZero()) {
      skip("nothing to bill: the month's Azure charges net to zero");
      continue;
    }
    const writeKey = azureWriteKey(mapping.connectionId, mapping.customerTenantId, month);
    if (alreadyWritten.has(writeKey)) continue;
    lines.push(planMonth(mapping, month, billable, cost, writeKey));
  }
  return { lines, skipped };
}

function planMonth(
  mapping: AzureMapping,
  month: AzureMonth,
  events: readonly ChargeEvent[],
  cost: Dec,
  writeKey: string,
): AzureMonthLine {
  const unitCost = cost.toFixed();
  const { unitPrice, pricedBy, belowCost, priceSource, atOrBelowCost } = priceLine(
    {
      cost: unitCost,
      list: monthListValue(events).toFixed(),
      date: firstDayOf(month),
      productKey: AZURE_PLAN_PRODUCT_KEY,
      tenantId: mapping.customerTenantId,
      units: "1",
      // A whole month on one line: its price is rounded to the cent.
      places: 2,
    },
    mapping.pricing,
    mapping.priceRules ?? [],
  );
  const isCredit = cost.isNegative();
  const warnings: string[] = [];
  if (unitPrice !== null && belowCost) {
    warnings.push(`Sell price ${unitPrice} is below cost ${unitCost} for ${describeAzureMonth(month)}`);
  }
  return {
    writeKey,
    eventKey: `azure:${month}`,
    month,
    customerTenantId: mapping.customerTenantId,
    description: describeAzureMonth(month),
    quantity: "1",
    unitCost,
    unitPrice,
    pricedBy,
    belowCost,
    priceSource,
    atOrBelowCost,
    currency: events[0]!.currency,
    periodStart: firstDayOf(month),
    periodEnd: lastDayOf(month),
    eventKeys: events.map((event) => event.eventKey),
    subscriptionIds: [...new Set(events.map((event) => event.subscriptionId))].sort(),
    isCredit,
    warnings,
  };
}

/**
 * The month's list value, the basis of cost-and-retail pricing: each usage line at list price × billed
 * quantity (Azure usage is not prorated, so that is "prorated like cost"); a line without a list price or
 * quantity (a credit such as an Azure credit offer) passes through at its amount, so the customer gets the
 * credit in full. Markup and fixed prices come from the cost (see priceLine).
 */
function monthListValue(events: readonly ChargeEvent[]): Dec {
  return events.reduce((sum, event) => sum.plus(listValue(event)), new Dec(0));
}

function listValue(event: ChargeEvent): Dec {
  const amount = new Dec(event.amount);
  const list = new Dec(event.listUnitPrice).abs();
  const quantity = new Dec(event.seatDelta).abs();
  if (list.isZero() || quantity.isZero()) return amount;
  return list.times(quantity).times(amount.isNegative() ? -1 : 1);
}
