import type { CspsyncMigration } from "./types.ts";

/**
 * People and machines that may use the HTTP API: users with a role, their login sessions (stored only as
 * hashes of the session ids), API tokens (hashed too), and failed-login counters for brute-force lockout.
 */
export const auth: CspsyncMigration = {
  name: "0003_auth",
  async up(db, t) {
    await db.schema
      .createTable("users")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("email", "text", (c) => c.notNull())
      .addColumn("password_hash", "text", (c) => c.notNull())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("updated_at", t.instant, (c) => c.notNull())
      .addColumn("last_login_at", t.instant)
      .execute();
    // Login looks a user up by e-mail alone, so an address belongs to one user across organizations.
    await db.schema.createIndex("users_email").on("users").column("email").unique().execute();

    await db.schema
      .createTable("sessions")
      .addColumn("id_hash", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addColumn("csrf_token", "text", (c) => c.notNull())
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("last_seen_at", t.instant, (c) => c.notNull())
      .addColumn("expires_at", t.instant, (c) => c.notNull())
      .execute();
    await db.schema.createIndex("sessions_user").on("sessions").column("user_id").execute();

    await db.schema
      .createTable("api_tokens")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("created_by", "text", (c) => c.references("users.id").onDelete("set null"))
      .addColumn("created_at", t.instant, (c) => c.notNull())
      .addColumn("last_used_at", t.instant)
      .execute();

    await db.schema
      .createTable("login_attempts")
      .addColumn("organization_id", "text", (c) => c.notNull().references("organizations.id"))
      .addColumn("attempt_key", "text", (c) => c.notNull())
      .addColumn("failures", "integer", (c) => c.notNull())
      .addColumn("last_failure_at", t.instant, (c) => c.notNull())
      .addColumn("locked_until", t.instant)
      .addPrimaryKeyConstraint("login_attempts_pk", ["organization_id", "attempt_key"])
      .execute();
  },
};
