/**
 * ConnectWise writes and expects date-times as ISO-8601 UTC with `Z` and no fractional seconds,
 * e.g. `2024-01-01T00:00:00Z` (docs/connectwise.md §4).
 */
export type CwDateTime = string;

const ISO_DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
export const CW_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** A Date, a `YYYY-MM-DD` day (midnight UTC) or an ISO instant with a zone, in ConnectWise's form. */
export function toCwDateTime(value: Date | string): CwDateTime {
  const date = typeof value === "string" ? parseIso(value) : value;
  if (Number.isNaN(date.getTime())) throw new RangeError(`invalid date: ${String(value)}`);
  return `${date.toISOString().slice(0, 19)}Z`;
}

function parseIso(text: string): Date {
  if (ISO_DATE_ONLY.test(text)) return new Date(`${text}T00:00:00Z`);
  if (ISO_WITH_ZONE.test(text)) return new Date(text);
  throw new RangeError(`not an ISO-8601 date with a time zone: ${JSON.stringify(text)}`);
}

export function isCwDateTime(text: string): boolean {
  return CW_DATE_TIME.test(text) && !Number.isNaN(Date.parse(text));
}
