import { createHash, randomBytes } from "node:crypto";
import { createEvents, type EventAttributes } from "ics";
import { stringify } from "csv-stringify/sync";
import { AppError } from "../core/errors.ts";
import { Dec, roundMoney } from "../core/money.ts";
import {
  buildTermLedger,
  renewingWithin,
  windowsClosingWithin,
  type LedgerEntry,
} from "../core/term-ledger.ts";
import type { Store } from "../store/db.ts";
import {
  customerNames,
  feedTokenInfo,
  saveFeedTokenHash,
  seatEvents,
  useFeedToken,
} from "../store/reports-repository.ts";
import { safeCell } from "./reports.ts";

/**
 * The NCE term ledger and renewals (docs/reports.md §2, §4): the ledger built from every imported seat-based
 * event, what renews in the next N days and which change windows close soon, the renewals CSV, and the
 * token-protected iCalendar feed of renewals and window ends.
 */

export type NamedLedgerEntry = LedgerEntry & { customerName: string };

export type RenewalsView = {
  asOf: string;
  days: number;
  renewing: NamedLedgerEntry[];
  windowsClosing: NamedLedgerEntry[];
  /** Next-term value of what renews, per currency. */
  totals: { currency: string; subscriptions: number; seats: string; nextTermValue: string }[];
  perCustomer: {
    customerTenantId: string;
    customerName: string;
    subscriptions: number;
    currency: string;
    nextTermValue: string;
  }[];
};

/** A reminder a notification can carry (not wired: see upcomingRenewalReminders). */
export type RenewalReminder = {
  kind: "renewal" | "window-closes";
  /** Deterministic: one reminder per subscription and date, whatever the number of runs that find it. */
  key: string;
  at: string;
  subscriptionId: string;
  customerTenantId: string;
  customerName: string;
  productName: string;
  seats: string;
  text: string;
};

/** How far ahead the windows-closing list looks: the whole 168-hour window. */
export const WINDOW_LOOKAHEAD_HOURS = 168;

export class FeedTokenError extends AppError {
  constructor() {
    super("unauthorized", "the calendar feed token is not valid (rotated, or mistyped)");
  }
}

function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export class RenewalsService {
  private readonly store: Store;
  private readonly organizationId: string;
  private readonly now: () => Date;

  constructor(store: Store, organizationId: string, now: () => Date = () => new Date()) {
    this.store = store;
    this.organizationId = organizationId;
    this.now = now;
  }

  /** Every seat-based subscription's ledger entry (of one customer when given). */
  async ledger(customerTenantId?: string): Promise<NamedLedgerEntry[]> {
    return this.ledgerFor(this.organizationId, customerTenantId);
  }

  private async ledgerFor(organizationId: string, customerTenantId?: string): Promise<NamedLedgerEntry[]> {
    const [events, names] = await Promise.all([
      seatEvents(this.store, organizationId, customerTenantId),
      customerNames(this.store, organizationId),
    ]);
    return buildTermLedger(events, this.now()).map((entry) => ({
      ...entry,
      customerName: names.get(entry.customerTenantId) ?? entry.customerTenantId,
    }));
  }

  async renewals(days: number): Promise<RenewalsView> {
    return renewalsOf(await this.ledger(), this.now(), days);
  }

  /** The renewals list as CSV (formula-safe cells). */
  async renewalsCsv(days: number): Promise<string> {
    const view = await this.renewals(days);
    const rows = view.renewing.map((e) => [
      e.customerName,
      e.productName,
      e.subscriptionId,
      e.term ?? "unknown",
      e.billingPlan ?? "unknown",
      e.termStart ?? "",
      e.termEnd ?? "",
      e.renewalDate ?? "",
      e.seats,
      e.pricePerSeat ?? "",
      e.nextTermValue ?? "",
      e.currency,
      e.changeWindow?.closesAt ?? "",
      "unknown",
    ]);
    const header = [
      "Customer",
      "Product",
      "Subscription",
      "Term",
      "Billing plan",
      "Term start",
      "Term end",
      "Renewal date",
      "Seats",
      "Price per seat",
      "Next term value",
      "Currency",
      "Change window closes",
      "Auto-renew",
    ];
    return stringify([header, ...rows.map((row) => row.map(safeCell))]);
  }

  /**
   * Renewals and change-window ends due within `days` (from now), for the notifications to send "N days
   * before". Notifications are built elsewhere; this is the one place they would read from.
   */
  async upcomingRenewalReminders(days: number): Promise<RenewalReminder[]> {
    const now = this.now();
    const ledger = await this.ledger();
    const reminders: RenewalReminder[] = [];
    for (const e of renewingWithin(ledger, now, days))
      reminders.push({
        kind: "renewal",
        key: `renewal:${e.subscriptionId}:${e.renewalDate}`,
        at: e.renewalDate!,
        subscriptionId: e.subscriptionId,
        customerTenantId: e.customerTenantId,
        customerName: e.customerName,
        productName: e.productName,
        seats: e.seats,
        text: `${e.customerName}: ${e.productName} (${e.seats} seats) renews on ${e.renewalDate}`,
      });
    for (const e of windowsClosingWithin(ledger, now, days * 24))
      reminders.push({
        kind: "window-closes",
        key: `window:${e.subscriptionId}:${e.changeWindow!.closesAt}`,
        at: e.changeWindow!.closesAt,
        subscriptionId: e.subscriptionId,
        customerTenantId: e.customerTenantId,
        customerName: e.customerName,
        productName: e.productName,
        seats: e.seats,
        text: `${e.customerName}: ${e.productName} can be reduced or cancelled until ${e.changeWindow!.closesAt}`,
      });
    return reminders.sort((a, b) => a.at.localeCompare(b.at) || a.key.localeCompare(b.key));
  }

  /** A new feed token, replacing any earlier one; the token is returned once and only its hash is kept. */
  async rotateFeedToken(createdBy: string | null): Promise<{ token: string; createdAt: string }> {
    const token = `csf_${randomBytes(24).toString("base64url")}`;
    const createdAt = this.now().toISOString();
    await saveFeedTokenHash(this.store, this.organizationId, hashToken(token), createdBy, createdAt);
    return { token, createdAt };
  }

  async feedTokenInfo() {
    return feedTokenInfo(this.store, this.organizationId);
  }

  /** The iCalendar feed for a token; FeedTokenError when it matches no organization. */
  async feedForToken(token: string): Promise<string> {
    if (!/^csf_[A-Za-z0-9_-]{32}$/.test(token)) throw new FeedTokenError();
    const organizationId = await useFeedToken(this.store, hashToken(token), this.now().toISOString());
    if (!organizationId) throw new FeedTokenError();
    return ledgerCalendar(await this.ledgerFor(organizationId), this.now());
  }
}

