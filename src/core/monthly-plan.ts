import type { ChargeEvent, EventKind } from "./events.ts";
import { addDays, daysInclusive, type IsoDate } from "./dates.ts";
import { Dec, roundMoney, type DecimalString } from "./money.ts";
import { erpQueryOf, lookupErp, type PriceListIndex } from "./price-list.ts";
import { writeKey } from "./write-keys.ts";
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

/**
 * Plans the Seat-based Monthly sync for one mapping (docs/sync-behaviour.md §7, §13). The billing data
 * gives, per subscription, a seat timeline: the charge cycles (new, renew, cycleCharge) set the seats and the
 * price of each cycle, seat changes and cancellations move the seats on their dates. The timeline is cut into
 * segments of constant seats, product and price; each PSA then gets the writes that make its records equal
 * the segments (ConnectWise: one addition per segment, the last one ongoing; Autotask: unit adjustments).
 * The plan compares the segments with what the PSA holds now, so a re-run plans nothing, a record edited in
 * the PSA is set back, and a write whose answer was lost is found instead of repeated.
 */
export const START_POINTS = ["most-recent", "next"] as const;
export type StartPoint = (typeof START_POINTS)[number];

export type MonthlyMapping = {
  connectionId: string;
  customerTenantId: string;
  /** Where the mapping starts: the invoice that was the most recent when it was enabled, or the next one. */
  startPoint: StartPoint;
  /** The most recent invoice with the customer's monthly charges when the mapping was enabled (null: none). */
  startInvoice: string | null;
  pricing: PricingStrategy;
  /** The connection's price rules; the one in effect on a segment's start beats `pricing` (see priceLine). */
  priceRules?: readonly PriceRule[];
  /** Imported price lists: cost-and-retail takes their ERP per seat and month (see docs/price-lists.md). */
  priceList?: PriceListIndex;
};

/** A stretch of a subscription's life with constant seats, product and price. */
export type Segment = {
  /** Deterministic key of the PSA record holding the segment (its start and product identify it). */
  key: string;
  subscriptionId: string;
  productId: string;
  skuId: string;
  productName: string;
  start: IsoDate;
  /** Last day billed; null while the subscription runs on. */
  end: IsoDate | null;
  quantity: DecimalString;
  unitCost: DecimalString;
  /** Null: keep the PSA product's own price (cost-only pricing). */
  unitPrice: DecimalString | null;
  /** The price rule that set `unitPrice`; null when the mapping's pricing strategy did. */
  pricedBy: PricedBy | null;
  /** Where the price came from (price list ERP, rule, fallback markup, the data's list price…). */
  priceSource: PriceSource;
  /** Sold at or below cost: flagged (not held; belowCost decides holds). */
  atOrBelowCost: boolean;
  /** Set when a price list in the currency lacks the segment's product, term or plan. */
  retailWarning?: string;
  currency: string;
  /** The invoice whose charges started the segment. */
  invoiceNumber: string;
};

export type SubscriptionTimeline = {
  subscriptionId: string;
  segments: Segment[];
  /** Price changes inside a charge cycle, which are not prorated (docs/sync-behaviour.md §11). */
  warnings: PriceWarning[];
};

export type PriceWarning = { date: IsoDate; message: string };

export type MonthlyTimelines = {
  invoices: string[];
  timelines: SubscriptionTimeline[];
  skipped: { invoiceNumber: string; reason: string }[];
};

/** The key of one write; the agreement is left out so remapping a customer never bills a segment twice. */
export function monthlyWriteKey(
  connectionId: string,
  customerTenantId: string,
  subscriptionId: string,
  ...parts: string[]
): string {
  return writeKey([connectionId, customerTenantId, "seat-monthly", subscriptionId, ...parts]);
}

