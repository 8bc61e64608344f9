import { randomUUID } from "node:crypto";
import pg from "pg";
import { PgBoss, type QueuePolicy, type SendOptions as PgBossSendOptions } from "pg-boss";
import { z } from "zod";
import { isDeadlock, pgSetupLock } from "../store/setup-lock.ts";
import { assertTimeZone, parseCron } from "./cron.ts";
import { defaultErrorReporter, defaultLeaseReporter, errorMessage, type ExpiredLease } from "./errors.ts";
import {
  assertJobName,
  encodeJobData,
  resolveSendOptions,
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
  /** How often this process deletes finished jobs older than `retentionDays`. Default 60 s. */
  maintenanceIntervalSeconds?: number;
  /** Completed and failed jobs are deleted this many days after they finished. Default 7. */
  retentionDays?: number;
  /** PostgreSQL schema pg-boss keeps its tables in. Default "pgboss". */
  schema?: string;
  /** Connections shared by pg-boss and this driver. Default 5. */
  poolSize?: number;
  onError?: (error: unknown, context: string) => void;
  /** Hears of every job whose process stopped holding it (lease expired); default: a line on stderr. */
  onLeaseExpired?: (job: ExpiredLease) => void;
};

export type PgBossJobQueue = JobQueue & {
  /** The underlying pg-boss instance (inspection and maintenance, e.g. getSchedules). */
  readonly boss: PgBoss;
  /** Runs one poll cycle now; resolves once claimed jobs started. */
  poll(): Promise<void>;
};

/**
 * pg-boss 10 allowed one schedule per queue, so cspsync 0.x installed every schedule on a relay queue of
 * this prefix whose jobs re-sent the target job. pg-boss 12 keys schedules by (queue, key): a schedule now
 * sends its job straight into the job's queue, keyed by the schedule name. Relay schedules and queues left
 * by an older cspsync are removed on start.
 */
const LEGACY_RELAY_PREFIX = "cspsync.schedule.";

/** The schema version pg-boss 10 left; pg-boss 12 migrates only from 25 (pg-boss 11) on. */
const PG_BOSS_10_SCHEMA_VERSION = 24;

/** Every cspsync job queue has the "short" policy: at most one queued job per singletonKey (serialKey dedup). */
const JOB_QUEUE_POLICY: QueuePolicy = "short";

const scheduleRow = z.object({
  name: z.string(),
  key: z.string(),
  cron: z.string(),
  timezone: z.string().nullable().optional(),
  data: z.unknown().optional(),
});

/** The singletonKey a job is stored with: its serialKey, or (without one) a key of its own so "short" never merges it. */
function singletonKeyFor(options: ResolvedSendOptions, id: string): string {
  return options.serialKey === null ? `unique:${id}` : `serial:${options.serialKey}`;
}

/** cspsync's send options as pg-boss's (retry delays in whole seconds; the lease is the job's expiry). */
function pgBossSendOptions(options: ResolvedSendOptions, leaseSeconds: number): PgBossSendOptions {
  return {
    retryLimit: options.retryLimit,
    retryDelay: Math.ceil(options.retryDelaySeconds),
    retryBackoff: options.retryBackoff,
    ...(options.startAfterSeconds > 0 ? { startAfter: options.startAfterSeconds } : {}),
    expireInSeconds: leaseSeconds,
  };
}

