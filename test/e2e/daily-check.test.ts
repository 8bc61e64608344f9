import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { mappedConnectWise } from "../support/connectwise-setup.ts";
import { mappedAutotask } from "../support/autotask-setup.ts";
import { monthlyConnectWise, type MonthlyConnectWise } from "../support/monthly-setup.ts";
import { createConnectWiseMonthlyTarget } from "../../src/psa/connectwise/monthly.ts";
import { MonthlySync } from "../../src/services/monthly-sync.ts";

/**
 * The daily check costs nothing when nothing is new (docs/sync-behaviour.md, "What the daily check reads"): a
 * motion without new charges sends no PSA request at all — no target check, no read-back of keys that went
 * out once — while a run started by hand still checks every target. Counted on the emulators' request logs.
 */

/** A monthly sync whose daily check counts an import as seen by any run that started after it finished. */
async function monthlySync(s: MonthlyConnectWise): Promise<MonthlySync<never>> {
  const target = createConnectWiseMonthlyTarget(await s.app.connections.details(s.connectionId), {
    allowedHosts: [hostOf(s.emulator.url)],
    transport: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 },
  });
  return new MonthlySync({
    store: s.app.store,
    organizationId: s.app.organizationId,
    mappings: s.app.mappings,
    target,
    connectionId: s.connectionId,
    importCommitMarginMs: 0,
  }) as unknown as MonthlySync<never>;
}

/** Each request as method and path under the API root, without its query. */
function requestShapes(log: readonly { method: string; path: string }[]): string[] {
  return log.map((r) => `${r.method} ${r.path.replace(/\?.*$/, "").replace(/^\/[^/]+\/apis\/3\.0/, "")}`);
}

for (const dialect of DIALECTS) {
  describe(`the daily check with nothing new (${dialect})`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => cleanup?.());

    it("ConnectWise, Seat-based Annual: no request at all; a run by hand still checks the agreement", async () => {
      const s = await mappedConnectWise(dialect);
      cleanup = s.cleanup;
      const first = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.equal(first.errors, 0, JSON.stringify(first.items));
      assert.ok(first.written > 0);

      s.emulator.server.clearRequestLog();
      const daily = await (await s.app.annualSync(s.connectionId)).run("schedule");
      assert.deepEqual(
        [daily.status, daily.written, daily.errors, daily.psaRequests],
        ["no-change", 0, 0, 0],
        JSON.stringify(daily.items),
      );
      assert.deepEqual(
        s.emulator.server.requestLog().map((r) => `${r.method} ${r.path}`),
        [],
      );

      const manual = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.equal(manual.written, 0);
      assert.ok(
        s.emulator.server
          .requestLog()
          .some((r) => r.method === "GET" && r.path.includes("/finance/agreements/")),
        "a run by hand checks the mapped agreement",
      );
    });

    it("Autotask, Seat-based Annual: no request at all after a first sync whose writes went out once", async () => {
      const s = await mappedAutotask(dialect);
      cleanup = s.cleanup;
      const first = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.equal(first.errors, 0, JSON.stringify(first.items));
      assert.ok(first.written > 0);
      s.emulator.server.clearRequestLog();
      const daily = await (await s.app.annualSync(s.connectionId)).run("schedule");
      assert.deepEqual([daily.status, daily.psaRequests], ["no-change", 0], JSON.stringify(daily.items));
      // The zone the first sync discovered is the connection's for the day (src/psa/autotask/connection-memory.ts):
      // opening the sync asks nothing, and the run itself sends nothing.
      assert.deepEqual(
        s.emulator.server.requestLog().map((r) => `${r.method} ${r.path.replace(/\?.*$/, "")}`),
        [],
      );
    });

    it("ConnectWise, Seat-based Monthly: an entry with nothing new is not read; a new invoice is read and written", async () => {
      const s = await monthlyConnectWise(dialect);
      cleanup = s.cleanup;
      // The first daily check has no earlier run to compare with: it reads and writes June.
      await sleep(5);
      const june = await (await monthlySync(s)).run("schedule");
      assert.equal(june.errors, 0, JSON.stringify(june.items));
      assert.ok(june.written > 0);

      s.emulator.server.clearRequestLog();
      const quiet = await (await monthlySync(s)).run("schedule");
      assert.deepEqual([quiet.status, quiet.written, quiet.psaRequests], ["no-change", 0, 0]);
      assert.deepEqual(
        s.emulator.server.requestLog().map((r) => `${r.method} ${r.path}`),
        [],
      );

      await s.importJuly();
      await sleep(5);
      const july = await (await monthlySync(s)).run("schedule");
      assert.equal(july.errors, 0, JSON.stringify(july.items));
      assert.ok(july.written > 0, "July's seat changes are written");
      const additionReads = s.emulator.server
        .requestLog()
        .filter((r) => r.method === "GET" && /\/finance\/agreements\/\d+\/additions(\?|$)/.test(r.path));
      assert.ok(additionReads.length >= 1, "the agreement's additions are compared");
      // One read for the changed entry: its agreement took June's writes and nothing changed since, so the
      // daily check takes it as checked (no agreements or billing cycles read); the comparison is the read.
      const julyRequests = requestShapes(s.emulator.server.requestLog());
      assert.deepEqual(
        julyRequests.filter(
          (r) => r.startsWith("GET ") && !/\/(procurement\/catalog|login\/companyinfo)/.test(r),
        ),
        [`GET /finance/agreements/${s.agreementId}/additions`],
        "one read per changed entry, besides the run's catalog lookups and codebase discovery",
      );
      const writes = julyRequests.filter((r) => !r.startsWith("GET "));
      assert.equal(writes.length, july.written);

      s.emulator.server.clearRequestLog();
      await sleep(5);
      const after = await (await monthlySync(s)).run("schedule");
      assert.deepEqual([after.status, after.psaRequests], ["no-change", 0]);
      assert.equal(s.emulator.server.requestLog().length, 0);

      // A run by hand compares the agreement whatever is new.
      const manual = await (await monthlySync(s)).run("manual");
      assert.equal(manual.written, 0);
      assert.ok(manual.psaRequests > 0);
    });

    it("ConnectWise, Seat-based Monthly: an agreement taken as checked that is gone since is checked and reported", async () => {
      const s = await monthlyConnectWise(dialect);
      cleanup = s.cleanup;
      await sleep(5);
      const june = await (await monthlySync(s)).run("schedule");
      assert.equal(june.errors, 0, JSON.stringify(june.items));
      // Deleted in ConnectWise after June was written there.
      const { agreements } = s.emulator.data().tables;
      agreements.splice(
        agreements.findIndex((a) => a.id === s.agreementId),
        1,
      );
      await s.importJuly();
      await sleep(5);
      s.emulator.server.clearRequestLog();
      const july = await (await monthlySync(s)).run("schedule");
      assert.equal(july.written, 0);
      assert.ok(july.errors > 0);
      assert.ok(
        july.items.every((i) => i.outcome === "error" && /agreement \d+ was not found/.test(i.message ?? "")),
        JSON.stringify(july.items),
      );
      const reads = requestShapes(s.emulator.server.requestLog());
      assert.ok(
        reads.includes(`GET /finance/agreements/${s.agreementId}/additions`),
        "the comparison's read failed",
      );
      assert.ok(reads.includes("GET /finance/agreements"), "then the agreement was checked");
      assert.ok(
        reads.every((r) => r.startsWith("GET ")),
        "nothing was written",
      );
    });
  });
}
