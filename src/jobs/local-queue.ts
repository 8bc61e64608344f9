import { randomUUID } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { Store } from "../store/db.ts";
import { assertTimeZone, nextCronTime, parseCron } from "./cron.ts";
import { ensureJobTables, jobDb, type JobDb, type JobTables } from "./local-tables.ts";
import {
  assertJobName,
  encodeJobData,
  resolveSendOptions,
  retryDelaySeconds,
  type JobHandler,
  type JobQueue,
  type ResolvedSendOptions,
  type ScheduleInfo,
  type ScheduleOptions,
  type SendOptions,
  type StopOptions,
  type WorkOptions,
} from "./queue.ts";
import { WorkerPool, type ClaimedJob, type JobStorage } from "./worker-pool.ts";
import {
  defaultErrorReporter,
  defaultLeaseReporter,
  errorMessage,
  isUniqueViolation,
  type ExpiredLease,
} from "./errors.ts";

export type LocalQueueOptions = {
  /** How often an idle queue looks for due jobs and schedules. Default 500 ms. */
  pollIntervalMs?: number;
  /**
   * How long a claimed job stays reserved without a heartbeat. Heartbeats renew it every third of this. A job
   * whose process died is runnable again (counted as a run, without waiting for its retry delay) as soon as
   * a live process polls after the lease ran out: another worker starts it within leaseSeconds +
   * pollIntervalMs. Default 60 s.
   */
  leaseSeconds?: number;
  /** The clock (ms since the epoch) for due times, leases and schedules; tests fast-forward it. */
  now?: () => number;
  /** Completed and failed jobs are deleted this many days after they finished. Default 7. */
  retentionDays?: number;
  onError?: (error: unknown, context: string) => void;
  /** Hears of every job whose process stopped holding it (lease expired); default: a line on stderr. */
  onLeaseExpired?: (job: ExpiredLease) => void;
};

export type LocalJobQueue = JobQueue & {
  /** Runs one poll cycle now (lease recovery, due schedules, claims); resolves once claimed jobs started. */
  poll(): Promise<void>;
};

const RETENTION_SWEEP_MS = 3_600_000;
const MAX_ERROR_LENGTH = 2_000;

type Executor = Kysely<JobTables> | Transaction<JobTables>;

/**
 * The embedded driver: durable job rows in cspsync's own database through Kysely (SQLite or PostgreSQL),
 * run by an in-process poller. Processes sharing the database share the work: claims are single
 * conditional UPDATEs and the serialKey rules are unique indexes.
 */
export function createLocalQueue(store: Store, options: LocalQueueOptions = {}): LocalJobQueue {
  const now = options.now ?? Date.now;
  const leaseMs = Math.round((options.leaseSeconds ?? 60) * 1000);
  if (!(leaseMs > 0)) throw new RangeError("leaseSeconds must be greater than 0");
  const onError = options.onError ?? defaultErrorReporter;
  const db = jobDb(store);
  let ready: Promise<void> | undefined;
  const whenReady = () => (ready ??= ensureJobTables(store));

  const storage = new LocalJobStorage(db, {
    now,
    leaseMs,
    retentionMs: (options.retentionDays ?? 7) * 86_400_000,
    onError,
    onLeaseExpired: options.onLeaseExpired ?? defaultLeaseReporter,
  });
  const pool = new WorkerPool(storage, {
    pollIntervalMs: options.pollIntervalMs ?? 500,
    heartbeatIntervalMs: Math.max(10, Math.floor(leaseMs / 3)),
    onError,
  });

  return {
    async start() {
      await whenReady();
      pool.start();
    },
    async stop(stopOptions: StopOptions = {}) {
      await pool.stop(stopOptions.graceful ?? true);
    },
    async work<T>(name: string, handler: JobHandler<T>, workOptions: WorkOptions = {}) {
      assertJobName(name);
      pool.register(name, handler as JobHandler<unknown>, workOptions.concurrency ?? 1);
    },
    async send<T>(name: string, data: T, sendOptions?: SendOptions) {
      assertJobName(name);
      const resolved = resolveSendOptions(sendOptions);
      await whenReady();
      const id = await insertJob(db, name, encodeJobData(data), resolved, now());
      if (id) pool.wake();
      return id;
    },
    async schedule(scheduleName, cron, jobName, data, scheduleOptions: ScheduleOptions) {
      const { tz, ...sendOptions } = scheduleOptions;
      assertJobName(scheduleName, "schedule name");
      assertJobName(jobName);
      const parsed = parseCron(cron);
      const timeZone = assertTimeZone(tz);
      resolveSendOptions(sendOptions);
      const at = new Date(now());
      const nextRunAt = nextCronTime(parsed, timeZone, at).toISOString();
      await whenReady();
      const row = {
        cron: cron.trim().split(/\s+/).join(" "),
        time_zone: timeZone,
        job_name: jobName,
        data: encodeJobData(data),
        send_options: JSON.stringify(sendOptions),
        next_run_at: nextRunAt,
        updated_at: at.toISOString(),
      };
      await db
        .insertInto("job_schedules")
        .values({ name: scheduleName, created_at: at.toISOString(), ...row })
        .onConflict((conflict) => conflict.column("name").doUpdateSet(row))
        .execute();
      pool.wake();
    },
    async unschedule(scheduleName) {
      await whenReady();
      await db.deleteFrom("job_schedules").where("name", "=", scheduleName).execute();
    },
    async schedules(): Promise<ScheduleInfo[]> {
      await whenReady();
      const rows = await db.selectFrom("job_schedules").selectAll().orderBy("name").execute();
      return rows.map((row) => ({
        name: row.name,
        cron: row.cron,
        timeZone: row.time_zone,
        jobName: row.job_name,
        data: JSON.parse(row.data) as unknown,
      }));
    },
    async poll() {
      await whenReady();
      await pool.poll();
    },
  };
}

