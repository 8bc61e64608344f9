import type { CspsyncMigration } from "./types.ts";

/**
 * The keys of an invoice's lines, packed (src/core/line-key-counts.ts, packLineKeys): one row per batch of an
 * import and invoice, so that a re-import reads an invoice's stored keys as a few blobs instead of visiting
 * every stored line's row (src/store/line-writer.ts, readKeyBlocks). Lines stored before this migration have
 * no block; their invoices' keys are read from the lines, as before.
 */
export const lineKeyBlocks: CspsyncMigration = {
  name: "0022_line_key_blocks",
  async up(db, _types, dialect) {
    await db.schema
      .createTable("charge_line_key_blocks")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("invoice_number", "text", (c) => c.notNull())
      .addColumn("import_id", "text", (c) => c.notNull().references("imports.id"))
      .addColumn("key_count", "integer", (c) => c.notNull())
      .addColumn("data", dialect === "postgres" ? "bytea" : "blob", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("charge_line_key_blocks_invoice")
      .on("charge_line_key_blocks")
      .columns(["organization_id", "invoice_number"])
      .execute();
  },
};
