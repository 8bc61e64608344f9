import type { CspsyncMigration } from "./types.ts";

/**
 * Product catalog sync: per connection and product key, the PSA record cspsync created or linked. Autotask
 * services are followed by id once created, so renames in the PSA are fine (docs/sync-behaviour.md §4.3).
 */
export const products: CspsyncMigration = {
  name: "0005_products",
  async up(db, t) {
    await db.schema
      .createTable("synced_products")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("connection_id", "text", (c) => c.notNull().references("connections.id").onDelete("cascade"))
      .addColumn("product_key", "text", (c) => c.notNull())
      .addColumn("product_name", "text", (c) => c.notNull())
      .addColumn("psa_record_id", "text")
      .addColumn("owned", "integer", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("price", t.money)
      .addColumn("cost", t.money)
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("synced_products_pk", ["connection_id", "product_key"])
      .execute();
  },
};
