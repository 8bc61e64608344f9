import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TimeZoneError } from "../../src/jobs/cron.ts";
import type { JobQueue } from "../../src/jobs/queue.ts";
import {
  DAILY_CHECK_JOB,
  DAILY_CHECK_SCHEDULE,
  DailyTimeError,
  dailyCron,
  installDailyCheckSchedule,
  removeDailyCheckSchedule,
} from "../../src/jobs/scheduler.ts";

type ScheduleCall = Parameters<JobQueue["schedule"]>;

function recordingQueue() {
  const scheduled: ScheduleCall[] = [];
  const unscheduled: string[] = [];
  const queue: Pick<JobQueue, "schedule" | "unschedule"> = {
    async schedule(...args: ScheduleCall) {
      scheduled.push(args);
    },
    async unschedule(name: string) {
      unscheduled.push(name);
    },
  };
  return { queue, scheduled, unscheduled };
}

describe("dailyCron", () => {
  it("turns HH:MM into a once-a-day cron expression", () => {
    assert.equal(dailyCron("06:30"), "30 6 * * *");
    assert.equal(dailyCron("00:00"), "0 0 * * *");
    assert.equal(dailyCron("23:59"), "59 23 * * *");
  });

  for (const bad of ["24:00", "12:60", "6:30", "06:3", "0630", "06:30:00", "", "noon", "-1:00"]) {
    it(`rejects ${JSON.stringify(bad)} with a clear message`, () => {
      assert.throws(
        () => dailyCron(bad),
        (error: unknown) =>
          error instanceof DailyTimeError &&
          error.message.includes(JSON.stringify(bad)) &&
          /HH:MM in 24-hour time, from 00:00 to 23:59/.test(error.message),
      );
    });
  }
});

describe("installDailyCheckSchedule", () => {
  it("installs the daily check at the given time and zone and reports when it fires next", async () => {
    const { queue, scheduled } = recordingQueue();
    const installed = await installDailyCheckSchedule(queue, {
      time: "06:00",
      timeZone: "europe/berlin",
      now: new Date("2025-03-29T12:00:00Z"),
    });
    assert.deepEqual(installed, {
      scheduleName: DAILY_CHECK_SCHEDULE,
      jobName: DAILY_CHECK_JOB,
      cron: "0 6 * * *",
      timeZone: "Europe/Berlin",
      nextRunAt: new Date("2025-03-30T04:00:00Z"), // 06:00 CEST, the day clocks go forward
    });
    assert.deepEqual(scheduled, [
      [
        DAILY_CHECK_SCHEDULE,
        "0 6 * * *",
        DAILY_CHECK_JOB,
        {},
        { serialKey: DAILY_CHECK_SCHEDULE, tz: "Europe/Berlin" },
      ],
    ]);
  });

  it("re-installs under the same schedule name when the time changes", async () => {
    const { queue, scheduled } = recordingQueue();
    await installDailyCheckSchedule(queue, { time: "06:00", timeZone: "UTC" });
    await installDailyCheckSchedule(queue, {
      time: "07:15",
      timeZone: "UTC",
      data: { organizationId: "default" },
    });
    assert.deepEqual(
      scheduled.map(([name, cron, , data]) => [name, cron, data]),
      [
        [DAILY_CHECK_SCHEDULE, "0 6 * * *", {}],
        [DAILY_CHECK_SCHEDULE, "15 7 * * *", { organizationId: "default" }],
      ],
    );
  });

  it("validates both inputs before storing anything", async () => {
    const { queue, scheduled } = recordingQueue();
    await assert.rejects(
      installDailyCheckSchedule(queue, { time: "25:00", timeZone: "UTC" }),
      DailyTimeError,
    );
    await assert.rejects(
      installDailyCheckSchedule(queue, { time: "06:00", timeZone: "Europe/Atlantis" }),
      (error: unknown) =>
        error instanceof TimeZoneError && /Unknown time zone "Europe\/Atlantis"/.test(error.message),
    );
    assert.deepEqual(scheduled, []);
  });

  it("removes the schedule by name", async () => {
    const { queue, unscheduled } = recordingQueue();
    await removeDailyCheckSchedule(queue);
    await removeDailyCheckSchedule(queue, "daily-check:org-2");
    assert.deepEqual(unscheduled, [DAILY_CHECK_SCHEDULE, "daily-check:org-2"]);
  });
});
