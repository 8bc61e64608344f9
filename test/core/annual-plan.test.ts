import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  annualWriteKey,
  billingPeriod,
  planAnnualLines,
  prorationFactor,
  type AnnualMapping,
} from "../../src/core/annual-plan.ts";
import type { PriceRule } from "../../src/core/pricing.ts";
import type { ChargeEvent } from "../../src/core/events.ts";
import { annualChargeEvent } from "../support/charge-events.ts";

const event = annualChargeEvent;

const mapping: AnnualMapping = {
  connectionId: "conn-1",
  customerTenantId: "tenant",
  customerName: "Contoso",
  psaCompanyId: "19",
  agreementId: "42",
  syncDate: null,
  pricing: { strategy: "cost-and-retail" },
};

describe("Seat-based Annual plan (docs/sync-behaviour.md §9)", () => {
  it("a purchase becomes one line for the term's seats, cost from the data, retail from the list price", () => {
    const { lines } = planAnnualLines(mapping, [event({})], new Set());
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.deepEqual(
      [
        line.quantity,
        line.unitCost,
        line.unitPrice,
        line.extendedCost,
        line.extendedPrice,
        line.effectiveDate,
        line.isCredit,
      ],
      ["5", "240", "264", "1200", "1320", "2024-06-05", false],
    );
    assert.equal(
      line.description,
      "Microsoft 365 Business Premium: 5 seats, annual term 2024-06-05 to 2025-06-04",
    );
    assert.equal(line.writeKey, annualWriteKey("conn-1", "tenant", "line:a-0"));
    assert.match(line.writeKey, /^cspsync-[0-9a-f]{24}$/);
  });

  it("a seat-change pair becomes one line for the delta at the prorated price, matching the distributor's amount", () => {
    const change = event({
      eventKey: "pair:G1:sub-1:r:addQuantity",
      kind: "seat-change",
      chargeType: "addQuantity",
      chargeStart: "2024-06-25",
      seatDelta: "2",
      seatsAfter: "7",
      effectiveUnitPrice: "249.5342466",
      listUnitPrice: "264",
      amount: "499.06",
    });
    const line = planAnnualLines(mapping, [change], new Set()).lines[0]!;
    assert.deepEqual([line.quantity, line.unitCost, line.extendedCost], ["2", "249.53", "499.06"]);
    // 264 × 345/365 = 249.5342…
    assert.equal(line.unitPrice, "249.5342");
    assert.equal(
      line.description,
      "Microsoft 365 Business Premium: +2 seats (now 7), prorated 2024-06-25 to 2025-06-04 (345 days of the term)",
    );
  });

  it("a refund becomes a credit line with negative unit amounts; odd amounts bill one unit with the exact amount", () => {
    const refund = event({
      kind: "cancellation",
      chargeType: "cancelImmediate",
      chargeStart: "2024-06-07",
      seatDelta: "-3",
      seatsAfter: "0",
      effectiveUnitPrice: "-47.7369863",
      listUnitPrice: "48",
      amount: "-143.21",
    });
    const line = planAnnualLines(mapping, [refund], new Set()).lines[0]!;
    assert.equal(line.isCredit, true);
    assert.deepEqual([line.quantity, line.unitCost, line.extendedCost], ["3", "-47.7367", "-143.21"]);
    const odd = event({
      kind: "cancellation",
      seatDelta: "-300",
      amount: "-100.01",
      effectiveUnitPrice: "-0.3334",
    });
    const oddLine = planAnnualLines(mapping, [odd], new Set()).lines[0]!;
    assert.deepEqual([oddLine.quantity, oddLine.unitCost, oddLine.extendedCost], ["1", "-100.01", "-100.01"]);
    assert.match(oddLine.description, /refund for 300 seats/);
  });

  it("pricing strategies: cost only keeps the PSA price, markup adds a percentage, a loss raises a warning", () => {
    const costOnly = planAnnualLines(
      { ...mapping, pricing: { strategy: "cost-only" } },
      [event({})],
      new Set(),
    ).lines[0]!;
    assert.deepEqual([costOnly.unitPrice, costOnly.extendedPrice], [null, null]);
    const markup = planAnnualLines(
      { ...mapping, pricing: { strategy: "markup", markupPercent: "12.5" } },
      [event({})],
      new Set(),
    ).lines[0]!;
    assert.equal(markup.unitPrice, "270");
    const loss = planAnnualLines(mapping, [event({ listUnitPrice: "200" })], new Set()).lines[0]!;
    assert.deepEqual(loss.warnings, [
      "Sell price 200 is below cost 240 per unit for Microsoft 365 Business Premium",
    ]);
    const discount = planAnnualLines(
      { ...mapping, pricing: { strategy: "markup", markupPercent: "-10" } },
      [event({})],
      new Set(),
    ).lines[0]!;
    assert.equal(discount.warnings.length, 1);
  });

  it("only billable annual events of this customer on or after the sync date, and never one already written", () => {
    const events = [
      event({ eventKey: "line:old", chargeStart: "2024-05-31" }),
      event({ eventKey: "line:trial", billable: false }),
      event({ eventKey: "line:monthly", motion: "seat-monthly" }),
      event({ eventKey: "line:other", customerTenantId: "someone-else" }),
      event({ eventKey: "line:done" }),
      event({ eventKey: "line:new" }),
    ];
    const written = new Set([annualWriteKey("conn-1", "tenant", "line:done")]);
    const plan = planAnnualLines({ ...mapping, syncDate: "2024-06-01" }, events, written);
    assert.deepEqual(
      plan.lines.map((l) => l.eventKey),
      ["line:new"],
    );
    assert.deepEqual(
      plan.skipped.map((s) => s.eventKey),
      ["line:old", "line:trial"],
    );
    assert.match(plan.skipped[0]!.reason, /before the mapping's sync date 2024-06-01/);
  });

  it("the write key ignores the agreement, so remapping a customer never bills a charge twice", () => {
    const a = planAnnualLines(mapping, [event({})], new Set()).lines[0]!;
    const b = planAnnualLines({ ...mapping, agreementId: "99" }, [event({})], new Set()).lines[0]!;
    assert.equal(a.writeKey, b.writeKey);
    assert.notEqual(
      a.writeKey,
      planAnnualLines({ ...mapping, connectionId: "conn-2" }, [event({})], new Set()).lines[0]!.writeKey,
    );
  });

  it("prorates by the days of the billing period the charge covers (the term when paid up front)", () => {
    assert.equal(
      prorationFactor({
        chargeStart: "2024-06-05",
        chargeEnd: "2025-06-04",
        termStart: "2024-06-05",
        termEnd: "2025-06-04",
      }).toFixed(),
      "1",
    );
    assert.equal(
      prorationFactor({
        chargeStart: "2024-12-05",
        chargeEnd: "2025-06-04",
        termStart: "2024-06-05",
        termEnd: "2025-06-04",
      }).toFixed(4),
      "0.4986",
    );
    assert.equal(
      prorationFactor({
        chargeStart: "2024-06-18",
        chargeEnd: null,
        termStart: null,
        termEnd: null,
      }).toFixed(),
      "1",
    );
  });

  describe("a term longer than its billing period: priced and described per billing period", () => {
    // A three-year term billed annually (BillingFrequency Annual): each charge covers one year of the term,
    // and UnitPrice is the price of that year.
    const p3y = (overrides: Partial<ChargeEvent>) =>
      event({
        productId: "CFQ7TTC0LFLX",
        skuId: "0002",
        productName: "Microsoft 365 E3",
        skuName: "Microsoft 365 E3",
        billingFrequency: "Annual",
        chargeStart: "2024-07-15",
        chargeEnd: "2025-07-14",
        termStart: "2024-07-15",
        termEnd: "2027-07-14",
        seatDelta: "4",
        seatsAfter: "4",
        effectiveUnitPrice: "840",
        listUnitPrice: "840",
        amount: "3360",
        total: "3360",
        ...overrides,
      });
    const only = (e: ChargeEvent, m: AnnualMapping = mapping) => planAnnualLines(m, [e], new Set()).lines[0]!;
    const figures = (e: ChargeEvent, m?: AnnualMapping) => {
      const line = only(e, m);
      return [line.quantity, line.unitCost, line.unitPrice, line.extendedCost, line.extendedPrice];
    };

    it("a P3Y new line billed annually sells at the year's list price, not a third of it, and names the year", () => {
      const line = only(p3y({}));
      assert.deepEqual(
        [line.quantity, line.unitCost, line.unitPrice, line.extendedCost, line.extendedPrice, line.belowCost],
        ["4", "840", "840", "3360", "3360", false],
      );
      assert.deepEqual(line.warnings, []);
      assert.equal(
        line.description,
        "Microsoft 365 E3: 4 seats, billing period 2024-07-15 to 2025-07-14 (term ends 2027-07-14)",
      );
      assert.deepEqual(billingPeriod(p3y({})), { start: "2024-07-15", end: "2025-07-14" });
    });

    it("year 2 of the term, as a renewal or as a cycle charge, is again one whole year at the list price", () => {
      const renewal = p3y({
        kind: "renewal",
        chargeType: "renew",
        chargeStart: "2025-07-15",
        chargeEnd: "2026-07-14",
      });
      assert.deepEqual(figures(renewal), ["4", "840", "840", "3360", "3360"]);
      assert.equal(
        only(renewal).description,
        "Microsoft 365 E3: 4 seats, renewal for the billing period 2025-07-15 to 2026-07-14 (term ends 2027-07-14)",
      );
      // Microsoft may move SubscriptionStartDate to the renewal date; the year is still the billing period.
      assert.deepEqual(figures({ ...renewal, termStart: "2025-07-15" }), ["4", "840", "840", "3360", "3360"]);
      const cycle = p3y({
        kind: "cycle",
        chargeType: "cycleCharge",
        chargeStart: "2025-07-15",
        chargeEnd: "2026-07-14",
      });
      assert.deepEqual(figures(cycle), ["4", "840", "840", "3360", "3360"]);
      assert.equal(
        only(cycle).description,
        "Microsoft 365 E3: 4 seats, billing period 2025-07-15 to 2026-07-14 (term ends 2027-07-14)",
      );
    });

    it("a mid-year seat add is prorated against the billing year, not the three-year term", () => {
      // +2 seats (4 → 6) on 2024-12-05: 222 of the year's 365 days; Microsoft's EUP 840 / 365 × 222 = 510.90.
      const add = p3y({
        eventKey: "pair:G1:sub-1:r:addQuantity",
        kind: "seat-change",
        chargeType: "addQuantity",
        chargeStart: "2024-12-05",
        seatDelta: "2",
        seatsAfter: "6",
        effectiveUnitPrice: "510.9041095",
        amount: "1021.8",
      });
      // 840 × 222/365 = 510.9041… (against the term it would be 840 × 222/1095 = 170.30).
      assert.deepEqual(figures(add), ["2", "510.9", "510.9041", "1021.8", "1021.81"]);
      assert.equal(prorationFactor(add).toFixed(6), "0.608219");
      assert.equal(
        only(add).description,
        "Microsoft 365 E3: +2 seats (now 6), prorated 2024-12-05 to 2025-07-14 (222 days of the billing period 2024-07-15 to 2025-07-14)",
      );
      // The same add in year 2 is prorated against year 2.
      const yearTwo = { ...add, chargeStart: "2025-12-05", chargeEnd: "2026-07-14" };
      assert.deepEqual(billingPeriod(yearTwo), { start: "2025-07-15", end: "2026-07-14" });
      assert.equal(only(yearTwo).unitPrice, "510.9041");
      // A fixed price rule is per seat for the billing year, prorated like the cost.
      const rule: PriceRule = {
        id: "r1",
        name: "E3 fixed",
        productKey: "CFQ7TTC0LFLX",
        customerTenantId: null,
        kind: "fixed",
        value: "900",
        effectiveFrom: "2024-01-01",
        effectiveTo: null,
      };
      const ruled = { ...mapping, priceRules: [rule] };
      assert.equal(only(p3y({}), ruled).unitPrice, "900");
      assert.equal(only(add, ruled).unitPrice, "547.3973"); // 900 × 222/365
    });

    it("markup and cost-only pricing are unaffected: they follow the cost", () => {
      assert.equal(
        only(p3y({}), { ...mapping, pricing: { strategy: "markup", markupPercent: "10" } }).unitPrice,
        "924",
      );
      assert.equal(only(p3y({}), { ...mapping, pricing: { strategy: "cost-only" } }).unitPrice, null);
    });

    it("P1Y billed annually stays as it was: the term is the billing period", () => {
      const p1y = event({ billingFrequency: "Annual" });
      assert.deepEqual(figures(p1y), ["5", "240", "264", "1200", "1320"]);
      assert.equal(
        only(p1y).description,
        "Microsoft 365 Business Premium: 5 seats, annual term 2024-06-05 to 2025-06-04",
      );
      const change = event({
        billingFrequency: "Annual",
        eventKey: "pair:G1:sub-1:r:addQuantity",
        kind: "seat-change",
        chargeType: "addQuantity",
        chargeStart: "2024-06-25",
        seatDelta: "2",
        seatsAfter: "7",
        effectiveUnitPrice: "249.5342466",
        amount: "499.06",
      });
      assert.equal(only(change).unitPrice, "249.5342");
      assert.match(only(change).description, /\(345 days of the term\)$/);
      // Blank BillingFrequency (paid up front) gives the same.
      assert.equal(only({ ...change, billingFrequency: null }).unitPrice, "249.5342");
    });

    it("a term paid up front for three years is one period: the whole list price, described as the term", () => {
      const upfront = p3y({
        billingFrequency: null,
        chargeEnd: "2027-07-14",
        effectiveUnitPrice: "2520",
        listUnitPrice: "2520",
        amount: "10080",
      });
      assert.deepEqual(figures(upfront), ["4", "2520", "2520", "10080", "10080"]);
      assert.equal(only(upfront).description, "Microsoft 365 E3: 4 seats, term 2024-07-15 to 2027-07-14");
    });

    it("an instalment without BillingFrequency (a month of a yearly term) is priced for its own window", () => {
      // Should such a line reach the annual motion (a file without the BillingFrequency column), the month's
      // list price is the month's price, not a twelfth of it.
      const month = event({
        kind: "cycle",
        chargeType: "cycleCharge",
        chargeStart: "2024-07-05",
        chargeEnd: "2024-08-04",
        seatDelta: "5",
        seatsAfter: "5",
        effectiveUnitPrice: "12.5",
        listUnitPrice: "12.5",
        amount: "62.5",
      });
      assert.deepEqual(figures(month), ["5", "12.5", "12.5", "62.5", "62.5"]);
      assert.equal(
        only(month).description,
        "Microsoft 365 Business Premium: 5 seats, billing period 2024-07-05 to 2024-08-04 (term ends 2025-06-04)",
      );
    });
  });
});
