import type { CspsyncMigration } from "./types.ts";

/**
 * Seat-based Monthly start point (docs/sync-behaviour.md §6.3): a mapping starts from the most recent
 * invoice or from the next one. The invoice that was the most recent when the mapping was enabled is kept with
 * it, so the start stays put however many invoices are imported before the first sync.
 */
export const monthlyStart: CspsyncMigration = {
  name: "0008_monthly_start",
  async up(db) {
    await db.schema
      .alterTable("mappings")
      .addColumn("start_point", "text", (c) => c.notNull().defaultTo("most-recent"))
      .execute();
    await db.schema.alterTable("mappings").addColumn("start_invoice", "text").execute();
  },
};
