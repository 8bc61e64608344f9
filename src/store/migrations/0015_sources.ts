import type { CspsyncMigration } from "./types.ts";

/**
 * Billing-data sources (docs/partner-center.md §6): connections to Microsoft Partner Center (credentials sealed
 * like PSA connections'), the invoices fetched from each (the row is also the claim that keeps two workers from
 * fetching one invoice twice: one row per organization and invoice), one record per fetch with its steps, and
 * the unbilled snapshots, which are provisional and never written to a PSA.
 */
export const sources: CspsyncMigration = {
  name: "0015_sources",
  async up(db, t) {
    await db.schema
      .createTable("source_connections")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("config", t.json, (c) => c.notNull())
      .addColumn("secrets", "text", (c) => c.notNull())
      .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("last_test", t.json)
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("source_connections_name")
      .unique()
      .on("source_connections")
      .columns(["organization_id", "name"])
      .execute();

    await db.schema
      .createTable("source_invoices")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("invoice_id", "text", (c) => c.notNull())
      .addColumn("source_id", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("currency", "text")
      .addColumn("invoice_total", t.money)
      .addColumn("period_start", "text")
      .addColumn("etag", "text")
      .addColumn("import_id", "text")
      .addColumn("line_count", "integer")
      .addColumn("line_total", t.money)
      .addColumn("error_kind", "text")
      .addColumn("message", "text")
      .addColumn("claim_token", "text")
      .addColumn("claimed_at", t.instant)
      .addColumn("fetched_at", t.instant)
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("source_invoices_pk", ["organization_id", "invoice_id"])
      .execute();

    await db.schema
      .createTable("source_fetch_runs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("source_id", "text", (c) => c.notNull())
      .addColumn("trigger", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("error_kind", "text")
      .addColumn("message", "text")
      .addColumn("steps", t.json, (c) => c.notNull())
      .addColumn("summary", t.json, (c) => c.notNull())
      .addColumn("sync_jobs", t.json, (c) => c.notNull())
      .addColumn("started_at", t.instant, (c) => c.notNull())
      .addColumn("finished_at", t.instant)
      .execute();
    await db.schema
      .createIndex("source_fetch_runs_source")
      .on("source_fetch_runs")
      .columns(["source_id", "started_at"])
      .execute();

    await db.schema
      .createTable("source_unbilled_snapshots")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("source_id", "text", (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("billing_period", "text", (c) => c.notNull())
      .addColumn("line_count", "integer", (c) => c.notNull())
      .addColumn("total", t.money, (c) => c.notNull())
      .addColumn("by_customer", t.json, (c) => c.notNull())
      .addColumn("fetched_at", t.instant, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("source_unbilled_snapshots_source")
      .on("source_unbilled_snapshots")
      .columns(["source_id", "currency", "fetched_at"])
      .execute();
  },
};
