import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { importReconFile } from "../../src/services/import-recon.ts";
import { DAILY_CHECK_JOB } from "../../src/jobs/index.ts";
import {
  enqueueChecksAfterImport,
  startSyncWorker,
  type SyncWorker,
} from "../../src/services/sync-worker.ts";
import { AppSettingsService } from "../../src/services/app-settings.ts";
import type { App } from "../../src/app.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise } from "../support/connectwise-setup.ts";
import { azureConnectWise } from "../support/azure-setup.ts";
import { baseRow, writeCsv } from "../support/recon-builder.ts";
import os from "node:os";
import fs from "node:fs";

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
      worker = await startSyncWorker(app);
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
      worker = await startSyncWorker(app);
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
      worker = await startSyncWorker(app);
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
  });
}
