import type { BillingMotion } from "./billing.ts";
import { addDays, daysInclusive, type IsoDate, type IsoInstant } from "./dates.ts";
import type { ChargeEvent, EventKind } from "./events.ts";
import { Dec, roundMoney, type DecimalString } from "./money.ts";

/**
 * The NCE term ledger (docs/reports.md §2): per seat-based subscription, what the billing data says about its
 * current term, its seats over time, the date until which seats can still be reduced or the subscription
 * cancelled, and its renewal. Pure: the events in, the ledger out; "now" is an argument. Where the data cannot
 * say something (auto-renew, a term of unusual length) the entry says null — never a guess.
 */

/** The three NCE term lengths (docs/reports.md §2.1); null when the term's dates match none of them. */
export type TermDuration = "P1M" | "P1Y" | "P3Y";

/** How the term is billed: monthly or annual instalments, or the whole term up front (one charge). */
export type BillingPlan = "monthly" | "annual" | "upfront";

export type LedgerStatus =
  /** Running, renews on its renewal date unless changed at Microsoft (auto-renew itself is not in the data). */
  | "active"
  /** Cancelled (a cancellation refund took it to 0 seats); no renewal. */
  | "cancelled"
  /** The term ended and the imported data holds no renewal for it (not renewed, or its invoice is not imported). */
  | "lapsed-or-not-imported";

export type SeatStep = {
  /** When the change happened: the order instant where the data has one, else the charge date. */
  at: string;
  kind: EventKind;
  /** Seats added (negative: removed). */
  delta: DecimalString;
  seats: DecimalString;
  eventKey: string;
  invoiceNumber: string;
};

/** What opened the current change window: the term's purchase or renewal, or a later seat add. */
export type WindowBasis = "purchase" | "renewal" | "seat add";

export type ChangeWindow = {
  basis: WindowBasis;
  /** When the purchase / renewal / seat add happened (see `exact`). */
  openedAt: IsoInstant;
  /** openedAt + 168 hours: until then seats can be reduced (those added in the window) or the subscription cancelled. */
  closesAt: IsoInstant;
  /** true: from the order's time in the data; false: the data has only the charge date (00:00 UTC taken). */
  exact: boolean;
};

export type LedgerEntry = {
  subscriptionId: string;
  customerTenantId: string;
  motion: BillingMotion;
  productId: string;
  skuId: string;
  productName: string;
  term: TermDuration | null;
  billingPlan: BillingPlan | null;
  termStart: IsoDate | null;
  termEnd: IsoDate | null;
  status: LedgerStatus;
  seats: DecimalString;
  seatHistory: SeatStep[];
  /** Partner price per seat for one charge cycle (the data's unit price, before proration); null if none. */
  pricePerSeat: DecimalString | null;
  currency: string;
  /** The latest window; `open` says whether it is still open at `now`. */
  changeWindow: (ChangeWindow & { open: boolean }) | null;
  /** The day the next term starts (term end + 1 day); null when cancelled or the term end is unknown. */
  renewalDate: IsoDate | null;
  /** Seats × price per seat × charge cycles in a term, at today's price (rounded to cents); null if unknown. */
  nextTermValue: DecimalString | null;
  /** Whether auto-renew is on is not in the billing data: always null (unknown). */
  autoRenew: null;
};

/** NCE's cancellation / seat-reduction window (docs/reports.md §2.2): 168 hours. */
export const CHANGE_WINDOW_HOURS = 168;

const SEAT_MOTIONS: ReadonlySet<BillingMotion> = new Set(["seat-annual", "seat-monthly"]);

/**
 * The term length from the term's own dates (inclusive day count); co-termed or otherwise shortened terms
 * match none of the three and are unknown.
 */
export function termDurationOf(start: IsoDate | null, end: IsoDate | null): TermDuration | null {
  if (!start || !end) return null;
  const days = daysInclusive(start, end);
  if (days >= 28 && days <= 31) return "P1M";
  if (days >= 365 && days <= 366) return "P1Y";
  if (days >= 1095 && days <= 1097) return "P3Y";
  return null;
}

