import { describe, it } from "node:test";
import assert from "node:assert/strict";
import nodeIcal from "node-ical";
import { RenewalsService } from "../../src/services/renewals.ts";
import { DEFAULT_ORGANIZATION_ID } from "../../src/store/organization.ts";
import { DIALECTS, storesForSuite } from "../support/stores.ts";
import { CONTOSO, FABRIKAM, importTwoMonths, SUB } from "./fixture.ts";

// 20 July 2024, noon UTC: the Standard renewal of Jul 18 is still in its 168-hour window.
const NOW = new Date("2024-07-20T12:00:00.000Z");

for (const dialect of DIALECTS) {
  describe(`term ledger and renewals (docs/reports.md §2, ${dialect})`, () => {
    const stores = storesForSuite(dialect, ["main"]);

    it("reads term, plan, dates, seats, price, change window and renewal from two months of data", async () => {
      await importTwoMonths(stores.main);
      const service = new RenewalsService(stores.main, DEFAULT_ORGANIZATION_ID, () => NOW);
      const ledger = await service.ledger();
      const by = new Map(ledger.map((e) => [e.subscriptionId, e]));
      assert.equal(ledger.length, 5);

      const premium = by.get(SUB.premium)!;
      assert.equal(premium.customerName, CONTOSO.name);
      assert.equal(premium.term, "P1Y");
      assert.equal(premium.billingPlan, "upfront");
      assert.equal(premium.termStart, "2024-06-05");
      assert.equal(premium.termEnd, "2025-06-04");
      assert.equal(premium.status, "active");
      assert.equal(premium.seats, "7");
      assert.deepEqual(
        premium.seatHistory.map((s) => [s.at.slice(0, 10), s.kind, s.delta, s.seats]),
        [
          ["2024-06-05", "purchase", "5", "5"],
          ["2024-06-25", "seat-change", "2", "7"],
        ],
      );
      assert.equal(premium.pricePerSeat, "240");
      // The seat add opened the latest window: 168 hours after it.
      assert.equal(premium.changeWindow?.basis, "seat add");
      assert.equal(premium.changeWindow?.openedAt, "2024-06-25T00:00:00.000Z");
      assert.equal(premium.changeWindow?.closesAt, "2024-07-02T00:00:00.000Z");
      assert.equal(premium.changeWindow?.open, false);
      assert.equal(premium.renewalDate, "2025-06-05");
      assert.equal(premium.nextTermValue, "1680"); // 7 seats × 240 × 1 term paid up front
      assert.equal(premium.autoRenew, null);

      const standard = by.get(SUB.standard)!;
      assert.equal(standard.term, "P1M");
      assert.equal(standard.billingPlan, "monthly");
      assert.equal(standard.termStart, "2024-07-18");
      assert.equal(standard.termEnd, "2024-08-17");
      assert.equal(standard.seats, "10");
      assert.equal(standard.changeWindow?.basis, "renewal");
      assert.equal(standard.changeWindow?.closesAt, "2024-07-25T00:00:00.000Z");
      assert.equal(standard.changeWindow?.open, true);
      assert.equal(standard.renewalDate, "2024-08-18");
      assert.equal(standard.nextTermValue, "125");

      const exo = by.get(SUB.exo)!;
      assert.equal(exo.status, "cancelled");
      assert.equal(exo.seats, "0");
      assert.deepEqual(
        exo.seatHistory.map((s) => [s.kind, s.delta, s.seats]),
        [
          ["purchase", "3", "3"],
          ["cancellation", "-3", "0"],
        ],
      );
      assert.equal(exo.renewalDate, null);
      assert.equal(exo.changeWindow, null);
      assert.equal(exo.nextTermValue, null);

      const p3y = by.get(SUB.p3y)!;
      assert.equal(p3y.term, "P3Y");
      assert.equal(p3y.billingPlan, "annual");
      assert.equal(p3y.termEnd, "2027-06-30");
      assert.equal(p3y.renewalDate, "2027-07-01");
      assert.equal(p3y.nextTermValue, "5040"); // 2 seats × 840 a year × 3 years
      assert.equal(p3y.changeWindow?.closesAt, "2024-07-08T00:00:00.000Z");

      // Fabrikam's July term ended on Jul 31: still active on Jul 20.
      const fabrikam = by.get(SUB.fabrikam)!;
      assert.equal(fabrikam.customerName, FABRIKAM.name);
      assert.equal(fabrikam.renewalDate, "2024-08-01");
      assert.equal(fabrikam.nextTermValue, "50");
    });

    it("lists renewals within 30 days with totals, windows closing soon, reminders and the CSV", async () => {
      const service = new RenewalsService(stores.main, DEFAULT_ORGANIZATION_ID, () => NOW);
      const view = await service.renewals(30);
      assert.deepEqual(
        view.renewing.map((e) => [e.subscriptionId, e.renewalDate]),
        [
          [SUB.fabrikam, "2024-08-01"],
          [SUB.standard, "2024-08-18"],
        ],
      );
      assert.deepEqual(view.totals, [
        { currency: "USD", subscriptions: 2, seats: "14", nextTermValue: "175" },
      ]);
      assert.deepEqual(
        view.perCustomer.map((c) => [c.customerName, c.nextTermValue]),
        [
          [CONTOSO.name, "125"],
          [FABRIKAM.name, "50"],
        ],
      );
      assert.deepEqual(
        view.windowsClosing.map((e) => [e.subscriptionId, e.changeWindow!.closesAt]),
        [[SUB.standard, "2024-07-25T00:00:00.000Z"]],
      );
      assert.equal((await service.renewals(7)).renewing.length, 0);
      // A later date: Fabrikam's term has ended with no renewal in the data.
      const later = new RenewalsService(
        stores.main,
        DEFAULT_ORGANIZATION_ID,
        () => new Date("2024-08-05T00:00:00Z"),
      );
      const fab = (await later.ledger()).find((e) => e.subscriptionId === SUB.fabrikam)!;
      assert.equal(fab.status, "lapsed-or-not-imported");

      const reminders = await service.upcomingRenewalReminders(14);
      assert.deepEqual(
        reminders.map((r) => [r.kind, r.key]),
        [
          ["window-closes", `window:${SUB.standard}:2024-07-25T00:00:00.000Z`],
          ["renewal", `renewal:${SUB.fabrikam}:2024-08-01`],
        ],
      );

      const csv = await service.renewalsCsv(30);
      const lines = csv.trim().split("\n");
      assert.equal(lines.length, 3);
      assert.match(lines[0]!, /^Customer,Product,Subscription,Term,/);
      assert.ok(
        lines[1]!.includes(`${SUB.fabrikam},P1M,monthly,2024-07-01,2024-07-31,2024-08-01,4,12.5,50,USD,`),
      );
      assert.ok(lines[1]!.endsWith(",unknown"));
    });

    it("serves the ICS feed only for the current token; it parses with an independent parser", async () => {
      const service = new RenewalsService(stores.main, DEFAULT_ORGANIZATION_ID, () => NOW);
      const first = await service.rotateFeedToken(null);
      const second = await service.rotateFeedToken(null);
      await assert.rejects(service.feedForToken(first.token), { name: "FeedTokenError" });
      await assert.rejects(service.feedForToken("csf_guess"), { name: "FeedTokenError" });
      const ics = await service.feedForToken(second.token);
      const parsed = Object.values(nodeIcal.sync.parseICS(ics)).filter((c) => c?.type === "VEVENT");
      const summaries = parsed.map((e) => String((e as { summary: unknown }).summary)).sort();
      assert.ok(summaries.includes(`Renewal: ${CONTOSO.name} — Microsoft 365 Business Standard (10 seats)`));
      assert.ok(
        summaries.includes(`Change window closes: ${CONTOSO.name} — Microsoft 365 Business Standard`),
      );
      const renewal = parsed.find(
        (e) => (e as { uid: string }).uid === `renewal-${SUB.standard}-2024-08-18@cspsync`,
      ) as { start: Date & { dateOnly?: boolean } } | undefined;
      assert.ok(renewal);
      assert.equal(renewal.start.dateOnly, true);
      const window = parsed.find((e) =>
        String((e as { uid: string }).uid).startsWith(`window-${SUB.standard}-`),
      ) as {
        end: Date;
      };
      assert.equal(window.end.toISOString(), "2024-07-25T00:00:00.000Z");
      // The cancelled Exchange subscription has no renewal in the feed.
      assert.ok(!parsed.some((e) => String((e as { uid: string }).uid).includes(SUB.exo)));
      assert.ok(await service.feedTokenInfo());
    });
  });
}
