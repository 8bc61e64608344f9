import type { CspsyncMigration } from "./types.ts";

/**
 * Pricing and margin: price rules per connection (by product, customer or both, from an effective date), the
 * connection's choice for sell prices below cost (warn or hold for approval), and the lines held for approval
 * with who approved them and when.
 */
export const pricing: CspsyncMigration = {
  name: "0007_pricing",
  async up(db, t) {
    await db.schema
      .createTable("price_rules")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("connection_id", "text", (c) => c.notNull().references("connections.id").onDelete("cascade"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("product_key", "text")
      .addColumn("customer_tenant_id", "text")
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("value", t.money, (c) => c.notNull())
      .addColumn("effective_from", t.date, (c) => c.notNull())
      .addColumn("effective_to", t.date)
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .execute();
    await db.schema.createIndex("price_rules_connection").on("price_rules").column("connection_id").execute();

    await db.schema
      .createTable("pricing_settings")
      .addColumn("connection_id", "text", (c) =>
        c.primaryKey().references("connections.id").onDelete("cascade"),
      )
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("below_cost", "text", (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("price_holds")
      .addColumn("connection_id", "text", (c) => c.notNull().references("connections.id").onDelete("cascade"))
      .addColumn("write_key", "text", (c) => c.notNull())
      .addColumn("organization_id", "text", (c) => c.notNull())
      .addColumn("customer_tenant_id", "text", (c) => c.notNull())
      .addColumn("motion", "text", (c) => c.notNull())
      .addColumn("event_key", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("unit_cost", t.money, (c) => c.notNull())
      .addColumn("unit_price", t.money, (c) => c.notNull())
      .addColumn("priced_by", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("held_at", t.instant, (c) => c.notNull())
      .addColumn("held_run_id", "text")
      .addColumn("approved_by", "text")
      .addColumn("approved_at", t.instant)
      .addPrimaryKeyConstraint("price_holds_pk", ["connection_id", "write_key"])
      .execute();
  },
};
