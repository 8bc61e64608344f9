import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PricingService } from "../../src/services/pricing.ts";
import { DIALECTS } from "../support/stores.ts";
import {
  AFTER_JULY,
  AFTER_JUNE,
  MONTHLY_PRODUCTS,
  MONTHLY_SUBS,
  PRICE_WARNINGS,
} from "../support/monthly-data.ts";
import { monthlyConnectWise, type MonthlyConnectWise } from "../support/monthly-setup.ts";
import { additions, expectedAdditions as expected } from "../support/monthly-expect.ts";

function writesSent(s: MonthlyConnectWise) {
  return s.emulator.server.requestLog().filter((r) => r.method !== "GET");
}

for (const dialect of DIALECTS) {
  describe(`Seat-based Monthly sync into ConnectWise (${dialect}; docs/sync-behaviour.md §7)`, () => {
    let s: MonthlyConnectWise;
    afterEach(async () => s?.cleanup());

    it("bills two months of seat changes, new, lapsed and cancelled subscriptions; re-runs write nothing", async () => {
      s = await monthlyConnectWise(dialect);
      const june = await (await s.sync()).run("manual");
      assert.deepEqual(
        [june.status, june.written, june.errors],
        ["success", 5, 0],
        JSON.stringify(june.items),
      );
      assert.deepEqual(await additions(s), expected(s, AFTER_JUNE));

      s.emulator.server.clearRequestLog();
      const again = await (await s.sync()).run("manual");
      assert.deepEqual([again.status, again.items.length], ["no-change", 0]);
      assert.deepEqual(writesSent(s), [], "a re-run sent no write");

      await s.importJuly();
      const july = await (await s.sync()).run("manual");
      assert.equal(july.errors, 0, JSON.stringify(july.items.filter((i) => i.outcome === "error")));
      assert.deepEqual(await additions(s), expected(s, AFTER_JULY));
      // New segments: standard from Jul 3, premium from Jul 16, teams; ends set on standard, premium,
      // exchange (not renewed) and visio (cancelled).
      assert.equal(july.written, 7);
      const warned = july.items.filter((i) => i.outcome === "warning");
      assert.deepEqual(
        warned.map((i) => [i.subscriptionId, i.message]),
        [[MONTHLY_SUBS.premium, PRICE_WARNINGS.join("; ")]],
      );

      s.emulator.server.clearRequestLog();
      const rerun = await (await s.sync()).run("manual");
      assert.deepEqual([rerun.status, rerun.items.length], ["no-change", 0]);
      assert.deepEqual(writesSent(s), []);
      const ongoing = (await s.client.listAdditions(s.agreementId)).filter((a) => !a.cancelledDate);
      assert.deepEqual(
        ongoing.map((a) => [a.product?.id, a.quantity]).sort(),
        [
          [s.catalog.standard, "12"],
          [s.catalog.premium, "7"],
          [s.catalog.teams, "4"],
        ].sort(),
        "one ongoing addition per running subscription, at its current seats",
      );
    });

    it("a quantity edited in ConnectWise is set back to the billed one, with a warning naming both", async () => {
      s = await monthlyConnectWise(dialect);
      await (await s.sync()).run("manual");
      const rows = await s.client.listAdditions(s.agreementId);
      const edited = rows.find((a) => a.product?.id === s.catalog.standard && !a.cancelledDate)!;
      await s.client.updateAddition(s.agreementId, edited.id, { quantity: "20" });

      const run = await (await s.sync()).run("manual");
      assert.deepEqual([run.status, run.written, run.warnings], ["warning", 1, 1]);
      assert.equal(run.items[0]!.subscriptionId, MONTHLY_SUBS.standard);
      assert.equal(
        run.items[0]!.message,
        `${MONTHLY_PRODUCTS.standard.SkuName} (subscription ${MONTHLY_SUBS.standard}) had quantity 20 in ConnectWise; set back to the billed 15`,
      );
      assert.deepEqual(await additions(s), expected(s, AFTER_JUNE));

      // A second edit of the same addition is corrected again.
      await s.client.updateAddition(s.agreementId, edited.id, { quantity: "20" });
      await s.importJuly();
      const july = await (await s.sync()).run("manual");
      assert.equal(july.errors, 0);
      assert.deepEqual(await additions(s), expected(s, AFTER_JULY));
      assert.ok(july.items.some((i) => i.message?.includes("had quantity 20 in ConnectWise")));
    });

    it("an addition deleted in ConnectWise is written again, with a warning; then nothing more", async () => {
      s = await monthlyConnectWise(dialect);
      await (await s.sync()).run("manual");
      const data = s.emulator.data();
      const gone = data.tables.additions.find(
        (a) => (a.product as { id: number } | undefined)?.id === s.catalog.premium,
      )!;
      data.tables.additions = data.tables.additions.filter((a) => a.id !== gone.id);

      const run = await (await s.sync()).run("manual");
      assert.deepEqual([run.status, run.written, run.warnings, run.errors], ["warning", 1, 1, 0]);
      assert.equal(run.items[0]!.subscriptionId, MONTHLY_SUBS.premium);
      assert.match(run.items[0]!.message ?? "", /no longer in ConnectWise, so written again/);
      assert.notEqual(run.items[0]!.psaRecordId, String(gone.id));
      assert.deepEqual(await additions(s), expected(s, AFTER_JUNE));

      s.emulator.server.clearRequestLog();
      const again = await (await s.sync()).run("manual");
      assert.deepEqual([again.status, again.items.length], ["no-change", 0]);
      assert.deepEqual(writesSent(s), []);
    });

    it("with hold on, a new addition sold below cost is held, then written once approved", async () => {
      s = await monthlyConnectWise(dialect);
      const pricing = new PricingService(s.app.store, s.app.organizationId);
      await pricing.setBelowCost(s.connectionId, "hold");
      await pricing.addRule(s.connectionId, {
        name: "Exchange at 1",
        productKey: MONTHLY_PRODUCTS.exchange.ProductId,
        kind: "fixed",
        value: "1",
        effectiveFrom: "2024-06-01",
      });
      const first = await (await s.sync()).run("manual");
      const held = first.items.filter((i) => i.outcome === "held");
      assert.deepEqual(
        held.map((i) => i.subscriptionId),
        [MONTHLY_SUBS.exchange],
      );
      assert.match(
        held[0]!.message ?? "",
        /^Held for approval: sell price 1 is below cost .* \(priced by rule Exchange at 1\)/,
      );
      assert.deepEqual([first.status, first.written, first.errors], ["warning", 4, 0]);
      const inPsa = async () =>
        (await s.client.listAdditions(s.agreementId)).filter((a) => a.product?.id === s.catalog.exchange);
      assert.deepEqual(await inPsa(), [], "the held addition is not in ConnectWise");

      const quiet = await (await s.sync()).run("manual");
      assert.deepEqual([quiet.status, quiet.items.length], ["no-change", 0], "held once, not again");

      await pricing.approve(s.connectionId, { all: true }, "billing@example.com");
      const approved = await (await s.sync()).run("manual");
      assert.deepEqual([approved.written, approved.errors], [1, 0]);
      assert.match(approved.items[0]!.message ?? "", /approved by billing@example.com/);
      assert.deepEqual(
        (await inPsa()).map((a) => [a.quantity, a.unitPrice]),
        [["3", "1"]],
      );
    });

    it("a dry run plans the writes without sending any", async () => {
      s = await monthlyConnectWise(dialect);
      s.emulator.server.clearRequestLog();
      const [planned] = await (await s.sync()).plan();
      assert.equal(planned!.problem, null);
      assert.deepEqual(
        planned!.plan.lines.map((l) => [l.action, l.description]),
        [
          ["create-addition", `${MONTHLY_PRODUCTS.standard.SkuName}, 10 seats from 2024-06-01`],
          ["create-addition", `${MONTHLY_PRODUCTS.standard.SkuName}, 15 seats from 2024-06-11`],
          ["create-addition", `${MONTHLY_PRODUCTS.premium.SkuName}, 5 seats from 2024-06-01`],
          ["create-addition", `${MONTHLY_PRODUCTS.exchange.SkuName}, 3 seats from 2024-06-01`],
          ["create-addition", `${MONTHLY_PRODUCTS.visio.SkuName}, 2 seats from 2024-06-20`],
        ],
      );
      assert.deepEqual(writesSent(s), []);
      assert.deepEqual(await additions(s), []);
    });

    it("lost responses (a create and an update) are looked up by key: nothing is written twice", async () => {
      s = await monthlyConnectWise(dialect);
      s.emulator.server.addFaults([{ kind: "lose-response", method: "POST", path: "/additions", nth: [1] }]);
      const june = await (await s.sync()).run("manual");
      assert.deepEqual([june.written, june.errors], [5, 0]);
      assert.deepEqual(await additions(s), expected(s, AFTER_JUNE));

      await s.importJuly();
      s.emulator.server.addFaults([{ kind: "lose-response", method: "PATCH", path: "/additions", nth: [1] }]);
      const july = await (await s.sync()).run("manual");
      assert.equal(july.errors, 0);
      assert.ok(
        s.emulator.server.faults().every((f) => f.fired > 0),
        "both responses were lost",
      );
      assert.deepEqual(await additions(s), expected(s, AFTER_JULY));
      const rerun = await (await s.sync()).run("manual");
      assert.deepEqual([rerun.status, rerun.items.length], ["no-change", 0]);
    });
  });
}
