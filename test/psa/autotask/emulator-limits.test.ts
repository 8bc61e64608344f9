import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_LIMITS, RequestThreshold, ThreadCounter } from "../../../emulators/autotask/limits.ts";

describe("emulator request limits (docs/autotask.md §10)", () => {
  it("docs/autotask.md §10 counts requests over a rolling window and frees them as it slides", () => {
    let now = 0;
    const threshold = new RequestThreshold({ ...DEFAULT_LIMITS, hourlyThreshold: 4 }, () => now);
    for (let index = 0; index < 4; index += 1) {
      threshold.record();
      now += 60_000;
    }
    assert.equal(threshold.isExhausted(), true);
    assert.equal(threshold.secondsUntilSlotFrees(), 3600 - 240);
    now = 3_600_000; // the first request (at 0) leaves the 60-minute window
    assert.equal(threshold.count(), 3);
    assert.equal(threshold.isExhausted(), false);
    assert.deepEqual(threshold.info(), {
      externalRequestThreshold: 4,
      requestThresholdTimeframe: 60,
      currentTimeframeRequestCount: 3,
    });
  });

  it("docs/autotask.md §10 latency tiers: none under 50 %, 0.5 s from 50 %, 1 s from 75 %, scalable", () => {
    const threshold = new RequestThreshold({ ...DEFAULT_LIMITS, hourlyThreshold: 8 }, () => 0);
    const tiers: number[] = [];
    for (let index = 0; index < 8; index += 1) {
      tiers.push(threshold.usageLatencyMs());
      threshold.record();
    }
    assert.deepEqual(tiers, [0, 0, 0, 0, 500, 500, 1000, 1000]);
    const scaled = new RequestThreshold(
      { ...DEFAULT_LIMITS, hourlyThreshold: 2, usageLatencyScale: 0 },
      () => 0,
    );
    scaled.record();
    scaled.record();
    assert.equal(scaled.usageLatencyMs(), 0);
  });

  it("docs/autotask.md §10 allows 3 concurrent requests per (integration code, endpoint) and remembers the peak", () => {
    const threads = new ThreadCounter();
    const contracts = ThreadCounter.key("CODE", "Contracts");
    assert.deepEqual(
      [1, 2, 3, 4].map(() => threads.tryEnter(contracts, 3)),
      [true, true, true, false],
    );
    assert.equal(threads.tryEnter(ThreadCounter.key("code", "Companies"), 3), true);
    assert.equal(threads.tryEnter(ThreadCounter.key("OTHER", "Contracts"), 3), true);
    threads.leave(contracts);
    assert.equal(threads.tryEnter(contracts, 3), true);
    assert.equal(threads.maxInFlight(contracts), 3);
  });
});
