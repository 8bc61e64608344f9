import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { importReconFile, type ImportSummary } from "../../src/services/import-recon.ts";
import type { Store } from "../../src/store/db.ts";
import { RECON_COLUMN_NAMES } from "../../src/sources/reconciliation/columns.ts";
import { DIALECTS, createTestStore } from "../support/stores.ts";
import { baseRow, toCsv, toJsonLines, writeCsv } from "../support/recon-builder.ts";
import { MAX_RECORD_CHARS } from "../../src/sources/reconciliation/csv-records.ts";
import { juneRows } from "../support/scenarios.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bad-"));
let fileCounter = 0;
function file(name: string, content: string | Buffer): string {
  const full = path.join(dir, `${++fileCounter}-${name}`);
  fs.writeFileSync(full, content);
  return full;
}

async function storedCounts(store: Store) {
  const count = async (
    table: "charge_lines" | "charge_events" | "invoices" | "customers" | "subscriptions",
  ) =>
    Number(
      (
        await store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    lines: await count("charge_lines"),
    events: await count("charge_events"),
    invoices: await count("invoices"),
    customers: await count("customers"),
    subscriptions: await count("subscriptions"),
  };
}

function assertRejected(summary: ImportSummary, expected: { row?: number; column?: string; reason: RegExp }) {
  assert.equal(summary.status, "rejected", `expected a rejection, got ${summary.status}`);
  assert.ok(summary.problem);
  assert.equal(summary.problem.row, expected.row);
  assert.equal(summary.problem.column, expected.column);
  assert.match(summary.problem.reason, expected.reason);
  assert.ok(summary.problem.message.startsWith(path.basename(summary.file)), summary.problem.message);
}

for (const dialect of DIALECTS) {
  describe(`bad reconciliation input is refused with its place and nothing stored (${dialect})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await createTestStore(dialect));
    });
    after(async () => cleanup());

    const nothingStored = async () =>
      assert.deepEqual(await storedCounts(store), {
        lines: 0,
        events: 0,
        invoices: 0,
        customers: 0,
        subscriptions: 0,
      });

    it("a CSV that is not a reconciliation file", async () => {
      const summary = await importReconFile(store, file("people.csv", "name,age,city\nAda,36,London\n"));
      assertRejected(summary, { row: 1, reason: /not an NCE invoice reconciliation file/ });
      await nothingStored();
    });

    it("a header without a required column names the column", async () => {
      const columns = RECON_COLUMN_NAMES.filter((c) => c !== "SubscriptionId" && c !== "BillableQuantity");
      const summary = await importReconFile(store, file("no-sub.csv", toCsv([baseRow()], { columns })));
      assertRejected(summary, {
        row: 1,
        reason: /required column\(s\) missing from the header: SubscriptionId, BillableQuantity/,
      });
      await nothingStored();
    });

    it("an unparsable number deep in the file, after earlier batches were written, leaves nothing behind", async () => {
      const rows = juneRows();
      rows[20] = { ...rows[20]!, Subtotal: "12,5x" };
      const summary = await importReconFile(store, writeCsv(path.join(dir, "bad-number.csv"), rows), {
        batchSize: 3,
      });
      assertRejected(summary, { row: 22, column: "Subtotal", reason: /"12,5x" is not a number/ });
      await nothingStored();
      const recorded = await store.db
        .selectFrom("imports")
        .selectAll()
        .where("id", "=", summary.importId)
        .executeTakeFirstOrThrow();
      assert.equal(recorded.status, "rejected");
      assert.match(recorded.error ?? "", /row 22, column Subtotal/);
    });

    it("an unparsable date", async () => {
      const rows = [baseRow(), baseRow({ ChargeStartDate: "13/45/2024" })];
      const summary = await importReconFile(store, writeCsv(path.join(dir, "bad-date.csv"), rows));
      assertRejected(summary, { row: 3, column: "ChargeStartDate", reason: /"13\/45\/2024" is not a date/ });
      await nothingStored();
    });

    it("a required value left empty", async () => {
      const summary = await importReconFile(
        store,
        writeCsv(path.join(dir, "empty-value.csv"), [baseRow({ CustomerId: "" })]),
      );
      assertRejected(summary, { row: 2, column: "CustomerId", reason: /is empty but a value is required/ });
    });

    it("a truncated row", async () => {
      const csv = toCsv([baseRow(), baseRow()]);
      const truncated = csv.slice(0, csv.lastIndexOf("6dc5c039750a"));
      const summary = await importReconFile(store, file("truncated.csv", truncated));
      assertRejected(summary, { row: 3, reason: /expected 47 fields but found \d+/ });
      await nothingStored();
    });

    it("a quoted field that never closes", async () => {
      const csv =
        toCsv([baseRow()]) +
        toCsv([baseRow({ CustomerName: 'Open "quote' })])
          .split("\r\n")[1]!
          .replace('"Open', '"Open');
      const broken = csv.replace(/"Open ""quote"/, '"Open quote');
      const summary = await importReconFile(store, file("unclosed.csv", broken));
      assertRejected(summary, { row: 3, reason: /quoted field is never closed|not escaped/ });
      await nothingStored();
    });

    it("a quote that never closes early in a large file is reported at its row, without reading on to the end", async () => {
      const rows = toCsv(Array.from({ length: 4_000 }, (_, i) => baseRow({ SubscriptionId: `long-${i}` })));
      const [header, ...data] = rows.split("\r\n");
      // From the opened quote on, the text holds no other quote, so nothing ever closes it.
      const unquoted = data.map((row) => row.replaceAll('"', ""));
      const broken = unquoted[1]!.replace(/^([^,]*,[^,]*,)/, '$1"');
      const rest = unquoted.slice(2);
      const text = [header, data[0], broken, ...rest].join("\r\n");
      assert.ok(text.length > 2 * MAX_RECORD_CHARS, "the rest of the file is longer than the limit");
      const summary = await importReconFile(store, file("runaway-quote.csv", text));
      assertRejected(summary, { row: 3, reason: /over a million characters without ending.*never closed/ });
      await nothingStored();
    });

    it("a JSON Lines record that never ends is reported at its line, without reading on to the end", async () => {
      const good = toJsonLines([baseRow()]).trimEnd();
      const runaway = `{"CustomerName": "${"x".repeat(3 * MAX_RECORD_CHARS)}`;
      const summary = await importReconFile(store, file("runaway.jsonl", `${good}\n${runaway}`));
      assertRejected(summary, { row: 2, reason: /over a million characters without ending/ });
      await nothingStored();
    });

    it("a file separated by semicolons says so", async () => {
      const summary = await importReconFile(
        store,
        file("semicolons.csv", toCsv([baseRow()], { delimiter: ";" })),
      );
      assertRejected(summary, { row: 1, reason: /separated by ";", expected ","/ });
      assert.deepEqual(summary.problem?.hint, { kind: "delimiter", detected: ";", expected: "," });
      assert.doesNotMatch(summary.problem?.message ?? "", /--delimiter/);
      // The worker-thread reader of large files hands the same hint back.
      const inWorker = await importReconFile(
        store,
        file("semicolons-worker.csv", toCsv([baseRow()], { delimiter: ";" })),
        { parallelRead: true },
      );
      assertRejected(inWorker, { row: 1, reason: /separated by ";", expected ","/ });
      assert.deepEqual(inWorker.problem?.hint, { kind: "delimiter", detected: ";", expected: "," });
      const tabs = await importReconFile(store, file("tabs.csv", toCsv([baseRow()], { delimiter: "\t" })), {
        delimiter: "|",
      });
      assert.deepEqual(tabs.problem?.hint, { kind: "delimiter", detected: "\t", expected: "|" });
      const accepted = await importReconFile(
        store,
        file("semicolons-ok.csv", toCsv([baseRow()], { delimiter: ";" })),
        { delimiter: ";" },
      );
      assert.equal(accepted.status, "imported");
      assert.equal(accepted.newLines, 1);
      await store.db.deleteFrom("charge_pair_events").execute();
      await store.db.deleteFrom("charge_lines").execute();
      await store.db.deleteFrom("invoices").execute();
      await store.db.deleteFrom("subscriptions").execute();
      await store.db.deleteFrom("customers").execute();
    });

    it("a broken JSON Lines record names its line", async () => {
      const jsonl = toJsonLines([baseRow(), baseRow()]).split("\n");
      jsonl[1] = jsonl[1]!.slice(0, 40);
      const summary = await importReconFile(store, file("broken.jsonl.gz", gzipSync(jsonl.join("\n"))));
      assertRejected(summary, { row: 2, reason: /not valid JSON/ });
      await nothingStored();
    });

    it("empty, BOM-only and header-only files are reported as empty, not as crashes", async () => {
      for (const [name, content] of [
        ["empty.csv", ""],
        ["bom.csv", "\uFEFF"],
        ["header-only.csv", toCsv([])],
        ["empty.jsonl.gz", gzipSync("")],
      ] as const) {
        const summary = await importReconFile(store, file(name, content));
        assert.equal(summary.status, "empty", name);
        assert.match(summary.problem?.reason ?? "", /empty|no data rows/);
      }
      await nothingStored();
    });
  });
}

