import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AnnualSync } from "../../src/services/annual-sync.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise } from "../support/connectwise-setup.ts";

for (const dialect of DIALECTS) {
  describe(`a write interrupted moments ago (${dialect})`, () => {
    it("is left for a later run instead of being sent again while it may still land; then written once", async () => {
      const s = await mappedConnectWise(dialect);
      try {
        const adapter = await s.app.adapterFor(s.connectionId);
        let now = new Date("2026-11-25T10:00:00.000Z");
        const sync = () =>
          new AnnualSync({
            store: s.app.store,
            organizationId: s.app.organizationId,
            mappings: s.app.mappings,
            adapter,
            connectionId: s.connectionId,
            now: () => now,
          });
        const [planned] = await sync().plan();
        const line = planned!.plan.lines[0]!;
        // What a process killed right after sending leaves behind: a reserved key, one attempt, no answer.
        await s.app.store.db
          .insertInto("psa_writes")
          .values({
            connection_id: s.connectionId,
            write_key: line.writeKey,
            organization_id: s.app.organizationId,
            customer_tenant_id: line.customerTenantId,
            motion: "seat-annual",
            event_key: line.eventKey,
            target_id: s.agreementId,
            status: "pending",
            psa_record_id: null,
            payload: JSON.stringify(line),
            attempts: 1,
            last_run_id: "run-of-a-dead-process",
            last_error: null,
            created_at: now.toISOString(),
            updated_at: now.toISOString(),
          })
          .execute();
        now = new Date(now.getTime() + 30_000);
        const first = await sync().run("manual");
        const deferred = first.items.filter((i) => i.writeKey === line.writeKey);
        assert.equal(deferred.length, 1);
        assert.equal(deferred[0]!.outcome, "error");
        assert.match(deferred[0]!.message ?? "", /may still reach the PSA/);
        assert.equal(first.written, 7);
        now = new Date(now.getTime() + 3 * 60_000);
        const second = await sync().run("manual");
        assert.deepEqual([second.written, second.errors], [1, 0]);
        const additions = await s.client.listAdditions(Number(s.agreementId));
        assert.equal(additions.filter((a) => a.serialNumber === line.writeKey).length, 1);
        assert.equal(additions.length, 8);
      } finally {
        await s.cleanup();
      }
    });
  });
}