const CYCLE_KINDS: ReadonlySet<EventKind> = new Set(["purchase", "renewal", "cycle"]);
const SEAT_KINDS: ReadonlySet<EventKind> = new Set([
  ...CYCLE_KINDS,
  "seat-change",
  "cancellation",
  "conversion",
  "billing-plan-change",
]);

/** The invoices a mapping syncs, oldest first (Microsoft numbers invoices in issue order). */
export function includedInvoices(
  mapping: Pick<MonthlyMapping, "startPoint" | "startInvoice">,
  invoiceNumbers: Iterable<string>,
): { included: string[]; skipped: string[] } {
  const all = [...new Set(invoiceNumbers)].sort();
  const anchor = mapping.startInvoice;
  if (anchor === null) return { included: all, skipped: [] };
  const keep = (n: string) => (mapping.startPoint === "next" ? n > anchor : n >= anchor);
  return { included: all.filter(keep), skipped: all.filter((n) => !keep(n)) };
}

export function monthlyTimelines(mapping: MonthlyMapping, events: readonly ChargeEvent[]): MonthlyTimelines {
  const mine = events.filter(
    (e) => e.motion === "seat-monthly" && e.customerTenantId === mapping.customerTenantId,
  );
  const { included, skipped } = includedInvoices(
    mapping,
    mine.map((e) => e.invoiceNumber),
  );
  const invoices = new Set(included);
  const bySubscription = new Map<string, ChargeEvent[]>();
  for (const event of mine) {
    if (!invoices.has(event.invoiceNumber) || !event.billable || !SEAT_KINDS.has(event.kind)) continue;
    bySubscription.set(event.subscriptionId, [...(bySubscription.get(event.subscriptionId) ?? []), event]);
  }
  const latest = included.at(-1) ?? null;
  const timelines = [...bySubscription.keys()]
    .sort()
    .map((id) => subscriptionTimeline(mapping, bySubscription.get(id)!, latest));
  const reason =
    mapping.startPoint === "next"
      ? "before the mapping's start point (the invoice after the most recent one when it was enabled)"
      : "before the mapping's start point (the most recent invoice when it was enabled)";
  return {
    invoices: included,
    timelines,
    skipped: skipped.map((invoiceNumber) => ({ invoiceNumber, reason })),
  };
}

const KIND_ORDER = (kind: EventKind) => (CYCLE_KINDS.has(kind) ? 0 : kind === "cancellation" ? 2 : 1);

function byTime(a: ChargeEvent, b: ChargeEvent): number {
  return (
    a.chargeStart.localeCompare(b.chargeStart) ||
    KIND_ORDER(a.kind) - KIND_ORDER(b.kind) ||
    (a.orderDate ?? "").localeCompare(b.orderDate ?? "") ||
    a.eventKey.localeCompare(b.eventKey)
  );
}

/** The price basis of a charge cycle: the cycle's own per-seat cost and list price. */
type Basis = { cost: Dec; list: Dec; cycle: ChargeEvent | null };

type OpenSegment = Omit<Segment, "end" | "key">;

