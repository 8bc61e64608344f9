/**
 * A small 5-field cron matcher (minute hour day-of-month month day-of-week) evaluated in an IANA time zone.
 * Supports `*`, numbers, ranges `a-b`, steps `*\/n` `a-b/n` `a/n`, lists `a,b-c`, month names (JAN-DEC)
 * and day names (SUN-SAT); day-of-week 7 is Sunday like 0.
 *
 * Day matching follows classic (Vixie) cron: when both day-of-month and day-of-week are restricted
 * (neither field starts with `*`), a day matches if EITHER matches; otherwise both must match.
 *
 * Daylight-saving transitions follow classic cron too: a wall time skipped by a spring-forward jump fires
 * once, shifted forward by the jump (02:30 → 03:30); a wall time repeated by a fall-back fires only on its
 * first occurrence.
 */

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

export class TimeZoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimeZoneError";
  }
}

type FieldSpec = { label: string; min: number; max: number; names?: readonly string[] };

const FIELDS: readonly FieldSpec[] = [
  { label: "minute", min: 0, max: 59 },
  { label: "hour", min: 0, max: 23 },
  { label: "day-of-month", min: 1, max: 31 },
  {
    label: "month",
    min: 1,
    max: 12,
    names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
  },
  { label: "day-of-week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];

export type CronSchedule = {
  readonly expression: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday (7 is folded into 0). */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
};

/** A local calendar time in some time zone; month is 1-12. */
export type WallTime = {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
};

export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 || fields[0] === "") {
    throw new CronError(
      `Cron expression "${expression}" must have 5 fields (minute hour day-of-month month day-of-week); ` +
        `found ${fields[0] === "" ? 0 : fields.length}`,
    );
  }
  const values = fields.map((field, index) => parseField(field, FIELDS[index] as FieldSpec, expression));
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = values as [
    number[],
    number[],
    number[],
    number[],
    number[],
  ];
  return {
    expression,
    minutes,
    hours,
    daysOfMonth: new Set(daysOfMonth),
    months: new Set(months),
    daysOfWeek: new Set(daysOfWeek.map((day) => day % 7)),
    dayOfMonthRestricted: !(fields[2] as string).startsWith("*"),
    dayOfWeekRestricted: !(fields[4] as string).startsWith("*"),
  };
}

