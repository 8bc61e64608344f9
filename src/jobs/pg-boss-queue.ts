import { randomUUID } from "node:crypto";
import pg from "pg";
import PgBoss from "pg-boss";
import { z } from "zod";
import { assertTimeZone, parseCron } from "./cron.ts";
import { defaultErrorReporter } from "./errors.ts";
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
   * every third of this; pg-boss's maintenance retries jobs whose lease ran out. Default 60.
   */
  leaseSeconds?: number;
  /** How often pg-boss's maintenance runs (lease expiry, archiving). Default 60 s. */
  maintenanceIntervalSeconds?: number;
  /** How often this process looks for schedules installed elsewhere, to relay their jobs. Default 60 s. */
  scheduleRefreshSeconds?: number;
  /** PostgreSQL schema pg-boss keeps its tables in. Default "pgboss". */
  schema?: string;
  /** Connections shared by pg-boss and this driver. Default 5. */
  poolSize?: number;
  onError?: (error: unknown, context: string) => void;
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
  let closed = false;
  const pool = new pg.Pool({ connectionString, max: options.poolSize ?? 5 });
  // Once the queue is stopping, a connection the server closes is part of shutting down, not a failure.
  pool.on("error", (error) => {
    if (!closed) onError(error, "PostgreSQL connection");
  });
  const boss = new PgBoss({
    db: { executeSql: (text: string, values: unknown[]) => pool.query(text, values) },
    schema,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 60,
  });
  boss.on("error", (error) => onError(error, "pg-boss"));

  const knownQueues = new Set<string>();
  async function ensureQueue(name: string, policy: PgBoss.QueuePolicy): Promise<void> {
    if (knownQueues.has(name)) return;
    await boss.createQueue(name, { name, policy });
    const queue = await boss.getQueue(name);
    if (queue && queue.policy !== policy) await boss.updateQueue(name, { name, policy });
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

  const storage = new PgBossStorage(pool, boss, schema, leaseSeconds, () => refreshRelays());
  const workers = new WorkerPool(storage, {
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    heartbeatIntervalMs: Math.floor((leaseSeconds * 1000) / 3),
    onError,
  });
  let ready: Promise<unknown> | undefined;
  // pg-boss installs or migrates its schema on start; sending needs that too, so it happens on first use.
  const whenReady = async (): Promise<void> => {
    if (closed) throw new Error("This job queue was stopped; create a new one");
    await (ready ??= boss.start());
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
      await boss.deleteQueue(relayQueue);
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

class PgBossStorage implements JobStorage {
  readonly #pool: pg.Pool;
  readonly #boss: PgBoss;
  readonly #schema: string;
  readonly #leaseSeconds: number;
  readonly #maintain: () => Promise<void>;

  constructor(
    pool: pg.Pool,
    boss: PgBoss,
    schema: string,
    leaseSeconds: number,
    maintain: () => Promise<void>,
  ) {
    this.#pool = pool;
    this.#boss = boss;
    this.#schema = schema;
    this.#leaseSeconds = leaseSeconds;
    this.#maintain = maintain;
  }

  maintain(): Promise<void> {
    return this.#maintain();
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

  async fail(job: ClaimedJob, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    // pg-boss decides retry or failed and the backoff delay from the job's retry settings.
    await this.#boss.fail(job.name, job.id, { message });
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
