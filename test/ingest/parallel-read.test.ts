import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import { DIALECTS, storesForSuite } from "../support/stores.ts";
import { storedLinesAndEvents, summaryWithoutId, writeReaderCases } from "../support/stored-lines.ts";
import { writeJsonLinesGz } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";

/**
 * Large files are read on a worker thread while the database is written on the main one. Reading there or
 * inline must store exactly the same lines, keys and events, and fail the same way on bad input.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-parallel-read-"));
const june = juneRows();
// Identical rows in different batches exercise the occurrence index across worker batches.
const rows = [...june, june[0]!, ...june, june[3]!];
const { csv, more, badNumber, mixedCurrency } = writeReaderCases(dir, june, rows);
const jsonl = writeJsonLinesGz(path.join(dir, "june.jsonl.gz"), rows);

for (const dialect of DIALECTS) {
  describe(`reading on a worker thread (${dialect})`, () => {
    const stores = storesForSuite(dialect, ["inline", "parallel"]);

    it("stores the same lines, keys, source records and events as reading inline, CSV and JSON Lines", async () => {
      for (const file of [csv, jsonl, more]) {
        const byInline = await importReconFile(stores.inline, file, { parallelRead: false, batchSize: 7 });
        const byWorker = await importReconFile(stores.parallel, file, { parallelRead: true, batchSize: 7 });
        assert.equal(byWorker.status, "imported", byWorker.problem?.message);
        assert.deepEqual(summaryWithoutId(byWorker), summaryWithoutId(byInline));
      }
      const expected = await storedLinesAndEvents(stores.inline);
      assert.equal(expected.lines.length, rows.length + 2);
      assert.deepEqual(await storedLinesAndEvents(stores.parallel), expected);
    });

    it("rejects a bad number with the same file, row and column, and stores nothing of the file", async () => {
      const before = await storedLinesAndEvents(stores.parallel);
      const byInline = await importReconFile(stores.inline, badNumber, { parallelRead: false, batchSize: 4 });
      const byWorker = await importReconFile(stores.parallel, badNumber, {
        parallelRead: true,
        batchSize: 4,
      });
      assert.equal(byWorker.status, "rejected");
      assert.deepEqual(byWorker.problem, byInline.problem);
      assert.deepEqual([byWorker.problem?.row, byWorker.problem?.column], [rows.length + 2, "Subtotal"]);
      assert.deepEqual(await storedLinesAndEvents(stores.parallel), before);
    });

    it("stops the reader when the writer refuses a row (another currency on the invoice)", async () => {
      const before = await storedLinesAndEvents(stores.parallel);
      const summary = await importReconFile(stores.parallel, mixedCurrency, {
        parallelRead: true,
        batchSize: 4,
      });
      assert.equal(summary.status, "rejected");
      assert.deepEqual([summary.problem?.row, summary.problem?.column], [rows.length + 2, "Currency"]);
      assert.deepEqual(await storedLinesAndEvents(stores.parallel), before);
    });
  });
}
