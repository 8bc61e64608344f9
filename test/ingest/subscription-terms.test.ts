import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { Store } from "../../src/store/db.ts";
import { DIALECTS, createTestStore } from "../support/stores.ts";
import { baseRow, writeCsv, type ReconRow } from "../support/recon-builder.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-subscription-terms-"));
const RENEWED = "4b1d7c2e-0000-4000-8000-00000000beef";

/** A line of the renewed subscription for the term starting `start` (M/D/YYYY), named `name`. */
function termLine(start: string, name: string, orderId: string): ReconRow {
  return baseRow({
    SubscriptionId: RENEWED,
    SubscriptionStartDate: start,
    SubscriptionDescription: name,
    OrderId: orderId,
  });
}

/** `count` other subscriptions, one line each, between the renewed subscription's lines. */
function otherSubscriptions(count: number): ReconRow[] {
  return Array.from({ length: count }, (_, i) =>
    baseRow({
      SubscriptionId: `5ab5c000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
      OrderId: `other-${i}`,
    }),
  );
}

for (const dialect of DIALECTS) {
  describe(`a subscription keeps its latest term, whatever the order of its lines (${dialect})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await createTestStore(dialect));
    });
    after(async () => cleanup());

    async function renewed() {
      const row = await store.db
        .selectFrom("subscriptions")
        .select(["term_start", "subscription_description"])
        .where("subscription_id", "=", RENEWED)
        .executeTakeFirstOrThrow();
      return [String(row.term_start).slice(0, 10), row.subscription_description];
    }

    it("across batches, the later term's line coming first", async () => {
      // The renewal's line comes first and the earlier term's last, 1,200 subscriptions and 24 batches apart.
      const file = writeCsv(path.join(dir, "terms.csv"), [
        termLine("6/5/2025", "Second term", "o-2025"),
        ...otherSubscriptions(1_200),
        termLine("6/5/2024", "First term", "o-2024"),
      ]);
      const summary = await importReconFile(store, file, { batchSize: 50 });
      assert.equal(summary.status, "imported", summary.problem?.message);
      const stored = await store.db
        .selectFrom("subscriptions")
        .select((e) => e.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      assert.equal(Number(stored.n), 1_201);
      assert.deepEqual(await renewed(), ["2025-06-05", "Second term"]);
    });

    it("against the term stored by an earlier file; of two lines of one term, the later", async () => {
      const file = writeCsv(path.join(dir, "later.csv"), [
        termLine("6/5/2023", "Oldest term", "o-2023"),
        termLine("6/5/2025", "Second term, as corrected", "o-2025b"),
        ...otherSubscriptions(600).map((row) => ({ ...row, InvoiceNumber: "G002297373" })),
        termLine("6/5/2024", "First term again", "o-2024b"),
      ]);
      const summary = await importReconFile(store, file, { batchSize: 50 });
      assert.equal(summary.status, "imported", summary.problem?.message);
      assert.deepEqual(await renewed(), ["2025-06-05", "Second term, as corrected"]);
    });

    it("of two lines in one batch, the later term's, though it comes first", async () => {
      const file = writeCsv(path.join(dir, "adjacent.csv"), [
        termLine("6/5/2026", "Third term", "o-2026"),
        termLine("6/5/2025", "Second term once more", "o-2025c"),
      ]);
      const summary = await importReconFile(store, file, { batchSize: 50 });
      assert.equal(summary.status, "imported", summary.problem?.message);
      assert.deepEqual(await renewed(), ["2026-06-05", "Third term"]);
    });
  });
}
