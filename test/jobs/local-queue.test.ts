/** Behaviour specific to the local driver: its clock, schedule firing, backoff arithmetic, leases, retention. */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { openStore, type Dialect, type Store } from "../../src/store/db.ts";
import { createLocalQueue, type LocalJobQueue, type LocalQueueOptions } from "../../src/jobs/local-queue.ts";
import { ensureJobTables, jobDb } from "../../src/jobs/local-tables.ts";
import type { Job } from "../../src/jobs/queue.ts";
import { createTestDatabase, type TestDatabase } from "../support/stores.ts";
import { Gates, settle, waitFor } from "./helpers.ts";

type Fixture = {
  store: Store;
  open(options?: LocalQueueOptions, how?: { sharedConnection?: boolean }): Promise<LocalJobQueue>;
  row(id: string): Promise<{ state: string; attempt: number; run_after: string } | undefined>;
};

let cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function fixture(dialect: Dialect): Promise<Fixture> {
  const database: TestDatabase = await createTestDatabase(dialect);
  const store = await openStore(database.url, { migrate: false });
  const queues: LocalJobQueue[] = [];
  const stores: Store[] = [];
  const backgroundErrors: string[] = [];
  cleanups.push(async () => {
    for (const queue of queues) await queue.stop({ graceful: true });
    for (const other of stores) await other.close();
    await store.close();
    await database.drop();
    assert.deepEqual(backgroundErrors, [], "background errors were reported");
  });
  return {
    store,
    async open(options = {}, { sharedConnection = false } = {}) {
      // Each queue gets its own connection, like a separate process would, unless asked to share one.
      let own = store;
      if (!sharedConnection) {
        own = await openStore(database.url, { migrate: false });
        stores.push(own);
      }
      const queue = createLocalQueue(own, {
        onError: (error, context) => backgroundErrors.push(`${context}: ${String(error)}`),
        ...options,
      });
      queues.push(queue);
      return queue;
    },
    async row(id) {
      return jobDb(store)
        .selectFrom("job_queue")
        .select(["state", "attempt", "run_after"])
        .where("id", "=", id)
        .executeTakeFirst();
    },
  };
}

/** A clock the test moves by hand; idle polling is effectively off, so the test drives every poll. */
function manualClock(start: string) {
  let now = Date.parse(start);
  return {
    now: () => now,
    set(iso: string) {
      now = Date.parse(iso);
    },
    options: { now: () => now, pollIntervalMs: 3_600_000 } satisfies LocalQueueOptions,
  };
}

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`local queue schedules on ${dialect}`, () => {
    it("fires at the wall-clock time of the schedule's zone, once per run, across instances", async () => {
      const { open } = await fixture(dialect);
      const clock = manualClock("2025-03-29T04:59:00Z"); // 05:59 in Berlin (CET)
      const fired: Array<{ instance: string; job: Job<unknown> }> = [];
      // node:sqlite waits for a lock synchronously, so two SQLite connections in one thread would block each
      // other's transactions; separate processes do not. The claim is the same SQL either way.
      const sharedConnection = dialect === "sqlite";
      const first = await open(clock.options, { sharedConnection });
      const second = await open(clock.options, { sharedConnection });
      for (const [queue, instance] of [
        [first, "first"],
        [second, "second"],
      ] as const) {
        await queue.work("daily-check", async (job) => {
          fired.push({ instance, job });
        });
        await queue.start();
      }
      await first.schedule(
        "daily",
        "0 6 * * *",
        "daily-check",
        { organizationId: "default" },
        { tz: "Europe/Berlin" },
      );

      await Promise.all([first.poll(), second.poll()]);
      await settle();
      assert.equal(fired.length, 0, "not before 06:00 Berlin");

      clock.set("2025-03-29T05:00:20Z"); // 06:00:20 CET
      await Promise.all([first.poll(), second.poll()]);
      await waitFor(() => fired.length === 1, "the 06:00 run");
      assert.deepEqual(fired[0]?.job.data, { organizationId: "default" });
      assert.equal(fired[0]?.job.name, "daily-check");
      await Promise.all([first.poll(), second.poll()]);
      await settle();
      assert.equal(fired.length, 1, "a run fires once, whichever instance polls");

      // Clocks go forward that night: 06:00 CEST is 04:00Z, an hour earlier in UTC.
      clock.set("2025-03-30T03:59:30Z");
      await Promise.all([first.poll(), second.poll()]);
      await settle();
      assert.equal(fired.length, 1);
      clock.set("2025-03-30T04:00:05Z");
      await Promise.all([second.poll(), first.poll()]);
      await waitFor(() => fired.length === 2, "the next day's run");
      await Promise.all([first.poll(), second.poll()]);
      await settle();
      assert.equal(fired.length, 2);
    });

    it("fires a run missed while no process was up once, then keeps to the schedule", async () => {
      const { open } = await fixture(dialect);
      const clock = manualClock("2025-06-01T12:00:00Z");
      const queue = await open(clock.options);
      let runs = 0;
      await queue.work("nightly", async () => {
        runs += 1;
      });
      await queue.schedule("nightly", "0 2 * * *", "nightly", {}, { tz: "UTC" });
      await queue.start();
      clock.set("2025-06-04T12:00:00Z"); // three 02:00 runs passed unseen
      await queue.poll();
      await waitFor(() => runs === 1, "the catch-up run");
      await queue.poll();
      await settle();
      assert.equal(runs, 1);
      clock.set("2025-06-05T02:00:00Z");
      await queue.poll();
      await waitFor(() => runs === 2, "the next scheduled run");
    });

    it("sends scheduled jobs with the schedule's send options (serialKey dedups a still-queued run)", async () => {
      const { open, store } = await fixture(dialect);
      const clock = manualClock("2025-06-01T00:00:30Z");
      const queue = await open(clock.options);
      await queue.start(); // no handler: fired jobs stay queued
      await queue.schedule("hourly", "0 * * * *", "check", {}, { tz: "UTC", serialKey: "check" });
      for (const at of ["2025-06-01T01:00:10Z", "2025-06-01T02:00:10Z", "2025-06-01T03:00:10Z"]) {
        clock.set(at);
        await queue.poll();
      }
      const rows = await jobDb(store)
        .selectFrom("job_queue")
        .select(["name", "serial_key", "state"])
        .execute();
      assert.deepEqual(rows, [{ name: "check", serial_key: "check", state: "created" }]);
    });
  });
}

