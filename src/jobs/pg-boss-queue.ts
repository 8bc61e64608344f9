import { randomUUID } from "node:crypto";
import pg from "pg";
import PgBoss from "pg-boss";
import { z } from "zod";
import { isDeadlock, pgSetupLock } from "../store/setup-lock.ts";
import { assertTimeZone, parseCron } from "./cron.ts";
import { defaultErrorReporter, defaultLeaseReporter, errorMessage, type ExpiredLease } from "./errors.ts";
import {
  assertJobName,
  encodeJobData,
  resolveSendOptions,
  type Job,
  type JobHandler,
  type JobQueue,
  type ScheduleInfo,
  type ScheduleOptions,
  type SendOptions,
  type StopOptions,
  type WorkOptions,
} from "./queue.ts";
import { WorkerPool, type ClaimedJob, type JobStorage } from "./worker-pool.ts";

export type PgBossQueueOptions = {
  /** How often an idle queue looks for due jobs. Default 1000 ms. */
  pollIntervalMs?: number;
  /**
   * Seconds a claimed job stays reserved without a heartbeat (whole seconds, ≥ 1). Heartbeats renew it
   * every third of this. A job whose lease ran out (its process died) is made runnable again at once by the
   * next lease check of any live process (every sixth of this), so another worker starts it within about
   * leaseSeconds × 7/6 + pollIntervalMs. Default 60.
   */
  leaseSeconds?: number;
  /** How often pg-boss's archiving of finished jobs runs (once across all processes). Default 60 s. */
  maintenanceIntervalSeconds?: number;
  /** How often this process looks for schedules installed elsewhere, to relay their jobs. Default 60 s. */
  scheduleRefreshSeconds?: number;
  /** PostgreSQL schema pg-boss keeps its tables in. Default "pgboss". */
  schema?: string;
  /** Connections shared by pg-boss and this driver. Default 5. */
  poolSize?: number;
  onError?: (error: unknown, context: string) => void;
  /** Hears of every job whose process stopped holding it (lease expired); default: a line on stderr. */
  onLeaseExpired?: (job: ExpiredLease) => void;
};

export type PgBossJobQueue = JobQueue & {
  /** The underlying pg-boss instance (inspection and maintenance, e.g. getSchedules or maintain). */
  readonly boss: PgBoss;
  /** Runs one poll cycle now; resolves once claimed jobs started. */
  poll(): Promise<void>;
};

/**
 * pg-boss 10 allows one schedule per queue and sends the cron job into the queue named like the schedule,
 * so every cspsync schedule gets its own relay queue whose jobs re-send the target job.
 */
export const SCHEDULE_QUEUE_PREFIX = "cspsync.schedule.";

export function scheduleQueueName(scheduleName: string): string {
  return `${SCHEDULE_QUEUE_PREFIX}${scheduleName}`;
}

const relayPayload = z.object({
  jobName: z.string().min(1),
  data: z.unknown(),
  options: z
    .object({
      retryLimit: z.number().optional(),
      retryDelaySeconds: z.number().optional(),
      retryBackoff: z.boolean().optional(),
      startAfterSeconds: z.number().optional(),
      serialKey: z.string().optional(),
    })
    .default({}),
});

const scheduleRow = z.object({
  name: z.string(),
  cron: z.string(),
  timezone: z.string().nullable().optional(),
  data: relayPayload,
});

/**
 * The PostgreSQL driver on pg-boss 10. pg-boss stores the jobs (one queue per job name, policy "short":
 * its unique index keeps one queued job per singletonKey, which is the serialKey dedup), computes retries
 * with backoff in `fail`, expires lost leases in its maintenance and runs cron schedules with time zones.
 *
 * Claiming is this driver's own SQL instead of pg-boss's `work`: pg-boss's fetch tries the oldest job even
 * when its key is already running and then returns nothing, so one busy key would stall every other key in
 * the queue. The claim below skips keys that are running, serialised per queue by an advisory lock so two
 * processes cannot start the same key at once. It follows pg-boss 10's job table (plans.js fetchNextJob).
 *
 * Lease expiry is this driver's too (pg-boss's supervisor is off): pg-boss would hold a job whose worker died
 * back for its retry delay (a minute or more for syncs, after a maintenance interval of its own); here it is
 * runnable again as soon as the lease check sees it, counted as an attempt. Creating pg-boss's schema and
 * queue tables happens under cspsync's set-up lock: processes creating the same queue at once deadlock.
 */
