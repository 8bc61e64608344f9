import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/**
 * Charge lines are appended, no longer inserted into a unique index of random line keys (content hash +
 * occurrence), which kept SQLite at about a third of the rate it appends rows at. An import now recognises
 * the lines it already holds by the keys stored for their invoice, read once per invoice through the new
 * index `charge_lines_invoice` (organization, invoice: new lines land at the end of their invoice's range),
 * while it holds that invoice against other importers. Line keys themselves do not change.
 *
 * PostgreSQL drops the primary key. SQLite cannot drop one, so the table is rebuilt without it, rows kept in
 * their rowid order, and the `charge_events` view, which reads it, is dropped first and created again from
 * its own stored definition. The partial indexes of 0001 and 0010 are created again as they were.
 */
export const appendLines: CspsyncMigration = {
  name: "0018_append_lines",
  async up(db, t, dialect) {
    if (dialect === "postgres") {
      await sql`alter table charge_lines drop constraint charge_lines_pk`.execute(db);
    } else {
      const view = await sql<{ sql: string }>`
        select sql from sqlite_master where type = 'view' and name = 'charge_events'
      `.execute(db);
      const viewSql = view.rows[0]?.sql;
      if (!viewSql) throw new Error("migration 0018: the charge_events view is missing");
      await sql`drop view charge_events`.execute(db);
      await db.schema
        .createTable("charge_lines_appended")
        .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
        .addColumn("line_key", "text", (c) => c.notNull())
        .addColumn("import_id", "text", (c) => c.notNull().references("imports.id"))
        .addColumn("source_row", "integer", (c) => c.notNull())
        .addColumn("invoice_number", "text", (c) => c.notNull())
        .addColumn("customer_tenant_id", "text", (c) => c.notNull())
        .addColumn("subscription_id", "text", (c) => c.notNull())
        .addColumn("event_key", "text", (c) => c.notNull())
        .addColumn("motion", "text", (c) => c.notNull())
        .addColumn("is_billable", "integer", (c) => c.notNull())
        .addColumn("classification", "text", (c) => c.notNull())
        .addColumn("charge_type", "text", (c) => c.notNull())
        .addColumn("order_date", t.instant)
        .addColumn("charge_start", t.date, (c) => c.notNull())
        .addColumn("charge_end", t.date)
        .addColumn("subscription_start", t.date)
        .addColumn("subscription_end", t.date)
        .addColumn("product_id", "text", (c) => c.notNull())
        .addColumn("sku_id", "text", (c) => c.notNull())
        .addColumn("availability_id", "text")
        .addColumn("product_name", "text", (c) => c.notNull())
        .addColumn("sku_name", "text")
        .addColumn("billing_frequency", "text")
        .addColumn("unit_price", t.money, (c) => c.notNull())
        .addColumn("effective_unit_price", t.money, (c) => c.notNull())
        .addColumn("quantity", t.money)
        .addColumn("billable_quantity", t.money, (c) => c.notNull())
        .addColumn("subtotal", t.money, (c) => c.notNull())
        .addColumn("tax_total", t.money, (c) => c.notNull())
        .addColumn("total", t.money, (c) => c.notNull())
        .addColumn("currency", "text", (c) => c.notNull())
        .addColumn("reference_id", "text")
        .addColumn("source", t.json, (c) => c.notNull())
        .addColumn("kind", "text")
        .addColumn("seat_delta", t.money)
        .addColumn("seats_after", t.money)
        .execute();
      const columns = sql.raw(COLUMNS.map((c) => `"${c}"`).join(", "));
      await sql`
        insert into charge_lines_appended (rowid, ${columns})
        select rowid, ${columns} from charge_lines order by rowid
      `.execute(db);
      await sql`drop table charge_lines`.execute(db);
      await sql`alter table charge_lines_appended rename to charge_lines`.execute(db);
      await db.schema
        .createIndex("charge_lines_pair_event")
        .on("charge_lines")
        .columns(["organization_id", "event_key"])
        .where(sql<boolean>`event_key like 'pair:%'`)
        .execute();
      await db.schema
        .createIndex("charge_lines_import_pair")
        .on("charge_lines")
        .columns(["import_id", "event_key"])
        .where(sql<boolean>`event_key like 'pair:%'`)
        .execute();
      await db.schema
        .createIndex("charge_lines_single_events")
        .on("charge_lines")
        .columns(["organization_id", "customer_tenant_id", "motion", "charge_start"])
        .where(sql<boolean>`event_key not like 'pair:%'`)
        .execute();
      await sql.raw(viewSql).execute(db);
    }
    await db.schema
      .createIndex("charge_lines_invoice")
      .on("charge_lines")
      .columns(["organization_id", "invoice_number"])
      .execute();
  },
};

/** The columns of charge_lines as of 0010, all kept. */
const COLUMNS = [
  "organization_id",
  "line_key",
  "import_id",
  "source_row",
  "invoice_number",
  "customer_tenant_id",
  "subscription_id",
  "event_key",
  "motion",
  "is_billable",
  "classification",
  "charge_type",
  "order_date",
  "charge_start",
  "charge_end",
  "subscription_start",
  "subscription_end",
  "product_id",
  "sku_id",
  "availability_id",
  "product_name",
  "sku_name",
  "billing_frequency",
  "unit_price",
  "effective_unit_price",
  "quantity",
  "billable_quantity",
  "subtotal",
  "tax_total",
  "total",
  "currency",
  "reference_id",
  "source",
  "kind",
  "seat_delta",
  "seats_after",
] as const;
