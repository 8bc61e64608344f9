import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { DIALECTS } from "../support/stores.ts";
import { monthlyAutotask, type MonthlyAutotask } from "../support/monthly-setup.ts";
import { azureAutotask } from "../support/azure-setup.ts";
import { importJulyAzure } from "../support/azure-setup.ts";
import { units, UNITS_AFTER_JULY, UNITS_AFTER_JUNE } from "../support/monthly-expect.ts";
import { createMonthlyTarget } from "../../src/psa/factory.ts";
import { MonthlySync } from "../../src/services/monthly-sync.ts";

/**
 * What the Autotask syncs ask Autotask, counted on the emulator's request log (docs/sync-behaviour.md §6.4,
 * docs/autotask.md §10): a sync opened after another of the same connection asks for neither the zone nor
 * the hourly threshold again; planning a Seat-based Monthly entry reads its contract, the contract's keyed
 * services in one query and their unit rows in one more; each write is one request, on the contract service
 * the plan found; the daily check with nothing new sends nothing.
 */

/**
 * A monthly sync on the app's own connection (its request budget and memory), counting imports at once — or,
 * with a margin, counting as new the lines imported that long before the last run (so the entry is read
 * again with nothing new to write).
 */
async function monthlySync(s: MonthlyAutotask, importCommitMarginMs = 0): Promise<MonthlySync<never>> {
  const target = await createMonthlyTarget(
    await s.app.connections.details(s.connectionId),
    s.app.psaOptionsFor(s.connectionId),
  );
  return new MonthlySync({
    store: s.app.store,
    organizationId: s.app.organizationId,
    mappings: s.app.mappings,
    target,
    connectionId: s.connectionId,
    importCommitMarginMs,
  }) as unknown as MonthlySync<never>;
}

/** Each request as method and path under the API root, ids as :id, without the query string. */
function shapes(log: readonly { method: string; path: string }[]): string[] {
  return log.map(
    (r) =>
      `${r.method} ${r.path
        .replace(/\?.*$/, "")
        .replace(/^\/atservicesrest\/v1\.0/i, "")
        .replace(/\/\d+/g, "/:id")}`,
  );
}

const isWrite = (shape: string) => !shape.startsWith("GET ") && !/\/query(\/count)?$/i.test(shape);