/** Monthly / Annual from BillingFrequency; blank with the charge window equal to the term: paid up front. */
export function billingPlanOf(
  event: Pick<ChargeEvent, "billingFrequency" | "chargeStart" | "chargeEnd" | "termStart" | "termEnd">,
): BillingPlan | null {
  const frequency = event.billingFrequency?.trim().toLowerCase() ?? "";
  if (frequency === "monthly") return "monthly";
  if (frequency === "annual") return "annual";
  if (frequency === "" && event.termStart && event.chargeEnd === event.termEnd) return "upfront";
  return null;
}

/** How many charge cycles one term has; null when the term or plan is unknown. */
export function cyclesPerTerm(term: TermDuration | null, plan: BillingPlan | null): number | null {
  if (!term || !plan) return null;
  if (plan === "upfront") return 1;
  const months = term === "P1M" ? 1 : term === "P1Y" ? 12 : 36;
  if (plan === "monthly") return months;
  return months < 12 ? null : months / 12;
}

function momentOf(event: Pick<ChargeEvent, "orderDate" | "chargeStart">): { at: IsoInstant; exact: boolean } {
  return event.orderDate
    ? { at: new Date(event.orderDate).toISOString(), exact: true }
    : { at: `${event.chargeStart}T00:00:00.000Z`, exact: false };
}

/** Seat order (docs/reports.md §2.3): by order instant (charge date where missing), then charge date, then key. */
function byTime(a: ChargeEvent, b: ChargeEvent): number {
  const ta = momentOf(a).at;
  const tb = momentOf(b).at;
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.chargeStart !== b.chargeStart) return a.chargeStart < b.chargeStart ? -1 : 1;
  return a.eventKey < b.eventKey ? -1 : a.eventKey > b.eventKey ? 1 : 0;
}

const SEAT_KINDS: ReadonlySet<EventKind> = new Set([
  "purchase",
  "renewal",
  "cycle",
  "seat-change",
  "cancellation",
  "conversion",
  "billing-plan-change",
]);

/** Events whose unit price is the price of a whole charge cycle per seat. */
const PRICED_KINDS: ReadonlySet<EventKind> = new Set(["purchase", "renewal", "cycle", "seat-change"]);

function windowBasis(event: ChargeEvent): WindowBasis | null {
  if (event.kind === "purchase") return "purchase";
  if (event.kind === "renewal") return "renewal";
  if (event.kind === "seat-change" && new Dec(event.seatDelta).isPositive()) return "seat add";
  return null;
}

