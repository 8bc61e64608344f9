import type { CspsyncMigration } from "./types.ts";

/**
 * API tokens belong to a user and may expire. `created_by` becomes the token's owner: a token works only
 * while its owner exists and never with more than the owner's role (checked when the token is used, so a
 * deletion or demotion takes effect at once). Tokens made before this release by another token have no
 * owner and stop working; they stay listed so an admin sees why. `expires_at` is null for "never", which
 * must be chosen explicitly: tokens made before this release get the default lifetime (90 days) from the
 * upgrade, so nobody is surprised by an old token that never ends, and Settings shows when each one expires.
 */
const EXISTING_TOKEN_DAYS = 90;
export const tokenOwners: CspsyncMigration = {
  name: "0011_token_owners",
  async up(db, t) {
    await db.schema.alterTable("api_tokens").addColumn("expires_at", t.instant).execute();
    await db.schema.createIndex("api_tokens_created_by").on("api_tokens").column("created_by").execute();
    const expiresAt = new Date(Date.now() + EXISTING_TOKEN_DAYS * 86_400_000).toISOString();
    await db.updateTable("api_tokens").set({ expires_at: expiresAt }).execute();
  },
};
