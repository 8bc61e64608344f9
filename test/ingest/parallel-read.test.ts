import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile, type ImportSummary } from "../../src/services/import-recon.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";
import type { Store } from "../../src/store/db.ts";
import { DIALECTS, storesForSuite } from "../support/stores.ts";
import { baseRow, writeCsv, writeJsonLinesGz } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";

/**
 * Large files are read on a worker thread while the database is written on the main one. Reading there or
 * inline must store exactly the same lines, keys and events, and fail the same way on bad input.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-parallel-read-"));
const june = juneRows();
// Identical rows in different batches exercise the occurrence index across worker batches.
const rows = [...june, june[0]!, ...june, june[3]!];
const csv = writeCsv(path.join(dir, "june.csv"), rows);
const jsonl = writeJsonLinesGz(path.join(dir, "june.jsonl.gz"), rows);
// The same rows again with one more copy of a row and a new one in between: two new lines among known ones.
const more = writeCsv(path.join(dir, "june-more.csv"), [
  ...rows.slice(0, 9),
  { ...june[1]!, Subtotal: "777.00", Total: "777.00" },
  ...rows.slice(9),
  june[0]!,
]);
const badNumber = writeCsv(path.join(dir, "bad-number.csv"), [
  ...june,
  { ...june[2]!, Subtotal: "12,5O" },
  ...june,
]);
const mixedCurrency = writeCsv(path.join(dir, "mixed-currency.csv"), [
  ...rows,
  baseRow({ InvoiceNumber: june[0]!.InvoiceNumber, Currency: "EUR", SubscriptionId: "x-9" }),
]);

async function stored(store: Store) {
  const lines = await store.db
    .selectFrom("charge_lines")
    .select(["source_row", "line_key", "event_key", "kind", "seat_delta", "source", "import_id"])
    .orderBy("line_key")
    .execute();
  const events = await store.db.selectFrom("charge_events").selectAll().orderBy("event_key").execute();
  const records = await Promise.all(lines.map((line) => lineSourceRecord(store, line)));
  return { lines: lines.map(({ import_id: _id, ...line }, i) => ({ ...line, record: records[i] })), events };
}

function withoutId(summary: ImportSummary) {
  const { importId: _id, ...rest } = summary;
  return rest;
}

for (const dialect of DIALECTS) {
  describe(`reading on a worker thread (${dialect})`, () => {
    const stores = storesForSuite(dialect, ["inline", "parallel"]);

    it("stores the same lines, keys, source records and events as reading inline, CSV and JSON Lines", async () => {
      for (const file of [csv, jsonl, more]) {
        const byInline = await importReconFile(stores.inline, file, { parallelRead: false, batchSize: 7 });
        const byWorker = await importReconFile(stores.parallel, file, { parallelRead: true, batchSize: 7 });
        assert.equal(byWorker.status, "imported", byWorker.problem?.message);
        assert.deepEqual(withoutId(byWorker), withoutId(byInline));
      }
      const expected = await stored(stores.inline);
      assert.equal(expected.lines.length, rows.length + 2);
      assert.deepEqual(await stored(stores.parallel), expected);
    });

    it("rejects a bad number with the same file, row and column, and stores nothing of the file", async () => {
      const before = await stored(stores.parallel);
      const byInline = await importReconFile(stores.inline, badNumber, { parallelRead: false, batchSize: 4 });
      const byWorker = await importReconFile(stores.parallel, badNumber, {
        parallelRead: true,
        batchSize: 4,
      });
      assert.equal(byWorker.status, "rejected");
      assert.deepEqual(byWorker.problem, byInline.problem);
      assert.deepEqual([byWorker.problem?.row, byWorker.problem?.column], [june.length + 2, "Subtotal"]);
      assert.deepEqual(await stored(stores.parallel), before);
    });

    it("stops the reader when the writer refuses a row (another currency on the invoice)", async () => {
      const before = await stored(stores.parallel);
      const summary = await importReconFile(stores.parallel, mixedCurrency, {
        parallelRead: true,
        batchSize: 4,
      });
      assert.equal(summary.status, "rejected");
      assert.deepEqual([summary.problem?.row, summary.problem?.column], [rows.length + 2, "Currency"]);
      assert.deepEqual(await stored(stores.parallel), before);
    });
  });
}
