/** Behaviour specific to the pg-boss driver: how schedules and queues are stored in pg-boss. */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { PgBoss, TestClock } from "pg-boss";
import { openStore } from "../../src/store/db.ts";
import { createLocalQueue } from "../../src/jobs/local-queue.ts";
import { createPgBossQueue, type PgBossJobQueue } from "../../src/jobs/pg-boss-queue.ts";
import { installDailyCheckSchedule } from "../../src/jobs/scheduler.ts";
import { createTestDatabase, type TestDatabase } from "../support/stores.ts";
import { Gates, waitFor } from "./helpers.ts";

let database: TestDatabase | undefined;
let queues: PgBossJobQueue[] = [];
let backgroundErrors: string[] = [];

afterEach(async () => {
  for (const queue of queues) await queue.stop();
  queues = [];
  await database?.drop();
  database = undefined;
  const reported = backgroundErrors;
  backgroundErrors = [];
  assert.deepEqual(reported, [], "background errors were reported");
});

async function openQueue(options: { leaseSeconds?: number } = {}): Promise<PgBossJobQueue> {
  database ??= await createTestDatabase("postgres");
  const queue = createPgBossQueue(database.url, {
    pollIntervalMs: 50,
    onError: (error, context) => backgroundErrors.push(`${context}: ${String(error)}`),
    onLeaseExpired: () => undefined,
    ...options,
  });
  queues.push(queue);
  return queue;
}

/** Both daily times around Berlin's 2025 DST changes: every 00:30Z and 01:30Z (02:30 CEST / 02:30 CET). */
const BERLIN_PROBES = [
  "2025-03-28",
  "2025-03-29",
  "2025-03-30",
  "2025-03-31",
  "2025-10-25",
  "2025-10-26",
  "2025-10-27",
].flatMap((day) => [`${day}T00:30:00.000Z`, `${day}T01:30:00.000Z`]);

