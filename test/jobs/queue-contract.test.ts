/**
 * One contract, three set-ups: the local driver on SQLite, the local driver on PostgreSQL and pg-boss on
 * PostgreSQL. Every test gets a fresh database; every queue opened in a test stands for one process.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { openStore, type Store } from "../../src/store/db.ts";
import { CronError, TimeZoneError } from "../../src/jobs/cron.ts";
import { createLocalQueue } from "../../src/jobs/local-queue.ts";
import { createPgBossQueue } from "../../src/jobs/pg-boss-queue.ts";
import type { Job, JobQueue } from "../../src/jobs/queue.ts";
import type { ExpiredLease } from "../../src/jobs/errors.ts";
import { createTestDatabase, type TestDatabase } from "../support/stores.ts";
import { Gates, deferred, settle, waitFor } from "./helpers.ts";

type QueueUnderTest = JobQueue & { poll(): Promise<void> };

type OpenOptions = {
  leaseSeconds?: number;
  /** For a queue whose "process" the test kills: its late errors are expected. */
  ignoreErrors?: boolean;
  onLeaseExpired?: (job: ExpiredLease) => void;
};

/** Background errors (polling, claiming, recording outcomes) fail the test unless expected. */
class ErrorLog {
  readonly errors: string[] = [];

  reporter(ignore = false) {
    return (error: unknown, context: string) => {
      if (!ignore) this.errors.push(`${context}: ${error instanceof Error ? error.message : String(error)}`);
    };
  }

  assertNone(): void {
    assert.deepEqual(this.errors, [], "background errors were reported");
  }
}

type DriverContext = {
  /** A new queue instance on the test database — a separate "process". Not started. */
  open(options?: OpenOptions): Promise<QueueUnderTest>;
  /** The stored state of a job: created | retry | active | completed | failed. */
  jobState(id: string): Promise<string | undefined>;
  close(): Promise<void>;
};

type Driver = {
  label: string;
  /** The retry delay the tests use: as short as the driver allows. */
  retryDelaySeconds: number;
  /** A lease short enough for the crash test. */
  shortLeaseSeconds: number;
  setup(): Promise<DriverContext>;
};

function localDriver(dialect: "sqlite" | "postgres"): Driver {
  return {
    label: `local driver on ${dialect}`,
    retryDelaySeconds: 0.05,
    shortLeaseSeconds: 0.2,
    async setup() {
      const database = await createTestDatabase(dialect);
      const opened: Array<{ queue: QueueUnderTest; store: Store }> = [];
      const errorLog = new ErrorLog();
      // The queue needs only its own tables, which it creates; cspsync's migrations are not involved.
      const inspector = await openStore(database.url, { migrate: false });
      return {
        async open(options = {}) {
          const store = await openStore(database.url, { migrate: false });
          const queue = createLocalQueue(store, {
            pollIntervalMs: 20,
            leaseSeconds: options.leaseSeconds ?? 30,
            onError: errorLog.reporter(options.ignoreErrors),
            ...(options.onLeaseExpired ? { onLeaseExpired: options.onLeaseExpired } : {}),
          });
          opened.push({ queue, store });
          return queue;
        },
        jobState: (id) => stateOfLocalJob(inspector, id),
        async close() {
          for (const { queue } of opened) await stopForTeardown(queue);
          for (const { store } of opened) await store.close();
          await inspector.close();
          await database.drop();
          errorLog.assertNone();
        },
      };
    },
  };
}

async function stateOfLocalJob(store: Store, id: string): Promise<string | undefined> {
  const row = await store.db
    .withTables<{ job_queue: { id: string; state: string } }>()
    .selectFrom("job_queue")
    .select("state")
    .where("id", "=", id)
    .executeTakeFirst();
  return row?.state;
}