function subscriptionTimeline(
  mapping: MonthlyMapping,
  events: readonly ChargeEvent[],
  latestInvoice: string | null,
): SubscriptionTimeline {
  const ordered = [...events].sort(byTime);
  const segments: Segment[] = [];
  const warnings: PriceWarning[] = [];
  let basis: Basis | null = null;
  let open: OpenSegment | null = null;
  let coveredUntil: IsoDate | null = null;
  const close = (end: IsoDate | null) => {
    // A subscription refunded on its first day never ran: it has no segment.
    if (open && (end === null || end >= open.start))
      segments.push({ ...open, end, key: segmentKey(mapping, open) });
    open = null;
  };
  for (const event of ordered) {
    if (CYCLE_KINDS.has(event.kind)) {
      basis = { cost: new Dec(event.effectiveUnitPrice), list: new Dec(event.listUnitPrice), cycle: event };
      if (event.chargeEnd && (!coveredUntil || event.chargeEnd > coveredUntil))
        coveredUntil = event.chargeEnd;
    } else {
      basis ??= { cost: new Dec(event.listUnitPrice), list: new Dec(event.listUnitPrice), cycle: null };
      warnings.push(...priceChanges(event, basis));
    }
    const quantity = event.kind === "cancellation" ? "0" : event.seatsAfter;
    const next: OpenSegment | null = new Dec(quantity).isZero()
      ? null
      : segmentOf(mapping, event, basis, quantity);
    if (next && !(open && sameTerms(open, next))) {
      if (next.retailWarning) warnings.push({ date: next.start, message: next.retailWarning });
      warnings.push(...belowCost(next));
    }
    if (open && next && sameTerms(open, next)) continue;
    close(open ? addDays(event.chargeStart, -1) : null);
    open = next;
  }
  const last = ordered.at(-1);
  // A subscription the latest invoice no longer charges was not renewed: it ends where its last cycle ends.
  const lapsed = last && latestInvoice !== null && !ordered.some((e) => e.invoiceNumber === latestInvoice);
  close(lapsed ? coveredUntil : null);
  return { subscriptionId: ordered[0]!.subscriptionId, segments, warnings };
}

function segmentOf(mapping: MonthlyMapping, event: ChargeEvent, basis: Basis, quantity: string): OpenSegment {
  const unitCost = roundUnit(basis.cost);
  const { unitPrice, pricedBy, priceSource, atOrBelowCost, retailWarning } = priceLine(
    {
      cost: unitCost,
      list: basis.list.toFixed(),
      retail: monthlyRetail(mapping.priceList, basis.cycle ?? event),
      date: event.chargeStart,
      productKey: `${event.productId}:${event.skuId}`,
      tenantId: mapping.customerTenantId,
    },
    mapping.pricing,
    mapping.priceRules ?? [],
  );
  return {
    subscriptionId: event.subscriptionId,
    productId: event.productId,
    skuId: event.skuId,
    productName: event.skuName ?? event.productName,
    start: event.chargeStart,
    quantity,
    unitCost,
    unitPrice,
    pricedBy,
    priceSource,
    atOrBelowCost,
    ...(retailWarning ? { retailWarning } : {}),
    currency: event.currency,
    invoiceNumber: event.invoiceNumber,
  };
}

/**
 * The ERP per seat for one billing cycle of the charge cycle's plan: a segment is billed per seat and cycle,
 * like the cycle's own list price, so nothing is prorated here (ConnectWise prorates the addition's dates).
 */
function monthlyRetail(index: PriceListIndex | undefined, cycle: ChargeEvent): RetailLookup | undefined {
  if (!index || index.currencies.size === 0) return undefined;
  const match = lookupErp(erpQueryOf(cycle), index);
  if (match.ok) return { erp: match.erp };
  return { missing: match.reason, warn: index.currencies.has(cycle.currency.toUpperCase()) };
}

/** A segment sold below its cost is billed as planned, with the same warning as the other motions. */
function belowCost(segment: OpenSegment): PriceWarning[] {
  const cost = new Dec(segment.unitCost);
  if (segment.unitPrice === null || !cost.isPositive() || !new Dec(segment.unitPrice).lessThan(cost))
    return [];
  const by = segment.pricedBy ? ` (priced by rule ${segment.pricedBy.ruleName})` : "";
  return [
    {
      date: segment.start,
      message: `Sell price ${segment.unitPrice} is below cost ${segment.unitCost} per unit for ${segment.productName}${by}`,
    },
  ];
}

function sameTerms(a: OpenSegment, b: OpenSegment): boolean {
  return (
    a.productId === b.productId &&
    a.skuId === b.skuId &&
    new Dec(a.quantity).equals(b.quantity) &&
    a.unitCost === b.unitCost &&
    a.unitPrice === b.unitPrice
  );
}

