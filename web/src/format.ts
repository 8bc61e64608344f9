import { currencyDecimals } from "../../src/core/money.ts";
/**
 * Dates, instants and money for the reader's locale. Money arrives as decimal strings and is handed to
 * Intl.NumberFormat as a string, which formats it exactly (no float in between).
 */
export const locale: string = (typeof navigator !== "undefined" && navigator.languages?.[0]) || "en-US";

const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" });
const instantFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
const numberFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 4 });

/** A calendar date `YYYY-MM-DD`; it has no time zone, so it is shown as the same day everywhere. */
export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!match) return value;
  return dateFormat.format(new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))));
}

/** An instant (ISO UTC), shown in the reader's own time zone. */
export function formatInstant(value: string | null | undefined): string {
  if (!value) return "—";
  const time = Date.parse(value);
  return Number.isNaN(time) ? value : instantFormat.format(new Date(time));
}

export function formatDuration(start: string, end: string | null): string {
  if (!end) return "—";
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return "< 1 s";
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

type DecimalText = `${number}`;

function isDecimalText(value: string): value is DecimalText {
  return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value);
}

const moneyFormats = new Map<string, Intl.NumberFormat>();

/** The most decimals a unit amount carries: what ConnectWise and Autotask store for a unit price or cost. */
export const UNIT_DECIMALS = 4;

/** The label for a column or figure shown with unit decimals, so four decimals never look like noise. */
export const UNIT_MONEY_TITLE = `per unit, as written to the PSA, up to ${UNIT_DECIMALS} decimals`;

/**
 * Money in the data's currency. Totals show exactly the currency's own decimals (rounded half-expand by Intl
 * from the exact decimal string). Unit amounts (`unit: true`) are what the PSA stores per unit: at least the
 * currency's decimals and up to four where the amount has them, because that is what is written; show them
 * under a heading or title that says so (UNIT_MONEY_TITLE).
 */
export function formatMoney(
  value: string | null | undefined,
  currency: string | null | undefined,
  options: { unit?: boolean } = {},
): string {
  if (value === null || value === undefined || value === "") return "—";
  if (!isDecimalText(value)) return value;
  const key = `${currency ?? ""}|${options.unit ? "unit" : "total"}`;
  let format = moneyFormats.get(key);
  if (!format) {
    const digits = currencyDecimals(currency);
    const fraction = {
      minimumFractionDigits: digits,
      maximumFractionDigits: options.unit ? Math.max(digits, UNIT_DECIMALS) : digits,
    };
    try {
      format = currency
        ? new Intl.NumberFormat(locale, { style: "currency", currency, ...fraction })
        : new Intl.NumberFormat(locale, fraction);
    } catch {
      format = new Intl.NumberFormat(locale, fraction);
    }
    moneyFormats.set(key, format);
  }
  return format.format(value);
}

export function formatNumber(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number") return numberFormat.format(value);
  return isDecimalText(value) ? numberFormat.format(value) : value;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)} ${units[unit]}`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${new Intl.NumberFormat(locale).format(count)} ${count === 1 ? one : many}`;
}

/** Today's date in the reader's time zone, as `YYYY-MM-DD`. */
export function todayIso(): string {
  const now = new Date();
  const month = String(now.getMonth() + 1).padStart(2, "0");
  const day = String(now.getDate()).padStart(2, "0");
  return `${now.getFullYear()}-${month}-${day}`;
}

export { currencyDecimals };
