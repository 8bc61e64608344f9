/**
 * The pure checks of a schedule's wall-clock time and time zone: what the organization's settings (services)
 * validate and what both job drivers (src/jobs) schedule with. Kept in core so that services need nothing from
 * the job layer above them (docs/architecture.md §1).
 */

export class TimeZoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimeZoneError";
  }
}

/**
 * Checks that `timeZone` is an IANA zone name the runtime knows and returns it (with canonical capitals).
 * Fixed offsets ("+02:00") and abbreviations are refused: schedules must follow the zone's DST rules.
 */
export function assertTimeZone(timeZone: string): string {
  const hint = 'expected an IANA time zone name such as "Europe/Berlin", "America/New_York" or "UTC"';
  if (typeof timeZone !== "string" || !/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(timeZone)) {
    throw new TimeZoneError(`Invalid time zone "${String(timeZone)}": ${hint}`);
  }
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new TimeZoneError(`Unknown time zone "${timeZone}": ${hint}`);
  }
  // ICU resolves some current names to older aliases (Asia/Kolkata → Asia/Calcutta); keep the user's
  // name and only take ICU's capitalisation.
  return resolved.toLowerCase() === timeZone.toLowerCase() ? resolved : timeZone;
}

export class DailyTimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DailyTimeError";
  }
}

const DAILY_TIME = /^(\d{2}):(\d{2})$/;

/** "HH:MM" (24-hour, 00:00–23:59) → the cron expression that fires once a day at that wall-clock time. */
export function dailyCron(time: string): string {
  const { hour, minute } = parseDailyTime(time);
  return `${minute} ${hour} * * *`;
}

function parseDailyTime(time: string): { hour: number; minute: number } {
  const match = typeof time === "string" ? DAILY_TIME.exec(time.trim()) : null;
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (!match || hour > 23 || minute > 59) {
    throw new DailyTimeError(
      `Invalid daily time "${String(time)}": expected HH:MM in 24-hour time, from 00:00 to 23:59 (e.g. "06:30")`,
    );
  }
  return { hour, minute };
}
