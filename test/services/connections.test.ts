import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionInputError } from "../../src/services/connections.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp } from "../support/app.ts";

for (const dialect of DIALECTS) {
  describe(`PSA connections (${dialect})`, () => {
    it("keeps credentials sealed, write-only, and lets optional settings be set and cleared", async () => {
      const { app, cleanup } = await createTestApp(dialect, []);
      try {
        const created = await app.connections.create({
          vendor: "connectwise",
          name: "CW",
          config: {
            site: "https://na.myconnectwise.net",
            companyId: "acme",
            publicKey: "pub",
            clientId: "cid",
          },
          secrets: { privateKey: "very-secret-private-key" },
          settings: { fallbackCatalogItem: "CSP-LICENSE" },
        });
        assert.deepEqual(created.secretsSet, { privateKey: true });
        assert.ok(!JSON.stringify(created).includes("very-secret"));
        const row = await app.store.db.selectFrom("connections").selectAll().executeTakeFirstOrThrow();
        assert.ok(!row.secrets.includes("very-secret"), "the private key is encrypted at rest");

        const renamed = await app.connections.update(created.id, {
          name: "ConnectWise",
          config: { companyId: "acme2" },
        });
        assert.equal(renamed.name, "ConnectWise");
        assert.equal(renamed.config.companyId, "acme2");
        assert.equal(
          ((await app.connections.details(created.id)).secrets as { privateKey: string }).privateKey,
          "very-secret-private-key",
          "untouched secrets keep their value",
        );

        const cleared = await app.connections.update(created.id, { settings: { fallbackCatalogItem: null } });
        assert.equal(cleared.settings.fallbackCatalogItem, undefined);
        await assert.rejects(
          app.connections.update(created.id, { secrets: { privateKey: null } }),
          (e: unknown) => e instanceof ConnectionInputError && e.field === "secrets.privateKey",
        );
        await assert.rejects(
          app.connections.create({ vendor: "autotask", name: "AT", config: {}, secrets: {} }),
          (e: unknown) => e instanceof ConnectionInputError && e.field === "config.username",
        );
      } finally {
        await cleanup();
      }
    });
  });
}
