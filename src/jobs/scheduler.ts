import { assertTimeZone, nextCronTime } from "./cron.ts";
import type { JobQueue, SendOptions } from "./queue.ts";

/** The schedule that starts cspsync's daily check, and the job it sends. */
export const DAILY_CHECK_SCHEDULE = "daily-check";
export const DAILY_CHECK_JOB = "daily-check";

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