export function createPgBossQueue(
  connectionString: string,
  options: PgBossQueueOptions = {},
): PgBossJobQueue {
  const schema = options.schema ?? "pgboss";
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,49}$/.test(schema)) {
    throw new RangeError(`Invalid pg-boss schema name "${schema}"`);
  }
  const leaseSeconds = options.leaseSeconds ?? 60;
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1) {
    throw new RangeError("leaseSeconds must be a whole number ≥ 1 for pg-boss");
  }
  const onError = options.onError ?? defaultErrorReporter;
  const onLeaseExpired = options.onLeaseExpired ?? defaultLeaseReporter;
  let closed = false;
  const pool = new pg.Pool({ connectionString, max: options.poolSize ?? 5 });
  // Once the queue is stopping, a connection the server closes is part of shutting down, not a failure.
  pool.on("error", (error) => {
    if (!closed) onError(error, "PostgreSQL connection");
  });
  const boss = new PgBoss({
    db: { executeSql: (text: string, values: unknown[]) => pool.query(text, values) },
    schema,
    // Lease expiry and archiving run in PgBossStorage.maintain instead.
    supervise: false,
  });
  boss.on("error", (error) => onError(error, "pg-boss"));
  const setupLock = pgSetupLock(pool);

  const knownQueues = new Set<string>();
  async function ensureQueue(name: string, policy: PgBoss.QueuePolicy): Promise<void> {
    if (knownQueues.has(name)) return;
    if ((await boss.getQueue(name))?.policy !== policy) {
      await setupLock(() =>
        retryOnDeadlock(async () => {
          await boss.createQueue(name, { name, policy });
          const queue = await boss.getQueue(name);
          if (queue && queue.policy !== policy) await boss.updateQueue(name, { name, policy });
        }),
      );
    }
    knownQueues.add(name);
  }

  async function send<T>(name: string, data: T, sendOptions?: SendOptions): Promise<string | null> {
    assertJobName(name);
    const resolved = resolveSendOptions(sendOptions);
    await whenReady();
    await ensureQueue(name, "short");
    const id = randomUUID();
    const result = await boss.send(
      name,
      // Passed as JSON text: pg would turn a top-level array into a PostgreSQL array, not jsonb.
      encodeJobData(data) as unknown as object,
      {
        id,
        // Jobs without a serialKey get a key of their own, so the "short" policy never merges them.
        singletonKey: resolved.serialKey === null ? `unique:${id}` : `serial:${resolved.serialKey}`,
        retryLimit: resolved.retryLimit,
        retryDelay: Math.ceil(resolved.retryDelaySeconds),
        retryBackoff: resolved.retryBackoff,
        ...(resolved.startAfterSeconds > 0 ? { startAfter: resolved.startAfterSeconds } : {}),
        expireInSeconds: leaseSeconds,
      },
    );
    if (result) workers.wake();
    return result;
  }

  async function relay(job: Job<unknown>): Promise<void> {
    const payload = relayPayload.parse(job.data);
    await send(payload.jobName, payload.data, payload.options);
  }

  let lastScheduleRefresh = Number.NEGATIVE_INFINITY;
  async function refreshRelays(force = false): Promise<void> {
    const refreshMs = (options.scheduleRefreshSeconds ?? 60) * 1000;
    if (!force && Date.now() - lastScheduleRefresh < refreshMs) return;
    lastScheduleRefresh = Date.now();
    for (const row of await boss.getSchedules()) {
      if (row.name.startsWith(SCHEDULE_QUEUE_PREFIX) && !workers.has(row.name)) {
        workers.register(row.name, relay as JobHandler<unknown>, 1);
      }
    }
  }

  const storage = new PgBossStorage(pool, boss, {
    schema,
    leaseSeconds,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 60,
    onLeaseExpired,
    refreshRelays: () => refreshRelays(),
  });
  const workers = new WorkerPool(storage, {
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    heartbeatIntervalMs: Math.floor((leaseSeconds * 1000) / 3),
    onError,
  });
  let ready: Promise<unknown> | undefined;
  // pg-boss installs or migrates its schema on start; sending needs that too, so it happens on first use.
  const whenReady = async (): Promise<void> => {
    if (closed) throw new Error("This job queue was stopped; create a new one");
    await (ready ??= setupLock(() => boss.start()));
  };
  const workNames: string[] = [];

  return {
    boss,
    async start() {
      if (workers.started) return;
      await whenReady();
      for (const name of workNames) await ensureQueue(name, "short");
      await refreshRelays(true);
      workers.start();
    },
    async stop(stopOptions: StopOptions = {}) {
      if (closed) return;
      closed = true;
      const graceful = stopOptions.graceful ?? true;
      await workers.stop(graceful);
      if (ready) {
        await ready.catch(() => undefined);
        await boss.stop({ graceful, close: false, wait: true });
      }
      await pool.end();
    },
    async work<T>(name: string, handler: JobHandler<T>, workOptions: WorkOptions = {}) {
      assertJobName(name);
      workers.register(name, handler as JobHandler<unknown>, workOptions.concurrency ?? 1);
      workNames.push(name);
      if (workers.started) await ensureQueue(name, "short");
    },
    send,
    async schedule(scheduleName, cron, jobName, data, scheduleOptions: ScheduleOptions) {
      const { tz, ...sendOptions } = scheduleOptions;
      assertJobName(scheduleName, "schedule name");
      assertJobName(jobName);
      parseCron(cron);
      const timeZone = assertTimeZone(tz);
      resolveSendOptions(sendOptions);
      encodeJobData(data); // refuse data that would not survive the JSON trip before storing anything
      const relayQueue = scheduleQueueName(scheduleName);
      await whenReady();
      knownQueues.delete(relayQueue); // it may have been deleted by an unschedule elsewhere
      await ensureQueue(relayQueue, "standard");
      await ensureQueue(jobName, "short");
      const payload = { jobName, data: data ?? null, options: sendOptions };
      await boss.schedule(relayQueue, cron.trim().split(/\s+/).join(" "), payload, { tz: timeZone });
      if (!workers.has(relayQueue)) workers.register(relayQueue, relay as JobHandler<unknown>, 1);
    },
    async unschedule(scheduleName) {
      const relayQueue = scheduleQueueName(scheduleName);
      await whenReady();
      await boss.unschedule(relayQueue);
      await setupLock(() => retryOnDeadlock(() => boss.deleteQueue(relayQueue)));
      knownQueues.delete(relayQueue);
    },
    async schedules(): Promise<ScheduleInfo[]> {
      await whenReady();
      const rows = await boss.getSchedules();
      return rows
        .filter((row) => row.name.startsWith(SCHEDULE_QUEUE_PREFIX))
        .map((raw) => {
          const row = scheduleRow.parse(raw);
          return {
            name: row.name.slice(SCHEDULE_QUEUE_PREFIX.length),
            cron: row.cron,
            timeZone: row.timezone ?? "UTC",
            jobName: row.data.jobName,
            data: row.data.data,
          };
        })
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async poll() {
      await workers.poll();
    },
  };
}

