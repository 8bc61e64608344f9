import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS } from "../support/stores.ts";
import { MONTHLY_SUBS, PRICE_WARNINGS } from "../support/monthly-data.ts";
import { monthlyAutotask, type MonthlyAutotask } from "../support/monthly-setup.ts";

/** Units per contract service (by product) from May to September 2024, as Autotask bills them. */
async function units(s: MonthlyAutotask) {
  const { contractServices, contractServiceUnits } = s.client;
  const services = await contractServices.queryAll([contractServices.where.eq("contractID", s.contractId)]);
  const byProduct: Record<string, string[]> = {};
  for (const [product, serviceId] of Object.entries(s.services)) {
    const service = services.filter((cs) => cs.serviceID === serviceId);
    assert.ok(service.length <= 1, `one contract service for ${product}`);
    if (!service[0]) continue;
    const rows = await contractServiceUnits.queryAll([
      contractServiceUnits.where.eq("contractServiceID", service[0].id),
    ]);
    byProduct[product] = rows
      .map((r) => ({ day: r.startDate.slice(0, 10), units: r.units, price: r.price, cost: r.cost }))
      .filter((r) => r.day >= "2024-05-01" && r.day < "2024-10-01")
      .sort((a, b) => a.day.localeCompare(b.day))
      .map((r) => `${r.day} ${r.units} @${r.price}/${r.cost}`);
  }
  return byProduct;
}

const MONTHS = ["2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"];
function rows(at: Record<string, number>, price: string, extra: Record<string, number> = {}): string[] {
  const all = { ...Object.fromEntries(MONTHS.map((m) => [m, 0])), ...extra };
  let current = 0;
  return Object.keys(all)
    .sort()
    .map((day) => {
      if (day in at) current = at[day]!;
      if (day in extra) current = extra[day]!;
      return `${day} ${current} @${price}/${price}`;
    });
}

// One adjustment per billing period (the emulator is set to refuse a second one): a change in a period that
// already has one is billed from the next period.
const AFTER_JUNE = {
  standard: rows({ "2024-06-01": 10, "2024-07-01": 15 }, "12.5"),
  premium: rows({ "2024-06-01": 5 }, "22"),
  exchange: rows({ "2024-06-01": 3 }, "4"),
  visio: rows({}, "8", { "2024-06-20": 2 }),
};
const AFTER_JULY = {
  standard: rows({ "2024-06-01": 10, "2024-07-01": 15, "2024-08-01": 12 }, "12.5"),
  premium: rows({ "2024-06-01": 5 }, "22", { "2024-07-16": 7 }),
  exchange: rows({ "2024-06-01": 3, "2024-07-01": 0 }, "4"),
  teams: rows({}, "4", { "2024-07-10": 4 }),
  visio: rows({ "2024-07-01": 0 }, "8", { "2024-06-20": 2 }),
};

function writesSent(s: MonthlyAutotask) {
  return s.emulator.server.requestLog().filter((r) => r.method !== "GET" && !/\/query/i.test(r.path));
}

for (const dialect of DIALECTS) {
  describe(`Seat-based Monthly sync into Autotask (${dialect}; prism-connect-behaviour.md §3.9, §4.2)`, () => {
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