describe("header variants", () => {
  it("accepts documented spellings, any case, and missing optional columns", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      const columns = RECON_COLUMN_NAMES.filter(
        (c) => !["ProductCategory", "PromotionId", "PublisherId", "Quantity"].includes(c),
      ).map((c) =>
        c === "MpnId"
          ? "MPNID"
          : c === "ReferenceId"
            ? "ReferenceID"
            : c === "ResellerMpnId"
              ? "Tier2MpnId"
              : c === "CustomerId"
                ? "customerid"
                : c,
      );
      const summary = await importReconFile(
        store,
        file("variants.csv", toCsv([baseRow({ ReferenceId: "X-1" })], { columns, eol: "\n" })),
      );
      assert.equal(summary.status, "imported", summary.problem?.message);
      const line = await store.db.selectFrom("charge_lines").selectAll().executeTakeFirstOrThrow();
      assert.equal(line.reference_id, "x-1");
      assert.equal(line.quantity, null);
      const source = await lineSourceRecord(store, line);
      assert.equal(source.MpnId, "6034453");
      assert.equal(source.ResellerMpnId, "0");
    } finally {
      await cleanup();
    }
  });
});

describe("one currency per invoice", () => {
  it("refuses a file whose invoice mixes currencies, or changes an earlier invoice's currency", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      const mixed = await importReconFile(
        store,
        file("mixed.csv", toCsv([baseRow(), baseRow({ Currency: "EUR", SubscriptionId: "x-2" })])),
      );
      assert.equal(mixed.status, "rejected");
      assert.deepEqual([mixed.problem?.row, mixed.problem?.column], [3, "Currency"]);
      assert.match(mixed.problem?.reason ?? "", /invoice G002297372 is in USD but this line is in EUR/);
      assert.equal((await importReconFile(store, file("usd.csv", toCsv([baseRow()])))).status, "imported");
      const later = await importReconFile(
        store,
        file("eur.csv", toCsv([baseRow({ Currency: "EUR", SubscriptionId: "x-3" })])),
      );
      assert.equal(later.status, "rejected");
      assert.match(later.problem?.reason ?? "", /imported earlier in USD; this file has it in EUR/);
    } finally {
      await cleanup();
    }
  });
});
