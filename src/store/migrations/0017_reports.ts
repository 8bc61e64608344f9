import type { CspsyncMigration } from "./types.ts";

/**
 * Reports and renewals (docs/reports.md §4): the calendar feed token of each organization, kept only as its
 * SHA-256 (the token itself is shown once, when created or rotated). One token per organization; rotating
 * replaces it, so the old feed URL stops working at once.
 */
export const reports: CspsyncMigration = {
  name: "0017_reports",
  async up(db, t) {
    await db.schema
      .createTable("report_feed_tokens")
      .addColumn("organization_id", "text", (c) => c.primaryKey().references("organizations.id"))
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("created_by", "text")
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("last_used_at", t.instant)
      .execute();
  },
};
