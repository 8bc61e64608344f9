/**
 * `cspsync worker` as real processes: several started at once on a fresh database, one SIGKILLed in the middle
 * of a sync, and ones that cannot start. Both databases.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStore } from "../../src/store/db.ts";
import { enqueueSync, openJobQueue } from "../../src/jobs/sync-worker.ts";
import { DIALECTS, createTestDatabase, type TestDatabase } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";
import { jobState, waitFor } from "./helpers.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/cspsync.js");
const BANNER = /^cspsync worker on .*: daily check /m;
/** The lease the worker processes run with (CSPSYNC_JOB_LEASE_SECONDS), short so the test is quick. */
const LEASE_SECONDS = 2;
/** The drivers' poll intervals (pg-boss 1 s, local 0.5 s): the longest a runnable job waits for a live worker. */
const POLL_MS = 1_000;
const ANNUAL_LINES = 8;

type Worker = {
  child: ChildProcess;
  pid: number;
  output(): { stdout: string; stderr: string };
  exited: Promise<number | null>;
};

function startCli(args: string[], env: NodeJS.ProcessEnv): Worker {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, pid: child.pid!, output: () => ({ stdout, stderr }), exited };
}

let running: Worker[] = [];

function startWorker(databaseUrl: string, env: NodeJS.ProcessEnv): Worker {
  const worker = startCli(["worker", "--db", databaseUrl], env);
  running.push(worker);
  return worker;
}

/** Resolves once the worker printed its banner; fails if it exits or stays silent. */
async function started(worker: Worker, timeoutMs = 30_000): Promise<void> {
  let exitCode: number | null | undefined;
  void worker.exited.then((code) => (exitCode = code));
  await waitFor(
    () => BANNER.test(worker.output().stdout) || exitCode !== undefined,
    `worker ${worker.pid} printed its banner`,
    timeoutMs,
  );
  assert.ok(
    BANNER.test(worker.output().stdout),
    `worker ${worker.pid} exited (${exitCode}) without starting: ${worker.output().stderr}`,
  );
}

async function stopAll(): Promise<void> {
  for (const worker of running) if (worker.child.exitCode === null) worker.child.kill("SIGTERM");
  await Promise.all(running.map((worker) => worker.exited));
  running = [];
}