export function renewalsOf(ledger: readonly NamedLedgerEntry[], now: Date, days: number): RenewalsView {
  const renewing = renewingWithin(ledger, now, days);
  const windowsClosing = windowsClosingWithin(ledger, now, WINDOW_LOOKAHEAD_HOURS);
  const totals = new Map<string, { subscriptions: number; seats: Dec; value: Dec }>();
  const perCustomer = new Map<string, RenewalsView["perCustomer"][number] & { sum: Dec }>();
  for (const e of renewing) {
    const total = totals.get(e.currency) ?? { subscriptions: 0, seats: new Dec(0), value: new Dec(0) };
    total.subscriptions += 1;
    total.seats = total.seats.plus(e.seats);
    total.value = total.value.plus(e.nextTermValue ?? 0);
    totals.set(e.currency, total);
    const key = `${e.customerTenantId}|${e.currency}`;
    const customer = perCustomer.get(key) ?? {
      customerTenantId: e.customerTenantId,
      customerName: e.customerName,
      subscriptions: 0,
      currency: e.currency,
      nextTermValue: "0",
      sum: new Dec(0),
    };
    customer.subscriptions += 1;
    customer.sum = customer.sum.plus(e.nextTermValue ?? 0);
    perCustomer.set(key, customer);
  }
  return {
    asOf: now.toISOString(),
    days,
    renewing,
    windowsClosing,
    totals: [...totals].map(([currency, t]) => ({
      currency,
      subscriptions: t.subscriptions,
      seats: t.seats.toFixed(),
      nextTermValue: roundMoney(t.value),
    })),
    perCustomer: [...perCustomer.values()]
      .map(({ sum, ...c }) => ({ ...c, nextTermValue: roundMoney(sum) }))
      .sort(
        (a, b) =>
          new Dec(b.nextTermValue).comparedTo(a.nextTermValue) ||
          a.customerName.localeCompare(b.customerName),
      ),
  };
}

function dateArray(date: string): [number, number, number] {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return [y, m, d];
}

/**
 * The calendar (RFC 5545, through the `ics` library): an all-day event on each active subscription's renewal
 * date, and a 30-minute event ending when each open change window closes. UIDs are stable, so a calendar that
 * polls the feed updates its events instead of adding copies. Events more than 31 days past are left out.
 */
export function ledgerCalendar(ledger: readonly NamedLedgerEntry[], now: Date): string {
  const since = new Date(now.getTime() - 31 * 86_400_000).toISOString();
  const events: EventAttributes[] = [];
  for (const e of ledger) {
    if (e.status === "active" && e.renewalDate && e.renewalDate >= since.slice(0, 10)) {
      const value = e.nextTermValue === null ? "unknown" : `${e.nextTermValue} ${e.currency}`;
      events.push({
        uid: `renewal-${e.subscriptionId}-${e.renewalDate}@cspsync`,
        start: dateArray(e.renewalDate),
        duration: { days: 1 },
        title: `Renewal: ${e.customerName} — ${e.productName} (${e.seats} seats)`,
        description:
          `Term ${e.term ?? "unknown"} (${e.termStart ?? "?"} to ${e.termEnd ?? "?"}), billing ${e.billingPlan ?? "unknown"}. ` +
          `Next term at today's price: ${value}. Auto-renew: unknown (not in the billing data). Subscription ${e.subscriptionId}.`,
        categories: ["cspsync", "renewal"],
        transp: "TRANSPARENT",
      });
    }
    const window = e.changeWindow;
    if (window && window.closesAt >= since) {
      const end = Date.parse(window.closesAt);
      events.push({
        uid: `window-${e.subscriptionId}-${window.closesAt.replace(/[^0-9]/g, "")}@cspsync`,
        start: end - 30 * 60_000,
        startInputType: "utc",
        startOutputType: "utc",
        end,
        endInputType: "utc",
        endOutputType: "utc",
        title: `Change window closes: ${e.customerName} — ${e.productName}`,
        description:
          `Last moment to reduce seats added in the window or cancel (168 hours after the ${window.basis}${window.exact ? "" : "; the data has only its date, 00:00 UTC taken"}). ` +
          `Seats now: ${e.seats}. Subscription ${e.subscriptionId}.`,
        categories: ["cspsync", "change-window"],
        transp: "TRANSPARENT",
      });
    }
  }
  const { error, value } = createEvents(events, {
    productId: "cspsync/renewals",
    calName: "cspsync renewals",
  });
  if (error || value === null)
    throw new AppError("internal", `the calendar could not be built: ${String(error)}`);
  return value;
}
