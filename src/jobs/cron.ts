/**
 * Schedules as both job drivers evaluate them. pg-boss evaluates a schedule's cron expression with
 * cron-parser (its timekeeper: `CronExpressionParser.parse(cron, { tz, strict: false, currentDate })`);
 * the embedded driver computes its next run with the same call on the same cron-parser package (one
 * deduplicated copy in package-lock.json), so the two drivers fire a schedule at the same instants,
 * daylight-saving transitions included. See docs/job-schedules.md for what that means for the daily check.
 *
 * cspsync accepts only classic 5-field expressions (minute hour day-of-month month day-of-week) in an IANA
 * time zone: cron-parser's optional seconds field and pg-boss's RFC 5545 rules are not part of the port.
 */
import { CronExpressionParser } from "cron-parser";
import { assertTimeZone } from "../core/schedule.ts";

// The time zone check lives in core (the settings validate with it too); re-exported for the drivers.
export { assertTimeZone, TimeZoneError } from "../core/schedule.ts";

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

/** The options pg-boss's timekeeper parses with; `strict: false` is cron-parser's classic day matching. */
function parse(expression: string, timeZone: string, currentDate?: Date) {
  return CronExpressionParser.parse(expression, {
    tz: timeZone,
    strict: false,
    ...(currentDate ? { currentDate } : {}),
  });
}

/**
 * Checks a 5-field cron expression and returns it with its whitespace normalised (as it is stored).
 * Throws CronError naming the expression and what is wrong with it.
 */
export function parseCron(expression: string): string {
  const fields = typeof expression === "string" ? expression.trim().split(/\s+/) : [];
  const count = fields[0] === "" || fields.length === 0 ? 0 : fields.length;
  if (count !== 5) {
    throw new CronError(
      `Cron expression "${String(expression)}" must have 5 fields (minute hour day-of-month month ` +
        `day-of-week); found ${count}`,
    );
  }
  const normalised = fields.join(" ");
  try {
    parse(normalised, "UTC").next();
  } catch (error) {
    throw new CronError(
      `Cron expression "${expression}" is invalid: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return normalised;
}

/** Occurrences to look at before giving up: a daily schedule loses at most one a year to DST. */
const MAX_CANDIDATES = 1_000;

/**
 * The first instant strictly after `after` at which the schedule fires in `timeZone`, as pg-boss fires it.
 *
 * pg-boss's timekeeper does not walk forwards: every pass (twice a minute) it asks cron-parser for the
 * latest occurrence before now, `prev()`, and sends it when that lies within the last minute. Walking
 * forwards with `next()` gives the same instants except where a DST change makes the two directions
 * disagree: cron-parser's `next()` moves a wall time skipped by spring-forward (02:30 on a day clocks jump
 * from 02:00 to 03:00) to just after the gap, but `prev()` never returns that instant, so pg-boss does not
 * fire it. A candidate counts only when `prev()` from just after it returns it, so the embedded driver fires
 * exactly the instants pg-boss does (docs/job-schedules.md).
 */
export function nextCronTime(expression: string, timeZone: string, after: Date): Date {
  const cron = parseCron(expression);
  const zone = assertTimeZone(timeZone);
  try {
    const forwards = parse(cron, zone, after);
    for (let index = 0; index < MAX_CANDIDATES; index += 1) {
      const candidate = forwards.next().toDate();
      if (firedByPgBoss(cron, zone, candidate)) return candidate;
    }
  } catch (error) {
    throw new CronError(
      `Cron expression "${cron}" has no next run after ${after.toISOString()} in ${timeZone}: ` +
        (error instanceof Error ? error.message : String(error)),
    );
  }
  throw new CronError(`Cron expression "${cron}" never fires in ${timeZone} after ${after.toISOString()}`);
}

/** Whether pg-boss's pass finds `instant`: its `prev()` from a millisecond after it is the instant itself. */
function firedByPgBoss(cron: string, timeZone: string, instant: Date): boolean {
  try {
    const latest = parse(cron, timeZone, new Date(instant.getTime() + 1))
      .prev()
      .toDate();
    return latest.getTime() === instant.getTime();
  } catch {
    // cron-parser gives up walking backwards across some half-hour DST changes; pg-boss skips the row then.
    return false;
  }
}