async function insertJob(
  executor: Executor,
  name: string,
  dataJson: string,
  options: ResolvedSendOptions,
  nowMs: number,
): Promise<string | null> {
  const id = randomUUID();
  const row = await executor
    .insertInto("job_queue")
    .values({
      id,
      name,
      data: dataJson,
      state: "created",
      serial_key: options.serialKey,
      attempt: 0,
      retry_limit: options.retryLimit,
      retry_delay_ms: Math.round(options.retryDelaySeconds * 1000),
      retry_backoff: options.retryBackoff ? 1 : 0,
      run_after: new Date(nowMs + Math.round(options.startAfterSeconds * 1000)).toISOString(),
      created_at: new Date(nowMs).toISOString(),
    })
    // The only possible conflict is the serialKey "one queued job per key" index: deduplicated.
    .onConflict((conflict) => conflict.doNothing())
    .returning("id")
    .executeTakeFirst();
  return row ? id : null;
}

type StorageSettings = {
  now: () => number;
  leaseMs: number;
  retentionMs: number;
  onError: (error: unknown, context: string) => void;
  onLeaseExpired: (job: ExpiredLease) => void;
};

class LocalJobStorage implements JobStorage {
  readonly #db: JobDb;
  readonly #settings: StorageSettings;
  #lastRetentionSweep = Number.NEGATIVE_INFINITY;

  constructor(db: JobDb, settings: StorageSettings) {
    this.#db = db;
    this.#settings = settings;
  }

  #iso(offsetMs = 0): string {
    return new Date(this.#settings.now() + offsetMs).toISOString();
  }

  async claim(name: string): Promise<ClaimedJob | null> {
    const now = this.#iso();
    const candidates = await this.#db
      .selectFrom("job_queue as j")
      .select("j.id")
      .where("j.name", "=", name)
      .where("j.state", "in", ["created", "retry"])
      .where("j.run_after", "<=", now)
      .where((eb) =>
        eb.or([
          eb("j.serial_key", "is", null),
          eb.not(
            eb.exists(
              eb
                .selectFrom("job_queue as a")
                .select("a.id")
                .whereRef("a.name", "=", "j.name")
                .whereRef("a.serial_key", "=", "j.serial_key")
                .where("a.state", "=", "active"),
            ),
          ),
        ]),
      )
      .orderBy("j.run_after")
      .orderBy("j.created_at")
      .orderBy("j.id")
      .limit(10)
      .execute();
    for (const candidate of candidates) {
      const token = randomUUID();
      try {
        // Conditional on the state, so of two processes racing for one row exactly one wins.
        const row = await this.#db
          .updateTable("job_queue")
          .set((eb) => ({
            state: "active",
            attempt: eb("attempt", "+", 1),
            lease_token: token,
            lease_expires_at: this.#iso(this.#settings.leaseMs),
            started_at: now,
          }))
          .where("id", "=", candidate.id)
          .where("state", "in", ["created", "retry"])
          .returning(["id", "name", "data", "attempt"])
          .executeTakeFirst();
        if (row)
          return { id: row.id, name: row.name, data: JSON.parse(row.data), attempt: row.attempt, token };
      } catch (error) {
        // Another process started a job with the same serialKey first; leave this one queued.
        if (!isUniqueViolation(error)) throw error;
      }
    }
    return null;
  }