describe("local queue on sqlite", () => {
  it("doubles the retry delay with backoff, measured on the queue's clock", async () => {
    const { open, row } = await fixture("sqlite");
    const clock = manualClock("2025-06-01T00:00:00Z");
    const queue = await open(clock.options);
    const attempts: number[] = [];
    await queue.work("flaky", async (job) => {
      attempts.push(job.attempt);
      throw new Error("still failing");
    });
    await queue.start();
    const id = await queue.send("flaky", {}, { retryLimit: 3, retryDelaySeconds: 10, retryBackoff: true });
    assert.ok(id);
    const expectations = [
      { at: "2025-06-01T00:00:00.000Z", retryAt: "2025-06-01T00:00:10.000Z" }, // + 10 s
      { at: "2025-06-01T00:00:10.000Z", retryAt: "2025-06-01T00:00:30.000Z" }, // + 20 s
      { at: "2025-06-01T00:00:30.000Z", retryAt: "2025-06-01T00:01:10.000Z" }, // + 40 s
    ];
    for (const [index, { at, retryAt }] of expectations.entries()) {
      clock.set(at);
      await queue.poll();
      await waitFor(async () => (await row(id))?.state === "retry", `attempt ${index + 1} failed`);
      assert.equal((await row(id))?.run_after, retryAt);
      clock.set(new Date(Date.parse(retryAt) - 1).toISOString());
      await queue.poll();
      await settle();
      assert.equal(attempts.length, index + 1, "not retried before its delay");
    }
    clock.set("2025-06-01T00:01:10.000Z");
    await queue.poll();
    await waitFor(async () => (await row(id))?.state === "failed", "the last attempt failed");
    assert.deepEqual(attempts, [1, 2, 3, 4]);
  });

  it("keeps a long-running job's lease alive with heartbeats, so no other process takes it", async () => {
    const { open, row } = await fixture("sqlite");
    const gates = new Gates();
    const runs: string[] = [];
    const owner = await open({ leaseSeconds: 0.6, pollIntervalMs: 20 });
    const other = await open({ leaseSeconds: 0.6, pollIntervalMs: 20 });
    for (const [queue, instance] of [
      [owner, "owner"],
      [other, "other"],
    ] as const) {
      await queue.work("long", async () => {
        runs.push(instance);
        await gates.wait("long");
      });
    }
    await owner.start();
    const id = await owner.send("long", {});
    assert.ok(id);
    await waitFor(() => runs.length === 1, "the owner running the job");
    await other.start();
    // Run well past several lease lengths; only the heartbeats keep the job with its owner.
    await settle(2_000);
    assert.deepEqual(runs, ["owner"]);
    assert.equal((await row(id))?.state, "active");
    gates.open("long");
    await waitFor(async () => (await row(id))?.state === "completed", "the job completed");
    assert.deepEqual(runs, ["owner"]);
  });

  it("deletes finished jobs after the retention period", async () => {
    const { open, row } = await fixture("sqlite");
    const clock = manualClock("2025-06-01T00:00:00Z");
    const queue = await open({ ...clock.options, retentionDays: 7 });
    await queue.work("tidy", async () => undefined);
    await queue.start();
    const id = await queue.send("tidy", {});
    assert.ok(id);
    await waitFor(async () => (await row(id))?.state === "completed", "the job completed");
    clock.set("2025-06-07T23:00:00Z");
    await queue.poll();
    assert.equal((await row(id))?.state, "completed", "kept within the retention period");
    clock.set("2025-06-08T01:00:00Z");
    await queue.poll();
    assert.equal(await row(id), undefined);
  });

  it("creates its tables idempotently", async () => {
    const { store } = await fixture("sqlite");
    await ensureJobTables(store);
    await ensureJobTables(store);
    const names = (await store.db.introspection.getTables()).map((table) => table.name).sort();
    assert.deepEqual(names, ["job_queue", "job_schedules"]);
  });

  it("refuses invalid send options, names and a second handler for one job name", async () => {
    const { open } = await fixture("sqlite");
    const queue = await open();
    await assert.rejects(queue.send("x", {}, { retryLimit: -1 }), /retryLimit/);
    await assert.rejects(queue.send("x", {}, { retryDelaySeconds: Number.NaN }), /retryDelaySeconds/);
    await assert.rejects(queue.send("x", {}, { serialKey: "" }), /serialKey/);
    await assert.rejects(queue.send(" ", {}), /Invalid job name/);
    await assert.rejects(
      queue.send("x", () => 1),
      /JSON-serializable/,
    );
    await queue.work("x", async () => undefined);
    await assert.rejects(
      queue.work("x", async () => undefined),
      /already registered/,
    );
    await assert.rejects(
      queue.work("y", async () => undefined, { concurrency: 0 }),
      /concurrency/,
    );
  });
});