/**
 * The PostgreSQL driver on pg-boss 12. pg-boss stores the jobs (one queue per job name, policy "short":
 * its unique index keeps one queued job per singletonKey, which is the serialKey dedup), installs and
 * migrates its schema and runs cron schedules with time zones (its timekeeper sends each occurrence
 * straight into the job's queue; schedules are keyed by cspsync's schedule name).
 *
 * Claiming is this driver's own SQL instead of pg-boss's `work`: pg-boss's fetch takes the oldest job of a
 * "short" queue even when its key is already running (its key_strict_fifo policy, which skips busy keys,
 * has no dedup and lets a failed job block its key for good), so the claim below skips keys that are
 * running, serialised per queue by an advisory lock so two processes cannot start the same key at once. It
 * follows pg-boss 12's job table (plans.js fetchNextJob).
 *
 * Lease expiry is this driver's too (pg-boss's supervisor is off): pg-boss would fail a job whose worker
 * died and hold it back for its retry delay (a minute or more for syncs); here it is runnable again as soon
 * as the lease check sees it, counted as an attempt. For the same reason retention is a plain delete of
 * finished jobs here rather than pg-boss's maintenance. Creating pg-boss's schema and queues happens under
 * cspsync's set-up lock: processes creating the same queue at once deadlock.
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
    db: { executeSql: (text: string, values?: unknown[]) => pool.query(text, values) },
    schema,
    // Lease expiry and retention run in PgBossStorage.maintain instead.
    supervise: false,
  });
  boss.on("error", (error) => onError(error, "pg-boss"));
  const setupLock = pgSetupLock(pool);

  const knownQueues = new Set<string>();
  async function ensureQueue(name: string): Promise<void> {
    if (knownQueues.has(name)) return;
    const existing = await boss.getQueue(name);
    if (!existing) {
      await setupLock(() => retryOnDeadlock(() => boss.createQueue(name, { policy: JOB_QUEUE_POLICY })));
    } else if (existing.policy !== JOB_QUEUE_POLICY) {
      // pg-boss 12 cannot change a queue's policy; a queue made by something else is not ours to work.
      throw new Error(
        `pg-boss queue "${name}" has policy "${existing.policy}", cspsync needs "${JOB_QUEUE_POLICY}"`,
      );
    }
    knownQueues.add(name);
  }

  async function send<T>(name: string, data: T, sendOptions?: SendOptions): Promise<string | null> {
    assertJobName(name);
    const resolved = resolveSendOptions(sendOptions);
    const json = JSON.parse(encodeJobData(data)) as object | null;
    await whenReady();
    await ensureQueue(name);
    const id = randomUUID();
    const result = await boss.send(name, json, {
      id,
      singletonKey: singletonKeyFor(resolved, id),
      ...pgBossSendOptions(resolved, leaseSeconds),
    });
    if (result) workers.wake();
    return result;
  }

  /** The stored schedules of a cspsync schedule name (one, unless an install was interrupted). */
  async function schedulesNamed(scheduleName: string) {
    return (await boss.getSchedules()).filter((row) => row.key === scheduleName);
  }

  const storage = new PgBossStorage(pool, {
    schema,
    leaseSeconds,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 60,
    retentionDays: options.retentionDays ?? 7,
    onLeaseExpired,
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
    await (ready ??= setupLock(async () => {
      const legacy = await setAsideSchemaOfPgBoss10(pool, schema);
      await boss.start();
      if (legacy) await copyWaitingJobs(pool, legacy, boss, leaseSeconds);
      await removeLegacyRelays(boss);
    }));
  };
  const workNames: string[] = [];

  return {
    boss,
    async start() {
      if (workers.started) return;
      await whenReady();
      for (const name of workNames) await ensureQueue(name);
      workers.start();
    },
    async stop(stopOptions: StopOptions = {}) {
      if (closed) return;
      closed = true;
      const graceful = stopOptions.graceful ?? true;
      await workers.stop(graceful);
      if (ready) {
        await ready.catch(() => undefined);
        await boss.stop({ graceful, close: false });
      }
      await pool.end();
    },
    async work<T>(name: string, handler: JobHandler<T>, workOptions: WorkOptions = {}) {
      assertJobName(name);
      workers.register(name, handler as JobHandler<unknown>, workOptions.concurrency ?? 1);
      workNames.push(name);
      if (workers.started) await ensureQueue(name);
    },
    send,
    async schedule(scheduleName, cron, jobName, data, scheduleOptions: ScheduleOptions) {
      const { tz, ...sendOptions } = scheduleOptions;
      assertJobName(scheduleName, "schedule name");
      assertJobName(jobName);
      const expression = parseCron(cron);
      const timeZone = assertTimeZone(tz);
      const resolved = resolveSendOptions(sendOptions);
      // Refuse data that would not survive the JSON trip before storing anything. Passed as JSON text: pg
      // would turn a top-level array into a PostgreSQL array, not jsonb.
      const json = encodeJobData(data) as unknown as object;
      await whenReady();
      await ensureQueue(jobName);
      // A schedule name is unique across job names (as in the local driver): moving it to another job
      // removes it from the old one.
      for (const row of await schedulesNamed(scheduleName)) {
        if (row.name !== jobName) await boss.unschedule(row.name, row.key);
      }
      await boss.schedule(jobName, expression, json, {
        tz: timeZone,
        key: scheduleName,
        // Without a serialKey every fired job would share the empty singletonKey of the "short" queue, so
        // a second firing while the first is still queued would be merged: keyless schedules get a key.
        singletonKey:
          resolved.serialKey === null ? `schedule:${scheduleName}` : `serial:${resolved.serialKey}`,
        ...pgBossSendOptions(resolved, leaseSeconds),
      });
    },
    async unschedule(scheduleName) {
      await whenReady();
      for (const row of await schedulesNamed(scheduleName)) await boss.unschedule(row.name, row.key);
    },
    async schedules(): Promise<ScheduleInfo[]> {
      await whenReady();
      return (await boss.getSchedules())
        .map((raw) => {
          const row = scheduleRow.parse(raw);
          return {
            name: row.key,
            cron: row.cron,
            timeZone: row.timezone ?? "UTC",
            jobName: row.name,
            data: row.data ?? null,
          };
        })
        .filter((row) => row.name !== "")
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async poll() {
      await workers.poll();
    },
  };
}

/**
 * pg-boss 12 cannot migrate pg-boss 10's schema (it migrates from pg-boss 11's on). A pg-boss 10 schema is
 * renamed to `<schema>_v10` so that pg-boss 12 installs a fresh one; the jobs still waiting in it are then
 * copied (copyWaitingJobs) and its history stays where it is. Returns the new name, or null when there was
 * nothing to set aside. Runs under the set-up lock, so exactly one process does it.
 */
async function setAsideSchemaOfPgBoss10(pool: pg.Pool, schema: string): Promise<string | null> {
  const exists = await pool.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [
    `${schema}.version`,
  ]);
  if (!exists.rows[0]?.found) return null; // a fresh database
  const { rows } = await pool.query<{ version: number }>(`SELECT version FROM ${schema}.version`);
  const version = rows[0]?.version;
  if (version === undefined || Number(version) > PG_BOSS_10_SCHEMA_VERSION) return null;
  const legacy = `${schema}_v10`;
  await pool.query(`ALTER SCHEMA ${schema} RENAME TO ${legacy}`);
  return legacy;
}

