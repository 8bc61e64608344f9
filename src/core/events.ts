import type { BillingMotion, ChargeType } from "./billing.ts";
import { PAIRED_CHARGE_TYPES } from "./billing.ts";
import type { IsoDate, IsoInstant } from "./dates.ts";
import { canonicalDecimal, Dec, negated, signOf, type DecimalString } from "./money.ts";

/**
 * A charge event is what an MSP bills as one line: a purchase, a renewal, a cycle charge, or a seat change
 * whose credit and charge halves share a ReferenceId (docs/billing-data.md §4, §8.2). Event amounts are sums
 * of the source Subtotals, so they always add up exactly to the file.
 */
export type EventKind =
  | "purchase"
  | "renewal"
  | "cycle"
  | "usage"
  | "seat-change"
  | "cancellation"
  | "conversion"
  | "billing-plan-change"
  | "credit"
  | "other";

export type EventLine = {
  lineKey: string;
  invoiceNumber: string;
  customerTenantId: string;
  subscriptionId: string;
  motion: BillingMotion;
  billable: boolean;
  chargeType: ChargeType;
  orderDate: IsoInstant | null;
  chargeStart: IsoDate;
  chargeEnd: IsoDate | null;
  subscriptionStart: IsoDate | null;
  subscriptionEnd: IsoDate | null;
  productId: string;
  skuId: string;
  availabilityId: string | null;
  productName: string;
  skuName: string | null;
  billingFrequency: string | null;
  unitPrice: DecimalString;
  effectiveUnitPrice: DecimalString;
  billableQuantity: DecimalString;
  subtotal: DecimalString;
  total: DecimalString;
  currency: string;
};

export type ChargeEvent = {
  eventKey: string;
  invoiceNumber: string;
  customerTenantId: string;
  subscriptionId: string;
  motion: BillingMotion;
  billable: boolean;
  kind: EventKind;
  chargeType: ChargeType;
  orderDate: IsoInstant | null;
  chargeStart: IsoDate;
  chargeEnd: IsoDate | null;
  termStart: IsoDate | null;
  termEnd: IsoDate | null;
  productId: string;
  skuId: string;
  availabilityId: string | null;
  productName: string;
  skuName: string | null;
  billingFrequency: string | null;
  /** Net seats (or usage units) the event adds; negative for reductions and refunds. */
  seatDelta: DecimalString;
  /** Seats the subscription has after the event (quantity of the charge half; 0 after a full refund). */
  seatsAfter: DecimalString;
  /** Prorated price per unit actually charged (of the charge half of a pair). */
  effectiveUnitPrice: DecimalString;
  /** Price-list price per unit for the charge cycle, the basis of retail pricing. */
  listUnitPrice: DecimalString;
  /** Sum of the lines' Subtotals (pre-tax, billing currency). */
  amount: DecimalString;
  total: DecimalString;
  currency: string;
  lineCount: number;
};

/** Lines of one subscription sharing a ReferenceId and a paired charge type form one event; others stand alone. */
export function eventKeyFor(
  line: Pick<EventLine, "lineKey" | "invoiceNumber" | "subscriptionId" | "chargeType"> & {
    referenceId: string | null;
  },
): string {
  if (line.referenceId && PAIRED_CHARGE_TYPES.has(line.chargeType)) {
    return `pair:${line.invoiceNumber}:${line.subscriptionId}:${line.referenceId}:${line.chargeType}`;
  }
  return `line:${line.lineKey}`;
}

export function isGroupedEventKey(eventKey: string): boolean {
  return eventKey.startsWith("pair:");
}

function lineSign(line: EventLine): -1 | 0 | 1 {
  return signOf(line.subtotal) || signOf(line.effectiveUnitPrice);
}

function kindOf(chargeType: ChargeType, motion: BillingMotion): EventKind {
  switch (chargeType) {
    case "new":
      return motion === "azure" ? "usage" : "purchase";
    case "renew":
      return motion === "azure" ? "usage" : "renewal";
    case "cycleCharge":
      return "cycle";
    case "addQuantity":
    case "removeQuantity":
      return "seat-change";
    case "cancelImmediate":
      return "cancellation";
    case "convert":
    case "moveQuantity":
      return "conversion";
    case "changeBillingPlan":
      return "billing-plan-change";
    case "customerCredit":
      return "credit";
    default:
      return "other";
  }
}

/** What a line that is an event on its own adds to its fields as that event; null for a half of a pair. */
export type StandaloneEventFields = Pick<ChargeEvent, "kind" | "seatDelta" | "seatsAfter">;

export function standaloneEventFields(
  line: EventLine & { referenceId: string | null },
): StandaloneEventFields | null {
  if (isGroupedEventKey(eventKeyFor(line))) return null;
  const event = buildEvent(`line:${line.lineKey}`, [line]);
  return { kind: event.kind, seatDelta: event.seatDelta, seatsAfter: event.seatsAfter };
}

