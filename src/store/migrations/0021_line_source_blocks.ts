import type { CspsyncMigration } from "./types.ts";

/**
 * Source records in compressed blocks (src/sources/reconciliation/source-blocks.ts): one row per batch of an
 * import, keyed by the import and the batch's first source row. Lines stored from now on hold an empty
 * `source` and are read through their block; lines stored before keep their record inline (both are read by
 * lineSourceRecord), so existing databases need no rewrite.
 */
export const lineSourceBlocks: CspsyncMigration = {
  name: "0021_line_source_blocks",
  async up(db, _types, dialect) {
    await db.schema
      .createTable("charge_line_sources")
      .addColumn("import_id", "text", (c) => c.notNull().references("imports.id"))
      .addColumn("first_row", "integer", (c) => c.notNull())
      .addColumn("last_row", "integer", (c) => c.notNull())
      .addColumn("data", dialect === "postgres" ? "bytea" : "blob", (c) => c.notNull())
      .addPrimaryKeyConstraint("charge_line_sources_pk", ["import_id", "first_row"])
      .execute();
  },
};
