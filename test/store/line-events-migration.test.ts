import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStore, type Store } from "../../src/store/db.ts";
import { migrateToLatest, migrateUpTo } from "../../src/store/migrate.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";
import { DIALECTS, createTestDatabase } from "../support/stores.ts";
import { writeCsv } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";

/**
 * Migration 0010 turns charge_events into a view over the lines plus the pair events, and stores new source
 * records as arrays. A database filled before it must read back exactly as one filled after it.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-0010-"));
const juneCsv = writeCsv(path.join(dir, "june.csv"), juneRows());

const events = (store: Store) =>
  store.db.selectFrom("charge_events").selectAll().orderBy("event_key").execute();
const lines = (store: Store) =>
  store.db
    .selectFrom("charge_lines")
    .select([
      "line_key",
      "event_key",
      "kind",
      "seat_delta",
      "seats_after",
      "source",
      "import_id",
      "source_row",
    ])
    .orderBy("line_key")
    .execute();

/** Writes what the current store holds into `old` (at 0009) the way cspsync stored it before 0010. */
async function copyInOldLayout(current: Store, old: Store) {
  const imports = await current.db.selectFrom("imports").selectAll().execute();
  for (const { source_fields: _fields, ...row } of imports) {
    await old.db.insertInto("imports").values(row).execute();
  }
  const stored = await current.db.selectFrom("charge_lines").selectAll().execute();
  for (const { kind: _k, seat_delta: _d, seats_after: _a, ...line } of stored) {
    const source = JSON.stringify(await lineSourceRecord(current, line));
    await old.db
      .insertInto("charge_lines")
      .values({ ...line, source } as never)
      .execute();
  }
  for (const event of await events(current)) {
    await old.db
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the table as it was before 0010
      .insertInto("charge_events" as any)
      .values(event)
      .execute();
  }
}

for (const dialect of DIALECTS) {
  describe(`migration 0010: line events and compact source records (${dialect})`, () => {
    it("reads a database filled before it exactly like one filled after it, and knows its lines", async () => {
      const currentDb = await createTestDatabase(dialect);
      const oldDb = await createTestDatabase(dialect);
      const current = await openStore(currentDb.url);
      const old = await openStore(oldDb.url, { migrate: false });
      try {
        const first = await importReconFile(current, juneCsv);
        assert.equal(first.status, "imported");
        await migrateUpTo(old, "0009_product_runs");
        await copyInOldLayout(current, old);
        await migrateToLatest(old);

        const expectedEvents = await events(current);
        assert.ok(
          expectedEvents.some((e) => e.event_key.startsWith("pair:")),
          "the month has a pair",
        );
        assert.deepEqual(await events(old), expectedEvents);
        const pairTable = await old.db.selectFrom("charge_pair_events").select("event_key").execute();
        assert.ok(pairTable.length > 0 && pairTable.every((e) => e.event_key.startsWith("pair:")));

        const [oldLines, newLines] = [await lines(old), await lines(current)];
        assert.deepEqual(
          oldLines.map(({ source: _s, ...rest }) => rest),
          newLines.map(({ source: _s, ...rest }) => rest),
        );
        assert.ok(oldLines.every((l) => l.source.startsWith("{")));
        assert.ok(
          newLines.every((l) => l.source === ""),
          "new lines keep their rows in source blocks",
        );
        for (const [i, line] of oldLines.entries()) {
          assert.deepEqual(await lineSourceRecord(old, line), await lineSourceRecord(current, newLines[i]!));
        }

        const again = await importReconFile(old, juneCsv);
        assert.deepEqual([again.status, again.newLines, again.knownLines], ["imported", 0, first.lines]);
        assert.deepEqual(await events(old), expectedEvents);
      } finally {
        await current.close();
        await old.close();
        await currentDb.drop();
        await oldDb.drop();
      }
    });
  });
}
