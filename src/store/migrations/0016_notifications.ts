import type { CspsyncMigration } from "./types.ts";

/**
 * Notifications (docs/notifications.md): the channels people are told through, the outbox of what is to be
 * sent (one row per event and channel, keyed so a notification goes out at most once), the health of each
 * PSA connection and data source (so a failure is told when it starts and when it ends, not every run), and
 * the organization's notification settings (digest time and zone, the day an invoice is due).
 */
export const notifications: CspsyncMigration = {
  name: "0016_notifications",
  async up(db, t) {
    await db.schema
      .createTable("notification_channels")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("config", t.json, (c) => c.notNull())
      .addColumn("secrets", "text", (c) => c.notNull())
      .addColumn("min_severity", "text", (c) => c.notNull())
      .addColumn("overrides", t.json, (c) => c.notNull())
      .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("status", "text", (c) => c.notNull().defaultTo("ok"))
      .addColumn("consecutive_failures", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("last_error", "text")
      .addColumn("last_sent_at", t.instant)
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("notification_channels_name")
      .unique()
      .on("notification_channels")
      .columns(["organization_id", "name"])
      .execute();

    await db.schema
      .createTable("notification_outbox")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("channel_id", "text", (c) => c.notNull())
      .addColumn("event_key", "text", (c) => c.notNull())
      .addColumn("event_kind", "text", (c) => c.notNull())
      .addColumn("severity", "text", (c) => c.notNull())
      .addColumn("title", "text", (c) => c.notNull())
      .addColumn("payload", t.json, (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("owner", "text")
      .addColumn("lease_until", t.instant)
      .addColumn("last_error", "text")
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("sent_at", t.instant)
      .execute();
    await db.schema
      .createIndex("notification_outbox_status")
      .on("notification_outbox")
      .columns(["organization_id", "status", "created_at"])
      .execute();
    await db.schema
      .createIndex("notification_outbox_channel")
      .on("notification_outbox")
      .columns(["channel_id", "created_at"])
      .execute();

    await db.schema
      .createTable("notification_health")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("subject_kind", "text", (c) => c.notNull())
      .addColumn("subject_id", "text", (c) => c.notNull())
      .addColumn("subject_name", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("failing_since", t.instant)
      .addColumn("last_success_at", t.instant)
      .addColumn("last_failure_at", t.instant)
      .addColumn("last_error", "text")
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addPrimaryKeyConstraint("notification_health_pk", ["organization_id", "subject_kind", "subject_id"])
      .execute();

    await db.schema
      .createTable("notification_settings")
      .addColumn("organization_id", "text", (c) => c.primaryKey().references("organizations.id"))
      .addColumn("digest_enabled", "integer", (c) => c.notNull())
      .addColumn("digest_time", "text", (c) => c.notNull())
      .addColumn("digest_time_zone", "text", (c) => c.notNull())
      .addColumn("invoice_due_day", "integer")
      .addColumn("app_url", "text")
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .execute();
  },
};
