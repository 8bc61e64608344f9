import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/** PSA connections, per-customer mappings, sync runs with their results, and the PSA write ledger. */
export const sync: CspsyncMigration = {
  name: "0002_sync",
  async up(db, t) {
    await db.schema
      .createTable("connections")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("vendor", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("config", t.json, (c) => c.notNull())
      .addColumn("secrets", "text", (c) => c.notNull())
      .addColumn("seat_annual_enabled", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("settings", t.json, (c) => c.notNull())
      .addColumn("last_test_at", t.instant)
      .addColumn("last_test_ok", "integer")
      .addColumn("last_test_message", "text")
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("mappings")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("connection_id", "text", (c) => c.notNull().references("connections.id").onDelete("cascade"))
      .addColumn("customer_tenant_id", "text", (c) => c.notNull())
      .addColumn("motion", "text", (c) => c.notNull())
      .addColumn("psa_company_id", "text")
      .addColumn("psa_company_name", "text")
      .addColumn("agreement_id", "text")
      .addColumn("agreement_name", "text")
      .addColumn("sync_date", t.date)
      .addColumn("pricing_strategy", "text", (c) => c.notNull())
      .addColumn("markup_percent", t.money)
      .addColumn("enabled", "integer", (c) => c.notNull())
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("mappings_pk", ["connection_id", "customer_tenant_id", "motion"])
      .execute();

    await db.schema
      .createTable("sync_runs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("connection_id", "text", (c) => c.notNull().references("connections.id").onDelete("cascade"))
      .addColumn("trigger", "text", (c) => c.notNull())
      .addColumn("scope", t.json, (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("started_at", t.instant, (c) => c.notNull())
      .addColumn("heartbeat_at", t.instant, (c) => c.notNull())
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("finished_at", t.instant)
      .addColumn("written", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("unchanged", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("warnings", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("errors", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("psa_requests", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("message", "text")
      .execute();
    // At most one active run per connection, enforced by the database itself.
    await db.schema
      .createIndex("sync_runs_one_active")
      .on("sync_runs")
      .column("connection_id")
      .unique()
      .where(sql<boolean>`status = 'running'`)
      .execute();
    await db.schema
      .createIndex("sync_runs_connection_started")
      .on("sync_runs")
      .columns(["connection_id", "started_at"])
      .execute();

    await db.schema
      .createTable("sync_items")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("run_id", "text", (c) => c.notNull().references("sync_runs.id").onDelete("cascade"))
      .addColumn("sequence", "integer", (c) => c.notNull())
      .addColumn("organization_id", "text", (c) => c.notNull())
      .addColumn("customer_tenant_id", "text")
      .addColumn("motion", "text")
      .addColumn("subscription_id", "text")
      .addColumn("event_key", "text")
      .addColumn("write_key", "text")
      .addColumn("outcome", "text", (c) => c.notNull())
      .addColumn("psa_record_id", "text")
      .addColumn("message", "text")
      .addColumn("details", t.json, (c) => c.notNull())
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .execute();
    await db.schema.createIndex("sync_items_run").on("sync_items").columns(["run_id", "sequence"]).execute();

    await db.schema
      .createTable("psa_writes")
      .addColumn("connection_id", "text", (c) => c.notNull().references("connections.id").onDelete("cascade"))
      .addColumn("write_key", "text", (c) => c.notNull())
      .addColumn("organization_id", "text", (c) => c.notNull())
      .addColumn("customer_tenant_id", "text", (c) => c.notNull())
      .addColumn("motion", "text", (c) => c.notNull())
      .addColumn("event_key", "text", (c) => c.notNull())
      .addColumn("target_id", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("psa_record_id", "text")
      .addColumn("payload", t.json, (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull())
      .addColumn("last_run_id", "text")
      .addColumn("last_error", "text")
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("psa_writes_pk", ["connection_id", "write_key"])
      .execute();

    await db.schema
      .createTable("app_settings")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("value", t.json, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("app_settings_pk", ["organization_id", "key"])
      .execute();
  },
};
