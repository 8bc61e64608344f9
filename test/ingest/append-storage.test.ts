import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Migrator, type Migration } from "kysely";
import { importReconFile } from "../../src/services/import-recon.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";
import { openStore, type Store } from "../../src/store/db.ts";
import { LineKeyCounts } from "../../src/core/line-key-counts.ts";
import { migrations } from "../../src/store/migrations/index.ts";
import { columnTypes } from "../../src/store/migrations/types.ts";
import { runCli } from "../support/cli.ts";
import { baseRow, writeCsv } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";
import { createTestDatabase, DIALECTS, storesForSuite } from "../support/stores.ts";

/**
 * Storage where imports append (migration 0018): lines are recognised per invoice against its stored keys,
 * with no unique index behind them. What must hold whatever the layout: the same data again adds nothing,
 * identical rows are all kept, a file is stored whole or not at all, two importers of one file at once store
 * it once, and a database filled before 0018 keeps recognising its lines after it.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-append-"));
const june = juneRows();
const juneCsv = writeCsv(path.join(dir, "june.csv"), june);
// Row 0 three times: identical rows, each kept as a line of its own.
const withCopies = [june[0]!, ...june.slice(1), june[0]!, june[0]!];
const withCopiesCsv = writeCsv(path.join(dir, "copies.csv"), withCopies);
// Many rows of another invoice, so that a concurrent import is under way long enough to overlap.
const many = Array.from({ length: 3000 }, (_, i) =>
  baseRow({
    InvoiceNumber: "G777000001",
    Quantity: String(1 + (i % 40)),
    Subtotal: `${i}.00`,
    Total: `${i}.00`,
  }),
);
const manyCsv = writeCsv(path.join(dir, "many.csv"), many);

/** Imports `file` into a current store and copies what it stored into `old` (migrated to before 0018). */
async function copyInLayoutBefore0018(scratch: Store, file: string, old: Store): Promise<void> {
  const { importId } = await importReconFile(scratch, file);
  const imported = await scratch.db.selectFrom("imports").selectAll().where("id", "=", importId).execute();
  await old.db.insertInto("imports").values(imported).execute();
  const stored = await scratch.db
    .selectFrom("charge_lines")
    .selectAll()
    .where("import_id", "=", importId)
    .execute();
  for (const line of stored) {
    const source = JSON.stringify(await lineSourceRecord(scratch, line));
    await old.db
      .insertInto("charge_lines")
      .values({ ...line, source })
      .execute();
  }
  const pairKeys = [...new Set(stored.map((l) => l.event_key).filter((k) => k.startsWith("pair:")))];
  if (pairKeys.length > 0) {
    const pairs = await scratch.db
      .selectFrom("charge_pair_events")
      .selectAll()
      .where("event_key", "in", pairKeys)
      .execute();
    await old.db.insertInto("charge_pair_events").values(pairs).execute();
  }
}

