/**
 * Dates in cspsync are plain `YYYY-MM-DD` strings (a calendar day in UTC); instants are ISO-8601 UTC strings.
 * Reconciliation data arrives as en-US `M/D/YYYY` (portal CSV, optionally with a time) or ISO dates and
 * instants, sometimes with a non-UTC offset; everything is normalised here and nowhere else.
 */
export type IsoDate = string;
export type IsoInstant = string;

const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$/;
const ISO_DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/;

function validDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

const recentInstants = new Map<string, IsoInstant | null>();

/** Parses any accepted date or instant text to an instant in UTC, or null when it is not a valid date. */
export function parseInstant(text: string): IsoInstant | null {
  const known = recentInstants.get(text);
  if (known !== undefined) return known;
  const parsed = parseInstantUncached(text);
  if (recentInstants.size > 4096) recentInstants.clear();
  recentInstants.set(text, parsed);
  return parsed;
}

function parseInstantUncached(text: string): IsoInstant | null {
  const us = US_DATE.exec(text);
  if (us) {
    const [, m, d, y, hh, mm, ss, ampm] = us;
    const year = Number(y);
    const month = Number(m);
    const day = Number(d);
    if (!validDay(year, month, day)) return null;
    let hours = hh ? Number(hh) : 0;
    if (ampm) {
      if (hours < 1 || hours > 12) return null;
      hours = (hours % 12) + (/p/i.test(ampm) ? 12 : 0);
    }
    if (hours > 23 || Number(mm ?? 0) > 59 || Number(ss ?? 0) > 59) return null;
    return new Date(Date.UTC(year, month - 1, day, hours, Number(mm ?? 0), Number(ss ?? 0))).toISOString();
  }
  const dateOnly = ISO_DATE_ONLY.exec(text);
  if (dateOnly) {
    const [, y, m, d] = dateOnly;
    if (!validDay(Number(y), Number(m), Number(d))) return null;
    return `${y}-${m}-${d}T00:00:00.000Z`;
  }
  const iso = ISO_INSTANT.exec(text);
  if (iso) {
    const [, y, m, d, hh, mi, ss, fraction, zone] = iso;
    if (!validDay(Number(y), Number(m), Number(d))) return null;
    if (Number(hh) > 23 || Number(mi) > 59 || Number(ss ?? 0) > 59) return null;
    // JS Dates keep milliseconds only; recon instants carry 7 fractional digits, which do not matter here.
    const millis = fraction ? fraction.slice(0, 3).padEnd(3, "0") : "000";
    const offset =
      !zone || zone === "Z" ? "Z" : zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const parsed = new Date(`${y}-${m}-${d}T${hh}:${mi}:${ss ?? "00"}.${millis}${offset}`);
    return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
  }
  return null;
}

// Billing files repeat the same few dates on every row; remembering recent answers avoids re-parsing them.
const recentDates = new Map<string, IsoDate | null>();

/** Parses any accepted date or instant text to its UTC calendar day, or null. */
export function parseDate(text: string): IsoDate | null {
  const known = recentDates.get(text);
  if (known !== undefined) return known;
  const parsed = parseDateUncached(text);
  if (recentDates.size > 4096) recentDates.clear();
  recentDates.set(text, parsed);
  return parsed;
}

function parseDateUncached(text: string): IsoDate | null {
  const dateOnly = ISO_DATE_ONLY.exec(text);
  if (dateOnly) return validDay(Number(dateOnly[1]), Number(dateOnly[2]), Number(dateOnly[3])) ? text : null;
  const instant = parseInstant(text);
  return instant ? instant.slice(0, 10) : null;
}

export function dateToEpochDay(date: IsoDate): number {
  return Math.round(Date.parse(`${date}T00:00:00Z`) / 86_400_000);
}

/** Whole days from `from` to `to` (inclusive of both ends: Jun 18 → Jun 18 is 1 day). */
export function daysInclusive(from: IsoDate, to: IsoDate): number {
  return dateToEpochDay(to) - dateToEpochDay(from) + 1;
}

export function addDays(date: IsoDate, days: number): IsoDate {
  const d = new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/**
 * The same day `months` calendar months later (earlier when negative); a day the target month lacks becomes
 * its last day (Jan 31 + 1 month = Feb 28/29).
 */
export function addMonths(date: IsoDate, months: number): IsoDate {
  const [year, month, day] = date.split("-").map(Number) as [number, number, number];
  const target = new Date(Date.UTC(year, month - 1 + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target.toISOString().slice(0, 10);
}