function parseField(field: string, spec: FieldSpec, expression: string): number[] {
  const fail = (detail: string): never => {
    throw new CronError(`Cron field ${spec.label} "${field}" in "${expression}" is invalid: ${detail}`);
  };
  const selected = new Set<number>();
  for (const part of field.split(",")) {
    if (part === "") fail("empty list item");
    const [range, stepText, ...extra] = part.split("/");
    if (extra.length > 0 || range === undefined || range === "") fail(`cannot read "${part}"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1)
        fail(`step "${stepText}" must be a positive integer`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === "*") {
      from = spec.min;
      to = spec.max;
    } else {
      const bounds = (range as string).split("-");
      if (bounds.length > 2) fail(`cannot read range "${range}"`);
      from = parseValue(bounds[0] as string, spec, fail);
      // `a/n` means "from a to the end of the field, every n" like classic cron.
      to = bounds.length === 2 ? parseValue(bounds[1] as string, spec, fail) : stepText ? spec.max : from;
      if (from > to) fail(`range ${from}-${to} runs backwards`);
    }
    for (let value = from; value <= to; value += step) selected.add(value);
  }
  return [...selected].sort((a, b) => a - b);
}

function parseValue(text: string, spec: FieldSpec, fail: (detail: string) => never): number {
  const named = spec.names?.findIndex((name) => name === text.toUpperCase()) ?? -1;
  if (named >= 0) return spec.label === "month" ? named + 1 : named;
  if (!/^\d+$/.test(text)) return fail(`"${text}" is not a number`);
  const value = Number(text);
  if (value < spec.min || value > spec.max) return fail(`${value} is out of range ${spec.min}-${spec.max}`);
  return value;
}

function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

function dayMatches(schedule: CronSchedule, year: number, month: number, day: number): boolean {
  if (!schedule.months.has(month)) return false;
  const byMonthDay = schedule.daysOfMonth.has(day);
  const byWeekDay = schedule.daysOfWeek.has(dayOfWeek(year, month, day));
  if (schedule.dayOfMonthRestricted && schedule.dayOfWeekRestricted) return byMonthDay || byWeekDay;
  return byMonthDay && byWeekDay;
}

/** Whether the schedule fires at the given wall-clock minute (seconds are ignored). */
export function cronMatches(schedule: CronSchedule, wall: WallTime): boolean {
  return (
    schedule.minutes.includes(wall.minute) &&
    schedule.hours.includes(wall.hour) &&
    dayMatches(schedule, wall.year, wall.month, wall.day)
  );
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
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

/** The wall-clock time at `instant` in `timeZone`. */
export function wallTimeAt(timeZone: string, instant: Date): WallTime {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

function wallAsUtcMs(wall: WallTime): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

/** The zone's offset from UTC at `instantMs`, in milliseconds. */
function offsetAt(timeZone: string, instantMs: number): number {
  const wholeSecond = Math.floor(instantMs / 1000) * 1000;
  return wallAsUtcMs(wallTimeAt(timeZone, new Date(wholeSecond))) - wholeSecond;
}

const DAY_MS = 86_400_000;

/**
 * The instant a wall-clock time denotes in `timeZone`. An ambiguous time (DST fall-back) resolves to its
 * earlier occurrence; a skipped time (spring-forward gap) is shifted forward by the length of the gap.
 */
export function instantOfWallTime(timeZone: string, wall: WallTime): Date {
  const asUtc = wallAsUtcMs(wall);
  const offsetBefore = offsetAt(timeZone, asUtc - DAY_MS);
  const offsetAfter = offsetAt(timeZone, asUtc + DAY_MS);
  const candidates = [...new Set([asUtc - offsetBefore, asUtc - offsetAfter])]
    .filter((candidate) => wallAsUtcMs(wallTimeAt(timeZone, new Date(candidate))) === asUtc)
    .sort((a, b) => a - b);
  const earliest = candidates[0];
  if (earliest !== undefined) return new Date(earliest);
  // Inside a gap: reading the wall time with the pre-transition offset lands just after the jump.
  return new Date(asUtc - offsetBefore);
}

const SEARCH_DAYS = 366 * 8 + 2; // long enough to reach the next 29 February

/** The first instant strictly after `after` at which the schedule fires in `timeZone`. */
export function nextCronTime(schedule: CronSchedule | string, timeZone: string, after: Date): Date {
  const cron = typeof schedule === "string" ? parseCron(schedule) : schedule;
  const start = wallTimeAt(timeZone, after);
  const day = new Date(Date.UTC(start.year, start.month - 1, start.day));
  for (let index = 0; index < SEARCH_DAYS; index += 1, day.setUTCDate(day.getUTCDate() + 1)) {
    const year = day.getUTCFullYear();
    const month = day.getUTCMonth() + 1;
    const date = day.getUTCDate();
    if (!dayMatches(cron, year, month, date)) continue;
    for (const hour of cron.hours) {
      if (index === 0 && hour < start.hour) continue;
      for (const minute of cron.minutes) {
        if (index === 0 && hour === start.hour && minute <= start.minute) continue;
        const instant = instantOfWallTime(timeZone, { year, month, day: date, hour, minute, second: 0 });
        // A repeated (fall-back) hour maps back to its first occurrence, which may already be past.
        if (instant.getTime() > after.getTime()) return instant;
      }
    }
  }
  throw new CronError(`Cron expression "${cron.expression}" never fires (no matching day within 8 years)`);
}