const pgBossDriver: Driver = {
  label: "pg-boss on postgres",
  retryDelaySeconds: 1, // pg-boss counts retry delays in whole seconds
  shortLeaseSeconds: 1,
  async setup() {
    const database: TestDatabase = await createTestDatabase("postgres");
    const opened: QueueUnderTest[] = [];
    const errorLog = new ErrorLog();
    const inspector = new pg.Pool({ connectionString: database.url, max: 1 });
    return {
      async open(options = {}) {
        const queue = createPgBossQueue(database.url, {
          pollIntervalMs: 50,
          leaseSeconds: options.leaseSeconds ?? 30,
          maintenanceIntervalSeconds: 1,
          poolSize: 4,
          onError: errorLog.reporter(options.ignoreErrors),
          ...(options.onLeaseExpired ? { onLeaseExpired: options.onLeaseExpired } : {}),
        });
        opened.push(queue);
        return queue;
      },
      async jobState(id) {
        const { rows } = await inspector.query<{ state: string }>(
          "SELECT state::text AS state FROM pgboss.job WHERE id = $1",
          [id],
        );
        return rows[0]?.state;
      },
      async close() {
        for (const queue of opened) await stopForTeardown(queue);
        await inspector.end();
        await database.drop();
        errorLog.assertNone();
      },
    };
  },
};

/** Lets finished handlers record their outcome, without hanging on one a failed test left blocked. */
async function stopForTeardown(queue: QueueUnderTest): Promise<void> {
  await Promise.race([queue.stop({ graceful: true }), settle(3_000)]);
}

type Run = { label: string; attempt: number; id: string; instance: string; order: number };

/** Records handler runs in order, shared by every queue instance of a test. */
class RunLog {
  readonly runs: Run[] = [];
  readonly finished: Run[] = [];
  readonly running = new Map<string, Run>();
  #order = 0;