/** Builds one event from all of its lines (one line, or both halves of a pair). */
export function buildEvent(eventKey: string, lines: readonly EventLine[]): ChargeEvent {
  if (lines.length === 0) throw new Error(`event ${eventKey} has no lines`);
  // The charge half leads (it names the seats after the change and the prorated price); ties break on the
  // line key so the same lines always give the same event.
  const ordered = [...lines].sort(
    (a, b) =>
      lineSign(b) - lineSign(a) ||
      new Dec(b.billableQuantity).comparedTo(a.billableQuantity) ||
      a.lineKey.localeCompare(b.lineKey),
  );
  const lead = ordered[0]!;
  const { seatDelta, seatsAfter, amount, total } = eventSums(ordered);
  const starts = ordered.map((l) => l.chargeStart).sort();
  const ends = ordered
    .map((l) => l.chargeEnd)
    .filter((d): d is string => d !== null)
    .sort();
  const orderDates = ordered
    .map((l) => l.orderDate)
    .filter((d): d is string => d !== null)
    .sort();
  return {
    eventKey,
    invoiceNumber: lead.invoiceNumber,
    customerTenantId: lead.customerTenantId,
    subscriptionId: lead.subscriptionId,
    motion: lead.motion,
    billable: ordered.some((l) => l.billable),
    kind: kindOf(lead.chargeType, lead.motion),
    chargeType: lead.chargeType,
    orderDate: orderDates[0] ?? null,
    chargeStart: starts[0]!,
    chargeEnd: ends.at(-1) ?? null,
    termStart: lead.subscriptionStart,
    termEnd: lead.subscriptionEnd,
    productId: lead.productId,
    skuId: lead.skuId,
    availabilityId: lead.availabilityId,
    productName: lead.productName,
    skuName: lead.skuName,
    billingFrequency: lead.billingFrequency,
    seatDelta,
    seatsAfter,
    effectiveUnitPrice: lead.effectiveUnitPrice,
    listUnitPrice: lead.unitPrice,
    amount,
    total,
    currency: lead.currency,
    lineCount: ordered.length,
  };
}

/** Net seats, seats after, and the sums of Subtotal and Total over an event's lines (charge half first). */
function eventSums(ordered: readonly EventLine[]) {
  const halfSign = pairHalfSigns(ordered);
  if (ordered.length === 1) {
    // Most events are one line, where every sum is that line's own value; imports build one per line.
    const line = ordered[0]!;
    const seats = canonicalDecimal(line.billableQuantity);
    const charge = halfSign(line) > 0;
    return {
      seatDelta: charge ? seats : negated(seats),
      seatsAfter: charge ? seats : "0",
      amount: canonicalDecimal(line.subtotal),
      total: canonicalDecimal(line.total),
    };
  }
  let seatDelta = new Dec(0);
  let seatsAfter = new Dec(0);
  let amount = new Dec(0);
  let total = new Dec(0);
  for (const line of ordered) {
    const sign = halfSign(line);
    seatDelta = seatDelta.plus(new Dec(line.billableQuantity).times(sign));
    if (sign > 0) seatsAfter = seatsAfter.plus(line.billableQuantity);
    amount = amount.plus(line.subtotal);
    total = total.plus(line.total);
  }
  return {
    seatDelta: plain(seatDelta),
    seatsAfter: plain(seatsAfter),
    amount: plain(amount),
    total: plain(total),
  };
}

/**
 * Which lines of an event are charges (+1) and which are credits (−1). A zero-value line has no sign of its
 * own: in a trial conversion the free trial half is the credit and the paid half the charge
 * (docs/billing-data.md §7 "Trial to paid"), so beside a positive line it is the credit and beside a negative
 * one the charge. When every line is zero (a free product), the quantities tell: seats grow on addQuantity
 * and shrink on removeQuantity. A standalone zero line (a trial purchase) counts its seats as added.
 */
function pairHalfSigns(lines: readonly EventLine[]): (line: EventLine) => 1 | -1 {
  const signs = lines.map(lineSign);
  const hasPositive = signs.includes(1);
  const hasNegative = signs.includes(-1);
  if (lines.length === 1 || hasPositive || hasNegative) {
    return (line) => {
      const sign = lineSign(line);
      if (sign !== 0) return sign;
      return hasPositive ? -1 : 1;
    };
  }
  const byQuantity = [...lines].sort((a, b) => new Dec(a.billableQuantity).comparedTo(b.billableQuantity));
  const charge = lines[0]!.chargeType === "removeQuantity" ? byQuantity[0]! : byQuantity.at(-1)!;
  return (line) => (line === charge ? 1 : -1);
}

function plain(value: Dec): DecimalString {
  return value.isZero() ? "0" : value.toFixed();
}