function segmentKey(mapping: MonthlyMapping, segment: OpenSegment): string {
  return monthlyWriteKey(
    mapping.connectionId,
    mapping.customerTenantId,
    segment.subscriptionId,
    "segment",
    segment.start,
    `${segment.productId}:${segment.skuId}`,
  );
}

/**
 * A seat change inside a cycle is charged at the price of its own day. When that differs from the cycle's
 * price, the change is not prorated (the segment keeps the cycle's price) and the run says so, in the
 * documented words (docs/sync-behaviour.md §11). The change's full-cycle cost is its prorated price scaled
 * back by the cycle's days over its own billable days (docs/billing-data.md §6); compared to the cent, as
 * Microsoft rounds prices.
 */
function priceChanges(event: ChargeEvent, basis: Basis): PriceWarning[] {
  const warnings: PriceWarning[] = [];
  const on = event.chargeStart;
  const list = new Dec(event.listUnitPrice);
  if (!list.isZero() && roundMoney(list) !== roundMoney(basis.list))
    warnings.push({
      date: on,
      message: `Subscription retail unit price changed from ${roundUnit(basis.list)} to ${roundUnit(list)} on ${on}`,
    });
  const cycle = basis.cycle;
  if (cycle?.chargeEnd && event.chargeEnd && event.chargeEnd >= on) {
    const cycleDays = daysInclusive(cycle.chargeStart, cycle.chargeEnd);
    const billableDays = daysInclusive(on, event.chargeEnd);
    const fullCost = new Dec(event.effectiveUnitPrice).abs().times(cycleDays).dividedBy(billableDays);
    if (!fullCost.isZero() && roundMoney(fullCost) !== roundMoney(basis.cost))
      warnings.push({
        date: on,
        message: `Subscription cost unit price changed from ${roundUnit(basis.cost)} to ${roundUnit(fullCost)} on ${on}`,
      });
  }
  return warnings;
}

/** Readable name of a segment, for PSA descriptions and run items. */
export function describeSegment(segment: Segment): string {
  const seats = new Dec(segment.quantity).equals(1) ? "1 seat" : `${segment.quantity} seats`;
  return `${segment.productName}, ${seats} from ${segment.start}`;
}

// ------------------------------------------------------------------------------------------ ConnectWise

/** A cspsync addition as read back from the agreement. */
export type SyncedAddition = {
  recordId: string;
  syncKey: string;
  quantity: DecimalString;
  effectiveDate: IsoDate;
  cancelledDate: IsoDate | null;
  /** When ConnectWise last changed it: part of an update's key, so a second edit is corrected again. */
  lastUpdated: string;
};

type LineBase = {
  writeKey: string;
  /** What the ledger and run items show: `monthly:<subscription>:<segment start>[:<step>]`. */
  eventKey: string;
  customerTenantId: string;
  subscriptionId: string;
  description: string;
  warnings: string[];
};

export type CreateAdditionLine = LineBase & {
  action: "create-addition";
  segment: Segment;
  /** The segment's price, where the hold for approval reads it (price-holds.ts): a new addition may be held. */
  unitCost: DecimalString;
  unitPrice: DecimalString | null;
  belowCost: boolean;
  pricedBy: PricedBy | null;
  priceSource: PriceSource;
  atOrBelowCost: boolean;
  /** Said with the written addition, not a warning: sold at cost once a price list is in use. */
  notes?: string[];
};

export type UpdateAdditionLine = LineBase & {
  action: "update-addition";
  segment: Segment;
  recordId: string;
  /** Only the fields that differ from the segment. */
  changes: { quantity?: DecimalString; cancelledDate?: IsoDate | null };
};

export type ConnectWiseMonthlyLine = CreateAdditionLine | UpdateAdditionLine;

/**
 * The ConnectWise writes: an addition per segment (effective and cancelled dates, so ConnectWise prorates
 * them), the open segment being the subscription's one ongoing addition. An addition whose quantity or end
 * differs from its segment is set back with one PATCH; a changed quantity means someone edited it, and the
 * write warns with both numbers.
 */
