/** Behaviour specific to the pg-boss driver: how schedules and queues are stored in pg-boss. */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { createPgBossQueue, scheduleQueueName, type PgBossJobQueue } from "../../src/jobs/pg-boss-queue.ts";
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
    scheduleRefreshSeconds: 1,
    onError: (error, context) => backgroundErrors.push(`${context}: ${String(error)}`),
    onLeaseExpired: () => undefined,
    ...options,
  });
  queues.push(queue);
  return queue;
}

describe("pg-boss driver", () => {
  it("stores the schedule in pg-boss with its cron and time zone; any instance relays the fired job", async () => {
    const installer = await openQueue();
    const installed = await installDailyCheckSchedule(installer, {
      time: "06:30",
      timeZone: "Europe/Berlin",
      data: { organizationId: "default" },
    });
    assert.equal(installed.cron, "30 6 * * *");
    // pg-boss's cron runs at most once a minute, so the test checks what it will act on instead of waiting.
    const stored = await installer.boss.getSchedules();
    assert.equal(stored.length, 1);
    const [schedule] = stored as unknown as Array<Record<string, unknown>>;
    assert.equal(schedule?.name, scheduleQueueName("daily-check"));
    assert.equal(schedule?.cron, "30 6 * * *");
    assert.equal(schedule?.timezone, "Europe/Berlin");
    assert.deepEqual(schedule?.data, {
      jobName: "daily-check",
      data: { organizationId: "default" },
      options: { serialKey: "daily-check" },
    });
    await installer.stop();

    // Another process, started after the schedule was installed, relays what pg-boss's cron sends.
    const worker = await openQueue();
    const received: unknown[] = [];
    await worker.work("daily-check", async (job) => {
      received.push(job.data);
    });
    await worker.start();
    // What pg-boss's timekeeper inserts when the cron matches: the schedule's data into its queue.
    await worker.boss.send(scheduleQueueName("daily-check"), schedule?.data as object);
    await waitFor(() => received.length === 1, "the relayed daily check");
    assert.deepEqual(received, [{ organizationId: "default" }]);
  });

  it("replaces a schedule in place and removes it with its relay queue", async () => {
    const queue = await openQueue();
    await queue.start();
    await queue.schedule("report", "0 8 * * 1", "report", { a: 1 }, { tz: "UTC" });
    await queue.schedule("report", "15 9 * * 2", "report", { a: 2 }, { tz: "America/New_York" });
    const stored = (await queue.boss.getSchedules()) as unknown as Array<Record<string, unknown>>;
    assert.deepEqual(
      stored.map((row) => [row.name, row.cron, row.timezone]),
      [[scheduleQueueName("report"), "15 9 * * 2", "America/New_York"]],
    );
    await queue.unschedule("report");
    assert.deepEqual(await queue.boss.getSchedules(), []);
    assert.equal(await queue.boss.getQueue(scheduleQueueName("report")), null);
    // Installing it again after removal works (the relay queue is recreated).
    await queue.schedule("report", "0 8 * * 1", "report", {}, { tz: "UTC" });
    assert.equal((await queue.schedules()).length, 1);
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
    assert.equal(await queue.boss.getQueueSize("sync"), 4);
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
      await pool.query("UPDATE pgboss.job SET expire_in = interval '0' WHERE id = $1", [id]);

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
