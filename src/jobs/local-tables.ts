import { sql, type Kysely } from "kysely";
import type { Store } from "../store/db.ts";

/** States of a local job row. `retry` = failed (or lease lost) and waiting for its next attempt. */
export type LocalJobState = "created" | "retry" | "active" | "completed" | "failed";

/** Tables of the local driver. Instants are ISO-8601 UTC strings, which sort by time on both dialects. */
export type JobQueueTable = {
  id: string;
  name: string;
  /** JSON text of the job data. */
  data: string;
  state: LocalJobState;
  serial_key: string | null;
  /** Runs started so far. */
  attempt: number;
  retry_limit: number;
  retry_delay_ms: number;
  retry_backoff: 0 | 1;
  run_after: string;
  lease_token: string | null;
  lease_expires_at: string | null;
  last_error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};

export type JobScheduleTable = {
  name: string;
  cron: string;
  time_zone: string;
  job_name: string;
  /** JSON text of the job data. */
  data: string;
  /** JSON text of the SendOptions the fired job is sent with. */
  send_options: string;
  next_run_at: string;
  created_at: string;
  updated_at: string;
};

export type JobTables = {
  job_queue: JobQueueTable;
  job_schedules: JobScheduleTable;
};

export type JobDb = Kysely<JobTables>;

export function jobDb(store: Store): JobDb {
  return store.db.withTables<JobTables>() as unknown as JobDb;
}

/**
 * Creates the local driver's tables when missing. Idempotent and safe to race with another process
 * (a concurrent creator's success is as good as our own).
 */
export async function ensureJobTables(store: Store): Promise<void> {
  try {
    await createJobTables(jobDb(store));
  } catch (error) {
    if (!(await jobTablesExist(store))) throw error;
    await createJobTables(jobDb(store));
  }
}

async function jobTablesExist(store: Store): Promise<boolean> {
  const tables = await store.db.introspection.getTables();
  const names = new Set(tables.map((table) => table.name));
  return names.has("job_queue") && names.has("job_schedules");
}

/**
 * The local driver's schema. Migration 0004 created these tables as they first were (it keeps its own frozen copy),
 * so every database has them from the start; this live copy is what ensureJobTables checks again.
 */
export async function createJobTables(db: JobDb): Promise<void> {
  await db.schema
    .createTable("job_queue")
    .ifNotExists()
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("data", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("serial_key", "text")
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("retry_limit", "integer", (c) => c.notNull())
    .addColumn("retry_delay_ms", "integer", (c) => c.notNull())
    .addColumn("retry_backoff", "integer", (c) => c.notNull())
    .addColumn("run_after", "text", (c) => c.notNull())
    .addColumn("lease_token", "text")
    .addColumn("lease_expires_at", "text")
    .addColumn("last_error", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("started_at", "text")
    .addColumn("finished_at", "text")
    .execute();
  await db.schema
    .createIndex("job_queue_runnable")
    .ifNotExists()
    .on("job_queue")
    .columns(["name", "state", "run_after"])
    .execute();
  await db.schema
    .createIndex("job_queue_lease")
    .ifNotExists()
    .on("job_queue")
    .columns(["state", "lease_expires_at"])
    .execute();
  // The two halves of serialKey: one queued job per key (a second send is deduplicated) and one running
  // job per key. Enforced by the database so that processes sharing it cannot race past each other.
  await db.schema
    .createIndex("job_queue_serial_queued")
    .ifNotExists()
    .unique()
    .on("job_queue")
    .columns(["name", "serial_key"])
    .where(sql.ref("state"), "=", "created")
    .where(sql.ref("serial_key"), "is not", null)
    .execute();
  await db.schema
    .createIndex("job_queue_serial_active")
    .ifNotExists()
    .unique()
    .on("job_queue")
    .columns(["name", "serial_key"])
    .where(sql.ref("state"), "=", "active")
    .where(sql.ref("serial_key"), "is not", null)
    .execute();
  await db.schema
    .createTable("job_schedules")
    .ifNotExists()
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("cron", "text", (c) => c.notNull())
    .addColumn("time_zone", "text", (c) => c.notNull())
    .addColumn("job_name", "text", (c) => c.notNull())
    .addColumn("data", "text", (c) => c.notNull())
    .addColumn("send_options", "text", (c) => c.notNull())
    .addColumn("next_run_at", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
}
