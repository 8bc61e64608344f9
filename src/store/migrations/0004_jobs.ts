import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/**
 * The embedded job queue's tables and indexes as they were created at this step. Frozen: the DDL is copied
 * here rather than calling the job queue's live code (src/jobs/local-tables.ts), so later changes there can
 * never change what this migration did on an existing database.
 */
export const jobs: CspsyncMigration = {
  name: "0004_jobs",
  async up(db) {
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
  },
};