for (const dialect of DIALECTS) {
  describe(`Autotask request counts (${dialect})`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => cleanup?.());

    it("Seat-based Monthly: first sync reads each contract once, writes once per request; nothing new costs nothing; a change costs its comparison", async () => {
      const s = await monthlyAutotask(dialect);
      cleanup = s.cleanup;
      await sleep(5);
      const june = await (await monthlySync(s)).run("schedule");
      assert.equal(june.errors, 0, JSON.stringify(june.items));
      const juneShapes = shapes(s.emulator.server.requestLog());
      assert.deepEqual(await units(s), UNITS_AFTER_JUNE);
      const juneWrites = juneShapes.filter(isWrite);
      // One contract service created per subscription, one adjustment per line; nothing looked up again.
      const subscriptions = Object.keys(UNITS_AFTER_JUNE).length;
      assert.equal(juneWrites.filter((w) => w === "POST /Contracts/:id/Services").length, subscriptions);
      assert.equal(juneWrites.filter((w) => w === "POST /ContractServiceAdjustments").length, june.written);
      const juneReads = juneShapes.filter((r) => !isWrite(r));
      assert.deepEqual(
        juneReads.filter((r) => r !== "POST /Services/query").sort(),
        // The check (the company's contracts, their picklists) and, beside it, the contract's keyed services;
        // the zone and the threshold are the connection's since the entry was mapped.
        [
          "GET /Contracts/entityInformation/fields",
          "POST /Contracts/query",
          "POST /ContractServices/query",
        ].sort(),
        "no unit rows are read for a contract without cspsync's services, and no contract service is looked up again",
      );
      // The Service of each SKU, once, for the contract services the plan did not find.
      assert.ok(juneReads.filter((r) => r === "POST /Services/query").length <= subscriptions);

      s.emulator.server.clearRequestLog();
      await sleep(5);
      const quiet = await (await monthlySync(s)).run("schedule");
      assert.deepEqual([quiet.status, quiet.written, quiet.psaRequests], ["no-change", 0, 0]);
      assert.deepEqual(shapes(s.emulator.server.requestLog()), [], "not even the zone or the threshold");

      await s.importJuly();
      await sleep(5);
      s.emulator.server.clearRequestLog();
      const july = await (await monthlySync(s)).run("schedule");
      assert.equal(july.errors, 0, JSON.stringify(july.items));
      assert.ok(july.written > 0);
      const julyShapes = shapes(s.emulator.server.requestLog());
      assert.deepEqual(await units(s), UNITS_AFTER_JULY);
      // July brings one new subscription: its Service is looked up and its contract service created.
      const added = Object.keys(UNITS_AFTER_JULY).length - subscriptions;
      assert.equal(added, 1);
      assert.deepEqual(
        julyShapes.filter((r) => !isWrite(r)).sort(),
        [
          "GET /Contracts/:id",
          "POST /ContractServiceUnits/query",
          "POST /ContractServices/query",
          "POST /Services/query",
        ].sort(),
        "the comparison (the contract, its keyed services in one query, their unit rows in one) and the new Service",
      );
      // Every other July line adjusts a contract service June created, as the plan found it.
      const julyWrites = julyShapes.filter(isWrite);
      assert.equal(julyWrites.filter((w) => w === "POST /Contracts/:id/Services").length, added);
      assert.equal(julyWrites.filter((w) => w === "POST /ContractServiceAdjustments").length, july.written);
      assert.equal(julyWrites.length, july.written + added);

      // The entry read again with nothing new: every subscription's contract service is known from the runs of
      // this process, so the comparison is their unit rows alone, in one query.
      s.emulator.server.clearRequestLog();
      await sleep(5);
      const again = await (await monthlySync(s, 3_600_000)).run("schedule");
      assert.deepEqual([again.status, again.errors], ["no-change", 0], JSON.stringify(again.items));
      assert.deepEqual(shapes(s.emulator.server.requestLog()), ["POST /ContractServiceUnits/query"]);

      // The contract is extended in Autotask: its unit rows no longer fit the window remembered, so the contract
      // and its services are read again, and nothing is written.
      await s.client.contracts.update(s.contractId, { endDate: "2028-12-31" });
      s.emulator.server.clearRequestLog();
      await sleep(5);
      const extended = await (await monthlySync(s, 3_600_000)).run("schedule");
      assert.deepEqual([extended.status, extended.errors], ["no-change", 0], JSON.stringify(extended.items));
      assert.deepEqual(
        shapes(s.emulator.server.requestLog()).sort(),
        [
          "GET /Contracts/:id",
          "POST /ContractServiceUnits/query",
          "POST /ContractServiceUnits/query",
          "POST /ContractServices/query",
        ].sort(),
      );
      s.emulator.server.clearRequestLog();
      await sleep(5);
      await (await monthlySync(s, 3_600_000)).run("schedule");
      assert.deepEqual(shapes(s.emulator.server.requestLog()), ["POST /ContractServiceUnits/query"]);
      assert.deepEqual(await units(s), UNITS_AFTER_JULY);
    });

    it("Azure Plan: a month is its three writes beside the check and one read of the contract's keyed services", async () => {
      const s = await azureAutotask(dialect);
      cleanup = s.cleanup;
      const june = await (await s.app.azureSync(s.connectionId)).run("schedule");
      assert.equal(june.errors, 0, JSON.stringify(june.items));
      assert.equal(june.written, 1);
      const juneShapes = shapes(s.emulator.server.requestLog());
      assert.deepEqual(juneShapes.filter(isWrite), [
        "POST /Contracts/:id/Services",
        "POST /ContractServiceAdjustments",
        "POST /ContractServiceAdjustments",
      ]);
      assert.deepEqual(
        juneShapes.filter((r) => !isWrite(r)).sort(),
        [
          "GET /Contracts/entityInformation/fields",
          "POST /Contracts/query",
          "POST /ContractServices/query",
          "POST /Services/query",
        ].sort(),
        "the zone and the threshold are the connection's since the entry was mapped; the picklists the sync's",
      );

      await importJulyAzure(s.app);
      s.emulator.server.clearRequestLog();
      const july = await (await s.app.azureSync(s.connectionId)).run("schedule");
      assert.equal(july.errors, 0, JSON.stringify(july.items));
      assert.equal(july.written, 1);
      const julyShapes = shapes(s.emulator.server.requestLog());
      assert.equal(julyShapes.filter(isWrite).length, 3);
      assert.deepEqual(
        julyShapes.filter((r) => !isWrite(r)).sort(),
        [
          "GET /Contracts/entityInformation/fields",
          "POST /Contracts/query",
          "POST /ContractServices/query",
          "POST /Services/query",
        ].sort(),
      );
    });
  });
}