/** Runs `work` again (up to three times) when PostgreSQL broke a deadlock by rolling it back. */
async function retryOnDeadlock<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isDeadlock(error) || attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.random() * 100));
    }
  }
}

type StorageSettings = {
  schema: string;
  leaseSeconds: number;
  maintenanceIntervalSeconds: number;
  onLeaseExpired: (job: ExpiredLease) => void;
  refreshRelays: () => Promise<void>;
};

const LEASE_EXPIRED_MESSAGE = "The job's lease expired: the process running it stopped";

class PgBossStorage implements JobStorage {
  readonly #pool: pg.Pool;
  readonly #boss: PgBoss;
  readonly #schema: string;
  readonly #leaseSeconds: number;
  readonly #settings: StorageSettings;
  #lastLeaseCheck = Number.NEGATIVE_INFINITY;
  #lastArchive = Number.NEGATIVE_INFINITY;

  constructor(pool: pg.Pool, boss: PgBoss, settings: StorageSettings) {
    this.#pool = pool;
    this.#boss = boss;
    this.#schema = settings.schema;
    this.#leaseSeconds = settings.leaseSeconds;
    this.#settings = settings;
  }

  async maintain(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastLeaseCheck >= (this.#leaseSeconds * 1000) / 6) {
      this.#lastLeaseCheck = now;
      await this.#recoverExpiredLeases();
    }
    if (now - this.#lastArchive >= this.#settings.maintenanceIntervalSeconds * 1000) {
      this.#lastArchive = now;
      await this.#archive();
    }
    await this.#settings.refreshRelays();
  }