describe("pg-boss driver", () => {
  it("stores the schedule in the job's own queue, keyed by the schedule name, with its cron, zone and options", async () => {
    const installer = await openQueue();
    const installed = await installDailyCheckSchedule(installer, {
      time: "06:30",
      timeZone: "Europe/Berlin",
      data: { organizationId: "default" },
    });
    assert.equal(installed.cron, "30 6 * * *");
    const stored = await installer.boss.getSchedules();
    assert.equal(stored.length, 1);
    const [schedule] = stored;
    assert.equal(schedule?.name, "daily-check");
    assert.equal(schedule?.key, "daily-check");
    assert.equal(schedule?.cron, "30 6 * * *");
    assert.equal(schedule?.timezone, "Europe/Berlin");
    assert.deepEqual(schedule?.data, { organizationId: "default" });
    assert.equal(schedule?.options?.singletonKey, "serial:daily-check");
    assert.equal(schedule?.options?.retryLimit, 2);
    // No relay queue any more: the only queues are the job's and pg-boss's own.
    const names = (await installer.boss.getQueues()).map((queue) => queue.name);
    assert.deepEqual(
      names.filter((name) => !name.startsWith("__pgboss__")),
      ["daily-check"],
    );
  });

  it("replaces a schedule in place, moves it to another job, and removes it", async () => {
    const queue = await openQueue();
    await queue.start();
    await queue.schedule("report", "0 8 * * 1", "report", { a: 1 }, { tz: "UTC" });
    await queue.schedule("report", "15 9 * * 2", "report", { a: 2 }, { tz: "America/New_York" });
    const rows = async () =>
      (await queue.boss.getSchedules()).map((row) => [row.name, row.key, row.cron, row.timezone]);
    assert.deepEqual(await rows(), [["report", "report", "15 9 * * 2", "America/New_York"]]);
    await queue.schedule("report", "15 9 * * 2", "weekly-report", [1, 2], { tz: "UTC" });
    assert.deepEqual(await rows(), [["weekly-report", "report", "15 9 * * 2", "UTC"]]);
    assert.deepEqual((await queue.schedules())[0]?.data, [1, 2]);
    await queue.unschedule("report");
    assert.deepEqual(await queue.boss.getSchedules(), []);
  });

  it("fires the daily check at the same instants as the embedded driver across DST changes", async () => {
    // The embedded driver (SQLite) with a clock the test sets: which probes fire a job?
    const local = await createTestDatabase("sqlite");
    const store = await openStore(local.url, { migrate: false });
    let now = Date.parse("2025-03-27T12:00:00Z");
    const embedded = createLocalQueue(store, {
      now: () => now,
      // Started only so that poll() runs the schedules; the test polls itself.
      pollIntervalMs: 3_600_000,
      onError: (error, context) => backgroundErrors.push(`${context}: ${String(error)}`),
    });
    await embedded.start();
    const firedLocally: string[] = [];
    try {
      await installDailyCheckSchedule(embedded, {
        time: "02:30",
        timeZone: "Europe/Berlin",
        now: new Date(now),
      });
      for (const probe of BERLIN_PROBES.filter((p) => p < "2025-04")) {
        now = Date.parse(probe) + 30_000;
        await embedded.poll();
        const jobs = await store.db
          .withTables<{ job_queue: { id: string; name: string } }>()
          .deleteFrom("job_queue")
          .where("name", "=", "daily-check")
          .returning("id")
          .execute();
        if (jobs.length > 0) firedLocally.push(probe);
      }
      now = Date.parse("2025-10-24T12:00:00Z");
      await installDailyCheckSchedule(embedded, {
        time: "02:30",
        timeZone: "Europe/Berlin",
        now: new Date(now),
      });
      for (const probe of BERLIN_PROBES.filter((p) => p > "2025-04")) {
        now = Date.parse(probe) + 30_000;
        await embedded.poll();
        const jobs = await store.db
          .withTables<{ job_queue: { id: string; name: string } }>()
          .deleteFrom("job_queue")
          .where("name", "=", "daily-check")
          .returning("id")
          .execute();
        if (jobs.length > 0) firedLocally.push(probe);
      }
    } finally {
      await embedded.stop();
      await store.close();
      await local.drop();
    }

    // pg-boss's own timekeeper, on a clock the test drives, evaluating the schedule this driver stored.
    const installer = await openQueue();
    await installDailyCheckSchedule(installer, { time: "02:30", timeZone: "Europe/Berlin" });
    await installer.stop();
    const clock = new TestClock(new Date(BERLIN_PROBES[0]!).getTime() - 3_600_000);
    const timekeeper = new PgBoss({ connectionString: database!.url, clock, supervise: false, max: 2 });
    timekeeper.on("error", (error) => backgroundErrors.push(`timekeeper: ${String(error)}`));
    const inspector = new pg.Pool({ connectionString: database!.url, max: 1 });
    const firedByPgBoss: string[] = [];
    try {
      // The installer's own timekeeper claimed a cron pass on the real clock; passes on the test's clock
      // (in 2025) would wait for that claim to age.
      await inspector.query("UPDATE pgboss.version SET cron_on = NULL");
      await timekeeper.start();
      for (const probe of BERLIN_PROBES) {
        await clock.setTime(Date.parse(probe) - 20_000);
        await clock.tick(70_000);
        const { rows } = await inspector.query(
          "DELETE FROM pgboss.job WHERE name = 'daily-check' RETURNING id",
        );
        if (rows.length > 0) firedByPgBoss.push(probe);
      }
    } finally {
      await timekeeper.stop({ graceful: false });
      await inspector.end();
    }

    const expected = [
      "2025-03-28T01:30:00.000Z",
      "2025-03-29T01:30:00.000Z",
      // 30 March: clocks jump from 02:00 to 03:00, there is no 02:30 (neither driver runs a shifted one)
      "2025-03-31T00:30:00.000Z",
      "2025-10-25T00:30:00.000Z",
      "2025-10-26T00:30:00.000Z", // 02:30 CEST; the repeated 02:30 CET an hour later does not run
      "2025-10-27T01:30:00.000Z",
    ];
    assert.deepEqual(firedLocally, expected);
    assert.deepEqual(firedByPgBoss, expected);
  });

  it("sets a pg-boss 10 schema aside, copies its waiting jobs and drops its relay jobs", async () => {
    database ??= await createTestDatabase("postgres");
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      // The parts of pg-boss 10's schema (version 24) the upgrade reads.
      await pool.query(`
        CREATE SCHEMA pgboss;
        CREATE TABLE pgboss.version (version int PRIMARY KEY);
        INSERT INTO pgboss.version VALUES (24);
        CREATE TYPE pgboss.job_state AS ENUM ('created', 'retry', 'active', 'completed', 'cancelled', 'failed');
        CREATE TABLE pgboss.job (
          id uuid PRIMARY KEY, name text NOT NULL, data jsonb, state pgboss.job_state NOT NULL,
          singleton_key text, retry_limit int NOT NULL, retry_delay int NOT NULL, retry_backoff bool NOT NULL,
          start_after timestamptz NOT NULL, created_on timestamptz NOT NULL DEFAULT now());
        INSERT INTO pgboss.job VALUES
          ('00000000-0000-4000-8000-000000000001', 'sync-connection', '{"connectionId": "c1"}', 'created',
           'serial:c1', 2, 30, true, now(), now() - interval '2 minutes'),
          ('00000000-0000-4000-8000-000000000002', 'sync-connection', '["a", 1]', 'retry',
           'unique:00000000-0000-4000-8000-000000000002', 1, 5, false, now() + interval '1 hour', now() - interval '1 minute'),
          ('00000000-0000-4000-8000-000000000003', 'sync-connection', '{}', 'completed', NULL, 2, 30, true, now(), now()),
          ('00000000-0000-4000-8000-000000000004', 'cspsync.schedule.daily-check', '{}', 'created', NULL, 2, 30, true, now(), now());
      `);
      const queue = await openQueue();
      await queue.start();
      const { rows } = await pool.query(
        `SELECT id, name, data, state::text AS state, singleton_key, retry_limit, retry_delay, retry_backoff
         FROM pgboss.job WHERE name NOT LIKE '\\_\\_pgboss%' ORDER BY id`,
      );
      assert.deepEqual(rows, [
        {
          id: "00000000-0000-4000-8000-000000000001",
          name: "sync-connection",
          data: { connectionId: "c1" },
          state: "created",
          singleton_key: "serial:c1",
          retry_limit: 2,
          retry_delay: 30,
          retry_backoff: true,
        },
        {
          id: "00000000-0000-4000-8000-000000000002",
          name: "sync-connection",
          data: ["a", 1],
          state: "created",
          singleton_key: "unique:00000000-0000-4000-8000-000000000002",
          retry_limit: 1,
          retry_delay: 5,
          retry_backoff: false,
        },
      ]);
      const legacy = await pool.query("SELECT count(*)::int AS n FROM pgboss_v10.job");
      assert.equal(legacy.rows[0].n, 4, "the old schema is kept, renamed, with its history");
      // A second process finds the new schema and changes nothing.
      const second = await openQueue();
      await second.start();
      const after = await pool.query(
        "SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'sync-connection'",
      );
      assert.equal(after.rows[0].n, 2);
    } finally {
      await pool.end();
    }
  });

  it("keeps jobs in pg-boss queues with the 'short' policy that dedups queued serial keys", async () => {
    const queue = await openQueue();
    assert.ok(await queue.send("sync", {}, { serialKey: "connection-1" }));
    assert.equal(await queue.send("sync", {}, { serialKey: "connection-1" }), null);
    assert.ok(await queue.send("sync", {}, { serialKey: "connection-2" }));
    // Jobs without a key are never merged with each other.
    assert.ok(await queue.send("sync", {}));
    assert.ok(await queue.send("sync", {}));
    assert.equal((await queue.boss.getQueue("sync"))?.policy, "short");
    const pool = new pg.Pool({ connectionString: database!.url, max: 1 });
    try {
      const { rows } = await pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'sync'");
      assert.equal(rows[0].n, 4);
    } finally {
      await pool.end();
    }
  });

  it("queues started at once on a fresh database (one per process) create pg-boss's tables without deadlocks", async () => {
    const queues = await Promise.all([1, 2, 3, 4].map(() => openQueue()));
    for (const queue of queues) {
      await queue.work("sync-connection", async () => undefined);
      await queue.work("daily-check", async () => undefined);
    }
    const results = await Promise.allSettled(queues.map((queue) => queue.start()));
    assert.deepEqual(
      results.filter((r) => r.status === "rejected").map((r) => String(r.reason)),
      [],
    );
    assert.equal((await queues[0]!.boss.getQueue("sync-connection"))?.policy, "short");
  });

  it("a run that lost its lease and fails late leaves the job's new run alone", async () => {
    const gates = new Gates();
    const slow = await openQueue({ leaseSeconds: 60 });
    await slow.work("job", async () => {
      await gates.wait("late");
      throw new Error("the late run failed");
    });
    await slow.start();
    const id = await slow.send("job", {}, { retryLimit: 3, retryDelaySeconds: 3600 });
    const pool = new pg.Pool({ connectionString: database!.url, max: 1 });
    try {
      const job = async () =>
        (
          await pool.query<{ state: string; started_on: Date }>(
            "SELECT state::text AS state, started_on FROM pgboss.job WHERE id = $1",
            [id],
          )
        ).rows[0]!;
      await waitFor(async () => (await job()).state === "active", "the slow run started");
      const firstStart = (await job()).started_on.getTime();
      // The slow process stops heart-beating as far as the database can tell: its lease is over.
      await pool.query("UPDATE pgboss.job SET expire_seconds = 0 WHERE id = $1", [id]);

      const survivor = await openQueue({ leaseSeconds: 1 });
      let survivorRuns = 0;
      await survivor.work("job", async () => {
        survivorRuns += 1;
        await gates.wait("survivor");
      });
      await survivor.start();
      await waitFor(async () => survivorRuns === 1, "the survivor runs the job again");
      assert.notEqual((await job()).started_on.getTime(), firstStart);

      gates.open("late"); // the first run fails now, too late
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await job()).state, "active", "the late failure changed nothing");
      gates.open("survivor");
      await waitFor(async () => (await job()).state === "completed", "the survivor's run completed");
    } finally {
      gates.openAll();
      await pool.end();
    }
  });
});
