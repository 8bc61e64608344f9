import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { App } from "../../src/app.ts";
import { fetchSource, type FetchOptions } from "../../src/services/fetch-partner-center.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { listImports, listInvoices } from "../../src/store/billing-repository.ts";
import {
  startPartnerCenterEmulator,
  type PartnerCenterEmulator,
} from "../../emulators/partner-center/index.ts";
import { generateRecon } from "../../bench/generate-recon.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp } from "../support/app.ts";
import { addSource, FAST, fetchAppOf, tempDir } from "../sources/support.ts";

/**
 * The fetch imports an invoice while its blobs are still downloading (docs/partner-center.md §5): a blob held
 * back halfway by the emulator keeps the import waiting in the middle of the file, with lines already written
 * in its transaction. Released, the import takes every line exactly once; cut there, nothing is stored, not
 * even a rejected import, and the next fetch imports the invoice.
 */
const LINES = 3_000;
const LINES_PER_BLOB = 1_000;

for (const dialect of DIALECTS) {
  describe(`Partner Center fetch overlapping download and import (${dialect})`, { timeout: 120_000 }, () => {
    const temp = tempDir();
    const file = path.join(temp.dir, "recon.csv");
    let pc: PartnerCenterEmulator;
    let app: App;
    let cleanup: (() => Promise<void>) | undefined;
    let sourceId: string;

    before(async () => {
      await generateRecon(file, LINES);
      pc = await startPartnerCenterEmulator({ files: [file], linesPerBlob: LINES_PER_BLOB });
    });
    beforeEach(async () => {
      await cleanup?.();
      ({ app, cleanup } = await createTestApp(dialect, []));
      sourceId = (await addSource(app, pc)).id;
      pc.clearFaults();
      pc.clearRequestLog();
    });
    after(async () => {
      await cleanup?.();
      await pc.close();
      temp.remove();
    });

    const fetch = (options: Partial<FetchOptions> = {}) =>
      fetchSource(fetchAppOf(app), sourceId, { trigger: "manual", ...FAST, ...options });
    const storedLines = async () =>
      Number(
        (
          await app.store.db
            .selectFrom("charge_lines")
            .select((eb) => eb.fn.countAll().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );

    /**
     * Starts a fetch whose second blob is held halfway, and resolves once the import has written lines of that
     * blob while it is still held: the import is then in the middle of the invoice (and of the blob), waiting
     * for the rest.
     */
    function fetchHeldMidway(cut: boolean) {
      pc.addFaults({ kind: "stalled-blob", path: "part-00001", cut, times: 1 });
      let written = 0;
      let sawLines: () => void;
      const linesWritten = new Promise<void>((resolve) => (sawLines = resolve));
      const outcome = fetch({
        onImportProgress: ({ lines }) => {
          written = lines;
          if (lines > LINES_PER_BLOB) sawLines();
        },
      });
      const midway = Promise.all([pc.blobStalled(), linesWritten]).then(() => written);
      return { outcome, midway };
    }

    it("the import sees every line exactly once while the blobs arrive", async () => {
      const { outcome, midway } = fetchHeldMidway(false);
      const before = await midway;
      assert.ok(before < LINES, `lines written while the second blob was held: ${before}`);
      pc.releaseStalledBlobs();
      const done = await outcome;
      assert.equal(done.status, "imported", done.message);
      const seeded = pc.invoices();
      assert.equal(
        seeded.reduce((n, i) => n + i.lineCount, 0),
        LINES,
      );
      assert.equal(done.newLines, LINES);
      assert.equal(await storedLines(), LINES, "no line stored twice, none missing");
      // The same lines as the file: importing it now recognises every line and adds none.
      const again = await importReconFile(app.store, file);
      assert.equal(again.status, "imported");
      assert.equal(again.newLines, 0);
      assert.equal(again.knownLines, LINES);
      const invoices = await listInvoices(app.store, app.organizationId);
      for (const invoice of seeded)
        assert.equal(invoices.find((i) => i.invoiceNumber === invoice.id)?.total, invoice.total);
      const blobs = pc.requestLog().filter((r) => r.route === "GET /blob/:manifest/:blob");
      assert.equal(blobs.length, Math.ceil(LINES / LINES_PER_BLOB), "each blob downloaded once");
    });

    it("a blob that breaks off mid-import leaves nothing stored, not even a rejected import; the next fetch imports it", async () => {
      const { outcome, midway } = fetchHeldMidway(true);
      await midway;
      pc.releaseStalledBlobs();
      const failed = await outcome;
      assert.equal(failed.status, "failed", JSON.stringify(pc.requestLog().slice(-6)));
      assert.equal(failed.errorKind, "corrupt-blob", failed.message);
      assert.equal(failed.transient, true);
      assert.match(failed.message, /part-00001\.json\.gz is truncated or corrupt/);
      assert.equal(await storedLines(), 0, "the lines written before the blob broke off were rolled back");
      assert.deepEqual(await listInvoices(app.store, app.organizationId), []);
      assert.deepEqual(await listImports(app.store, app.organizationId, 10), [], "no import recorded");
      const invoiceId = pc.invoices()[0]!.id;
      assert.equal((await app.sources.repository.invoice(invoiceId))?.status, "failed");
      const retried = await fetch();
      assert.equal(retried.status, "imported", retried.message);
      assert.equal(retried.newLines, LINES);
      assert.equal(await storedLines(), LINES);
      assert.equal((await listImports(app.store, app.organizationId, 10)).length, 1);
    });

    it("a truncated last blob: the import that had read the others stores nothing; the next fetch recovers", async () => {
      pc.addFaults({ kind: "truncated-blob", path: "part-00002", times: 1 });
      const failed = await fetch();
      assert.equal(failed.errorKind, "corrupt-blob", failed.message);
      assert.match(failed.message, /part-00002\.json\.gz is truncated or corrupt/);
      assert.equal(await storedLines(), 0);
      assert.deepEqual(await listImports(app.store, app.organizationId, 10), []);
      const retried = await fetch();
      assert.equal(retried.status, "imported", retried.message);
      assert.equal(await storedLines(), LINES);
    });

    it("an expired SAS halfway through the blobs: the import so far is dropped and the new export imported whole", async () => {
      pc.addFaults({ kind: "expired-sas", path: "part-00002", times: 1 });
      const done = await fetch();
      assert.equal(done.status, "imported", done.message);
      assert.equal(done.newLines, LINES);
      assert.equal(await storedLines(), LINES);
      const exports = pc.requestLog().filter((r) => r.path.includes("/billed/export"));
      assert.equal(exports.length, 2);
      assert.equal((await listImports(app.store, app.organizationId, 10)).length, 1);
    });
  });
}
