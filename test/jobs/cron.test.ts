import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CronError,
  TimeZoneError,
  assertTimeZone,
  cronMatches,
  instantOfWallTime,
  nextCronTime,
  parseCron,
  wallTimeAt,
  type WallTime,
} from "../../src/jobs/cron.ts";

function wall(text: string): WallTime {
  const [date, time] = text.split(" ") as [string, string];
  const [year, month, day] = date.split("-").map(Number) as [number, number, number];
  const [hour, minute] = time.split(":").map(Number) as [number, number];
  return { year, month, day, hour, minute, second: 0 };
}

function next(cron: string, timeZone: string, after: string): string {
  return nextCronTime(cron, timeZone, new Date(after)).toISOString();
}

/** Successive firing instants after `after`. */
function firings(cron: string, timeZone: string, after: string, count: number): string[] {
  const result: string[] = [];
  let cursor = new Date(after);
  for (let i = 0; i < count; i += 1) {
    cursor = nextCronTime(cron, timeZone, cursor);
    result.push(cursor.toISOString());
  }
  return result;
}

describe("cron parsing", () => {
  it("expands *, numbers, ranges, steps and lists", () => {
    const cron = parseCron("*/15 9-17/4 1,15,20-22 * 1-5");
    assert.deepEqual(cron.minutes, [0, 15, 30, 45]);
    assert.deepEqual(cron.hours, [9, 13, 17]);
    assert.deepEqual(
      [...cron.daysOfMonth].sort((a, b) => a - b),
      [1, 15, 20, 21, 22],
    );
    assert.equal(cron.months.size, 12);
    assert.deepEqual([...cron.daysOfWeek].sort(), [1, 2, 3, 4, 5]);
  });

  it("reads a/n as 'from a to the end, every n', and names for months and days", () => {
    const cron = parseCron("5/20 0 * jan,JUL-aug sun,7");
    assert.deepEqual(cron.minutes, [5, 25, 45]);
    assert.deepEqual(
      [...cron.months].sort((a, b) => a - b),
      [1, 7, 8],
    );
    assert.deepEqual([...cron.daysOfWeek], [0]); // 7 is Sunday too
  });

  it("tolerates surrounding and repeated whitespace", () => {
    assert.deepEqual(parseCron("  0   6 * *  * ").hours, [6]);
  });

  for (const [expression, message] of [
    ["* * * *", /must have 5 fields.*found 4/],
    ["", /must have 5 fields.*found 0/],
    ["60 * * * *", /minute "60".*out of range 0-59/],
    ["* 24 * * *", /hour "24".*out of range 0-23/],
    ["* * 0 * *", /day-of-month "0".*out of range 1-31/],
    ["* * * 13 *", /month "13".*out of range 1-12/],
    ["* * * * 8", /day-of-week "8".*out of range 0-7/],
    ["*/0 * * * *", /step "0" must be a positive integer/],
    ["10-5 * * * *", /range 10-5 runs backwards/],
    ["1,,2 * * * *", /empty list item/],
    ["a * * * *", /"a" is not a number/],
    ["1-2-3 * * * *", /cannot read range/],
    ["L * * * *", /"L" is not a number/],
  ] as const) {
    it(`rejects "${expression}" with a clear message`, () => {
      assert.throws(
        () => parseCron(expression),
        (error: unknown) => error instanceof CronError && message.test(error.message),
      );
    });
  }
});

describe("cron matching", () => {
  it("matches the minute, hour and day fields", () => {
    const cron = parseCron("30 6 * * 1-5");
    assert.equal(cronMatches(cron, wall("2025-06-02 06:30")), true); // Monday
    assert.equal(cronMatches(cron, wall("2025-06-02 06:31")), false);
    assert.equal(cronMatches(cron, wall("2025-06-02 07:30")), false);
    assert.equal(cronMatches(cron, wall("2025-06-01 06:30")), false); // Sunday
  });

  it("fires when EITHER day field matches if both are restricted (classic cron)", () => {
    const cron = parseCron("0 0 13 * 5"); // the 13th, or any Friday
    assert.equal(cronMatches(cron, wall("2025-06-13 00:00")), true); // Friday the 13th
    assert.equal(cronMatches(cron, wall("2025-07-13 00:00")), true); // a Sunday, but the 13th
    assert.equal(cronMatches(cron, wall("2025-06-06 00:00")), true); // a Friday
    assert.equal(cronMatches(cron, wall("2025-06-07 00:00")), false);
  });

  it("needs both day fields when one of them starts with *", () => {
    const cron = parseCron("0 0 */2 * 5"); // odd days that are Fridays
    assert.equal(cronMatches(cron, wall("2025-06-13 00:00")), true);
    assert.equal(cronMatches(cron, wall("2025-06-06 00:00")), false); // Friday, even day
    assert.equal(cronMatches(cron, wall("2025-06-15 00:00")), false); // odd day, Sunday
  });

  it("agrees with nextCronTime for every minute of a day", () => {
    const cron = parseCron("*/7 8-9 * * *");
    let cursor = new Date("2025-06-02T00:00:00Z");
    const fired: string[] = [];
    while (cursor < new Date("2025-06-03T00:00:00Z")) {
      cursor = nextCronTime(cron, "UTC", cursor);
      if (cursor >= new Date("2025-06-03T00:00:00Z")) break;
      assert.equal(cronMatches(cron, wallTimeAt("UTC", cursor)), true);
      fired.push(cursor.toISOString().slice(11, 16));
    }
    assert.equal(fired.length, 18);
    assert.equal(fired[0], "08:00");
    assert.equal(fired.at(-1), "09:56");
  });
});

