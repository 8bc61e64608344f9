import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/**
 * Product catalog sync history. A table of its own rather than `sync_runs` with a "products" scope: product
 * results speak another language (per product an action — create, link, update, skip, conflict — and a
 * status — written, unchanged, conflict, failed — with no customer, subscription or write key), a product
 * sync must not take the billing run lock of its connection, and it must not count as the connection's last
 * billing sync on the dashboard.
 */
export const productRuns: CspsyncMigration = {
  name: "0009_product_runs",
  async up(db, t) {
    await db.schema
      .createTable("product_sync_runs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("connection_id", "text", (c) => c.notNull().references("connections.id").onDelete("cascade"))
      .addColumn("trigger", "text", (c) => c.notNull())
      .addColumn("mode", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("started_at", t.instant, (c) => c.notNull())
      .addColumn("finished_at", t.instant)
      .addColumn("written", "integer", (c) => c.notNull())
      .addColumn("unchanged", "integer", (c) => c.notNull())
      .addColumn("conflicts", "integer", (c) => c.notNull())
      .addColumn("failed", "integer", (c) => c.notNull())
      .addColumn("psa_requests", "integer", (c) => c.notNull())
      .addColumn("message", "text")
      .execute();
    // Two product syncs of one connection at once could both create the same product.
    await db.schema
      .createIndex("product_sync_runs_one_active")
      .on("product_sync_runs")
      .column("connection_id")
      .unique()
      .where(sql<boolean>`status = 'running'`)
      .execute();
    await db.schema
      .createIndex("product_sync_runs_connection_started")
      .on("product_sync_runs")
      .columns(["connection_id", "started_at"])
      .execute();

    await db.schema
      .createTable("product_sync_items")
      .addColumn("run_id", "text", (c) => c.notNull().references("product_sync_runs.id").onDelete("cascade"))
      .addColumn("sequence", "integer", (c) => c.notNull())
      .addColumn("product_key", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("action", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("psa_record_id", "text")
      .addColumn("message", "text", (c) => c.notNull())
      .addColumn("notes", t.json, (c) => c.notNull())
      .addPrimaryKeyConstraint("product_sync_items_pk", ["run_id", "sequence"])
      .execute();
  },
};
