import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS } from "../support/stores.ts";
import { MONTHLY_SUBS, PRICE_WARNINGS } from "../support/monthly-data.ts";
import { monthlyAutotask, type MonthlyAutotask } from "../support/monthly-setup.ts";
import {
  units,
  UNITS_AFTER_JULY as AFTER_JULY,
  UNITS_AFTER_JUNE as AFTER_JUNE,
} from "../support/monthly-expect.ts";

function writesSent(s: MonthlyAutotask) {
  return s.emulator.server.requestLog().filter((r) => r.method !== "GET" && !/\/query/i.test(r.path));
}

for (const dialect of DIALECTS) {
  describe(`Seat-based Monthly sync into Autotask (${dialect}; docs/sync-behaviour.md §7, §5.2)`, () => {
    let s: MonthlyAutotask;
    afterEach(async () => s?.cleanup());

    it("bills two months as unit adjustments, one per period; re-runs write nothing", async () => {
      s = await monthlyAutotask(dialect);
      const june = await (await s.sync()).run("manual");
      assert.deepEqual([june.written, june.errors], [5, 0]);
      assert.deepEqual(await units(s), AFTER_JUNE);

      s.emulator.server.clearRequestLog();
      const again = await (await s.sync()).run("manual");
      assert.deepEqual([again.status, again.items.length], ["no-change", 0]);
      assert.deepEqual(writesSent(s), []);

      await s.importJuly();
      const july = await (await s.sync()).run("manual");
      assert.deepEqual([july.written, july.errors], [5, 0]);
      assert.deepEqual(await units(s), AFTER_JULY);
      const premium = july.items.find((i) => i.subscriptionId === MONTHLY_SUBS.premium)!;
      assert.equal(premium.message, PRICE_WARNINGS.join("; "));

      s.emulator.server.clearRequestLog();
      const rerun = await (await s.sync()).run("manual");
      assert.deepEqual([rerun.status, rerun.items.length], ["no-change", 0]);
      assert.deepEqual(writesSent(s), []);
    });

    it("units changed in Autotask are set back from the next period, with a warning naming both", async () => {
      s = await monthlyAutotask(dialect);
      await (await s.sync()).run("manual");
      await s.importJuly();
      await (await s.sync()).run("manual");
      const { contractServices } = s.client;
      const [standard] = await contractServices.queryAll([
        contractServices.where.eq("contractID", s.contractId),
        contractServices.where.eq("serviceID", s.services.standard),
      ]);
      await s.client.contractServiceAdjustments.create({
        contractID: s.contractId,
        contractServiceID: standard!.id,
        effectiveDate: "2024-09-05",
        unitChange: 5,
      });
      const run = await (await s.sync()).run("manual");
      assert.deepEqual([run.written, run.warnings], [1, 1]);
      assert.equal(
        run.items[0]!.message,
        `Microsoft 365 Business Standard (subscription ${MONTHLY_SUBS.standard}) had quantity 17 in Autotask; set back to the billed 12 from 2024-10-01`,
      );
      const after = await units(s);
      assert.deepEqual(after.standard!.slice(-2), ["2024-09-01 12 @12.5/12.5", "2024-09-05 17 @12.5/12.5"]);
      const rerun = await (await s.sync()).run("manual");
      assert.deepEqual([rerun.status, rerun.items.length], ["no-change", 0]);
    });

    it("a lost response to an adjustment: the units are read back, nothing is adjusted twice", async () => {
      s = await monthlyAutotask(dialect);
      s.emulator.addFaults([
        { kind: "lose-response", method: "POST", path: "re:/ContractServiceAdjustments$/i", nth: [2] },
      ]);
      const june = await (await s.sync()).run("manual");
      assert.deepEqual([june.written, june.errors], [5, 0], JSON.stringify(june.items.map((i) => i.message)));
      assert.ok(
        s.emulator.server.faults().every((f) => f.fired > 0),
        "the response was lost",
      );
      assert.deepEqual(await units(s), AFTER_JUNE);
    });
  });
}
