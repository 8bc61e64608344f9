/**
 * The job-queue port the sync engine depends on. Two drivers implement it: the embedded local queue
 * (job rows in cspsync's own database, SQLite or PostgreSQL) and pg-boss (PostgreSQL deployments).
 *
 * Delivery is at-least-once: a handler may run again after a crash, so handlers must be idempotent.
 * Job data is stored as JSON; handlers receive the JSON round-trip of what was sent.
 */

export type Job<T> = {
  id: string;
  name: string;
  data: T;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
};

export type JobHandler<T> = (job: Job<T>) => Promise<void>;

export type SendOptions = {
  /** How many times a failed job is retried (so at most retryLimit + 1 runs). Default 2. */
  retryLimit?: number;
  /** Delay before the first retry. Default 30. The pg-boss driver rounds up to whole seconds. */
  retryDelaySeconds?: number;
  /** Double the delay for every further retry. Default true. */
  retryBackoff?: boolean;
  /** Do not run the job before this many seconds have passed. */
  startAfterSeconds?: number;
  /**
   * At most one job with this key runs at a time within a job name (e.g. one sync per PSA connection);
   * a second send while one is queued (not yet started) with the same key and name is deduplicated
   * (send returns null). A send while the only one is running is queued and runs after it.
   */
  serialKey?: string;
};

export type ScheduleOptions = SendOptions & {
  /** IANA time zone the cron expression is evaluated in. */
  tz: string;
};

export type ScheduleInfo = {
  name: string;
  cron: string;
  timeZone: string;
  jobName: string;
  data: unknown;
};

export type WorkOptions = {
  /** Handlers of this job name this process runs at once. Default 1. */
  concurrency?: number;
};

export type StopOptions = {
  /**
   * Default true: stop taking jobs and wait for running handlers to finish. When false, stop at once;
   * jobs still running are left to their lease and are retried by another process after it expires.
   */
  graceful?: boolean;
};

export interface JobQueue {
  /** Starts polling for the job names registered with `work` (and any registered later). */
  start(): Promise<void>;
  stop(options?: StopOptions): Promise<void>;
  /** Registers the handler for a job name; at most one handler per name per queue instance. */
  work<T>(name: string, handler: JobHandler<T>, options?: WorkOptions): Promise<void>;
  /** Queues a job; resolves to its id, or null when deduplicated by `serialKey`. */
  send<T>(name: string, data: T, options?: SendOptions): Promise<string | null>;
  /**
   * Installs (or replaces) a named schedule that sends `jobName` with `data` whenever the 5-field cron
   * expression matches in the time zone. Throws CronError / TimeZoneError for invalid input.
   */
  schedule(
    scheduleName: string,
    cron: string,
    jobName: string,
    data: unknown,
    options: ScheduleOptions,
  ): Promise<void>;
  unschedule(scheduleName: string): Promise<void>;
  schedules(): Promise<ScheduleInfo[]>;
}

/**
 * Where a queue reports what has no caller to throw to: failed jobs, lost leases, polling failures. pino's
 * (object, message) form, so the process's logger fits; the jobs layer needs no logging library of its own.
 */
export type JobLogger = {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
};

export const DEFAULT_RETRY = { retryLimit: 2, retryDelaySeconds: 30, retryBackoff: true } as const;

/** The send options with defaults applied and validated; shared by both drivers. */
export type ResolvedSendOptions = {
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
  startAfterSeconds: number;
  serialKey: string | null;
};

export function resolveSendOptions(options: SendOptions = {}): ResolvedSendOptions {
  const resolved = {
    retryLimit: options.retryLimit ?? DEFAULT_RETRY.retryLimit,
    retryDelaySeconds: options.retryDelaySeconds ?? DEFAULT_RETRY.retryDelaySeconds,
    retryBackoff: options.retryBackoff ?? DEFAULT_RETRY.retryBackoff,
    startAfterSeconds: options.startAfterSeconds ?? 0,
    serialKey: options.serialKey ?? null,
  };
  if (!Number.isInteger(resolved.retryLimit) || resolved.retryLimit < 0) {
    throw new RangeError(`retryLimit must be a whole number ≥ 0, got ${resolved.retryLimit}`);
  }
  for (const key of ["retryDelaySeconds", "startAfterSeconds"] as const) {
    if (!Number.isFinite(resolved[key]) || resolved[key] < 0) {
      throw new RangeError(`${key} must be a number ≥ 0, got ${resolved[key]}`);
    }
  }
  if (resolved.serialKey === "") throw new RangeError("serialKey must not be empty");
  return resolved;
}

/** Seconds to wait before retrying after run number `attempt` failed (1-based). */
export function retryDelaySeconds(
  options: Pick<ResolvedSendOptions, "retryDelaySeconds" | "retryBackoff">,
  attempt: number,
): number {
  if (!options.retryBackoff) return options.retryDelaySeconds;
  return options.retryDelaySeconds * 2 ** Math.min(16, Math.max(0, attempt - 1));
}

export function assertJobName(name: string, what = "job name"): void {
  if (typeof name !== "string" || name.trim() === "" || name.length > 200) {
    throw new RangeError(`Invalid ${what} "${String(name)}": expected 1-200 characters`);
  }
}

/** Job data travels as JSON; refuse values that would not survive the trip instead of losing them silently. */
export function encodeJobData(data: unknown): string {
  const text = JSON.stringify(data ?? null);
  if (text === undefined) throw new TypeError("Job data must be JSON-serializable");
  return text;
}