/** One subscription's entry from all of its events (any order, any invoices); null for non-seat motions. */
export function ledgerEntry(events: readonly ChargeEvent[], now: Date): LedgerEntry | null {
  const ordered = events.filter((e) => SEAT_MOTIONS.has(e.motion)).sort(byTime);
  const last = ordered.at(-1);
  if (!last) return null;
  // The current term: the dates of the latest event that carries them.
  const termed = [...ordered].reverse().find((e) => e.termStart && e.termEnd) ?? last;
  const termStart = termed.termStart;
  const termEnd = termed.termEnd;
  const inTerm = ordered.filter((e) => e.termStart === termStart && e.termEnd === termEnd);
  const seatHistory: SeatStep[] = [];
  let seats = new Dec(0);
  for (const event of ordered) {
    if (!SEAT_KINDS.has(event.kind)) continue;
    const after = new Dec(event.seatsAfter);
    seatHistory.push({
      at: momentOf(event).at,
      kind: event.kind,
      delta: after.minus(seats).toFixed(),
      seats: after.toFixed(),
      eventKey: event.eventKey,
      invoiceNumber: event.invoiceNumber,
    });
    seats = after;
  }
  const cancelled = last.kind === "cancellation" && seats.isZero();
  const today = now.toISOString().slice(0, 10);
  const status: LedgerStatus = cancelled
    ? "cancelled"
    : termEnd && termEnd < today
      ? "lapsed-or-not-imported"
      : "active";

  const planSource = [...inTerm].reverse().find((e) => e.kind !== "seat-change" && e.kind !== "cancellation");
  const term = termDurationOf(termStart, termEnd);
  const billingPlan = planSource ? billingPlanOf(planSource) : null;
  const priced = [...ordered]
    .reverse()
    .find((e) => PRICED_KINDS.has(e.kind) && !new Dec(e.listUnitPrice).isZero());
  const pricePerSeat = priced ? new Dec(priced.listUnitPrice).abs().toFixed() : null;

  let changeWindow: LedgerEntry["changeWindow"] = null;
  const opener = [...inTerm].reverse().find((e) => windowBasis(e) !== null);
  if (opener && !cancelled) {
    const { at, exact } = momentOf(opener);
    const closesAt = new Date(Date.parse(at) + CHANGE_WINDOW_HOURS * 3_600_000).toISOString();
    changeWindow = {
      basis: windowBasis(opener)!,
      openedAt: at,
      closesAt,
      exact,
      open: now.toISOString() < closesAt,
    };
  }
  const cycles = cyclesPerTerm(term, billingPlan);
  const nextTermValue =
    status === "active" && cycles !== null && pricePerSeat !== null
      ? roundMoney(seats.times(pricePerSeat).times(cycles))
      : null;
  return {
    subscriptionId: last.subscriptionId,
    customerTenantId: last.customerTenantId,
    motion: last.motion,
    productId: last.productId,
    skuId: last.skuId,
    productName: last.skuName ?? last.productName,
    term,
    billingPlan,
    termStart,
    termEnd,
    status,
    seats: seats.toFixed(),
    seatHistory,
    pricePerSeat,
    currency: last.currency,
    changeWindow,
    renewalDate: cancelled || !termEnd ? null : addDays(termEnd, 1),
    nextTermValue,
    autoRenew: null,
  };
}

/** The ledger: one entry per seat-based subscription, by customer, then product, then subscription id. */
export function buildTermLedger(events: readonly ChargeEvent[], now: Date): LedgerEntry[] {
  const bySubscription = new Map<string, ChargeEvent[]>();
  for (const event of events) {
    const list = bySubscription.get(event.subscriptionId);
    if (list) list.push(event);
    else bySubscription.set(event.subscriptionId, [event]);
  }
  const entries: LedgerEntry[] = [];
  for (const list of bySubscription.values()) {
    const entry = ledgerEntry(list, now);
    if (entry) entries.push(entry);
  }
  return entries.sort(
    (a, b) =>
      a.customerTenantId.localeCompare(b.customerTenantId) ||
      a.productName.localeCompare(b.productName) ||
      a.subscriptionId.localeCompare(b.subscriptionId),
  );
}

/** A dated thing to act on: a renewal, or a change window that closes. */
export type RenewalMoment =
  | { kind: "renewal"; date: IsoDate; entry: LedgerEntry }
  | { kind: "window-closes"; at: IsoInstant; entry: LedgerEntry };

/** Active subscriptions renewing from today through today + `days` (inclusive), soonest first. */
export function renewingWithin<E extends LedgerEntry>(ledger: readonly E[], now: Date, days: number): E[] {
  const today = now.toISOString().slice(0, 10);
  const until = addDays(today, days);
  return ledger
    .filter((e) => e.status === "active" && e.renewalDate !== null)
    .filter((e) => e.renewalDate! >= today && e.renewalDate! <= until)
    .sort(
      (a, b) =>
        a.renewalDate!.localeCompare(b.renewalDate!) || a.subscriptionId.localeCompare(b.subscriptionId),
    );
}

/** Change windows still open at `now` that close within `hours`, soonest first. */
export function windowsClosingWithin<E extends LedgerEntry>(
  ledger: readonly E[],
  now: Date,
  hours: number,
): E[] {
  const from = now.toISOString();
  const until = new Date(now.getTime() + hours * 3_600_000).toISOString();
  return ledger
    .filter((e) => e.changeWindow && e.changeWindow.closesAt > from && e.changeWindow.closesAt <= until)
    .sort(
      (a, b) =>
        a.changeWindow!.closesAt.localeCompare(b.changeWindow!.closesAt) ||
        a.subscriptionId.localeCompare(b.subscriptionId),
    );
}
