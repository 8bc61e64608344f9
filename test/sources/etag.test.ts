import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { App } from "../../src/app.ts";
import { fetchSource } from "../../src/services/fetch-partner-center.ts";
import { listInvoices } from "../../src/store/billing-repository.ts";
import {
  startPartnerCenterEmulator,
  type PartnerCenterEmulator,
} from "../../emulators/partner-center/index.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp } from "../support/app.ts";
import { baseRow, writeCsv } from "../support/recon-builder.ts";
import { addSource, FAST, fetchAppOf, tempDir } from "./support.ts";

/**
 * A changed export (docs/partner-center.md §5): the daily run sees a known invoice change through its total on
 * the invoice list and exports that one invoice only; an invoice whose total stands is not exported again.
 */
for (const dialect of DIALECTS) {
  describe(`Partner Center: a known invoice changes (${dialect})`, () => {
    let pc: PartnerCenterEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let sourceId: string;
    const dir = tempDir();

    before(async () => {
      const first = writeCsv(path.join(dir.dir, "g1.csv"), [baseRow({ InvoiceNumber: "G000000001" })]);
      const second = writeCsv(path.join(dir.dir, "g2.csv"), [baseRow({ InvoiceNumber: "G000000002" })]);
      pc = await startPartnerCenterEmulator({ files: [first, second] });
      ({ app, cleanup } = await createTestApp(dialect, []));
      sourceId = (await addSource(app, pc)).id;
    });
    after(async () => {
      await cleanup();
      await pc.close();
      dir.remove();
    });

    const billedExports = () =>
      pc
        .requestLog()
        .filter((r) => r.method === "POST" && r.path.includes("/billed/export"))
        .map((r) => r.path);

    it("the daily run exports only the invoice whose total changed, and imports its new data version", async () => {
      const day0 = await fetchSource(fetchAppOf(app), sourceId, { trigger: "schedule", ...FAST });
      assert.equal(day0.status, "imported", day0.message);
      assert.equal(billedExports().length, 2);
      const etagBefore = (await app.sources.repository.invoice("G000000001"))?.etag;

      // Microsoft publishes a new version of G000000001 with a second line: its total changes.
      const amended = writeCsv(path.join(dir.dir, "g1-v2.csv"), [
        baseRow({ InvoiceNumber: "G000000001" }),
        baseRow({ InvoiceNumber: "G000000001", Quantity: "3", SubscriptionDescription: "Added seats" }),
      ]);
      await pc.addFile(amended);
      pc.clearRequestLog();
      const day1 = await fetchSource(fetchAppOf(app), sourceId, { trigger: "schedule", ...FAST });
      assert.equal(day1.status, "imported", day1.message);
      assert.deepEqual(
        day1.invoices.map((i) => [i.invoiceId, i.outcome, i.newLines]),
        [["G000000001", "imported", 1]],
      );
      const exported = pc
        .requestLog()
        .filter((r) => r.method === "POST" && r.path.includes("/billed/export"));
      assert.equal(exported.length, 1, "one export, for the changed invoice only");
      const row = await app.sources.repository.invoice("G000000001");
      assert.notEqual(row?.etag, etagBefore, "the new data version is recorded");
      const stored = (await listInvoices(app.store, app.organizationId)).find(
        (i) => i.invoiceNumber === "G000000001",
      );
      assert.equal(stored?.total, pc.invoices().find((i) => i.id === "G000000001")?.total);

      // Nothing changed since: no export at all.
      pc.clearRequestLog();
      const day2 = await fetchSource(fetchAppOf(app), sourceId, { trigger: "schedule", ...FAST });
      assert.equal(day2.status, "nothing-new", day2.message);
      assert.deepEqual(billedExports(), []);
    });
  });
}