export function planConnectWiseMonthly(
  mapping: MonthlyMapping,
  timelines: readonly SubscriptionTimeline[],
  additions: readonly SyncedAddition[],
  vendorName = "ConnectWise",
): ConnectWiseMonthlyLine[] {
  const bySyncKey = new Map(additions.map((a) => [a.syncKey, a]));
  const lines: ConnectWiseMonthlyLine[] = [];
  for (const timeline of timelines) {
    const pending = [...timeline.warnings];
    for (const segment of timeline.segments) {
      const base = {
        customerTenantId: mapping.customerTenantId,
        subscriptionId: segment.subscriptionId,
        description: describeSegment(segment),
      };
      // A price warning travels with the first write of the segment it happened in.
      const inSegment = pending.filter(
        (w) => w.date >= segment.start && (!segment.end || w.date <= segment.end),
      );
      const existing = bySyncKey.get(segment.key);
      if (!existing) {
        lines.push({
          ...base,
          action: "create-addition",
          writeKey: segment.key,
          eventKey: `monthly:${segment.subscriptionId}:${segment.start}`,
          segment,
          unitCost: segment.unitCost,
          unitPrice: segment.unitPrice,
          belowCost: belowCost(segment).length > 0,
          pricedBy: segment.pricedBy,
          priceSource: segment.priceSource,
          atOrBelowCost: segment.atOrBelowCost,
          ...(segment.atOrBelowCost &&
          belowCost(segment).length === 0 &&
          (mapping.priceList?.currencies.size ?? 0) > 0
            ? { notes: [atCostNote(segment.unitPrice, segment.unitCost, segment.priceSource)] }
            : {}),
          warnings: inSegment.map((w) => w.message),
        });
        pending.splice(0, pending.length, ...pending.filter((w) => !inSegment.includes(w)));
        continue;
      }
      const update = additionChanges(existing, segment);
      if (!update) continue;
      const warnings = [...inSegment.map((w) => w.message)];
      pending.splice(0, pending.length, ...pending.filter((w) => !inSegment.includes(w)));
      if (update.quantity !== undefined)
        warnings.push(
          `${segment.productName} (subscription ${segment.subscriptionId}) had quantity ${existing.quantity} in ${vendorName}; set back to the billed ${segment.quantity}`,
        );
      lines.push({
        ...base,
        action: "update-addition",
        writeKey: monthlyWriteKey(
          mapping.connectionId,
          mapping.customerTenantId,
          segment.subscriptionId,
          "update",
          existing.recordId,
          existing.lastUpdated,
          segment.quantity,
          segment.end ?? "ongoing",
        ),
        eventKey: `monthly:${segment.subscriptionId}:${segment.start}:update`,
        segment,
        recordId: existing.recordId,
        changes: update,
        warnings,
      });
    }
  }
  return lines;
}

function additionChanges(existing: SyncedAddition, segment: Segment): UpdateAdditionLine["changes"] | null {
  const changes: UpdateAdditionLine["changes"] = {};
  if (!new Dec(existing.quantity).equals(segment.quantity)) changes.quantity = segment.quantity;
  if (existing.cancelledDate !== segment.end) changes.cancelledDate = segment.end;
  return Object.keys(changes).length > 0 ? changes : null;
}

// ------------------------------------------------------------------------------------------ Autotask

/** A contract's billing periods: they start on the contract's start day, every `months` months. */
export type ContractWindow = { start: IsoDate; end: IsoDate; periodMonths: number };

/** One row of ContractServiceUnits (docs/autotask.md §8.6): the units in force from `start` to `end`. */
export type UnitRow = { start: IsoDate; end: IsoDate; units: number };

/** The subscription's contract service as read back, or null before cspsync created it. */
export type SyncedContractService = { contractServiceId: string; rows: UnitRow[] } | null;

