import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { importReconFile } from "../../src/services/import-recon.ts";
import { DAILY_CHECK_JOB } from "../../src/jobs/index.ts";
import { enqueueChecksAfterImport, startSyncWorker, type SyncWorker } from "../../src/jobs/sync-worker.ts";
import { AppSettingsService } from "../../src/services/app-settings.ts";
import type { App } from "../../src/app.ts";
import { DIALECTS } from "../support/stores.ts";
import { CLIENT_ID, mappedConnectWise } from "../support/connectwise-setup.ts";
import { azureConnectWise } from "../support/azure-setup.ts";
import { baseRow, writeCsv } from "../support/recon-builder.ts";
import os from "node:os";
import fs from "node:fs";
import { createLogger, type Logger } from "../../src/log.ts";
import { enqueueSync } from "../../src/jobs/sync-worker.ts";
import { jobState, waitFor } from "./helpers.ts";

type LogLine = { level: number; msg: string } & Record<string, unknown>;

/** A logger whose JSON lines the test reads (pino levels: 30 info, 40 warn). */
function captureLog(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger("debug", { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function waitForRuns(app: App, count: number) {
  for (let i = 0; i < 600; i++) {
    const runs = await app.store.db
      .selectFrom("sync_runs")
      .selectAll()
      .where("status", "!=", "running")
      .orderBy("started_at")
      .execute();
    if (runs.length >= count) return runs;
    await sleep(50);
  }
  throw new Error(`expected ${count} finished runs`);
}

for (const dialect of DIALECTS) {
  describe(`background sync jobs (${dialect})`, () => {
    let worker: SyncWorker | undefined;
    let cleanup: () => Promise<void>;
    afterEach(async () => {
      await worker?.stop();
      await cleanup();
    });

    async function setUp() {
      const setup = await mappedConnectWise(dialect);
      cleanup = setup.cleanup;
      return setup.app;
    }

    it("the daily check, installed at the configured time and zone, queues and runs each enabled connection's sync", async () => {
      const app = await setUp();
      await new AppSettingsService(app.store, app.organizationId).set({
        dailySyncTime: "05:30",
        timeZone: "Europe/Amsterdam",
      });
      worker = await startSyncWorker(app, { logger: captureLog().logger });
      const schedule = await worker.reschedule();
      assert.deepEqual([schedule.cron, schedule.timeZone], ["30 5 * * *", "Europe/Amsterdam"]);
      const installed = await worker.queue.schedules();
      assert.ok(installed.some((s) => s.cron === "30 5 * * *" && s.timeZone === "Europe/Amsterdam"));
      // Fire the check now instead of waiting for 05:30.
      await worker.queue.send(DAILY_CHECK_JOB, {});
      const [run] = await waitForRuns(app, 1);
      assert.deepEqual([run!.trigger, run!.status, Number(run!.written)], ["schedule", "success", 8]);
    });

    it("an import with new annual charges queues a check right away; one without queues nothing", async () => {
      const app = await setUp();
      worker = await startSyncWorker(app, { logger: captureLog().logger });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-worker-"));
      const monthlyOnly = await importReconFile(
        app.store,
        writeCsv(path.join(dir, "monthly.csv"), [
          baseRow({ InvoiceNumber: "G9", SubscriptionId: "99999999-0000-4000-8000-000000000001" }),
        ]),
      );
      assert.equal(await enqueueChecksAfterImport(app, worker.queue, [monthlyOnly]), 0);
      const annual = baseRow({
        InvoiceNumber: "G9",
        SubscriptionId: "99999999-0000-4000-8000-000000000002",
        BillingFrequency: "",
        SubscriptionEndDate: "6/17/2025",
        ChargeEndDate: "6/17/2025",
        UnitPrice: "150",
        EffectiveUnitPrice: "150",
        Subtotal: "1500",
        Total: "1500",
      });
      const withAnnual = await importReconFile(app.store, writeCsv(path.join(dir, "annual.csv"), [annual]));
      assert.equal(await enqueueChecksAfterImport(app, worker.queue, [withAnnual]), 1);
      const [run] = await waitForRuns(app, 1);
      assert.deepEqual([run!.trigger, run!.status, Number(run!.written)], ["import", "success", 9]);
    });

    it("the daily check runs every motion switched on (annual and Azure Plan) and the product sync when its mode is not off", async () => {
      const setup = await azureConnectWise(dialect);
      cleanup = setup.cleanup;
      const { app } = setup;
      await app.connections.update(setup.connectionId, { settings: { productSyncMode: "all" } });
      worker = await startSyncWorker(app, { logger: captureLog().logger });
      await worker.queue.send(DAILY_CHECK_JOB, {});
      const runs = await waitForRuns(app, 2);
      assert.deepEqual(
        runs.map((r) => [JSON.parse(r.scope).motion, r.trigger, r.status, Number(r.written)]).sort(),
        [
          ["azure", "schedule", "success", 1],
          ["seat-annual", "schedule", "success", 8],
        ],
      );
      let products: { trigger: string; status: string; written: number }[] = [];
      for (let i = 0; i < 600 && products.length === 0; i++) {
        products = await app.store.db
          .selectFrom("product_sync_runs")
          .select(["trigger", "status", "written"])
          .where("status", "!=", "running")
          .execute();
        if (products.length === 0) await sleep(50);
      }
      assert.deepEqual(
        products.map((p) => [p.trigger, p.status, Number(p.written)]),
        [["schedule", "success", 10]],
      );
    });

    it("a sync job that ends without a run says why in the log", async () => {
      const setup = await mappedConnectWise(dialect);
      cleanup = setup.cleanup;
      const { app, emulator } = setup;
      const { logger, lines } = captureLog();
      worker = await startSyncWorker(app, { logger });
      const { companyId, publicKey, privateKey } = emulator.credentials;
      const off = await app.connections.create({
        vendor: "connectwise",
        name: "Nothing on",
        config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
        secrets: { privateKey },
      });
      // One after the other: a second job for the connection while one is queued would be deduplicated.
      const completed = async (data: Parameters<typeof enqueueSync>[1]) => {
        const id = await enqueueSync(worker!.queue, data);
        assert.ok(id);
        await waitFor(async () => (await jobState(app.store, id)) === "completed", `job ${id} completed`);
      };
      await completed({ connectionId: off.id, trigger: "manual" });
      await completed({ connectionId: off.id, trigger: "manual", motion: "seat-annual" });
      await app.connections.remove(off.id);
      await completed({ connectionId: off.id, trigger: "import" });
      const reasons = lines.filter((l) => l.level === 30 && l.msg.startsWith("sync job skipped"));
      assert.deepEqual(
        reasons.map((l) => l.msg),
        [
          "sync job skipped: no billing motion is switched on for Nothing on",
          "sync job skipped: Seat-based Annual subscription sync is off for Nothing on; turn it on in the connection's settings first",
          "sync job skipped: its connection was removed after it was queued",
        ],
      );
      assert.deepEqual(new Set(reasons.map((l) => l.connectionId)), new Set([off.id]));
      assert.ok(reasons.every((l) => typeof l.jobId === "string" && l.attempt === 1));
      assert.equal(
        await app.store.db
          .selectFrom("sync_runs")
          .selectAll()
          .execute()
          .then((r) => r.length),
        0,
      );
    });

    it("a sync job whose connection is busy with another run is retried later, not completed", async () => {
      const setup = await mappedConnectWise(dialect);
      cleanup = setup.cleanup;
      const { app } = setup;
      // A run of this connection waits for a slow PSA read while the job comes in.
      const [slow] = setup.emulator.server.addFaults([
        { kind: "latency", method: "GET", nth: [1], latencyMs: 1_500 },
      ]);
      const manual = (await app.annualSync(setup.connectionId)).run("manual");
      await waitFor(
        () => (setup.emulator.server.faults().find((f) => f.id === slow!.id)?.fired ?? 0) === 1,
        "the manual run holds the connection",
      );
      const { logger, lines } = captureLog();
      worker = await startSyncWorker(app, { logger });
      const id = await enqueueSync(worker.queue, { connectionId: setup.connectionId, trigger: "import" });
      await waitFor(
        async () => (await jobState(app.store, id!)) === "retry",
        "the busy job waits for its retry",
      );
      const busy = lines.find((l) => l.level === 40 && /another run holds/.test(l.msg));
      assert.ok(busy, JSON.stringify(lines));
      assert.equal(busy.jobId, id);
      assert.equal(typeof busy.activeRunId, "string");
      assert.equal((await manual).status, "success");
    });
  });
}
