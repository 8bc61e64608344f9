import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { planAnnualLines, type AnnualMapping } from "../../src/core/annual-plan.ts";
import type { ChargeEvent } from "../../src/core/events.ts";
import { monthlyTimelines } from "../../src/core/monthly-plan.ts";
import {
  billingPlanOf,
  erpQueryOf,
  lookupErp,
  termDurationOf,
  type PriceListEntry,
  type PriceListIndex,
} from "../../src/core/price-list.ts";
import { priceLine } from "../../src/core/pricing.ts";
import { annualChargeEvent } from "../support/charge-events.ts";

function entry(overrides: Partial<PriceListEntry>): PriceListEntry {
  return {
    productId: "CFQ7TTC0LCHC",
    skuId: "0002",
    termDuration: "P1Y",
    billingPlan: "Annual",
    market: "US",
    currency: "USD",
    unitPrice: "264",
    erpPrice: "330",
    tierMin: null,
    tierMax: null,
    effectiveStart: "2022-03-01",
    effectiveEnd: null,
    productTitle: "Microsoft 365 Business Premium",
    skuTitle: "Microsoft 365 Business Premium",
    ...overrides,
  };
}

const index = (entries: PriceListEntry[]): PriceListIndex => ({
  entries,
  currencies: new Set(entries.map((e) => e.currency)),
});

/** The annual purchase at cost 264 a seat (cost = list), so only a price list can lift its price. */
function event(overrides: Partial<ChargeEvent>): ChargeEvent {
  return annualChargeEvent({ effectiveUnitPrice: "264", amount: "1320", total: "1320", ...overrides });
}

const mapping = (over: Partial<AnnualMapping> = {}): AnnualMapping => ({
  connectionId: "conn-1",
  customerTenantId: "tenant",
  customerName: "Contoso",
  psaCompanyId: "19",
  agreementId: "42",
  syncDate: null,
  pricing: { strategy: "cost-and-retail" },
  ...over,
});

describe("price list lookup (docs/price-lists.md)", () => {
  it("reads a charge's term duration and billing plan like Microsoft's price list names them", () => {
    assert.equal(termDurationOf("2024-06-05", "2025-06-04"), "P1Y");
    assert.equal(termDurationOf("2024-06-18", "2024-07-17"), "P1M");
    assert.equal(termDurationOf("2024-07-15", "2027-07-14"), "P3Y");
    assert.equal(termDurationOf("2024-02-29", "2025-02-28"), "P1Y");
    assert.equal(termDurationOf("2024-06-05", "2024-12-04"), null);
    assert.equal(termDurationOf(null, "2025-06-04"), null);
    assert.equal(billingPlanOf("Monthly", "P1Y"), "Monthly");
    assert.equal(billingPlanOf("Annual", "P3Y"), "Annual");
    assert.equal(billingPlanOf(null, "P1Y"), "Annual");
    assert.equal(billingPlanOf("", "P3Y"), "Triennial");
    assert.equal(billingPlanOf("weekly", "P1Y"), null);
  });

  it("takes the row in effect on the term start; a later EffectiveStartDate wins from its start", () => {
    const list = index([
      entry({ erpPrice: "300", effectiveStart: "2022-03-01" }),
      entry({ erpPrice: "330", effectiveStart: "2024-04-01" }),
      entry({ erpPrice: "999", effectiveStart: "2023-01-01", effectiveEnd: "2023-12-31" }),
    ]);
    const at = (date: string) => lookupErp({ ...erpQueryOf(event({})), date }, list);
    assert.deepEqual(
      [at("2024-06-05"), at("2024-03-31"), at("2023-06-01"), at("2022-01-01")].map((m) =>
        m.ok ? m.erp : m.reason,
      ),
      ["330", "300", "999", "CFQ7TTC0LCHC:0002 P1Y Annual has no price in effect on 2022-01-01"],
    );
    // A January term re-planned later keeps January's price: the query date is the term start, not today.
    const renewal = erpQueryOf(
      event({ chargeStart: "2024-06-05", termStart: "2024-03-01", termEnd: "2025-02-28" }),
    );
    assert.equal(renewal.date, "2024-03-01");
    const locked = lookupErp(renewal, list);
    assert.equal(locked.ok ? locked.erp : locked.reason, "300");
  });

  it("names what did not match: currency, product, term and plan", () => {
    const list = index([entry({})]);
    const reason = (e: Partial<ChargeEvent>) => {
      const match = lookupErp(erpQueryOf(event(e)), list);
      return match.ok ? match.erp : match.reason;
    };
    assert.equal(reason({ currency: "EUR" }), "no price list in EUR");
    assert.equal(reason({ productId: "CFQ7TTC0LDPB" }), "CFQ7TTC0LDPB:0002 is not on the USD price list");
    assert.equal(
      reason({ billingFrequency: "Monthly" }),
      "CFQ7TTC0LCHC:0002 has no P1Y Monthly price on the USD price list",
    );
    assert.equal(reason({ productId: "cfq7ttc0lchc" }), "330");
  });

  it("tiers: the tier holding the seat count, else the lowest", () => {
    const list = index([
      entry({ tierMin: "301", tierMax: "999999", erpPrice: "570" }),
      entry({ tierMin: "1", tierMax: "300", erpPrice: "600" }),
    ]);
    const erp = (seats: string) => {
      const match = lookupErp({ ...erpQueryOf(event({})), seats }, list);
      return match.ok ? match.erp : match.reason;
    };
    assert.deepEqual([erp("5"), erp("300"), erp("301"), erp("0")], ["600", "600", "570", "600"]);
  });
});

