import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { PriceListService } from "../../src/services/price-lists.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";

const PRICE_LIST = path.resolve(import.meta.dirname, "../../samples/price-list-2024-06.csv");

/** Contoso's annual additions as ConnectWise holds them: description → [unit cost, unit price]. */
async function prices(s: MappedConnectWise): Promise<Record<string, [string, string]>> {
  const additions = await s.client.listAdditions(Number(s.agreementId), { orderBy: "id asc" });
  return Object.fromEntries(
    additions.map((a) => [
      a.description ?? "",
      [String(a.unitCost), String(a.unitPrice)] as [string, string],
    ]),
  );
}

const VISIO = "Visio Plan 2: 2 seats, renewal for the term 2024-06-01 to 2025-05-31";
const PREMIUM = "Microsoft 365 Business Premium: 5 seats, annual term 2024-06-05 to 2025-06-04";
const EXO = "Exchange Online (Plan 1): 3 seats, annual term 2024-06-10 to 2025-06-09";
const EXO_REFUND = "Exchange Online (Plan 1): cancellation refund for 3 seats, 2024-06-12 to 2025-06-09";
const SERVER = "Windows Server 2022 Standard - 16 Core License Pack: 1 × one-time purchase on 2024-06-18";
const PREMIUM_UP =
  "Microsoft 365 Business Premium: +2 seats (now 7), prorated 2024-06-25 to 2025-06-04 (345 days of the term)";
const PREMIUM_DOWN =
  "Microsoft 365 Business Premium: −1 seat (now 6), prorated 2024-06-27 to 2025-06-04 (343 days of the term)";
const E3 = "Microsoft 365 E3: 3 seats billed annually, 2024-07-01 to 2025-05-31";

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
      assert.deepEqual(await prices(s), {
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
