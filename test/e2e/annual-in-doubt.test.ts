import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AnnualSync } from "../../src/services/annual-sync.ts";
import { RunSupersededError, SyncBookkeeping } from "../../src/services/sync-bookkeeping.ts";
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
            in_flight: 1,
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

    it("a write the PSA refused (a clean 500, nothing committed) is not held: the next run writes it at once", async () => {
      const s = await mappedConnectWise(dialect);
      try {
        s.emulator.server.addFaults({
          kind: "server-error",
          status: 500,
          method: "POST",
          path: "/additions",
          nth: [1],
        });
        const first = await (await s.app.annualSync(s.connectionId)).run("manual");
        assert.deepEqual([first.written, first.errors], [7, 1]);
        const refusedKey = first.items.find((i) => i.outcome === "error")!.writeKey!;
        const ledger = await s.app.store.db
          .selectFrom("psa_writes")
          .select(["attempts", "in_flight", "status"])
          .where("write_key", "=", refusedKey)
          .executeTakeFirstOrThrow();
        assert.deepEqual([ledger.attempts, Number(ledger.in_flight), ledger.status], [1, 0, "failed"]);

        const second = await (await s.app.annualSync(s.connectionId)).run("manual");
        assert.deepEqual([second.written, second.errors], [1, 0], JSON.stringify(second.items));
        const additions = await s.client.listAdditions(Number(s.agreementId));
        assert.equal(additions.filter((a) => a.serialNumber === refusedKey).length, 1);
        assert.equal(additions.length, 8);
      } finally {
        await s.cleanup();
      }
    });

    it("a run that lost its lock cannot count an attempt, confirm a write or overwrite its outcome", async () => {
      const s = await mappedConnectWise(dialect);
      try {
        const books = new SyncBookkeeping({
          store: s.app.store,
          organizationId: s.app.organizationId,
          connectionId: s.connectionId,
          motion: "seat-annual",
        });
        const runId = await books.startRun("cli", {});
        await books.reserve(runId, {
          writeKey: "cspsync-000000000000000000000001",
          customerTenantId: "t",
          eventKey: "e",
          targetId: s.agreementId,
          payload: {},
        });
        await books.countAttempt(runId, "cspsync-000000000000000000000001", s.agreementId);
        // Another node takes the run over.
        await s.app.store.db
          .updateTable("sync_runs")
          .set({ status: "abandoned", message: "taken over by run other" })
          .where("id", "=", runId)
          .execute();
        await assert.rejects(
          books.countAttempt(runId, "cspsync-000000000000000000000001", s.agreementId),
          RunSupersededError,
        );
        await assert.rejects(
          books.confirm(runId, "cspsync-000000000000000000000001", "42"),
          RunSupersededError,
        );
        assert.equal(await books.heartbeat(runId), false);
        const totals = await books.finishRun(runId, [], 0);
        assert.equal(totals.status, "abandoned");
        const run = await s.app.store.db
          .selectFrom("sync_runs")
          .selectAll()
          .where("id", "=", runId)
          .executeTakeFirstOrThrow();
        assert.equal(run.status, "abandoned");
        assert.match(run.message ?? "", /^taken over by run other; it resumed afterwards/);
        const ledger = await s.app.store.db
          .selectFrom("psa_writes")
          .select(["attempts", "status"])
          .where("write_key", "=", "cspsync-000000000000000000000001")
          .executeTakeFirstOrThrow();
        assert.deepEqual([ledger.attempts, ledger.status], [1, "pending"]);
      } finally {
        await s.cleanup();
      }
    });
  });
}
