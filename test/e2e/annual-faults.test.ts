import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { importReconFile } from "../../src/services/import-recon.ts";
import { RunAlreadyActiveError } from "../../src/services/annual-sync.ts";
import type { FaultRule } from "../../emulators/kit.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, SAMPLE, type MappedConnectWise } from "../support/connectwise-setup.ts";
import { createTestApp } from "../support/app.ts";
import { CONTOSO } from "../support/recon-builder.ts";
import { syncAfterKill } from "../support/recovery.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/cspsync.js");
const ANNUAL_LINES = 8;

type Setup = MappedConnectWise;
const setUp = mappedConnectWise;

/** Every annual charge is in the PSA exactly once, and the ledger knows each one. */
async function assertExactlyOnce(s: Setup) {
  const additions = await s.client.listAdditions(Number(s.agreementId));
  const keys = additions.map((a) => a.serialNumber);
  assert.equal(
    additions.length,
    ANNUAL_LINES,
    `expected ${ANNUAL_LINES} additions, found ${additions.length}`,
  );
  assert.equal(new Set(keys).size, ANNUAL_LINES, "no key appears twice");
  const ledger = await s.app.store.db
    .selectFrom("psa_writes")
    .selectAll()
    .where("connection_id", "=", s.connectionId)
    .execute();
  assert.deepEqual(
    ledger.map((w) => w.status),
    Array(ANNUAL_LINES).fill("confirmed"),
  );
  assert.deepEqual(new Set(ledger.map((w) => w.write_key)), new Set(keys));
}

for (const dialect of DIALECTS) {
  describe(`Seat-based Annual sync under faults (${dialect})`, () => {
    let s: Setup;
    afterEach(async () => s?.cleanup());

    const withFaults = async (faults: FaultRule[]) => {
      s = await setUp(dialect);
      s.emulator.server.addFaults(faults);
      return (await s.app.annualSync(s.connectionId)).run("manual");
    };

    it("responses lost after the PSA committed the write: looked up, never written twice", async () => {
      const run = await withFaults([{ kind: "lose-response", method: "POST", path: "/additions", every: 2 }]);
      assert.deepEqual([run.status, run.written, run.errors], ["success", ANNUAL_LINES, 0]);
      await assertExactlyOnce(s);
    });

    it("a burst of 429s is waited out (Retry-After) and nothing is duplicated", async () => {
      const run = await withFaults([{ kind: "rate-limit", every: 2, times: 6, retryAfterSeconds: 1 }]);
      assert.equal(run.status, "success");
      await assertExactlyOnce(s);
    });

    it("5xx on reads and writes and dropped connections: retried or looked up, exactly once", async () => {
      const run = await withFaults([
        { kind: "server-error", status: 503, method: "POST", path: "/additions", nth: [1, 2] },
        { kind: "server-error", status: 500, method: "GET", nth: [4] },
        { kind: "drop-connection", method: "POST", path: "/additions", nth: [5] },
      ]);
      assert.deepEqual(
        [run.status, run.errors],
        ["success", 0],
        JSON.stringify(run.items.filter((i) => i.outcome === "error").map((i) => i.message)),
      );
      await assertExactlyOnce(s);
    });

    it("two syncs started at once: one runs, the other is refused by the database", async () => {
      s = await setUp(dialect);
      s.emulator.server.setLatency(20);
      const results = await Promise.allSettled([
        (await s.app.annualSync(s.connectionId)).run("manual"),
        (await s.app.annualSync(s.connectionId)).run("manual"),
      ]);
      const refused = results.filter((r) => r.status === "rejected");
      assert.equal(refused.length, 1);
      assert.ok((refused[0] as PromiseRejectedResult).reason instanceof RunAlreadyActiveError);
      const runs = await s.app.store.db.selectFrom("sync_runs").selectAll().execute();
      assert.equal(runs.length, 1);
      await assertExactlyOnce(s);
    });

    it("a process killed while a write is in flight, then a new run: zero duplicates, zero missing", async () => {
      s = await setUp(dialect);
      // The third addition stays in flight long enough to kill the process; the PSA still commits it.
      s.emulator.server.addFaults([
        { kind: "latency", method: "POST", path: "/additions", nth: [3], latencyMs: 1500 },
      ]);
      const child = spawn(process.execPath, [BIN, "sync", "CW", "--db", s.databaseUrl], {
        env: { ...process.env, ...s.env },
        stdio: "ignore",
      });
      const attempted = async () =>
        Number(
          (
            await s.app.store.db
              .selectFrom("psa_writes")
              .select((eb) => eb.fn.countAll<number>().as("n"))
              .where("attempts", ">", 0)
              .executeTakeFirstOrThrow()
          ).n,
        );
      for (let i = 0; i < 400 && (await attempted()) < 3; i++) await sleep(25);
      assert.ok((await attempted()) >= 3, "the child reached the third write");
      await sleep(200);
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
      await sleep(1600);
      const recovery = await syncAfterKill(s.app, s.connectionId);
      assert.ok(
        recovery[0]!.items.some((i) => i.outcome === "found-existing"),
        "the in-flight write was found, not repeated",
      );
      await assertExactlyOnce(s);
      const runs = await s.app.store.db
        .selectFrom("sync_runs")
        .select(["status"])
        .orderBy("started_at")
        .execute();
      assert.deepEqual(
        runs.map((r) => r.status),
        ["abandoned", ...recovery.map((r) => (r.errors > 0 ? "error" : "success"))],
      );
      assert.equal(runs.at(-1)!.status, "success");
    });
  });
}

describe("fault test setup", () => {
  before(() => {});
  after(() => {});
  it("uses a sample with the expected number of annual charge events", async () => {
    const { app, cleanup } = await createTestApp("sqlite", []);
    try {
      await importReconFile(app.store, SAMPLE);
      const events = await app.store.db
        .selectFrom("charge_events")
        .selectAll()
        .where("motion", "=", "seat-annual")
        .where("customer_tenant_id", "=", CONTOSO.id)
        .execute();
      assert.equal(events.length, ANNUAL_LINES);
    } finally {
      await cleanup();
    }
  });
});
