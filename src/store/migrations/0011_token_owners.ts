import type { CspsyncMigration } from "./types.ts";

/**
 * API tokens belong to a user and may expire. `created_by` becomes the token's owner: a token works only
 * while its owner exists and never with more than the owner's role (checked when the token is used, so a
 * deletion or demotion takes effect at once). Tokens made before this release by another token have no
 * owner and stop working; they stay listed so an admin sees why. `expires_at` is null for "never".
 */
export const tokenOwners: CspsyncMigration = {
  name: "0011_token_owners",
  async up(db, t) {
    await db.schema.alterTable("api_tokens").addColumn("expires_at", t.instant).execute();
    await db.schema.createIndex("api_tokens_created_by").on("api_tokens").column("created_by").execute();
  },
};
