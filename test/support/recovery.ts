import assert from "node:assert/strict";
import type { App } from "../../src/app.ts";
import type { BillingMotion } from "../../src/core/billing.ts";
import { syncFor } from "../../src/services/motion-sync.ts";
import type { RunTotals } from "../../src/services/sync-bookkeeping.ts";
import { IN_DOUBT_MS } from "../../src/services/sync-bookkeeping.ts";

type Run = RunTotals & { items: { outcome: string; message: string | null }[] };

/**
 * The runs after a sync process was killed mid-write. Writes run side by side, so the kill can fall between
 * recording an attempt and sending it; such a write cannot be told apart from one still on its way, and the
 * first run must leave it in doubt rather than risk a second charge. A run after the in-doubt window writes
 * it. Returns the runs made: one when nothing was in doubt, else two.
 */
export async function syncAfterKill(
  app: App,
  connectionId: string,
  motion: BillingMotion = "seat-annual",
): Promise<Run[]> {
  const first: Run = await (await syncFor(app, motion, connectionId)).run("manual");
  const errors = first.items.filter((i) => i.outcome === "error");
  for (const item of errors) assert.match(item.message ?? "", /may still reach the PSA/, item.message ?? "");
  if (errors.length === 0) return [first];
  const later = () => new Date(Date.now() + IN_DOUBT_MS);
  const second: Run = await (await syncFor(app, motion, connectionId, { now: later })).run("manual");
  assert.equal(second.errors, 0, second.items.map((i) => i.message).join("; "));
  assert.equal(second.written, errors.length, "each write left in doubt is written by the later run");
  return [first, second];
}
