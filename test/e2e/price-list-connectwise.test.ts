import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { PriceListService } from "../../src/services/price-lists.ts";
import { DIALECTS } from "../support/stores.ts";
import {
  annualPrices,
  VISIO,
  PREMIUM,
  EXO,
  EXO_REFUND,
  SERVER,
  PREMIUM_UP,
  PREMIUM_DOWN,
  E3,
  mappedConnectWise,
  type MappedConnectWise,
} from "../support/connectwise-setup.ts";

const PRICE_LIST = path.resolve(import.meta.dirname, "../../samples/price-list-2024-06.csv");

for (const dialect of DIALECTS) {
  describe(`Price lists on the Seat-based Annual sync into ConnectWise (${dialect})`, () => {
    let s: MappedConnectWise;
    afterEach(async () => s?.cleanup());

    it("without a price list the dry run sells at cost; with one, at the ERP prorated like the cost", async () => {
      s = await mappedConnectWise(dialect);
      const sync = await s.app.annualSync(s.connectionId);
      const [before] = await sync.plan();
      const atCost = before!.plan.lines.find((l) => l.description === PREMIUM)!;
      assert.deepEqual(
        [atCost.unitCost, atCost.unitPrice, atCost.priceSource, atCost.atOrBelowCost, atCost.warnings],
        ["264", "264", "microsoft-list", true, []],
      );

      await new PriceListService(s.app.store, s.app.organizationId).import(PRICE_LIST);
      const [planned] = await sync.plan();
      const byDescription = new Map(planned!.plan.lines.map((l) => [l.description, l]));
      assert.equal(byDescription.get(PREMIUM)?.priceSource, "price-list");
      // Not on the price list (a perpetual licence): the data's list price, with a warning, since a USD list exists.
      assert.deepEqual(byDescription.get(SERVER)?.warnings, [
        "No price list price: DG7GMGF0D7FV:0002 is not on the USD price list",
      ]);

      const run = await sync.run("manual");
      assert.deepEqual([run.written, run.errors], [8, 0]);
      assert.deepEqual(await annualPrices(s), {
        [VISIO]: ["180", "225"],
        [PREMIUM]: ["264", "330"],
        [EXO]: ["48", "60"],
        // 60 × 363/365, a credit.
        [EXO_REFUND]: ["-47.7367", "-59.6712"],
        [SERVER]: ["972.5", "972.5"],
        // 330 × 345/365 and 330 × 343/365 per seat: prorated exactly like the cost.
        [PREMIUM_UP]: ["249.53", "311.9178"],
        [PREMIUM_DOWN]: ["-248.09", "-310.1096"],
        // The P1Y Annual row's 540 for 335 of the billing year's 365 days.
        [E3]: ["229.16", "495.6164"],
      });
      assert.equal(byDescription.get(E3)?.priceSource, "price-list");
    });
  });
}
