import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { Store } from "../../src/store/db.ts";
import { DIALECTS, storesForSuite } from "../support/stores.ts";
import { writeCsv } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";

/**
 * Identical rows get the occurrence index 0, 1, 2… in file order, whichever batches they fall in and however
 * the import tracks them; the keys of one file never depend on the batch size.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-occurrences-"));
const june = juneRows();
// Row 0 four times and row 5 twice, spread so that copies land in different batches of two.
const repeated = [june[0]!, ...june.slice(1, 6), june[0]!, ...june.slice(6), june[0]!, june[5]!, june[0]!];
const repeatedCsv = writeCsv(path.join(dir, "repeated.csv"), repeated);
const oneMoreCsv = writeCsv(path.join(dir, "one-more.csv"), [...repeated, june[0]!]);

async function keysByRow(store: Store, importId: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom("charge_lines")
    .select(["line_key", "source_row"])
    .where("import_id", "=", importId)
    .orderBy("source_row")
    .execute();
  return rows.map((r) => r.line_key);
}

for (const dialect of DIALECTS) {
  describe(`occurrence index of identical rows (${dialect})`, () => {
    const stores = storesForSuite(dialect, ["small", "large"]);

    it("numbers copies 0, 1, 2, 3 across batches, the same as in one batch", async () => {
      const bySmall = await importReconFile(stores.small, repeatedCsv, { batchSize: 2 });
      const byLarge = await importReconFile(stores.large, repeatedCsv, { batchSize: 1000 });
      assert.equal(bySmall.newLines, repeated.length);
      const keys = await keysByRow(stores.small, bySmall.importId);
      assert.deepEqual(keys, await keysByRow(stores.large, byLarge.importId));
      const copiesOfFirst = [0, 6, repeated.length - 3, repeated.length - 1].map((i) => keys[i]!);
      const hash = copiesOfFirst[0]!.replace(/-0$/, "");
      assert.deepEqual(
        copiesOfFirst,
        [0, 1, 2, 3].map((n) => `${hash}-${n}`),
      );
      assert.equal(keys[repeated.length - 2], keys[5]!.replace(/-0$/, "-1"));
      assert.equal(new Set(keys).size, repeated.length);
    });

    it("re-importing adds nothing; one more copy adds exactly one line, numbered after the others", async () => {
      const again = await importReconFile(stores.small, repeatedCsv, { batchSize: 2 });
      assert.equal(again.newLines, 0);
      assert.equal(again.knownLines, repeated.length);
      const more = await importReconFile(stores.small, oneMoreCsv, { batchSize: 2 });
      assert.equal(more.newLines, 1);
      assert.equal(more.knownLines, repeated.length);
      const [added] = await keysByRow(stores.small, more.importId);
      const first = (
        await stores.small.db
          .selectFrom("charge_lines")
          .select("line_key")
          .where("source_row", "=", 2)
          .executeTakeFirstOrThrow()
      ).line_key;
      assert.equal(added, first.replace(/-0$/, "-4"));
    });
  });
}