export type AdjustUnitsLine = LineBase & {
  action: "adjust-units";
  /** Key of the subscription's contract service, stamped in its internal description. */
  serviceKey: string;
  productId: string;
  skuId: string;
  productName: string;
  effectiveDate: IsoDate;
  unitChange: number;
  /** Units the contract service holds from `effectiveDate` once the adjustment is in. */
  unitsAfter: number;
  /** Null: the price and cost stay (a step to zero seats). */
  unitCost: DecimalString | null;
  /** Null: the price stays (cost-only pricing, or a step to zero seats). */
  unitPrice: DecimalString | null;
  /** For a new contract service: its first invoice description. */
  invoiceDescription: string;
};

type Step = { date: IsoDate; units: number; segment: Segment | null };

function addMonths(day: IsoDate, months: number): IsoDate {
  const [year, month, date] = day.split("-").map(Number) as [number, number, number];
  const target = new Date(Date.UTC(year, month - 1 + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date, lastDay));
  return target.toISOString().slice(0, 10);
}

/** The start of the contract period holding `day`. */
export function periodStartOf(window: ContractWindow, day: IsoDate): IsoDate {
  let start = window.start;
  for (let i = 1; ; i++) {
    const next = addMonths(window.start, i * window.periodMonths);
    if (next > day) return start;
    start = next;
  }
}

/** The timeline as unit steps: each segment's seats from its start, and zero after a subscription ended. */
function unitSteps(timeline: SubscriptionTimeline, window: ContractWindow): Step[] {
  const steps: Step[] = [];
  let previousEnd: IsoDate | null = null;
  for (const segment of timeline.segments) {
    if (previousEnd !== null && addDays(previousEnd, 1) !== segment.start)
      steps.push({ date: addDays(previousEnd, 1), units: 0, segment: null });
    steps.push({ date: segment.start, units: Number(segment.quantity), segment });
    previousEnd = segment.end;
  }
  if (previousEnd !== null && addDays(previousEnd, 1) <= window.end)
    steps.push({ date: addDays(previousEnd, 1), units: 0, segment: null });
  return steps;
}

function unitsAt(rows: readonly UnitRow[], day: IsoDate): number {
  return rows.find((r) => r.start <= day && day <= r.end)?.units ?? 0;
}

/**
 * The Autotask writes for one subscription: unit adjustments on its own contract service (created with the
 * first one), each the difference between the units the data bills from its date and what Autotask shows
 * there with the earlier adjustments of the plan counted. Units someone changed in Autotask are set back from
 * the next period on (the edited period cannot take a second adjustment), with a warning.
 */
export function planAutotaskMonthly(
  mapping: MonthlyMapping,
  timelines: readonly SubscriptionTimeline[],
  window: ContractWindow,
  services: ReadonlyMap<string, SyncedContractService>,
): AdjustUnitsLine[] {
  return timelines.flatMap((timeline) =>
    planSubscriptionUnits(mapping, timeline, window, services.get(timeline.subscriptionId) ?? null),
  );
}

