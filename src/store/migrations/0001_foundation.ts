import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/** Frozen here: live code takes the id from src/store/organization.ts. */
const DEFAULT_ORGANIZATION_ID = "default";

export const foundation: CspsyncMigration = {
  name: "0001_foundation",
  async up(db, t) {
    await db.schema
      .createTable("organizations")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .execute();
    await db
      .insertInto("organizations")
      .values({
        id: DEFAULT_ORGANIZATION_ID,
        name: "Default organization",
        created_at: new Date().toISOString(),
      })
      .execute();

    await db.schema
      .createTable("imports")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("file_name", "text", (c) => c.notNull())
      .addColumn("file_sha256", "text", (c) => c.notNull())
      .addColumn("file_format", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("started_at", t.instant, (c) => c.notNull())
      .addColumn("finished_at", t.instant, (c) => c.notNull())
      .addColumn("line_count", "integer", (c) => c.notNull())
      .addColumn("new_line_count", "integer", (c) => c.notNull())
      .addColumn("known_line_count", "integer", (c) => c.notNull())
      .addColumn("error", "text")
      .addColumn("summary", t.json, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("imports_org_started")
      .on("imports")
      .columns(["organization_id", "started_at"])
      .execute();

    await db.schema
      .createTable("invoices")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("invoice_number", "text", (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("first_charge_date", t.date)
      .addColumn("last_charge_date", t.date)
      .addColumn("line_count", "integer", (c) => c.notNull())
      .addColumn("subtotal", t.money, (c) => c.notNull())
      .addColumn("total", t.money, (c) => c.notNull())
      .addColumn("source_file", "text", (c) => c.notNull())
      .addColumn("first_import_id", "text", (c) => c.notNull().references("imports.id"))
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("invoices_pk", ["organization_id", "invoice_number"])
      .execute();

    await db.schema
      .createTable("customers")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("tenant_id", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("domain", "text")
      .addColumn("country", "text")
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("customers_pk", ["organization_id", "tenant_id"])
      .execute();

    await db.schema
      .createTable("subscriptions")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("subscription_id", "text", (c) => c.notNull())
      .addColumn("customer_tenant_id", "text", (c) => c.notNull())
      .addColumn("product_id", "text", (c) => c.notNull())
      .addColumn("sku_id", "text", (c) => c.notNull())
      .addColumn("availability_id", "text")
      .addColumn("product_name", "text", (c) => c.notNull())
      .addColumn("sku_name", "text")
      .addColumn("subscription_description", "text")
      .addColumn("term_start", t.date)
      .addColumn("term_end", t.date)
      .addColumn("billing_frequency", "text")
      .addColumn("term_and_billing_cycle", "text")
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("subscriptions_pk", ["organization_id", "subscription_id"])
      .execute();
    await db.schema
      .createIndex("subscriptions_customer")
      .on("subscriptions")
      .columns(["organization_id", "customer_tenant_id"])
      .execute();

    await db.schema
      .createTable("charge_lines")
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
      .addPrimaryKeyConstraint("charge_lines_pk", ["organization_id", "line_key"])
      .execute();
    // Only the halves of credit/charge pairs are ever looked up by event (to net them), so these indexes
    // cover pair lines alone and cost nothing for the other nine lines in ten.
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
      .createTable("charge_events")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("event_key", "text", (c) => c.notNull())
      .addColumn("invoice_number", "text", (c) => c.notNull())
      .addColumn("customer_tenant_id", "text", (c) => c.notNull())
      .addColumn("subscription_id", "text", (c) => c.notNull())
      .addColumn("motion", "text", (c) => c.notNull())
      .addColumn("is_billable", "integer", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("charge_type", "text", (c) => c.notNull())
      .addColumn("order_date", t.instant)
      .addColumn("charge_start", t.date, (c) => c.notNull())
      .addColumn("charge_end", t.date)
      .addColumn("term_start", t.date)
      .addColumn("term_end", t.date)
      .addColumn("product_id", "text", (c) => c.notNull())
      .addColumn("sku_id", "text", (c) => c.notNull())
      .addColumn("availability_id", "text")
      .addColumn("product_name", "text", (c) => c.notNull())
      .addColumn("sku_name", "text")
      .addColumn("billing_frequency", "text")
      .addColumn("seat_delta", t.money, (c) => c.notNull())
      .addColumn("seats_after", t.money, (c) => c.notNull())
      .addColumn("effective_unit_price", t.money, (c) => c.notNull())
      .addColumn("list_unit_price", t.money, (c) => c.notNull())
      .addColumn("amount", t.money, (c) => c.notNull())
      .addColumn("total", t.money, (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("line_count", "integer", (c) => c.notNull())
      .addPrimaryKeyConstraint("charge_events_pk", ["organization_id", "event_key"])
      .execute();
    await db.schema
      .createIndex("charge_events_customer_motion")
      .on("charge_events")
      .columns(["organization_id", "customer_tenant_id", "motion", "charge_start"])
      .execute();

    // Scratch space that makes the occurrence index of byte-identical rows independent of memory:
    // an import counts how often it has seen each content hash here and clears its rows when done.
    await db.schema
      .createTable("import_line_occurrences")
      .addColumn("import_id", "text", (c) => c.notNull())
      .addColumn("content_hash", "text", (c) => c.notNull())
      .addColumn("seen", "integer", (c) => c.notNull())
      .addPrimaryKeyConstraint("import_line_occurrences_pk", ["import_id", "content_hash"])
      .execute();
  },
};