  /**
   * A job whose lease ran out belongs to a process that died (or lost its database): it is runnable again at
   * once while retries remain, else failed. Any live process does this for every queue.
   */
  async #recoverExpiredLeases(): Promise<void> {
    const { rows } = await this.#pool.query<{ id: string; name: string; state: string; attempt: number }>(
      `UPDATE ${this.#schema}.job SET
         state = CASE WHEN retry_count < retry_limit THEN 'retry' ELSE 'failed' END::${this.#schema}.job_state,
         start_after = CASE WHEN retry_count < retry_limit THEN now() ELSE start_after END,
         completed_on = CASE WHEN retry_count < retry_limit THEN NULL ELSE now() END,
         output = jsonb_build_object('message', $1::text)
       WHERE state = 'active' AND (started_on + expire_in) < now()
       RETURNING id, name, state::text AS state, retry_count + 1 AS attempt`,
      [LEASE_EXPIRED_MESSAGE],
    );
    for (const row of rows) {
      this.#settings.onLeaseExpired({
        id: row.id,
        name: row.name,
        attempt: Number(row.attempt),
        retried: row.state === "retry",
      });
    }
  }

  /** pg-boss's archiving and deletion of old jobs, at most once per interval across all processes. */
  async #archive(): Promise<void> {
    const { rows } = await this.#pool.query(
      `UPDATE ${this.#schema}.version SET maintained_on = now()
       WHERE EXTRACT(EPOCH FROM (now() - COALESCE(maintained_on, now() - interval '1 week'))) > $1
       RETURNING true`,
      [this.#settings.maintenanceIntervalSeconds],
    );
    if (rows.length === 0) return;
    await this.#boss.archive();
    // pg-boss 10 has drop() (deletes old archived jobs); its type declarations call it purge().
    await (this.#boss as unknown as { drop(): Promise<void> }).drop();
  }

  async claim(name: string): Promise<ClaimedJob | null> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `cspsync.job-claim:${this.#schema}:${name}`,
      ]);
      const { rows } = await client.query<{
        id: string;
        data: unknown;
        retry_count: number;
        started: string;
      }>(this.#claimSql(), [name, this.#leaseSeconds]);
      await client.query("COMMIT");
      const row = rows[0];
      if (!row) return null;
      // started_on identifies this run: a late outcome from a run whose lease was lost matches nothing.
      return { id: row.id, name, data: row.data, attempt: row.retry_count + 1, token: row.started };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  #claimSql(): string {
    const job = `${this.#schema}.job`;
    return `
      WITH next AS (
        SELECT j.id
        FROM ${job} j
        WHERE j.name = $1
          AND j.state < 'active'
          AND j.start_after < now()
          AND NOT EXISTS (
            SELECT 1 FROM ${job} a
            WHERE a.name = $1 AND a.state = 'active' AND a.singleton_key = j.singleton_key
          )
        ORDER BY j.priority DESC, j.created_on, j.id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${job} j SET
        state = 'active',
        started_on = now(),
        expire_in = $2 * interval '1 second',
        retry_count = CASE WHEN j.started_on IS NOT NULL THEN j.retry_count + 1 ELSE j.retry_count END
      FROM next
      WHERE j.name = $1 AND j.id = next.id
      RETURNING j.id, j.data, j.retry_count, j.started_on::text AS started`;
  }

  async complete(job: ClaimedJob): Promise<void> {
    await this.#pool.query(
      `UPDATE ${this.#schema}.job SET state = 'completed', completed_on = now()
       WHERE name = $1 AND id = $2 AND state = 'active' AND started_on = $3::timestamptz`,
      [job.name, job.id, job.token],
    );
  }

  /**
   * Retry or failed, with the backoff delay, as pg-boss's fail computes them (plans.js failJobs), but only for
   * this run: a run whose lease was lost and whose job was started again elsewhere changes nothing.
   */
  async fail(job: ClaimedJob, error: unknown): Promise<void> {
    const retry = "retry_count < retry_limit";
    const delay = "retry_delay * 2 ^ LEAST(16, retry_count + 1) / 2";
    await this.#pool.query(
      `UPDATE ${this.#schema}.job SET
         state = CASE WHEN ${retry} THEN 'retry' ELSE 'failed' END::${this.#schema}.job_state,
         start_after = CASE
           WHEN NOT (${retry}) THEN start_after
           WHEN NOT retry_backoff THEN now() + retry_delay * interval '1 second'
           ELSE now() + (${delay} + ${delay} * random()) * interval '1 second'
         END,
         completed_on = CASE WHEN ${retry} THEN NULL ELSE now() END,
         output = jsonb_build_object('message', $4::text)
       WHERE name = $1 AND id = $2 AND state = 'active' AND started_on = $3::timestamptz`,
      [job.name, job.id, job.token, errorMessage(error)],
    );
  }

  async extendLeases(jobs: readonly ClaimedJob[]): Promise<void> {
    for (const job of jobs) {
      await this.#pool.query(
        `UPDATE ${this.#schema}.job SET expire_in = (now() - started_on) + $4 * interval '1 second'
         WHERE name = $1 AND id = $2 AND state = 'active' AND started_on = $3::timestamptz`,
        [job.name, job.id, job.token, this.#leaseSeconds],
      );
    }
  }
}