function planSubscriptionUnits(
  mapping: MonthlyMapping,
  timeline: SubscriptionTimeline,
  window: ContractWindow,
  service: SyncedContractService,
): AdjustUnitsLine[] {
  const steps = unitSteps(timeline, window);
  const first = timeline.segments[0];
  if (!first) return [];
  const rows = service?.rows ?? [];
  const planned: AdjustUnitsLine[] = [];
  const shown = (day: IsoDate) =>
    unitsAt(rows, day) + planned.filter((p) => p.effectiveDate <= day).reduce((s, p) => s + p.unitChange, 0);
  const billed = (day: IsoDate) => [...steps].reverse().find((s) => s.date <= day)?.units ?? 0;
  const pending = [...timeline.warnings];
  const add = (step: Step, units: number, warnings: string[]) => {
    const segment = step.segment ?? timeline.segments.filter((s) => s.start <= step.date).at(-1) ?? first;
    const inPeriod = pending.filter(
      (w) => w.date <= step.date || periodStartOf(window, w.date) === periodStartOf(window, step.date),
    );
    pending.splice(0, pending.length, ...pending.filter((w) => !inPeriod.includes(w)));
    const from = shown(step.date);
    planned.push({
      action: "adjust-units",
      writeKey: monthlyWriteKey(
        mapping.connectionId,
        mapping.customerTenantId,
        timeline.subscriptionId,
        "units",
        step.date,
        String(from),
        String(units),
      ),
      eventKey: `monthly:${timeline.subscriptionId}:${step.date}`,
      customerTenantId: mapping.customerTenantId,
      subscriptionId: timeline.subscriptionId,
      description: `${segment.productName}, ${units} seats from ${step.date}`,
      serviceKey: serviceKeyOf(mapping, timeline.subscriptionId),
      productId: segment.productId,
      skuId: segment.skuId,
      productName: segment.productName,
      effectiveDate: step.date,
      unitChange: units - from,
      unitsAfter: units,
      unitCost: step.segment ? segment.unitCost : null,
      unitPrice: step.segment ? segment.unitPrice : null,
      invoiceDescription: `${segment.productName} (subscription ${timeline.subscriptionId})`,
      warnings: [...inPeriod.map((w) => w.message), ...warnings],
    });
  };
  const segmentAt = (day: IsoDate) =>
    timeline.segments.find((s) => s.start <= day && (s.end === null || day <= s.end)) ?? null;
  const nextPeriod = (day: IsoDate) => addMonths(periodStartOf(window, day), window.periodMonths);
  // A period already holding an adjustment (one planned now, or a unit change Autotask shows inside it)
  // cannot take another: the change moves to the next period's start.
  const occupied = (day: IsoDate) => {
    const period = periodStartOf(window, day);
    const inPeriod = (d: IsoDate) => d !== day && periodStartOf(window, d) === period;
    return (
      planned.some((p) => inPeriod(p.effectiveDate)) ||
      rows.some((r, i) => inPeriod(r.start) && r.units !== (rows[i - 1]?.units ?? 0))
    );
  };
  for (const step of steps) {
    let date = step.date;
    const warnings: string[] = [];
    if (shown(date) === step.units || date > window.end) continue;
    if (occupied(date)) {
      date = nextPeriod(date);
      if (date > window.end || shown(date) === billed(date)) continue;
      warnings.push(
        `${first.productName} (subscription ${timeline.subscriptionId}): Autotask takes one adjustment per billing period, so the change to ${step.units} seats on ${step.date} is billed from ${date}`,
      );
    }
    if (date < window.start) continue;
    add({ date, units: billed(date), segment: segmentAt(date) }, billed(date), warnings);
  }
  // Corrections: a unit row that differs from the data is set back at the next period's start.
  let checkedFrom = first.start;
  for (let guard = 0; guard < 24; guard++) {
    const row = rows.find((r) => r.start >= checkedFrom && shown(r.start) !== billed(r.start));
    if (!row) break;
    const fix = nextPeriod(row.start);
    if (fix > window.end) break;
    checkedFrom = fix;
    if (shown(fix) === billed(fix) || planned.some((p) => p.effectiveDate === fix)) continue;
    const psaUnits = shown(row.start);
    add({ date: fix, units: billed(fix), segment: segmentAt(fix) }, billed(fix), [
      `${first.productName} (subscription ${timeline.subscriptionId}) had quantity ${psaUnits} in Autotask; set back to the billed ${billed(row.start)} from ${fix}`,
    ]);
  }
  return planned.sort((a, b) => a.effectiveDate.localeCompare(b.effectiveDate));
}

export function serviceKeyOf(mapping: MonthlyMapping, subscriptionId: string): string {
  return monthlyWriteKey(mapping.connectionId, mapping.customerTenantId, subscriptionId, "contract-service");
}
