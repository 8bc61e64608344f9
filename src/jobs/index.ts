import { dialectOf, type Store } from "../store/db.ts";
import { createLocalQueue, type LocalQueueOptions } from "./local-queue.ts";
import { createPgBossQueue, type PgBossQueueOptions } from "./pg-boss-queue.ts";
import type { ExpiredLease } from "./errors.ts";
import type { JobHandler, JobLogger, JobQueue } from "./queue.ts";

export type JobQueueOptions = {
  local?: LocalQueueOptions;
  pgBoss?: PgBossQueueOptions;
  /**
   * Where failed jobs, lost leases and background failures (polling, heartbeats, the database connection) are
   * reported, with job id, name and attempt; without it the drivers write a line on stderr. A driver's own
   * onError / onLeaseExpired option still wins.
   */
  logger?: JobLogger;
};

/**
 * The job queue for cspsync's database: pg-boss on PostgreSQL (its own `pgboss` schema in the same
 * database), the embedded local queue on SQLite.
 */
export function createJobQueue(store: Store, databaseUrl: string, options: JobQueueOptions = {}): JobQueue {
  if (dialectOf(databaseUrl) !== store.dialect) {
    throw new Error(
      `The job queue's database URL (${dialectOf(databaseUrl)}) does not match the store (${store.dialect})`,
    );
  }
  const { logger } = options;
  const reporters = logger ? logReporters(logger) : {};
  const queue =
    store.dialect === "postgres"
      ? createPgBossQueue(databaseUrl, { ...reporters, ...options.pgBoss })
      : createLocalQueue(store, { ...reporters, ...options.local });
  if (logger) logJobFailures(queue, logger);
  return queue;
}

function logReporters(logger: JobLogger) {
  return {
    onError: (error: unknown, context: string) =>
      logger.error({ err: error, context }, `job queue: ${context} failed`),
    onLeaseExpired: (job: ExpiredLease) =>
      logger.warn(
        { jobId: job.id, jobName: job.name, attempt: job.attempt, retried: job.retried },
        job.retried
          ? "a job's worker stopped while running it (lease expired); it runs again now"
          : "a job's worker stopped while running it (lease expired); no retries left, the job failed",
      ),
  };
}

/**
 * A handler's failure is recorded on the job (and retried by its policy); it is also logged, with the job and
 * the error, so an operator sees it where everything else is. Wraps `work` of this queue instance.
 */
function logJobFailures(queue: JobQueue, logger: JobLogger): void {
  const work = queue.work.bind(queue);
  queue.work = <T>(name: string, handler: JobHandler<T>, options?: Parameters<JobQueue["work"]>[2]) =>
    work<T>(
      name,
      async (job) => {
        try {
          await handler(job);
        } catch (error) {
          logger.error(
            { err: error, jobId: job.id, jobName: job.name, attempt: job.attempt },
            `"${job.name}" job failed: ${error instanceof Error ? error.message : String(error)}`,
          );
          throw error;
        }
      },
      options,
    );
}

export type * from "./queue.ts";
export type { ExpiredLease } from "./errors.ts";
export { DEFAULT_RETRY } from "./queue.ts";
export { CronError, TimeZoneError, assertTimeZone, nextCronTime, parseCron } from "./cron.ts";
export { createLocalQueue, type LocalJobQueue, type LocalQueueOptions } from "./local-queue.ts";
export { ensureJobTables } from "./local-tables.ts";
export { createPgBossQueue, type PgBossJobQueue, type PgBossQueueOptions } from "./pg-boss-queue.ts";
export {
  DAILY_CHECK_JOB,
  DailyTimeError,
  DAILY_CHECK_SCHEDULE,
  dailyCron,
  installDailyCheckSchedule,
  removeDailyCheckSchedule,
  type DailyCheckOptions,
  type DailyCheckSchedule,
} from "./scheduler.ts";
