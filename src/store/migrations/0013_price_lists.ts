import type { CspsyncMigration } from "./types.ts";

/**
 * Microsoft's new commerce price lists (docs/price-lists.md): each import of a price list file, and its
 * entries kept per organization across imports. An entry's key is its product, SKU, term, billing plan,
 * market, currency, lowest tier seat and effective start, so importing the same month twice adds nothing,
 * a later file replaces that month's prices, and earlier months stay for charges re-planned later.
 */
export const priceLists: CspsyncMigration = {
  name: "0013_price_lists",
  async up(db, t) {
    await db.schema
      .createTable("price_list_imports")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("file_name", "text", (c) => c.notNull())
      .addColumn("sha256", "text", (c) => c.notNull())
      .addColumn("market", "text", (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("row_count", "integer", (c) => c.notNull())
      .addColumn("entry_count", "integer", (c) => c.notNull())
      .addColumn("first_effective", t.date, (c) => c.notNull())
      .addColumn("last_effective", t.date, (c) => c.notNull())
      .addColumn("imported_at", t.instant, (c) => c.notNull())
      .addColumn("imported_by", "text")
      .execute();
    await db.schema
      .createIndex("price_list_imports_file")
      .unique()
      .on("price_list_imports")
      .columns(["organization_id", "sha256"])
      .execute();

    await db.schema
      .createTable("price_list_entries")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("entry_key", "text", (c) => c.notNull())
      .addColumn("import_id", "text", (c) => c.notNull())
      .addColumn("product_id", "text", (c) => c.notNull())
      .addColumn("sku_id", "text", (c) => c.notNull())
      .addColumn("term_duration", "text", (c) => c.notNull())
      .addColumn("billing_plan", "text", (c) => c.notNull())
      .addColumn("market", "text", (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("unit_price", t.money, (c) => c.notNull())
      .addColumn("erp_price", t.money, (c) => c.notNull())
      .addColumn("tier_min", t.money)
      .addColumn("tier_max", t.money)
      .addColumn("effective_start", t.date, (c) => c.notNull())
      .addColumn("effective_end", t.date)
      .addColumn("product_title", "text", (c) => c.notNull())
      .addColumn("sku_title", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("price_list_entries_pk", ["organization_id", "entry_key"])
      .execute();
    await db.schema
      .createIndex("price_list_entries_product")
      .on("price_list_entries")
      .columns(["organization_id", "product_id", "sku_id"])
      .execute();
    await db.schema
      .createIndex("price_list_entries_import")
      .on("price_list_entries")
      .column("import_id")
      .execute();
  },
};
