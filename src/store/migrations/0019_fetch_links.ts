import type { CspsyncMigration } from "./types.ts";

/**
 * The pipeline's links (docs/partner-center.md §7): which sync runs a fetch led to. A sync job queued after a
 * fetch carries the fetch run's id; the run it starts is recorded here, so Sync history shows "fetch → syncs".
 */
export const fetchLinks: CspsyncMigration = {
  name: "0019_fetch_links",
  async up(db, t) {
    await db.schema
      .createTable("source_fetch_links")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("fetch_run_id", "text", (c) => c.notNull())
      .addColumn("sync_run_id", "text", (c) => c.notNull())
      .addColumn("connection_id", "text", (c) => c.notNull())
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("source_fetch_links_pk", ["fetch_run_id", "sync_run_id"])
      .execute();
    await db.schema
      .createIndex("source_fetch_links_sync_run")
      .on("source_fetch_links")
      .columns(["sync_run_id"])
      .execute();
  },
};