/**
 * Sends the jobs that were waiting (created or retry) in a pg-boss 10 schema into pg-boss 12 with their
 * id, data, key, retry settings and due time; relay jobs are left out (their schedules are re-installed).
 */
async function copyWaitingJobs(pool: pg.Pool, legacy: string, boss: PgBoss, leaseSeconds: number) {
  const { rows } = await pool.query<{
    id: string;
    name: string;
    data: unknown;
    singleton_key: string | null;
    retry_limit: number;
    retry_delay: number;
    retry_backoff: boolean;
    start_after: Date;
  }>(
    `SELECT id, name, data, singleton_key, retry_limit, retry_delay, retry_backoff, start_after
     FROM ${legacy}.job WHERE state IN ('created', 'retry') AND name NOT LIKE $1 ORDER BY created_on`,
    [`${LEGACY_RELAY_PREFIX}%`],
  );
  const queues = new Set<string>();
  for (const row of rows) {
    if (!queues.has(row.name)) {
      await boss.createQueue(row.name, { policy: JOB_QUEUE_POLICY });
      queues.add(row.name);
    }
    await boss.send(row.name, row.data as object | null, {
      id: row.id,
      singletonKey: row.singleton_key ?? `unique:${row.id}`,
      retryLimit: row.retry_limit,
      retryDelay: row.retry_delay,
      retryBackoff: row.retry_backoff,
      startAfter: row.start_after,
      expireInSeconds: leaseSeconds,
    });
  }
}

/** Removes the relay schedules and queues of cspsync on pg-boss 10 (see LEGACY_RELAY_PREFIX). */
async function removeLegacyRelays(boss: PgBoss): Promise<void> {
  for (const queue of await boss.getQueues()) {
    if (queue.name.startsWith(LEGACY_RELAY_PREFIX)) await boss.deleteQueue(queue.name);
  }
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
  retentionDays: number;
  onLeaseExpired: (job: ExpiredLease) => void;
};

const LEASE_EXPIRED_MESSAGE = "The job's lease expired: the process running it stopped";

class PgBossStorage implements JobStorage {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #leaseSeconds: number;
  readonly #settings: StorageSettings;
  #lastLeaseCheck = Number.NEGATIVE_INFINITY;
  #lastRetention = Number.NEGATIVE_INFINITY;

  constructor(pool: pg.Pool, settings: StorageSettings) {
    this.#pool = pool;
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
    if (now - this.#lastRetention >= this.#settings.maintenanceIntervalSeconds * 1000) {
      this.#lastRetention = now;
      await this.#deleteOldJobs();
    }
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
       WHERE state = 'active' AND (started_on + expire_seconds * interval '1 second') < now()
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

  /** Finished jobs are kept `retentionDays` for inspection, then deleted (idempotent in every process). */
  async #deleteOldJobs(): Promise<void> {
    await this.#pool.query(
      `DELETE FROM ${this.#schema}.job
       WHERE state IN ('completed', 'failed', 'cancelled') AND completed_on < now() - $1 * interval '1 day'`,
      [this.#settings.retentionDays],
    );
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
          AND NOT j.blocked
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
        expire_seconds = $2,
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
        `UPDATE ${this.#schema}.job
         SET expire_seconds = ceil(extract(epoch FROM now() - started_on))::int + $4
         WHERE name = $1 AND id = $2 AND state = 'active' AND started_on = $3::timestamptz`,
        [job.name, job.id, job.token, this.#leaseSeconds],
      );
    }
  }
}
