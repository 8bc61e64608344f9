import { dialectOf, type Store } from "../store/db.ts";
import { createLocalQueue, type LocalQueueOptions } from "./local-queue.ts";
import { createPgBossQueue, type PgBossQueueOptions } from "./pg-boss-queue.ts";
import type { JobQueue } from "./queue.ts";

export type JobQueueOptions = { local?: LocalQueueOptions; pgBoss?: PgBossQueueOptions };

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
  return store.dialect === "postgres"
    ? createPgBossQueue(databaseUrl, options.pgBoss)
    : createLocalQueue(store, options.local);
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