async function lineCount(store: Store): Promise<number> {
  const row = await store.db
    .selectFrom("charge_lines")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function lineKeys(store: Store): Promise<string[]> {
  const rows = await store.db.selectFrom("charge_lines").select("line_key").orderBy("line_key").execute();
  return rows.map((r) => r.line_key);
}

async function events(store: Store) {
  return store.db
    .selectFrom("charge_events")
    .select(["event_key", "kind", "seat_delta", "amount", "line_count"])
    .orderBy("event_key")
    .execute();
}

describe("LineKeyCounts", () => {
  it("numbers a hash's lines in order and calls those below the stored count known", () => {
    const counts = new LineKeyCounts();
    const a = "a".repeat(40);
    const b = "0123456789abcdef0123456789abcdef01234567";
    counts.addKnown(`${a}-1`);
    counts.addKnown(`${a}-0`);
    assert.deepEqual(counts.next(a), { occurrence: 0, stored: true });
    assert.deepEqual(counts.next(b), { occurrence: 0, stored: false });
    assert.deepEqual(counts.next(a), { occurrence: 1, stored: true });
    assert.deepEqual(counts.next(a), { occurrence: 2, stored: false });
    assert.deepEqual(counts.next(b), { occurrence: 1, stored: false });
    assert.equal(counts.size, 2);
  });

  it("reads stored keys given as one text, one per line, as it reads them one by one; ignores other lines", () => {
    const a = "a".repeat(40);
    const b = "0123456789abcdef0123456789abcdef01234567";
    const counts = new LineKeyCounts();
    counts.addKnownList(
      [`${a}-12`, "", "not-a-key", `${b}-x`, `${b}-0`, `${"g".repeat(40)}-0`, `${a}-3`].join("\n"),
    );
    assert.equal(counts.size, 2);
    for (let occurrence = 0; occurrence < 13; occurrence++)
      assert.deepEqual(counts.next(a), { occurrence, stored: true });
    assert.deepEqual(counts.next(a), { occurrence: 13, stored: false });
    assert.deepEqual(counts.next(b), { occurrence: 0, stored: true });
    assert.deepEqual(counts.next(b), { occurrence: 1, stored: false });
  });

  it("keeps exact counts through growth, for many hashes", () => {
    const counts = new LineKeyCounts();
    const hash = (i: number) => i.toString(16).padStart(40, "0");
    for (let i = 0; i < 20_000; i += 2) counts.addKnown(`${hash(i)}-0`);
    let stored = 0;
    for (let i = 0; i < 20_000; i++) if (counts.next(hash(i)).stored) stored += 1;
    assert.equal(stored, 10_000);
    assert.equal(counts.size, 20_000);
    assert.deepEqual(counts.next(hash(4)), { occurrence: 1, stored: false });
  });

  it("hands its known counts to another table: taken over whole when empty, merged otherwise; room made ahead", () => {
    const hash = (i: number) => i.toString(16).padStart(40, "0");
    const read = new LineKeyCounts();
    read.reserve(30_000);
    for (let i = 0; i < 30_000; i += 3) read.addKnown(`${hash(i)}-${i % 2}`);
    const reader = new LineKeyCounts();
    reader.addKnownKeys(read.knownKeys());
    const other = new LineKeyCounts();
    other.addKnown(`${hash(1)}-0`);
    reader.addKnownKeys(other.knownKeys());
    // hash(0): occurrence 0 stored; hash(3): occurrences 0 and 1 stored; hash(1): occurrence 0 stored (merged).
    assert.deepEqual(reader.next(hash(0)), { occurrence: 0, stored: true });
    assert.deepEqual(reader.next(hash(0)), { occurrence: 1, stored: false });
    assert.deepEqual(reader.next(hash(3)), { occurrence: 0, stored: true });
    assert.deepEqual(reader.next(hash(3)), { occurrence: 1, stored: true });
    assert.deepEqual(reader.next(hash(3)), { occurrence: 2, stored: false });
    assert.deepEqual(reader.next(hash(1)), { occurrence: 0, stored: true });
    assert.deepEqual(reader.next(hash(2)), { occurrence: 0, stored: false });
    let stored = 0;
    for (let i = 6; i < 30_000; i++) if (reader.next(hash(i)).stored) stored += 1;
    assert.equal(stored, 30_000 / 3 - 2);
  });
});

for (const dialect of DIALECTS) {
  describe(`append storage (${dialect})`, () => {
    const stores = storesForSuite(dialect, ["main", "copies", "bad", "scratch", "blocks", "keys"]);

    it("every line reads back its own row from its batch's source block; batches of known lines keep none", async () => {
      const store = stores.blocks;
      const first = await importReconFile(store, manyCsv, { batchSize: 64 });
      assert.equal(first.newLines, many.length);
      const blockCount = async () =>
        Number(
          (
            await store.db
              .selectFrom("charge_line_sources")
              .select((e) => e.fn.countAll().as("n"))
              .executeTakeFirstOrThrow()
          ).n,
        );
      assert.equal(await blockCount(), Math.ceil(many.length / 64));
      const stored = await store.db.selectFrom("charge_lines").selectAll().execute();
      for (const line of stored) {
        assert.equal(line.source, "");
        const record = await lineSourceRecord(store, line);
        assert.equal(record.InvoiceNumber, "G777000001");
        assert.equal(Number(record.Subtotal), Number(line.subtotal), `row ${line.source_row}`);
      }

      // Ten new rows at the end: only the two batches holding them are kept (rows 2,945–3,008 and 3,009–3,011).
      const more = Array.from({ length: 10 }, (_, i) => ({
        ...many[0]!,
        Subtotal: `${5000 + i}.00`,
        Total: `${5000 + i}.00`,
      }));
      const again = await importReconFile(
        store,
        writeCsv(path.join(dir, "many-more.csv"), [...many, ...more]),
        {
          batchSize: 64,
        },
      );
      assert.equal(again.newLines, 10);
      assert.equal(await blockCount(), Math.ceil(many.length / 64) + 2);
      const added = await store.db
        .selectFrom("charge_lines")
        .selectAll()
        .where("import_id", "=", again.importId)
        .execute();
      assert.deepEqual(
        (await Promise.all(added.map(async (line) => (await lineSourceRecord(store, line)).Subtotal))).sort(),
        more.map((row) => row.Subtotal).sort(),
      );
    });

    it("re-importing the same file adds nothing and writes no line", async () => {
      const first = await importReconFile(stores.main, juneCsv, { batchSize: 3 });
      assert.equal(first.status, "imported");
      assert.equal(first.newLines, june.length);
      const keys = await lineKeys(stores.main);
      const again = await importReconFile(stores.main, juneCsv, { batchSize: 5 });
      assert.equal(again.status, "imported");
      assert.equal(again.newLines, 0);
      assert.equal(again.knownLines, june.length);
      assert.equal(again.newEvents, 0);
      assert.deepEqual(await lineKeys(stores.main), keys);
      const invoice = await stores.main.db.selectFrom("invoices").selectAll().executeTakeFirstOrThrow();
      assert.equal(Number(invoice.line_count), june.length);
    });

    it("keeps identical rows as lines of their own, and a re-import still adds none of them", async () => {
      const first = await importReconFile(stores.copies, withCopiesCsv, { batchSize: 2 });
      assert.equal(first.newLines, withCopies.length);
      assert.equal(await lineCount(stores.copies), withCopies.length);
      const keys = await lineKeys(stores.copies);
      assert.equal(new Set(keys).size, withCopies.length);
      const again = await importReconFile(stores.copies, withCopiesCsv, { batchSize: 4 });
      assert.equal(again.newLines, 0);
      // The file without its extra copies is known entirely; with one copy more, that copy is new.
      assert.equal((await importReconFile(stores.copies, juneCsv)).newLines, 0);
      const oneMore = writeCsv(path.join(dir, "one-more.csv"), [...withCopies, june[0]!]);
      assert.equal((await importReconFile(stores.copies, oneMore)).newLines, 1);
      assert.equal(await lineCount(stores.copies), withCopies.length + 1);
    });

    it("reads an invoice's stored keys from its key blocks when they hold all its lines, else from the lines", async () => {
      const store = stores.keys;
      await importReconFile(store, withCopiesCsv, { batchSize: 2 });
      const blocks = () => store.db.selectFrom("charge_line_key_blocks").selectAll().execute();
      const packed = await blocks();
      assert.equal(
        packed.reduce((n, b) => n + Number(b.key_count), 0),
        withCopies.length,
      );
      // The lines' own keys spoiled: a re-import that still recognises every line read them from the blocks.
      await store.db.updateTable("charge_lines").set({ line_key: "spoiled" }).execute();
      assert.equal((await importReconFile(store, withCopiesCsv)).newLines, 0);
      // One block gone: the blocks no longer hold every line, so the keys come from the lines (spoiled here,
      // so every line of the file looks new).
      await store.db
        .deleteFrom("charge_line_key_blocks")
        .where("key_count", "=", packed[0]!.key_count)
        .execute();
      assert.equal(
        (await importReconFile(store, withCopiesCsv, { batchSize: 2 })).newLines,
        withCopies.length,
      );
    });

    it("a bad row in the middle, after earlier batches were appended, stores nothing", async () => {
      const rows = [...many.slice(0, 1500), baseRow({ Subtotal: "12,5x" }), ...many.slice(1500)];
      const summary = await importReconFile(stores.bad, writeCsv(path.join(dir, "bad.csv"), rows), {
        batchSize: 100,
      });
      assert.equal(summary.status, "rejected");
      assert.equal(summary.problem?.column, "Subtotal");
      assert.equal(await lineCount(stores.bad), 0);
      assert.deepEqual(await stores.bad.db.selectFrom("invoices").selectAll().execute(), []);
      assert.deepEqual(await stores.bad.db.selectFrom("customers").selectAll().execute(), []);
      // Nothing half-stored stands in the way of the good file afterwards.
      assert.equal((await importReconFile(stores.bad, manyCsv)).newLines, many.length);
    });

    it("stores text with tabs, line breaks, backslashes and quotes exactly as read", async () => {
      const name = 'Tab\there, "quoted"\r\nnew line \\N and a back\\slash \'';
      const file = writeCsv(path.join(dir, "text.csv"), [
        baseRow({ InvoiceNumber: "G888000001", ProductName: name, SkuName: "\\N" }),
      ]);
      const summary = await importReconFile(stores.bad, file);
      assert.equal(summary.newLines, 1);
      const line = await stores.bad.db
        .selectFrom("charge_lines")
        .select(["product_name", "sku_name", "source", "import_id", "source_row"])
        .where("invoice_number", "=", "G888000001")
        .executeTakeFirstOrThrow();
      assert.equal(line.product_name, name);
      assert.equal(line.sku_name, "\\N");
      assert.equal((await lineSourceRecord(stores.bad, line)).ProductName, name);
      assert.equal((await importReconFile(stores.bad, file)).newLines, 0);
    });

    it("two processes importing the same file at once end with one copy of it", async () => {
      const database = await createTestDatabase(dialect);
      try {
        // Migrated first, so that the two imports race on the lines rather than on creating the schema.
        await (await openStore(database.url)).close();
        const runs = await Promise.all(
          [0, 1].map(() => runCli(["import", manyCsv, "--json", "--db", database.url])),
        );
        const summaries = runs.map((run) => {
          assert.equal(run.code, 0, run.stderr);
          return (JSON.parse(run.stdout) as { files: { status: string; newLines: number }[] }).files[0]!;
        });
        assert.deepEqual(summaries.map((s) => s.status).sort(), ["imported", "imported"]);
        assert.deepEqual(
          summaries.map((s) => s.newLines).sort((a, b) => a - b),
          [0, many.length],
        );
        const store = await openStore(database.url);
        try {
          assert.equal(await lineCount(store), many.length);
          const keys = await lineKeys(store);
          assert.equal(new Set(keys).size, many.length);
        } finally {
          await store.close();
        }
      } finally {
        await database.drop();
      }
    });

    it("two files bringing the same two invoices in opposite order, imported at once, are both stored once", async (t) => {
      // PostgreSQL takes each invoice when the reader first meets it: the two imports each hold one invoice and
      // wait for the other's, and the server breaks that deadlock by rolling one back, which runs again.
      // SQLite's single write lock serialises the imports, so the two files meet no deadlock there.
      const invoice = (number: string, n: number, offset: number) =>
        Array.from({ length: n }, (_, i) =>
          baseRow({ InvoiceNumber: number, Subtotal: `${offset + i}.00`, Total: `${offset + i}.00` }),
        );
      const aThenB = writeCsv(path.join(dir, `a-then-b-${dialect}.csv`), [
        ...invoice("G888000001", 1500, 0),
        ...invoice("G888000002", 2, 0),
      ]);
      const bThenA = writeCsv(path.join(dir, `b-then-a-${dialect}.csv`), [
        ...invoice("G888000002", 1500, 0),
        ...invoice("G888000001", 2, 0),
      ]);
      // Read on this thread and on the reader thread: the rolled-back import's error must come through both.
      for (const parallelRead of [false, true]) {
        const database = await createTestDatabase(dialect);
        t.after(() => database.drop());
        const store = await openStore(database.url);
        t.after(() => store.close());
        const summaries = await Promise.all(
          [aThenB, bThenA].map((file) => importReconFile(store, file, { parallelRead })),
        );
        assert.deepEqual(
          summaries.map((s) => s.status),
          ["imported", "imported"],
        );
        // Each file's two lines of its second invoice are the other file's first two of it: stored once.
        assert.equal(summaries[0]!.newLines + summaries[1]!.newLines, 3000);
        assert.equal(await lineCount(store), 3000);
        assert.equal(new Set(await lineKeys(store)).size, 3000);
      }
    });

    it("a database filled before migration 0018 keeps its keys and recognises its lines after it", async () => {
      const database = await createTestDatabase(dialect);
      try {
        const old = await openStore(database.url, { migrate: false });
        const before = migrations.filter((m) => m.name < "0018");
        const migrator = new Migrator({
          db: old.db,
          provider: {
            getMigrations: async () =>
              Object.fromEntries(
                before.map((m): [string, Migration] => [
                  m.name,
                  { up: (db) => m.up(db, columnTypes(dialect), dialect) },
                ]),
              ),
          },
          migrationTableName: "cspsync_migration",
          migrationLockTableName: "cspsync_migration_lock",
        });
        const { error } = await migrator.migrateToLatest();
        assert.equal(error, undefined);
        // The file as cspsync stored it then: lines with their source records inline, under the old schema's
        // unique line-key index (which the rows fit unchanged).
        await copyInLayoutBefore0018(stores.scratch, withCopiesCsv, old);
        assert.equal(await lineCount(old), withCopies.length);
        const keysBefore = await lineKeys(old);
        const eventsBefore = await events(old);
        await old.close();

        const store = await openStore(database.url);
        try {
          assert.deepEqual(await lineKeys(store), keysBefore);
          assert.deepEqual(await events(store), eventsBefore);
          const again = await importReconFile(store, withCopiesCsv);
          assert.equal(again.newLines, 0);
          assert.equal(again.knownLines, withCopies.length);
          assert.equal((await importReconFile(store, juneCsv)).newLines, 0);
          assert.equal(await lineCount(store), withCopies.length);
          // The lines are appended now: no unique index on the line key is left to refuse a second row.
          const one = await store.db.selectFrom("charge_lines").selectAll().executeTakeFirstOrThrow();
          await store.db.insertInto("charge_lines").values(one).execute();
          assert.equal(await lineCount(store), withCopies.length + 1);
        } finally {
          await store.close();
        }
      } finally {
        await database.drop();
      }
    });
  });
}
