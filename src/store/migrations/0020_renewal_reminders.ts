import type { CspsyncMigration } from "./types.ts";

/**
 * Renewal and change-window reminders through notifications: how many days ahead they are told (null: not
 * told). Existing organisations start with reminders off.
 */
export const renewalReminders: CspsyncMigration = {
  name: "0020_renewal_reminders",
  async up(db) {
    await db.schema
      .alterTable("notification_settings")
      .addColumn("renewal_reminder_days", "integer")
      .execute();
  },
};