  async complete(job: ClaimedJob): Promise<void> {
    await this.#db
      .updateTable("job_queue")
      .set({ state: "completed", finished_at: this.#iso(), lease_token: null, lease_expires_at: null })
      .where("id", "=", job.id)
      .where("lease_token", "=", job.token)
      .where("state", "=", "active")
      .execute();
  }

  async fail(job: ClaimedJob, error: unknown): Promise<void> {
    await this.#failByToken(job.id, job.token, errorMessage(error));
  }

  /**
   * Records a failed run: retry after the job's retry delay while retries remain, else failed. A run whose
   * lease expired (`lostBefore`: only if it expired before then) is retried at once: its process died, which
   * says nothing about the job, so there is nothing to wait for. Returns the new state, or null when the
   * run no longer held the job.
   */
  async #failByToken(
    id: string,
    token: string,
    message: string,
    lostBefore?: string,
  ): Promise<{ state: "retry" | "failed"; attempt: number; name: string } | null> {
    const row = await this.#db
      .selectFrom("job_queue")
      .select(["name", "attempt", "retry_limit", "retry_delay_ms", "retry_backoff"])
      .where("id", "=", id)
      .where("lease_token", "=", token)
      .where("state", "=", "active")
      .executeTakeFirst();
    if (!row) return null; // the lease was lost and the job already handed on; its new run decides
    const retry = row.attempt <= row.retry_limit;
    const delayMs =
      lostBefore !== undefined
        ? 0
        : retryDelaySeconds(
            { retryDelaySeconds: row.retry_delay_ms / 1000, retryBackoff: row.retry_backoff === 1 },
            row.attempt,
          ) * 1000;
    let update = this.#db
      .updateTable("job_queue")
      .set({
        state: retry ? "retry" : "failed",
        run_after: retry ? this.#iso(Math.round(delayMs)) : this.#iso(),
        finished_at: retry ? null : this.#iso(),
        last_error: message.slice(0, MAX_ERROR_LENGTH),
        lease_token: null,
        lease_expires_at: null,
      })
      .where("id", "=", id)
      .where("lease_token", "=", token)
      .where("state", "=", "active");
    if (lostBefore !== undefined) update = update.where("lease_expires_at", "<", lostBefore);
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return null;
    return { state: retry ? "retry" : "failed", attempt: row.attempt, name: row.name };
  }

  async extendLeases(jobs: readonly ClaimedJob[]): Promise<void> {
    await this.#db
      .updateTable("job_queue")
      .set({ lease_expires_at: this.#iso(this.#settings.leaseMs) })
      .where(
        "lease_token",
        "in",
        jobs.map((job) => job.token),
      )
      .where("state", "=", "active")
      .execute();
  }

  async maintain(): Promise<void> {
    await this.#recoverExpiredLeases();
    await this.#fireDueSchedules();
    await this.#sweepFinishedJobs();
  }

  /** A job whose lease ran out belongs to a process that died: count the run as failed and run it again now. */
  async #recoverExpiredLeases(): Promise<void> {
    const now = this.#iso();
    const expired = await this.#db
      .selectFrom("job_queue")
      .select(["id", "lease_token"])
      .where("state", "=", "active")
      .where("lease_expires_at", "<", now)
      .limit(100)
      .execute();
    for (const job of expired) {
      if (job.lease_token === null) continue;
      const outcome = await this.#failByToken(
        job.id,
        job.lease_token,
        "The job's lease expired: the process running it stopped",
        now,
      );
      if (outcome) {
        this.#settings.onLeaseExpired({
          id: job.id,
          name: outcome.name,
          attempt: outcome.attempt,
          retried: outcome.state === "retry",
        });
      }
    }
  }

  async #fireDueSchedules(): Promise<void> {
    const nowMs = this.#settings.now();
    const due = await this.#db
      .selectFrom("job_schedules")
      .selectAll()
      .where("next_run_at", "<=", new Date(nowMs).toISOString())
      .execute();
    for (const schedule of due) {
      try {
        const nextRunAt = nextCronTime(schedule.cron, schedule.time_zone, new Date(nowMs)).toISOString();
        const sendOptions = resolveSendOptions(JSON.parse(schedule.send_options) as SendOptions);
        await this.#db.transaction().execute(async (trx) => {
          // Moving next_run_at on from the value we read is the claim: one process fires each run.
          const claimed = await trx
            .updateTable("job_schedules")
            .set({ next_run_at: nextRunAt, updated_at: new Date(nowMs).toISOString() })
            .where("name", "=", schedule.name)
            .where("next_run_at", "=", schedule.next_run_at)
            .executeTakeFirst();
          if (Number(claimed.numUpdatedRows) !== 1) return;
          await insertJob(trx, schedule.job_name, schedule.data, sendOptions, nowMs);
        });
      } catch (error) {
        this.#settings.onError(error, `firing schedule "${schedule.name}"`);
      }
    }
  }

  async #sweepFinishedJobs(): Promise<void> {
    const nowMs = this.#settings.now();
    if (nowMs - this.#lastRetentionSweep < RETENTION_SWEEP_MS) return;
    this.#lastRetentionSweep = nowMs;
    await this.#db
      .deleteFrom("job_queue")
      .where("state", "in", ["completed", "failed"])
      .where("finished_at", "<", new Date(nowMs - this.#settings.retentionMs).toISOString())
      .execute();
  }
}
