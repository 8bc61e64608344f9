import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addDays, addMonths, daysInclusive, parseDate, parseInstant } from "../../src/core/dates.ts";

describe("dates from reconciliation data (docs/billing-data.md §3.3)", () => {
  it("reads en-US M/D/YYYY, with and without a time", () => {
    assert.equal(parseDate("6/18/2024"), "2024-06-18");
    assert.equal(parseDate("12/1/2024"), "2024-12-01");
    assert.equal(parseInstant("10/3/2020 2:05:09 PM"), "2020-10-03T14:05:09.000Z");
    assert.equal(parseInstant("10/3/2020 12:00:00 AM"), "2020-10-03T00:00:00.000Z");
  });

  it("reads ISO dates and instants, normalising offsets to UTC", () => {
    assert.equal(parseDate("2021-05-20"), "2021-05-20");
    assert.equal(parseDate("2021-05-20T00:00:00Z"), "2021-05-20");
    assert.equal(parseInstant("2021-05-20T18:30:06.6045692Z"), "2021-05-20T18:30:06.604Z");
    assert.equal(parseInstant("2019-02-04T09:22:40.1767993-08:00"), "2019-02-04T17:22:40.176Z");
    assert.equal(parseDate("2019-02-04T20:22:40-08:00"), "2019-02-05");
    assert.equal(parseInstant("2021-05-01T00:00:00"), "2021-05-01T00:00:00.000Z");
  });

  it("refuses impossible or foreign dates instead of guessing", () => {
    for (const bad of [
      "13/45/2024",
      "2/30/2024",
      "2023-02-29",
      "18.06.2024",
      "June 18, 2024",
      "2024-6-18",
      "",
      "13:00",
    ]) {
      assert.equal(parseDate(bad), null, bad);
    }
    assert.equal(parseDate("2/29/2024"), "2024-02-29");
  });

  it("counts days inclusively and adds days across month and year ends", () => {
    assert.equal(daysInclusive("2024-06-05", "2025-06-04"), 365);
    assert.equal(daysInclusive("2024-06-25", "2025-06-04"), 345);
    assert.equal(daysInclusive("2024-02-01", "2024-02-29"), 29);
    assert.equal(addDays("2024-12-31", 1), "2025-01-01");
    assert.equal(addDays("2024-03-01", -1), "2024-02-29");
  });

  it("adds calendar months forwards and backwards, keeping the day where the month has it", () => {
    assert.equal(addMonths("2025-07-15", -12), "2024-07-15");
    assert.equal(addMonths("2024-07-15", 36), "2027-07-15");
    assert.equal(addMonths("2024-01-31", 1), "2024-02-29");
    assert.equal(addMonths("2025-03-31", -1), "2025-02-28");
    assert.equal(addMonths("2024-11-30", 2), "2025-01-30");
  });
});
