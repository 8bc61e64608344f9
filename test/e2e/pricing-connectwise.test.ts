import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { annualWriteKey } from "../../src/core/annual-plan.ts";
import { PricingService } from "../../src/services/pricing.ts";
import { DIALECTS } from "../support/stores.ts";
import { CONTOSO } from "../support/recon-builder.ts";
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

for (const dialect of DIALECTS) {
  describe(`Price rules and holds on the Seat-based Annual sync into ConnectWise (${dialect})`, () => {
    let s: MappedConnectWise;
    afterEach(async () => s?.cleanup());

    it("rules set the written prices: product over customer, and the customer's rule changes with the month", async () => {
      s = await mappedConnectWise(dialect);
      const pricing = new PricingService(s.app.store, s.app.organizationId);
      const june = await pricing.addRule(s.connectionId, {
        name: "Contoso +10%",
        customerTenantId: CONTOSO.id,
        kind: "markup",
        value: "10",
        effectiveFrom: "2024-06-01",
      });
      await pricing.addRule(s.connectionId, {
        name: "Contoso +20% from July",
        customerTenantId: CONTOSO.id,
        kind: "markup",
        value: "20",
        effectiveFrom: "2024-07-01",
      });
      await pricing.addRule(s.connectionId, {
        name: "Premium at 300",
        productKey: "cfq7ttc0lchc",
        kind: "fixed",
        value: "300.00",
        effectiveFrom: "2024-01-01",
      });

      const sync = await s.app.annualSync(s.connectionId);
      const [planned] = await sync.plan();
      const byDescription = new Map(planned!.plan.lines.map((l) => [l.description, l]));
      assert.equal(byDescription.get(VISIO)?.pricedBy?.ruleName, "Contoso +10%");
      assert.equal(byDescription.get(VISIO)?.pricedBy?.ruleId, june.id);
      assert.equal(byDescription.get(PREMIUM)?.pricedBy?.ruleName, "Premium at 300");
      assert.equal(byDescription.get(E3)?.pricedBy?.ruleName, "Contoso +20% from July");

      const run = await sync.run("manual");
      assert.deepEqual([run.status, run.written, run.errors], ["success", 8, 0]);
      assert.deepEqual(await annualPrices(s), {
        [VISIO]: ["180", "198"],
        [PREMIUM]: ["264", "300"],
        [EXO]: ["48", "52.8"],
        // −47.7367 × 1.1 = −52.51037
        [EXO_REFUND]: ["-47.7367", "-52.5104"],
        [SERVER]: ["972.5", "1069.75"],
        // 300 × 345/365 and 300 × 343/365 per seat: a fixed price is prorated like the cost.
        [PREMIUM_UP]: ["249.53", "283.5616"],
        [PREMIUM_DOWN]: ["-248.09", "-281.9178"],
        // The July charge: 229.16 × 1.2
        [E3]: ["229.16", "274.992"],
      });
      // Each run item keeps the rule that priced its line.
      const item = run.items.find((i) => i.line?.description === E3);
      assert.equal(item?.line?.pricedBy?.description, "cost + 20%");
    });

    it("below cost with hold on: held once, listed until approved, then written by the next sync", async () => {
      s = await mappedConnectWise(dialect);
      const pricing = new PricingService(
        s.app.store,
        s.app.organizationId,
        () => new Date("2024-07-02T09:00:00Z"),
      );
      await pricing.setBelowCost(s.connectionId, "hold");
      const rule = await pricing.addRule(s.connectionId, {
        name: "Exchange at 10",
        productKey: "CFQ7TTC0LH16",
        kind: "fixed",
        value: "10",
        effectiveFrom: "2024-06-01",
      });
      const exoKey = (await (await s.app.annualSync(s.connectionId)).plan())[0]!.plan.lines.find(
        (l) => l.description === EXO,
      )!.writeKey;

      const first = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([first.status, first.written, first.warnings], ["warning", 7, 1]);
      const held = first.items.filter((i) => i.outcome === "held");
      assert.deepEqual(
        held.map((i) => [i.writeKey, i.message]),
        [
          [
            exoKey,
            "Held for approval: sell price 10 is below cost 48 (priced by rule Exchange at 10); once approved, the next sync writes it",
          ],
        ],
      );
      assert.equal((await annualPrices(s))[EXO], undefined, "the held line is not in the PSA");

      // Held once: the next run passes over it quietly, and it stays listed.
      const second = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([second.status, second.items.length], ["no-change", 0]);
      const listed = await pricing.listHolds(s.connectionId);
      assert.deepEqual(
        listed.map((h) => [h.writeKey, h.customerName, h.description, h.unitCost, h.unitPrice, h.status]),
        [[exoKey, CONTOSO.name, EXO, "48", "10", "held"]],
      );
      assert.equal(listed[0]!.pricedBy?.ruleId, rule.id);

      // A new price is a new question: held again and reported again, the earlier approval void.
      await pricing.approve(s.connectionId, { writeKeys: [exoKey] }, "billing@example.com");
      await pricing.updateRule(s.connectionId, rule.id, {
        productKey: "CFQ7TTC0LH16",
        kind: "fixed",
        value: "11",
        effectiveFrom: "2024-06-01",
      });
      const third = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual(
        third.items.map((i) => [i.outcome, i.writeKey]),
        [["held", exoKey]],
      );
      assert.deepEqual(
        (await pricing.listHolds(s.connectionId)).map((h) => [h.unitPrice, h.status, h.approvedBy]),
        [["11", "held", null]],
      );

      const approved = await pricing.approve(s.connectionId, { all: true }, "billing@example.com");
      assert.deepEqual(
        approved.map((h) => [h.writeKey, h.status, h.approvedBy, h.approvedAt]),
        [[exoKey, "approved", "billing@example.com", "2024-07-02T09:00:00.000Z"]],
      );
      const fourth = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([fourth.status, fourth.written], ["warning", 1]);
      assert.equal(
        fourth.items[0]!.message,
        "Sell price 11 is below cost 48 per unit for Exchange Online (Plan 1); sold below cost, approved by billing@example.com at 2024-07-02T09:00:00.000Z",
      );
      assert.deepEqual((await annualPrices(s))[EXO], ["48", "11"]);
      assert.deepEqual(await pricing.listHolds(s.connectionId), [], "a written line is no longer listed");

      const fifth = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([fifth.status, fifth.items.length], ["no-change", 0]);
      const ledger = await s.app.store.db
        .selectFrom("psa_writes")
        .select("status")
        .where("write_key", "=", annualWriteKey(s.connectionId, CONTOSO.id, held[0]!.eventKey!))
        .execute();
      assert.deepEqual(ledger, [{ status: "confirmed" }]);
    });

    it("with the default (warn) a below-cost line is written with its warning", async () => {
      s = await mappedConnectWise(dialect);
      const pricing = new PricingService(s.app.store, s.app.organizationId);
      assert.equal(await pricing.belowCost(s.connectionId), "warn");
      await pricing.addRule(s.connectionId, {
        productKey: "CFQ7TTC0LH16",
        kind: "fixed",
        value: "10",
        effectiveFrom: "2024-06-01",
      });
      const run = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([run.status, run.written, run.warnings], ["warning", 8, 1]);
      assert.deepEqual((await annualPrices(s))[EXO], ["48", "10"]);
      assert.deepEqual(await pricing.listHolds(s.connectionId), []);
    });
  });
}
