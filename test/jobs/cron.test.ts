import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CronError, TimeZoneError, assertTimeZone, nextCronTime, parseCron } from "../../src/jobs/cron.ts";

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

describe("cron parsing (cron-parser, as pg-boss parses)", () => {
  it("accepts the classic forms and returns the expression with normalised whitespace", () => {
    assert.equal(parseCron("*/15 9-17/4 1,15,20-22 * 1-5"), "*/15 9-17/4 1,15,20-22 * 1-5");
    assert.equal(parseCron("5/20 0 * jan,JUL-aug 7"), "5/20 0 * jan,JUL-aug 7");
    assert.equal(parseCron("  0   6 * *  * "), "0 6 * * *");
  });

  for (const [expression, message] of [
    ["* * * *", /must have 5 fields.*found 4/],
    ["", /must have 5 fields.*found 0/],
    ["0 * * * * *", /must have 5 fields.*found 6/],
    ["60 * * * *", /"60 \* \* \* \*" is invalid: .*60.*0-59/],
    ["* 24 * * *", /is invalid: .*24.*0-23/],
    ["* * 0 * *", /is invalid/],
    ["* * * 13 *", /is invalid: .*13/],
    ["*/0 * * * *", /is invalid/],
    ["10-5 * * * *", /is invalid: .*10-5/],
    ["a * * * *", /is invalid/],
    ["0 0 31 2 *", /is invalid/],
  ] as const) {
    it(`rejects "${expression}" with a message naming it`, () => {
      assert.throws(
        () => parseCron(expression),
        (error: unknown) => error instanceof CronError && message.test(error.message),
      );
    });
  }
});

describe("next run time in a time zone", () => {
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

  it("keeps a daily time across spring-forward and fall-back (Europe/Berlin 2025)", () => {
    assert.deepEqual(firings("0 6 * * *", "Europe/Berlin", "2025-03-28T12:00:00Z", 3), [
      "2025-03-29T05:00:00.000Z",
      "2025-03-30T04:00:00.000Z",
      "2025-03-31T04:00:00.000Z",
    ]);
    assert.deepEqual(firings("0 6 * * *", "Europe/Berlin", "2025-10-24T12:00:00Z", 3), [
      "2025-10-25T04:00:00.000Z",
      "2025-10-26T05:00:00.000Z",
      "2025-10-27T05:00:00.000Z",
    ]);
  });

  it("skips a daily time that spring-forward removes, as pg-boss does (02:30 on 2025-03-30 in Berlin)", () => {
    assert.deepEqual(firings("30 2 * * *", "Europe/Berlin", "2025-03-29T00:00:00Z", 2), [
      "2025-03-29T01:30:00.000Z", // 02:30 CET
      "2025-03-31T00:30:00.000Z", // 02:30 CEST: 30 March has no 02:30
    ]);
  });

  it("runs a time repeated by fall-back once, on its first occurrence (Europe/Berlin 2025-10-26)", () => {
    assert.deepEqual(firings("30 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", 2), [
      "2025-10-26T00:30:00.000Z", // 02:30 CEST; the 02:30 CET an hour later is not run
      "2025-10-27T01:30:00.000Z",
    ]);
  });

  it("finds the next 29 February", () => {
    assert.equal(next("0 0 29 2 *", "UTC", "2025-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
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