describe("cost-and-retail prices with the ERP", () => {
  const list = index([
    entry({}),
    entry({
      termDuration: "P3Y",
      billingPlan: "Annual",
      unitPrice: "840",
      erpPrice: "1050",
      productId: "CFQ7TTC0LFLX",
    }),
    entry({
      termDuration: "P3Y",
      billingPlan: "Triennial",
      unitPrice: "2520",
      erpPrice: "3150",
      productId: "CFQ7TTC0LFLX",
    }),
  ]);

  it("a purchase sells at the ERP; without a price list the data's list price is kept and flagged at cost", () => {
    const withList = planAnnualLines(mapping({ priceList: list }), [event({})], new Set()).lines[0]!;
    assert.deepEqual(
      [
        withList.unitPrice,
        withList.extendedPrice,
        withList.priceSource,
        withList.atOrBelowCost,
        withList.warnings,
      ],
      ["330", "1650", "price-list", false, []],
    );
    const without = planAnnualLines(mapping(), [event({})], new Set()).lines[0]!;
    assert.deepEqual(
      [
        without.unitPrice,
        without.priceSource,
        without.atOrBelowCost,
        without.belowCost,
        without.warnings,
        without.notes,
      ],
      ["264", "microsoft-list", true, false, [], []],
    );
  });

  it("a prorated seat change and a refund take the ERP prorated exactly like the cost (credits negative)", () => {
    // +2 seats on 2024-06-25: 345 of the term's 365 days. Cost 264 × 345/365 = 249.53; ERP 330 × 345/365.
    const change = event({
      eventKey: "pair:G1:sub-1:r:addQuantity",
      kind: "seat-change",
      chargeType: "addQuantity",
      chargeStart: "2024-06-25",
      seatDelta: "2",
      seatsAfter: "7",
      effectiveUnitPrice: "249.5342466",
      amount: "499.06",
    });
    const line = planAnnualLines(mapping({ priceList: list }), [change], new Set()).lines[0]!;
    assert.deepEqual(
      [line.quantity, line.unitCost, line.unitPrice, line.priceSource],
      ["2", "249.53", "311.9178", "price-list"],
    );
    const refund = event({
      kind: "cancellation",
      chargeType: "cancelImmediate",
      chargeStart: "2024-06-07",
      seatDelta: "-3",
      seatsAfter: "2",
      effectiveUnitPrice: "-262.5534247",
      amount: "-787.66",
    });
    const credit = planAnnualLines(mapping({ priceList: list }), [refund], new Set()).lines[0]!;
    // 330 × 363/365 = 328.1918 per seat, negative for the credit.
    assert.deepEqual(
      [credit.quantity, credit.unitPrice, credit.isCredit, credit.atOrBelowCost],
      ["3", "-328.1918", true, false],
    );
  });

  it("a three-year term billed annually takes the P3Y Annual row (a year's price), paid up front the Triennial row", () => {
    const p3y = event({
      productId: "CFQ7TTC0LFLX",
      chargeStart: "2024-07-15",
      chargeEnd: "2025-07-14",
      termStart: "2024-07-15",
      termEnd: "2027-07-14",
      billingFrequency: "Annual",
      seatDelta: "4",
      seatsAfter: "4",
      effectiveUnitPrice: "840",
      listUnitPrice: "840",
      amount: "3360",
    });
    assert.equal(planAnnualLines(mapping({ priceList: list }), [p3y], new Set()).lines[0]!.unitPrice, "1050");
    const upFront = {
      ...p3y,
      chargeEnd: "2027-07-14",
      billingFrequency: null,
      effectiveUnitPrice: "2520",
      listUnitPrice: "2520",
      amount: "10080",
    };
    assert.equal(
      planAnnualLines(mapping({ priceList: list }), [upFront], new Set()).lines[0]!.unitPrice,
      "3150",
    );
  });

  it("no entry: the fallback markup if set, else the data's list price flagged, with a warning when the currency has a list", () => {
    const other = event({
      productId: "CFQ7TTC0LH16",
      skuId: "0001",
      effectiveUnitPrice: "48",
      listUnitPrice: "48",
      amount: "240",
    });
    const fallback = planAnnualLines(
      mapping({ priceList: list, pricing: { strategy: "cost-and-retail", fallbackMarkupPercent: "20" } }),
      [other],
      new Set(),
    ).lines[0]!;
    assert.deepEqual(
      [fallback.unitPrice, fallback.priceSource, fallback.atOrBelowCost],
      ["57.6", "fallback-markup", false],
    );
    assert.deepEqual(fallback.warnings, [
      "No price list price: CFQ7TTC0LH16:0001 is not on the USD price list",
    ]);
    const flagged = planAnnualLines(mapping({ priceList: list }), [other], new Set()).lines[0]!;
    assert.deepEqual(
      [flagged.unitPrice, flagged.priceSource, flagged.atOrBelowCost, flagged.belowCost],
      ["48", "microsoft-list", true, false],
    );
    assert.match(flagged.notes[0]!, /^Sold at cost: price 48 = cost 48 per unit/);
    // Another currency has no list at all: no warning, the old behaviour.
    const eur = planAnnualLines(mapping({ priceList: list }), [{ ...other, currency: "EUR" }], new Set())
      .lines[0]!;
    assert.deepEqual(eur.warnings, []);
  });

  it("price rules still beat the price list; markup and cost-only ignore it", () => {
    const rule = {
      id: "r",
      name: "BP fixed",
      productKey: "CFQ7TTC0LCHC",
      customerTenantId: null,
      kind: "fixed" as const,
      value: "300",
      effectiveFrom: "2024-01-01",
      effectiveTo: null,
    };
    const ruled = planAnnualLines(mapping({ priceList: list, priceRules: [rule] }), [event({})], new Set())
      .lines[0]!;
    assert.deepEqual([ruled.unitPrice, ruled.priceSource], ["300", "price-rule"]);
    const line = {
      cost: "10",
      list: "10",
      date: "2024-06-01",
      productKey: null,
      tenantId: "t",
      retail: { erp: "15" },
    };
    assert.equal(priceLine(line, { strategy: "markup", markupPercent: "10" }, []).unitPrice, "11");
    assert.equal(priceLine(line, { strategy: "cost-only" }, []).unitPrice, null);
    assert.equal(priceLine(line, { strategy: "cost-and-retail" }, []).unitPrice, "15");
  });

  it("a monthly segment takes the ERP per seat and month of its cycle", () => {
    const monthly = index([
      entry({
        productId: "CFQ7TTC0LDPB",
        skuId: "0001",
        termDuration: "P1M",
        billingPlan: "Monthly",
        unitPrice: "12.5",
        erpPrice: "15.63",
      }),
    ]);
    const cycle = event({
      motion: "seat-monthly",
      productId: "CFQ7TTC0LDPB",
      skuId: "0001",
      chargeStart: "2024-06-18",
      chargeEnd: "2024-07-17",
      termStart: "2024-06-18",
      termEnd: "2024-07-17",
      billingFrequency: "Monthly",
      seatDelta: "10",
      seatsAfter: "10",
      effectiveUnitPrice: "12.5",
      listUnitPrice: "12.5",
      amount: "125",
    });
    const base = {
      connectionId: "c",
      customerTenantId: "tenant",
      startPoint: "most-recent" as const,
      startInvoice: null,
      pricing: { strategy: "cost-and-retail" as const },
    };
    const segment = monthlyTimelines({ ...base, priceList: monthly }, [cycle]).timelines[0]!.segments[0]!;
    assert.deepEqual(
      [segment.unitCost, segment.unitPrice, segment.priceSource, segment.atOrBelowCost],
      ["12.5", "15.63", "price-list", false],
    );
    const atCost = monthlyTimelines(base, [cycle]).timelines[0]!.segments[0]!;
    assert.deepEqual(
      [atCost.unitPrice, atCost.priceSource, atCost.atOrBelowCost],
      ["12.5", "microsoft-list", true],
    );
  });
});
