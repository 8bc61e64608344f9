import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { App } from "../../src/app.ts";
import { fetchSource, testSource } from "../../src/services/fetch-partner-center.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { listInvoices } from "../../src/store/billing-repository.ts";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp } from "../support/app.ts";
import { addSource, FAST, fetchAppOf, SAMPLE, startEmulator } from "../sources/support.ts";

for (const dialect of DIALECTS) {
  describe(`Partner Center fetch: billed invoice → import (${dialect})`, () => {
    let emulator: PartnerCenterEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let sourceId: string;

    before(async () => {
      emulator = await startEmulator();
      ({ app, cleanup } = await createTestApp(dialect, []));
      sourceId = (await addSource(app, emulator)).id;
    });
    after(async () => {
      await cleanup();
      await emulator.close();
    });

    it("tests the source: tokens for both APIs, invoices readable, export allowed", async () => {
      const test = await testSource(fetchAppOf(app), sourceId, FAST);
      assert.equal(test.ok, true, test.message);
      const view = await app.sources.view(sourceId);
      assert.equal(view.lastTest?.ok, true);
      assert.deepEqual(view.secretsSet, { clientSecret: true, privateKeyPem: false });
      assert.equal(
        JSON.stringify(view).includes(emulator.clientSecret),
        false,
        "the secret is never returned",
      );
    });

    it("fetches every new-commerce invoice through the Graph export and imports it whole, with the invoice's lines", async () => {
      const outcome = await fetchSource(fetchAppOf(app), sourceId, { trigger: "manual", ...FAST });
      assert.equal(outcome.status, "imported", outcome.message);
      assert.equal(outcome.errorKind, null);
      const seeded = emulator.invoices();
      assert.ok(seeded.length >= 1);
      assert.deepEqual(
        outcome.invoices.map((i) => [i.invoiceId, i.outcome, i.lines]),
        seeded
          .filter((i) => /^G/.test(i.id))
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .map((i) => [i.id, "imported", i.lineCount]),
      );
      // The same lines as a plain import of the CSV: importing the file now adds nothing.
      const again = await importReconFile(app.store, SAMPLE);
      assert.equal(again.status, "imported");
      assert.equal(again.newLines, 0, "the fetched lines are exactly the file's lines");
      const invoices = await listInvoices(app.store, app.organizationId);
      for (const seededInvoice of seeded) {
        const stored = invoices.find((i) => i.invoiceNumber === seededInvoice.id);
        assert.ok(stored, seededInvoice.id);
        assert.equal(stored.total, seededInvoice.total);
      }
      // Several blobs per invoice were downloaded (7 lines per blob).
      const blobs = emulator.requestLog().filter((r) => r.route === "GET /blob/:manifest/:blob");
      assert.ok(blobs.length > seeded.length, `${blobs.length} blobs`);
      const run = await app.sources.repository.fetchRun(outcome.runId);
      assert.equal(run?.status, "imported");
    });

    it("a second fetch asks Graph for nothing it has: no export request for known invoices", async () => {
      emulator.clearRequestLog();
      const outcome = await fetchSource(fetchAppOf(app), sourceId, { trigger: "schedule", ...FAST });
      assert.equal(outcome.status, "nothing-new", outcome.message);
      assert.deepEqual(outcome.invoices, []);
      const exports = emulator.requestLog().filter((r) => r.method === "POST" && r.path.includes("/export"));
      assert.equal(exports.length, 0);
    });
  });
}
