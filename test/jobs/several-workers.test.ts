/**
 * Several `cspsync worker` processes sharing the syncs of several connections (what bench:workers measures at
 * scale): every queued job runs once, each connection's run in one process, and every charge reaches its PSA
 * exactly once, as the ledger says. Both databases (pg-boss on PostgreSQL, the embedded queue on SQLite).
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { isWriteKey } from "../../src/core/write-keys.ts";
import { enqueueSync, openJobQueue } from "../../src/jobs/sync-worker.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { addCatchAllItem, connectContosoAnnual, SAMPLE } from "../support/connectwise-setup.ts";
import { DIALECTS } from "../support/stores.ts";
import { jobState, waitFor } from "./helpers.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/cspsync.js");
const BANNER = /^cspsync worker on .*: daily check /m;
const CONNECTIONS = 4;
const WORKERS = 2;
/** The June sample's Seat-based Annual charges of Contoso, each one addition. */
const ANNUAL_LINES = 8;

type Worker = { child: ChildProcess; stdout(): string; stderr(): string; exited: Promise<number | null> };

function startWorker(databaseUrl: string, env: NodeJS.ProcessEnv): Worker {
  const child = spawn(process.execPath, [BIN, "worker", "--db", databaseUrl], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

for (const dialect of DIALECTS) {
  describe(`several cspsync worker processes, several connections (${dialect})`, () => {
    const cleanups: Array<() => Promise<unknown> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it("every queued sync runs once, in one process, and every charge is in its PSA exactly once", async () => {
      // Each connection has a PSA of its own, slow enough that the workers' jobs overlap.
      const emulators: ConnectWiseEmulator[] = [];
      for (let n = 0; n < CONNECTIONS; n++) {
        const emulator = await startConnectWiseEmulator({ seed: "demo", latencyMs: 20 });
        cleanups.push(() => emulator.close());
        addCatchAllItem(emulator);
        emulators.push(emulator);
      }
      const { app, env, databaseUrl, cleanup } = await createTestApp(
        dialect,
        emulators.map((e) => hostOf(e.url)),
      );
      cleanups.push(cleanup);
      await importReconFile(app.store, SAMPLE);
      const connectionIds: string[] = [];
      for (const [n, emulator] of emulators.entries()) {
        const { connection } = await connectContosoAnnual(app, emulator, `CW ${n + 1}`);
        connectionIds.push(connection.id);
      }
      for (const emulator of emulators) emulator.server.clearRequestLog();

      const workers = Array.from({ length: WORKERS }, () => startWorker(databaseUrl, env));
      cleanups.push(async () => {
        for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGTERM");
        await Promise.all(workers.map((w) => w.exited));
      });
      for (const worker of workers)
        await waitFor(
          () => BANNER.test(worker.stdout()) || worker.child.exitCode !== null,
          "a worker started",
          30_000,
        );
      for (const worker of workers) assert.match(worker.stdout(), BANNER, worker.stderr());

      // What the daily check queues: one sync job per connection with a motion on.
      const queue = openJobQueue(app);
      const jobIds: (string | null)[] = [];
      for (const connectionId of connectionIds)
        jobIds.push(await enqueueSync(queue, { connectionId, trigger: "schedule" }));
      await queue.stop();
      assert.ok(jobIds.every((id) => id !== null));
      await waitFor(
        async () => {
          const states = await Promise.all(jobIds.map((id) => jobState(app.store, id!)));
          return states.every((s) => s === "completed" || s === "failed");
        },
        "every sync job ended",
        60_000,
      );
      for (const id of jobIds) assert.equal(await jobState(app.store, id!), "completed", `job ${id}`);

      for (const [n, connectionId] of connectionIds.entries()) {
        const runs = await app.store.db
          .selectFrom("sync_runs")
          .select(["status", "written"])
          .where("connection_id", "=", connectionId)
          .execute();
        assert.deepEqual(
          runs.map((r) => [r.status, Number(r.written)]),
          [["success", ANNUAL_LINES]],
          `CW ${n + 1}: one run, every charge written`,
        );
        const ledger = await app.store.db
          .selectFrom("psa_writes")
          .select(["write_key", "status", "psa_record_id", "attempts"])
          .where("connection_id", "=", connectionId)
          .orderBy("write_key")
          .execute();
        assert.equal(ledger.length, ANNUAL_LINES);
        assert.ok(
          ledger.every((w) => w.status === "confirmed" && Number(w.attempts) === 1),
          `CW ${n + 1}: every write confirmed at its first attempt`,
        );
        // The PSA holds one addition per ledger key, the one the ledger names, and no write was sent twice.
        const additions = emulators[n]!.data()
          .tables.additions.filter((a) => typeof a.serialNumber === "string" && isWriteKey(a.serialNumber))
          .map((a) => [String(a.serialNumber), String(a.id)])
          .sort(([a], [b]) => (a! < b! ? -1 : 1));
        assert.deepEqual(
          additions,
          ledger.map((w) => [w.write_key, w.psa_record_id]),
          `CW ${n + 1}: PSA and ledger agree`,
        );
        const writes = emulators[n]!.server.requestLog().filter((r) => r.method !== "GET");
        assert.equal(writes.length, ANNUAL_LINES, `CW ${n + 1}: one write request per charge`);
      }
      for (const worker of workers) worker.child.kill("SIGTERM");
      assert.deepEqual(await Promise.all(workers.map((w) => w.exited)), [0, 0]);
      for (const worker of workers) assert.equal(worker.stderr(), "");
    });
  });
}