  start(job: Job<{ label: string }>, instance: string): Run {
    const run = { label: job.data.label, attempt: job.attempt, id: job.id, instance, order: this.#order++ };
    this.runs.push(run);
    this.running.set(`${job.id}#${job.attempt}`, run);
    return run;
  }

  finish(run: Run): void {
    this.running.delete(`${run.id}#${run.attempt}`);
    this.finished.push({ ...run, order: this.#order++ });
  }

  labels(list: Run[] = this.runs): string[] {
    return list.map((run) => run.label);
  }

  isRunning(label: string): boolean {
    return [...this.running.values()].some((run) => run.label === label);
  }
}

function contract(driver: Driver): void {
  describe(`job queue contract: ${driver.label}`, () => {
    let context: DriverContext | undefined;
    const gates = new Gates();

    afterEach(async () => {
      gates.openAll();
      await context?.close();
      context = undefined;
    });

    async function setup(): Promise<DriverContext> {
      context = await driver.setup();
      return context;
    }

    it("delivers the data sent, as JSON, with the job's id, name and attempt", async () => {
      const { open, jobState } = await setup();
      const queue = await open();
      const received: Job<unknown>[] = [];
      await queue.work("deliver", async (job) => {
        received.push(job);
      });
      await queue.start();
      const objectId = await queue.send("deliver", {
        organizationId: "default",
        amount: "1234.5600",
        nested: { list: [1, "two", null, { three: true }] },
      });
      const arrayId = await queue.send("deliver", ["a", 1]);
      const textId = await queue.send("deliver", "just text");
      assert.ok(objectId && arrayId && textId);
      await waitFor(() => received.length === 3, "three deliveries");
      const byId = new Map(received.map((job) => [job.id, job]));
      assert.deepEqual(byId.get(objectId), {
        id: objectId,
        name: "deliver",
        attempt: 1,
        data: {
          organizationId: "default",
          amount: "1234.5600",
          nested: { list: [1, "two", null, { three: true }] },
        },
      });
      assert.deepEqual(byId.get(arrayId)?.data, ["a", 1]);
      assert.equal(byId.get(textId)?.data, "just text");
      await waitFor(async () => (await jobState(textId)) === "completed", "job recorded as completed");
    });

    it("retries a failing handler with backoff, counting attempts, until it succeeds", async () => {
      const { open, jobState } = await setup();
      const queue = await open();
      const log = new RunLog();
      await queue.work<{ label: string }>("flaky", async (job) => {
        log.finish(log.start(job, "a"));
        if (job.attempt < 3) throw new Error(`attempt ${job.attempt} failed`);
      });
      await queue.start();
      const id = await queue.send(
        "flaky",
        { label: "flaky" },
        { retryLimit: 2, retryDelaySeconds: driver.retryDelaySeconds, retryBackoff: true },
      );
      assert.ok(id);
      await waitFor(async () => (await jobState(id)) === "completed", "flaky job completed", 30_000);
      assert.deepEqual(
        log.runs.map((run) => [run.id, run.attempt]),
        [
          [id, 1],
          [id, 2],
          [id, 3],
        ],
      );
      const orders = log.runs.map((run) => run.order);
      assert.deepEqual(
        orders,
        [...orders].sort((a, b) => a - b),
      ); // each attempt came after the previous
    });

    it("gives up after retryLimit retries and records the job as failed", async () => {
      const { open, jobState } = await setup();
      const queue = await open();
      const attempts: number[] = [];
      await queue.work("doomed", async (job) => {
        attempts.push(job.attempt);
        throw new Error("always fails");
      });
      await queue.start();
      const id = await queue.send(
        "doomed",
        {},
        { retryLimit: 1, retryDelaySeconds: driver.retryDelaySeconds, retryBackoff: false },
      );
      assert.ok(id);
      await waitFor(async () => (await jobState(id)) === "failed", "job failed for good", 30_000);
      await queue.poll();
      await settle();
      assert.deepEqual(attempts, [1, 2]);
    });

    it("holds a job sent with startAfterSeconds until it is due", async () => {
      const { open, jobState } = await setup();
      const queue = await open();
      const labels: string[] = [];
      await queue.work<{ label: string }>("later", async (job) => {
        labels.push(job.data.label);
      });
      await queue.start();
      const laterId = await queue.send("later", { label: "in an hour" }, { startAfterSeconds: 3600 });
      await queue.send("later", { label: "now" });
      await waitFor(() => labels.includes("now"), "the undelayed job");
      await queue.poll();
      assert.deepEqual(labels, ["now"]);
      assert.ok(laterId);
      assert.equal(await jobState(laterId), "created");
    });

    it("runs one job per serialKey at a time, dedups a queued duplicate, runs other keys alongside", async () => {
      const { open } = await setup();
      const queue = await open();
      const log = new RunLog();
      let overlapping = 0;
      await queue.work<{ label: string; key: string }>(
        "sync",
        async (job) => {
          const run = log.start(job, "a");
          const sameKey = [...log.running.values()].filter((other) => other.label.startsWith(job.data.key));
          if (sameKey.length > 1) overlapping += 1;
          await gates.wait(job.data.label);
          log.finish(run);
        },
        { concurrency: 3 },
      );
      await queue.start();
      const send = (label: string, key: string) => queue.send("sync", { label, key }, { serialKey: key });

      assert.ok(await send("K-1", "K"));
      await waitFor(() => log.isRunning("K-1"), "K-1 running");
      assert.ok(await send("K-2", "K"), "a send while K's only job runs is queued");
      assert.equal(await send("K-3", "K"), null, "a send while K-2 is queued is deduplicated");
      assert.ok(await send("L-1", "L"));
      // L-1 is younger than the blocked K-2, yet starts while K-1 still runs.
      await waitFor(() => log.isRunning("L-1"), "L-1 running alongside K-1");
      await queue.poll();
      assert.deepEqual(log.labels(), ["K-1", "L-1"]);

      gates.open("K-1");
      await waitFor(() => log.isRunning("K-2"), "K-2 running after K-1");
      const k1Finished = log.finished.find((run) => run.label === "K-1");
      const k2Started = log.runs.find((run) => run.label === "K-2");
      assert.ok(k1Finished && k2Started && k1Finished.order < k2Started.order);
      assert.ok(await send("K-4", "K"), "K-2 is running, so a new K job queues behind it");
      await queue.poll();
      assert.equal(log.isRunning("K-4"), false);

      gates.open("K-2");
      gates.open("L-1");
      await waitFor(() => log.isRunning("K-4"), "K-4 running after K-2");
      gates.open("K-4");
      await waitFor(() => log.finished.length === 4, "all four finished");
      assert.deepEqual(log.labels(), ["K-1", "L-1", "K-2", "K-4"]);
      assert.equal(overlapping, 0);
    });

    it("shares the work between two instances on one database without running any job twice", async () => {
      const { open } = await setup();
      const first = await open();
      const second = await open();
      const log = new RunLog();
      const barrier = deferred();
      const maxRunning = new Map<string, number>();
      const register = (queue: QueueUnderTest, instance: string) =>
        queue.work<{ label: string }>(
          "share",
          async (job) => {
            const run = log.start(job, instance);
            const mine = [...log.running.values()].filter((other) => other.instance === instance).length;
            maxRunning.set(instance, Math.max(maxRunning.get(instance) ?? 0, mine));
            // The first four runs wait until four run at once: with two per instance, both must take part.
            if (log.runs.length <= 4) {
              if (log.running.size === 4) barrier.resolve();
              await barrier.promise;
            }
            log.finish(run);
          },
          { concurrency: 2 },
        );
      await register(first, "first");
      await register(second, "second");
      await first.start();
      await second.start();
      const ids = new Set<string>();
      for (let index = 0; index < 12; index += 1) {
        const id = await (index % 2 === 0 ? first : second).send("share", { label: `job-${index}` });
        assert.ok(id);
        ids.add(id);
      }
      await waitFor(() => log.finished.length === 12, "all twelve jobs finished");
      await Promise.all([first.poll(), second.poll()]);
      await settle();
      assert.equal(log.runs.length, 12, "no job ran twice");
      assert.deepEqual(new Set(log.runs.map((run) => run.id)), ids);
      assert.ok((maxRunning.get("first") ?? 0) <= 2 && (maxRunning.get("second") ?? 0) <= 2);
      assert.ok(log.runs.some((run) => run.instance === "first"));
      assert.ok(log.runs.some((run) => run.instance === "second"));
    });

    it("after a restart, runs jobs queued before it and retries left pending", async () => {
      const { open } = await setup();
      const before = await open();
      const attempts: Array<[string, number, string]> = [];
      let stopping: Promise<void> | undefined;
      await before.work<{ label: string }>("restart", async (job) => {
        attempts.push([job.data.label, job.attempt, "before"]);
        // Shut down while this run fails, so the retry is left for the next process.
        stopping = before.stop();
        throw new Error("failing as the process shuts down");
      });
      // Sent before start: sending does not need the poller.
      await before.send(
        "restart",
        { label: "retried" },
        { retryLimit: 1, retryDelaySeconds: driver.retryDelaySeconds },
      );
      await before.send("queued-only", { label: "queued" });
      await before.start();
      await waitFor(() => stopping !== undefined, "the first run");
      await stopping;

      const after = await open();
      for (const name of ["restart", "queued-only"]) {
        await after.work<{ label: string }>(name, async (job) => {
          attempts.push([job.data.label, job.attempt, "after"]);
        });
      }
      await after.start();
      await waitFor(() => attempts.length === 3, "both jobs run after the restart", 30_000);
      assert.deepEqual(
        attempts.sort(([a], [b]) => a.localeCompare(b)),
        [
          ["queued", 1, "after"],
          ["retried", 1, "before"],
          ["retried", 2, "after"],
        ],
      );
    });

    it("runs a job whose process died again once the lease expires, without waiting for its retry delay", async () => {
      const { open, jobState } = await setup();
      const crashed = await open({ leaseSeconds: driver.shortLeaseSeconds, ignoreErrors: true });
      const runs: Array<[string, number]> = [];
      const abandoned = deferred();
      await crashed.work("crashy", async (job) => {
        runs.push(["crashed", job.attempt]);
        await abandoned.promise; // never finishes before the process "dies"
      });
      await crashed.start();
      // The retry delay is for jobs that failed; a dead process is not the job's fault.
      const id = await crashed.send("crashy", {}, { retryLimit: 2, retryDelaySeconds: 3600 });
      assert.ok(id);
      await waitFor(() => runs.length === 1, "the first run");
      await crashed.stop({ graceful: false }); // no more heartbeats: the lease runs out
      const stoppedAt = Date.now();

      const lost: ExpiredLease[] = [];
      const survivor = await open({
        leaseSeconds: driver.shortLeaseSeconds,
        onLeaseExpired: (job) => lost.push(job),
      });
      await survivor.work("crashy", async (job) => {
        runs.push(["survivor", job.attempt]);
      });
      await survivor.start();
      await waitFor(
        async () => (await jobState(id)) === "completed",
        "the job completed by the survivor",
        30_000,
      );
      // Within the lease, the lease check (pg-boss: a sixth of the lease) and a poll, plus slack.
      assert.ok(Date.now() - stoppedAt < driver.shortLeaseSeconds * 1000 * 1.2 + 2_000);
      assert.deepEqual(lost, [{ id, name: "crashy", attempt: 1, retried: true }]);
      // The dead run finishing late must not change the outcome or cause another run.
      abandoned.resolve();
      await survivor.poll();
      await settle();
      assert.equal(await jobState(id), "completed");
      assert.deepEqual(runs, [
        ["crashed", 1],
        ["survivor", 2],
      ]);
    });

    it("graceful stop waits for running handlers to finish", async () => {
      const { open, jobState } = await setup();
      const queue = await open();
      let running = false;
      await queue.work("slow", async () => {
        running = true;
        await gates.wait("slow");
      });
      await queue.start();
      const id = await queue.send("slow", {});
      assert.ok(id);
      await waitFor(() => running, "the handler running");
      let stopped = false;
      const stopping = queue.stop({ graceful: true }).then(() => {
        stopped = true;
      });
      await settle();
      assert.equal(stopped, false);
      gates.open("slow");
      await stopping;
      assert.equal(await jobState(id), "completed");
    });

    it("installs, lists, replaces and removes schedules, refusing invalid cron and time zones", async () => {
      const { open } = await setup();
      const queue = await open();
      await queue.start();
      await queue.schedule("daily-check", "0 6 * * *", "check", { org: "a" }, { tz: "Europe/Berlin" });
      await queue.schedule("weekly", "0 8 * * MON", "report", null, { tz: "UTC" });
      await queue.schedule("daily-check", "30 7 * * 1-5", "check", { org: "b" }, { tz: "America/New_York" });
      assert.deepEqual(await queue.schedules(), [
        {
          name: "daily-check",
          cron: "30 7 * * 1-5",
          timeZone: "America/New_York",
          jobName: "check",
          data: { org: "b" },
        },
        { name: "weekly", cron: "0 8 * * MON", timeZone: "UTC", jobName: "report", data: null },
      ]);
      await assert.rejects(queue.schedule("bad", "0 25 * * *", "check", {}, { tz: "UTC" }), CronError);
      await assert.rejects(
        queue.schedule("bad", "0 6 * * *", "check", {}, { tz: "Nowhere/Special" }),
        TimeZoneError,
      );
      await queue.unschedule("daily-check");
      assert.deepEqual(
        (await queue.schedules()).map((schedule) => schedule.name),
        ["weekly"],
      );
    });
  });
}

for (const driver of [localDriver("sqlite"), localDriver("postgres"), pgBossDriver]) contract(driver);
