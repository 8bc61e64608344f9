import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openStore } from "../../src/store/db.ts";
import { migrateToLatest, migrateUpTo } from "../../src/store/migrate.ts";
import { AuthService } from "../../src/services/auth.ts";
import { DIALECTS, createTestDatabase } from "../support/stores.ts";

/**
 * Migration 0011 gives API tokens an owner and an expiry. Tokens made before it keep working for their user
 * for the default 90 days from the upgrade (never "never" by accident); one made by another token has no
 * owner and stops working, and stays listed with the reason.
 */
for (const dialect of DIALECTS) {
  describe(`migration 0011: API token owners and expiry (${dialect})`, () => {
    it("old tokens get 90 days from the upgrade; an ownerless one stops working", async () => {
      const database = await createTestDatabase(dialect);
      const store = await openStore(database.url, { migrate: false });
      try {
        await migrateUpTo(store, "0010_line_events");
        const organization = await store.db
          .selectFrom("organizations")
          .select("id")
          .executeTakeFirstOrThrow();
        const auth = new AuthService(store, organization.id, { passwordCost: 1024 });
        const admin = await auth.setup({ email: "admin@example.com", password: "correct horse battery" });
        const old = (name: string, token: string, createdBy: string | null) => ({
          id: `token-${name}`,
          organization_id: organization.id,
          name,
          role: "admin" as const,
          token_hash: sha256(token),
          created_by: createdBy,
          created_at: "2024-01-01T00:00:00.000Z",
          last_used_at: null,
        });
        const owned = `csps_${"a".repeat(43)}`;
        const ownerless = `csps_${"b".repeat(43)}`;
        await store.db
          .insertInto("api_tokens")
          .values([old("owned", owned, admin.id), old("ownerless", ownerless, null)] as never)
          .execute();

        const before = Date.now();
        await migrateToLatest(store);
        const after = Date.now();

        const resolved = await auth.resolveToken(owned);
        assert.equal(resolved?.owner.email, "admin@example.com");
        const expiresAt = Date.parse(resolved!.token.expiresAt!);
        assert.ok(expiresAt >= before + 90 * 86_400_000 && expiresAt <= after + 90 * 86_400_000);
        assert.equal(await auth.resolveToken(ownerless), null);
        const listed = await auth.listTokens();
        assert.deepEqual(
          listed.map((t) => [t.name, t.status, t.owner?.email ?? null]),
          [
            ["owned", "active", "admin@example.com"],
            ["ownerless", "owner-deleted", null],
          ],
        );
      } finally {
        await store.close();
        await database.drop();
      }
    });
  });
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
