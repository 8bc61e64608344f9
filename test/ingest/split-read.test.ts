import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LineKeyCounts } from "../../src/core/line-key-counts.ts";
import { fieldsInSourceBlock } from "../../src/core/source-blocks.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { ReconFileError } from "../../src/sources/reconciliation/errors.ts";
import { readLines, type LineSource } from "../../src/sources/reconciliation/read-lines.ts";
import { readLinesSplit } from "../../src/sources/reconciliation/split-read.ts";
import { DIALECTS, storesForSuite } from "../support/stores.ts";
import { storedLinesAndEvents, summaryWithoutId, writeReaderCases } from "../support/stored-lines.ts";
import { writeCsv, writeJsonLinesGz } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";

/**
 * Large plain CSV files are read in stretches, by a reader thread and the main one (split-read.ts). Whatever the
 * stretches, the lines, keys, rows as read, counts, file hash and errors must be exactly those of reading the
 * file from its start on one thread.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-split-read-"));
const june = juneRows();
// Identical rows far apart: their occurrences are numbered across stretches read by different threads.
const rows = [...june, june[0]!, ...june, june[3]!, ...june, june[0]!];
const { csv, more, badNumber, mixedCurrency } = writeReaderCases(dir, june, rows);
// Line breaks inside quoted fields: some stretch edges fall inside one, which must be found and read again.
const multiline = writeCsv(
  path.join(dir, "multiline.csv"),
  rows.map((row, i) => ({ ...row, SubscriptionDescription: `first line ${i}\nsecond, "quoted"\r\nthird` })),
);
const strayQuote = path.join(dir, "stray-quote.csv");
fs.writeFileSync(strayQuote, fs.readFileSync(csv, "utf8").replace(/\r\n([^\r\n]*)\r\n$/, '\r\n$1x"y\r\n'));
const headerOnly = path.join(dir, "header-only.csv");
fs.writeFileSync(headerOnly, fs.readFileSync(csv, "utf8").split("\r\n")[0] + "\r\n\r\n");

const STRETCHES = [97, 300, 1000, 4096];

/** Everything a source gives, with the rows as read decoded, for comparing two ways of reading. */
async function drain(source: LineSource) {
  const lines = [];
  let batches = 0;
  for await (const batch of source.batches) {
    batches += 1;
    for (const { line, lineKey, hash, classification, standalone } of batch.lines) {
      const record = batch.sources ? fieldsInSourceBlock(batch.sources.data, line.sourceRow) : null;
      lines.push({ line, lineKey, hash, classification, standalone, record });
    }
  }
  return { lines, batches, sha256: source.sha256(), tally: source.tally(), fields: source.sourceFields() };
}

async function split(file: string, stretchBytes: number, known?: LineKeyCounts) {
  const source = await readLinesSplit(file, { batchSize: 400, stretchBytes }, knownOf(known));
  assert.ok(source, "a plain CSV file is split");
  return drain(source);
}

async function inline(file: string, known?: LineKeyCounts) {
  return drain(await readLines(file, { batchSize: 400 }, knownOf(known)));
}

function knownOf(known?: LineKeyCounts) {
  return known ? async () => known.knownKeys() : undefined;
}

async function failure(read: () => Promise<unknown>) {
  try {
    await read();
  } catch (error) {
    assert.ok(error instanceof ReconFileError, String(error));
    return { message: error.message, row: error.row, column: error.column, type: error.constructor.name };
  }
  assert.fail("the file was read without an error");
}

describe("reading a file in stretches on two threads", () => {
  it("gives the lines, keys, rows as read, counts and file hash of reading it from the start", async () => {
    for (const file of [csv, multiline]) {
      const expected = await inline(file);
      assert.equal(expected.lines.length, rows.length);
      for (const stretchBytes of STRETCHES) {
        const got = await split(file, stretchBytes);
        assert.deepEqual(
          { ...got, batches: 0 },
          { ...expected, batches: 0 },
          `${file}, ${stretchBytes} bytes`,
        );
        if (stretchBytes < 1000) assert.ok(got.batches > 3, `${got.batches} stretches`);
      }
    }
  });

  it("passes on only the lines not stored yet, numbering identical rows in file order", async () => {
    const stored = (await inline(csv)).lines.map((l) => l.lineKey);
    for (const stretchBytes of STRETCHES) {
      // Every key of june.csv stored but the last occurrence of june[0]: more.csv brings that one, its own
      // extra copy of june[0] and its changed row.
      const known = new LineKeyCounts();
      for (const key of stored.slice(0, -1)) known.addKnown(key);
      const expectedKnown = new LineKeyCounts();
      for (const key of stored.slice(0, -1)) expectedKnown.addKnown(key);
      const expected = await inline(more, expectedKnown);
      const got = await split(more, stretchBytes, known);
      assert.equal(got.lines.length, 3);
      assert.deepEqual({ ...got, batches: 0 }, { ...expected, batches: 0 });
    }
  });

  it("fails on the same row and column with the same reason as reading from the start", async () => {
    for (const file of [badNumber, mixedCurrency, strayQuote, headerOnly]) {
      const expected = await failure(() => inline(file));
      for (const stretchBytes of STRETCHES) {
        assert.deepEqual(
          await failure(() => split(file, stretchBytes)),
          expected,
          `${file}, ${stretchBytes}`,
        );
      }
    }
    assert.deepEqual(
      [(await failure(() => split(badNumber, 300))).row, (await failure(() => split(strayQuote, 300))).row],
      [rows.length + 2, rows.length + 1],
    );
  });

  it("leaves files it cannot split to the other readers", async () => {
    const jsonl = writeJsonLinesGz(path.join(dir, "june.jsonl.gz"), rows);
    assert.equal(await readLinesSplit(jsonl, { batchSize: 400 }), null);
    assert.equal(await readLinesSplit(csv, { batchSize: 400, delimiter: "||" }), null);
  });
});

for (const dialect of DIALECTS) {
  describe(`importing a file read in stretches (${dialect})`, () => {
    const stores = storesForSuite(dialect, ["inline", "split"]);

    it("stores what reading it from the start stores, and the same file again adds nothing", async () => {
      for (const file of [csv, more, multiline, csv]) {
        const byInline = await importReconFile(stores.inline, file, {
          splitRead: false,
          parallelRead: false,
        });
        const bySplit = await importReconFile(stores.split, file, { splitRead: { stretchBytes: 300 } });
        assert.equal(bySplit.status, "imported", bySplit.problem?.message);
        assert.deepEqual(summaryWithoutId(bySplit), summaryWithoutId(byInline));
      }
      const expected = await storedLinesAndEvents(stores.inline);
      assert.equal(expected.lines.length, 2 * rows.length + 2);
      assert.deepEqual(await storedLinesAndEvents(stores.split), expected);
    });

    it("rejects a bad row with its file, row and column and stores nothing of the file", async () => {
      const before = await storedLinesAndEvents(stores.split);
      const byInline = await importReconFile(stores.inline, badNumber, { splitRead: false });
      const bySplit = await importReconFile(stores.split, badNumber, { splitRead: { stretchBytes: 300 } });
      assert.equal(bySplit.status, "rejected");
      assert.deepEqual(bySplit.problem, byInline.problem);
      assert.deepEqual(await storedLinesAndEvents(stores.split), before);
    });
  });
}