describe("cron in a time zone", () => {
  it("fires at the wall-clock time of the zone", () => {
    // 06:00 in Berlin is 05:00Z in winter (CET) and 04:00Z in summer (CEST).
    assert.equal(next("0 6 * * *", "Europe/Berlin", "2025-01-10T12:00:00Z"), "2025-01-11T05:00:00.000Z");
    assert.equal(next("0 6 * * *", "Europe/Berlin", "2025-07-10T12:00:00Z"), "2025-07-11T04:00:00.000Z");
    assert.equal(next("0 6 * * *", "America/New_York", "2025-07-10T12:00:00Z"), "2025-07-11T10:00:00.000Z");
  });

  it("is strictly after the given instant, even within the firing minute", () => {
    assert.equal(next("0 6 * * *", "UTC", "2025-01-10T06:00:00Z"), "2025-01-11T06:00:00.000Z");
    assert.equal(next("0 6 * * *", "UTC", "2025-01-10T06:00:30Z"), "2025-01-11T06:00:00.000Z");
    assert.equal(next("0 6 * * *", "UTC", "2025-01-10T05:59:59.999Z"), "2025-01-10T06:00:00.000Z");
  });

  it("keeps a daily time across the spring-forward transition (Europe/Berlin 2025-03-30)", () => {
    assert.deepEqual(firings("0 6 * * *", "Europe/Berlin", "2025-03-28T12:00:00Z", 3), [
      "2025-03-29T05:00:00.000Z",
      "2025-03-30T04:00:00.000Z",
      "2025-03-31T04:00:00.000Z",
    ]);
  });

  it("runs a time skipped by spring-forward once, shifted by the gap (02:30 → 03:30 CEST)", () => {
    assert.deepEqual(firings("30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", 2), [
      "2025-03-30T01:30:00.000Z", // 03:30 CEST
      "2025-03-31T00:30:00.000Z", // 02:30 CEST
    ]);
  });

  it("runs a time repeated by fall-back only once, on its first occurrence (Europe/Berlin 2025-10-26)", () => {
    assert.deepEqual(firings("30 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", 2), [
      "2025-10-26T00:30:00.000Z", // 02:30 CEST; the 02:30 CET an hour later is skipped
      "2025-10-27T01:30:00.000Z",
    ]);
  });

  it("does not repeat the fall-back hour for sub-hourly schedules (America/New_York 2025-11-02)", () => {
    assert.deepEqual(firings("*/30 * * * *", "America/New_York", "2025-11-02T04:45:00Z", 4), [
      "2025-11-02T05:00:00.000Z", // 01:00 EDT
      "2025-11-02T05:30:00.000Z", // 01:30 EDT
      "2025-11-02T07:00:00.000Z", // 02:00 EST: 01:00 and 01:30 EST are not run again
      "2025-11-02T07:30:00.000Z",
    ]);
  });

  it("handles half-hour DST shifts (Australia/Lord_Howe)", () => {
    // Clocks go from 02:00 to 02:30 on 2025-10-05; 02:15 does not exist and runs at 02:45 (UTC+11).
    assert.equal(
      next("15 2 * * *", "Australia/Lord_Howe", "2025-10-04T12:00:00Z"),
      "2025-10-04T15:45:00.000Z",
    );
  });

  it("converts wall times to instants with the earlier occurrence for ambiguous times", () => {
    assert.equal(
      instantOfWallTime("America/New_York", wall("2025-11-02 01:30")).toISOString(),
      "2025-11-02T05:30:00.000Z",
    );
    assert.equal(
      instantOfWallTime("America/New_York", wall("2025-03-09 02:30")).toISOString(),
      "2025-03-09T07:30:00.000Z", // 03:30 EDT
    );
    assert.deepEqual(wallTimeAt("Asia/Kolkata", new Date("2025-01-01T00:00:00Z")), wall("2025-01-01 05:30"));
  });

  it("finds the next 29 February and refuses expressions that never fire", () => {
    assert.equal(next("0 0 29 2 *", "UTC", "2025-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
    assert.throws(
      () => nextCronTime("0 0 31 2 *", "UTC", new Date("2025-01-01T00:00:00Z")),
      (error: unknown) => error instanceof CronError && /never fires/.test(error.message),
    );
  });
});

describe("time zone validation", () => {
  it("accepts IANA names, keeping the given name with canonical capitals", () => {
    assert.equal(assertTimeZone("Europe/Berlin"), "Europe/Berlin");
    assert.equal(assertTimeZone("europe/berlin"), "Europe/Berlin");
    assert.equal(assertTimeZone("UTC"), "UTC");
    assert.equal(assertTimeZone("America/Argentina/Buenos_Aires"), "America/Argentina/Buenos_Aires");
    assert.equal(assertTimeZone("Asia/Kolkata"), "Asia/Kolkata");
  });

  for (const bad of ["Mars/Olympus_Mons", "+02:00", "", "Europe/Berlin ", "GMT+2 hours"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => assertTimeZone(bad),
        (error: unknown) =>
          error instanceof TimeZoneError && /time zone/.test(error.message) && /IANA/.test(error.message),
      );
    });
  }
});
