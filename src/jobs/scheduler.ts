import { assertTimeZone, dailyCron } from "../core/schedule.ts";
import { nextCronTime } from "./cron.ts";
import type { JobQueue, SendOptions } from "./queue.ts";

/** The schedule that starts cspsync's daily check, and the job it sends. */
export const DAILY_CHECK_SCHEDULE = "daily-check";
export const DAILY_CHECK_JOB = "daily-check";

// The daily time check lives in core (the settings validate with it too).
export { dailyCron, DailyTimeError } from "../core/schedule.ts";

export type DailyCheckSchedule = {
  scheduleName: string;
  jobName: string;
  cron: string;
  timeZone: string;
  /** When it fires next (as the local driver computes it; pg-boss fires within the same minute). */
  nextRunAt: Date;
};

export type DailyCheckOptions = {
  /** "HH:MM", 24-hour wall-clock time in `timeZone`. */
  time: string;
  /** IANA time zone, e.g. "Europe/Berlin"; DST is followed. */
  timeZone: string;
  data?: unknown;
  scheduleName?: string;
  jobName?: string;
  /** Send options of the fired job; by default one queued daily check at a time. */
  sendOptions?: SendOptions;
  now?: Date;
};

/**
 * Installs the daily check schedule, replacing any earlier one with the same name (so changing the time
 * or zone is a re-install). Both inputs are validated before anything is stored.
 */
export async function installDailyCheckSchedule(
  queue: Pick<JobQueue, "schedule">,
  options: DailyCheckOptions,
): Promise<DailyCheckSchedule> {
  const cron = dailyCron(options.time);
  const timeZone = assertTimeZone(options.timeZone);
  const scheduleName = options.scheduleName ?? DAILY_CHECK_SCHEDULE;
  const jobName = options.jobName ?? DAILY_CHECK_JOB;
  const sendOptions = options.sendOptions ?? { serialKey: scheduleName };
  await queue.schedule(scheduleName, cron, jobName, options.data ?? {}, { ...sendOptions, tz: timeZone });
  return {
    scheduleName,
    jobName,
    cron,
    timeZone,
    nextRunAt: nextCronTime(cron, timeZone, options.now ?? new Date()),
  };
}

export async function removeDailyCheckSchedule(
  queue: Pick<JobQueue, "unschedule">,
  scheduleName: string = DAILY_CHECK_SCHEDULE,
): Promise<void> {
  await queue.unschedule(scheduleName);
}
