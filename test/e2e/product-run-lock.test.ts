import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  getProductRun,
  ProductRunActiveError,
  ProductRunSupersededError,
  productSyncOf,
  runProductSync,
} from "../../src/services/product-runs.ts";
import { ProductRunsRepository } from "../../src/store/product-runs-repository.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";

/**
 * Product catalog runs take the run lock billing runs take (src/store/run-lock.ts): a live run keeps it, a
 * run whose process has ended is taken over at once (not after a fixed half hour), and a run that lost the
 * lock stops before it writes its next product.
 */
for (const dialect of DIALECTS) {
  describe(`product runs share the billing runs' lock (${dialect})`, () => {
    let s: MappedConnectWise;
    const runs = () => new ProductRunsRepository(s.app.store);
    const catalogWrites = () =>
      s.emulator.server
        .requestLog()
        .filter((r) => r.method !== "GET" && /\/procurement\/catalog/.test(r.path));

    before(async () => {
      s = await mappedConnectWise(dialect);
      await s.app.connections.update(s.connectionId, { settings: { productSyncMode: "all" } });
    });
    after(async () => s?.cleanup());

    /** Starts a running product run as `owner` would have, with a heartbeat `secondsAgo` old. */
    async function runningRun(owner: string, secondsAgo: number): Promise<string> {
      const id = `product-run-${randomUUID()}`;
      const at = new Date(Date.now() - secondsAgo * 1000).toISOString();
      await s.app.store.db
        .insertInto("product_sync_runs")
        .values({
          id,
          organization_id: s.app.organizationId,
          connection_id: s.connectionId,
          trigger: "schedule",
          mode: "all",
          status: "running",
          started_at: at,
          heartbeat_at: at,
          owner,
          finished_at: null,
          written: 0,
          unchanged: 0,
          conflicts: 0,
          failed: 0,
          psa_requests: 0,
          message: null,
        })
        .execute();
      return id;
    }

    it("a live run on another node keeps the lock: a second product sync is refused", async () => {
      const live = await runningRun("another-node:4242:boot", 1);
      await assert.rejects(runProductSync(s.app, s.connectionId, "manual"), (error: unknown) => {
        assert.ok(error instanceof ProductRunActiveError);
        assert.equal(error.activeRunId, live);
        return true;
      });
      await s.app.store.db.deleteFrom("product_sync_runs").where("id", "=", live).execute();
    });

    it("a run whose process on this host has ended is taken over at once, and says why", async () => {
      // pid 2^22 + 1 is above Linux's pid limit: no such process exists.
      const dead = await runningRun(`${s.app.config.runLock.nodeName}:4194305:`, 1);
      const { run } = await runProductSync(s.app, s.connectionId, "manual");
      assert.notEqual(run.status, "running");
      const old = await getProductRun(s.app.store, s.app.organizationId, dead);
      assert.equal(old!.run.status, "abandoned");
      assert.match(
        old!.run.message ?? "",
        new RegExp(`taken over by run ${run.id}: its process \\(pid 4194305`),
      );
    });

    it("a run that lost the lock stops before its next product and writes nothing", async () => {
      // Stale after one second of silence on another node, so the second lock takes the first run over.
      const fast = { ...s.app.config.runLock, staleRunMs: 1000 };
      const { mode, sync } = await productSyncOf(s.app, s.connectionId);
      const lost = runs().lock(s.connectionId, { ...fast, nodeName: "frozen-node" });
      const lostId = randomUUID();
      const base = {
        organizationId: s.app.organizationId,
        connectionId: s.connectionId,
        trigger: "cli",
        mode,
      };
      const first = await runs().start(lost, { ...base, id: lostId, startedAt: new Date().toISOString() });
      assert.deepEqual(first, { started: true });
      // The frozen run's heartbeat ages past the take-over time (on the database's clock).
      await s.app.store.db
        .updateTable("product_sync_runs")
        .set({ heartbeat_at: new Date(Date.now() - 60_000).toISOString() })
        .where("id", "=", lostId)
        .execute();
      const taker = runs().lock(s.connectionId, fast);
      const takerId = randomUUID();
      const second = await runs().start(taker, { ...base, id: takerId, startedAt: new Date().toISOString() });
      assert.deepEqual(second, { started: true });
      assert.equal(await lost.heartbeat(lostId), false, "the lost run's heartbeat changes nothing");

      // Something is planned (product sync is on and the catalog has items to link or create) …
      const preview = await sync!.preview(mode);
      assert.ok(preview.plan.items.length > 0, "the plan has products to write");
      // … but the woken-up run asks before each product and stops at once.
      s.emulator.server.clearRequestLog();
      await assert.rejects(
        sync!.sync(mode, {}, async () => {
          if (!(await lost.holds(lostId))) throw new ProductRunSupersededError(lostId);
        }),
        ProductRunSupersededError,
      );
      assert.deepEqual(catalogWrites(), [], "no catalog write was sent");
      const record = await getProductRun(s.app.store, s.app.organizationId, lostId);
      assert.equal(record!.run.status, "abandoned");
      assert.match(record!.run.message ?? "", /has not sent a heartbeat/);
      assert.equal(await taker.holds(takerId), true);
      await runs().finish(takerId, {
        status: "no-change",
        written: 0,
        unchanged: 0,
        conflicts: 0,
        failed: 0,
        psa_requests: 0,
        message: null,
        finished_at: new Date().toISOString(),
      });
    });
  });
}