/** Environment of a process that shares nothing with the test run but the database. */
function freshEnv(): { env: NodeJS.ProcessEnv; cleanup(): void } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-workers-"));
  return {
    env: {
      CSPSYNC_DATA_DIR: dataDir,
      CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
      CSPSYNC_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
    },
    cleanup: () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** Runs a command that is expected to fail at start: it must exit non-zero, soon, saying why. */
async function expectStartFailure(args: string[], env: NodeJS.ProcessEnv, reason: RegExp): Promise<void> {
  const startedAt = Date.now();
  const process_ = startCli(args, env);
  const timeout = setTimeout(() => process_.child.kill("SIGKILL"), 20_000);
  const code = await process_.exited;
  clearTimeout(timeout);
  const { stdout, stderr } = process_.output();
  assert.notEqual(code, 0, `exits non-zero (stdout: ${stdout})`);
  assert.notEqual(code, null, `exits by itself instead of hanging until killed (stderr: ${stderr})`);
  assert.match(stderr, reason);
  assert.doesNotMatch(stdout, BANNER);
  assert.ok(Date.now() - startedAt < 15_000, "fails promptly");
}

for (const dialect of DIALECTS) {
  describe(`cspsync worker processes (${dialect})`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      await stopAll();
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it("three workers started at once on a fresh database all start, and stop cleanly", async () => {
      const database = await createTestDatabase(dialect);
      cleanups.push(() => database.drop());
      const { env, cleanup } = freshEnv();
      cleanups.push(cleanup);
      const workers = [1, 2, 3].map(() => startWorker(database.url, env));
      for (const worker of workers) await started(worker);
      for (const worker of workers) assert.equal(worker.output().stderr, "", `worker ${worker.pid} stderr`);
      for (const worker of workers) worker.child.kill("SIGTERM");
      assert.deepEqual(await Promise.all(workers.map((w) => w.exited)), [0, 0, 0]);
    });

    it("a worker SIGKILLed mid-sync: another worker runs the job again within the lease and it completes", async () => {
      const s: MappedConnectWise = await mappedConnectWise(dialect);
      cleanups.push(() => s.cleanup());
      const env = { ...s.env, CSPSYNC_JOB_LEASE_SECONDS: String(LEASE_SECONDS) };
      // The sync's first PSA read answers slowly: the first worker is killed while it waits for it.
      const [slow] = s.emulator.server.addFaults([
        { kind: "latency", method: "GET", nth: [1], latencyMs: 8_000 },
      ]);
      const first = startWorker(s.databaseUrl, env);
      await started(first);

      const queue = openJobQueue(s.app);
      const jobId = await enqueueSync(queue, { connectionId: s.connectionId, trigger: "manual" });
      await queue.stop();
      assert.ok(jobId);
      const runsOf = (pid: number) =>
        s.app.store.db
          .selectFrom("sync_runs")
          .select(["id", "status", "started_at", "written"])
          .where("owner", "like", `%:${pid}:%`)
          .execute();
      const fired = () => s.emulator.server.faults().find((f) => f.id === slow!.id)?.fired ?? 0;
      await waitFor(
        async () => fired() === 1 && (await runsOf(first.pid)).some((r) => r.status === "running"),
        "the first worker's run waits for the slow read",
      );

      const second = startWorker(s.databaseUrl, env);
      await started(second);
      first.child.kill("SIGKILL");
      assert.equal(await first.exited, null);
      const killedAt = Date.now();

      await waitFor(
        async () => (await jobState(s.app.store, jobId)) === "completed",
        "the job completed on the second worker",
        30_000,
      );
      const [run, ...others] = await runsOf(second.pid);
      assert.equal(others.length, 0, "the second worker ran the job once");
      assert.deepEqual([run!.status, Number(run!.written)], ["success", ANNUAL_LINES]);
      // The lease runs out at most LEASE_SECONDS after the kill, a live process notices within a sixth of
      // it (the local driver at every poll), and a worker starts the job at its next poll; plus start-up slack.
      const pickedUpMs = Date.parse(run!.started_at) - killedAt;
      const bound = (LEASE_SECONDS * 1000 * 7) / 6 + POLL_MS + 2_000;
      assert.ok(pickedUpMs < bound, `picked up ${pickedUpMs} ms after the kill (bound ${bound} ms)`);
      // The dead worker's run was taken over, and every charge is in the PSA once.
      const firstRuns = await runsOf(first.pid);
      assert.deepEqual(
        firstRuns.map((r) => r.status),
        ["abandoned"],
      );
      const additions = await s.client.listAdditions(Number(s.agreementId));
      assert.equal(additions.length, ANNUAL_LINES);
      // The lost job was reported (as a warning in the JSON log) by the live worker.
      const { stdout } = second.output();
      assert.match(stdout, /lease expired\); it runs again now/);
      assert.match(stdout, new RegExp(`"jobId":"${jobId}"`));
    });

    it("a worker or server that cannot reach its database exits non-zero at once, saying why", async () => {
      const { env, cleanup } = freshEnv();
      cleanups.push(cleanup);
      const url =
        dialect === "postgres"
          ? "postgres://postgres@127.0.0.1:1/cspsync"
          : `sqlite:${path.join(os.devNull, "cspsync.db")}`;
      const reason =
        dialect === "postgres" ? /cannot connect to the database .*ECONNREFUSED/ : /ENOTDIR|EEXIST/;
      await expectStartFailure(["worker", "--db", url], env, reason);
      await expectStartFailure(["serve", "--port", "0", "--db", url], env, reason);
    });

    it("a worker or server whose job schedule cannot be installed stops its queue and exits non-zero", async () => {
      // The queue is already running when the daily check's stored time zone turns out to be unknown.
      const database: TestDatabase = await createTestDatabase(dialect);
      cleanups.push(() => database.drop());
      const { env, cleanup } = freshEnv();
      cleanups.push(cleanup);
      const store = await openStore(database.url);
      await store.db
        .insertInto("app_settings")
        .values({
          organization_id: "default",
          key: "schedule.time_zone",
          value: JSON.stringify("Mars/Olympus_Mons"),
          updated_at: new Date().toISOString(),
        })
        .execute();
      await store.close();
      await expectStartFailure(["worker", "--db", database.url], env, /Mars\/Olympus_Mons/);
      await expectStartFailure(["serve", "--port", "0", "--db", database.url], env, /Mars\/Olympus_Mons/);
    });
  });
}
