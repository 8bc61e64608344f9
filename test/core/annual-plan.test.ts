import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  annualWriteKey,
  planAnnualLines,
  prorationFactor,
  type AnnualMapping,
} from "../../src/core/annual-plan.ts";
import type { ChargeEvent } from "../../src/core/events.ts";

function event(overrides: Partial<ChargeEvent>): ChargeEvent {
  return {
    eventKey: "line:a-0",
    invoiceNumber: "G1",
    customerTenantId: "tenant",
    subscriptionId: "sub-1",
    motion: "seat-annual",
    billable: true,
    kind: "purchase",
    chargeType: "new",
    orderDate: null,
    chargeStart: "2024-06-05",
    chargeEnd: "2025-06-04",
    termStart: "2024-06-05",
    termEnd: "2025-06-04",
    productId: "CFQ7TTC0LCHC",
    skuId: "0002",
    availabilityId: null,
    productName: "Microsoft 365 Business Premium",
    skuName: "Microsoft 365 Business Premium",
    billingFrequency: null,
    seatDelta: "5",
    seatsAfter: "5",
    effectiveUnitPrice: "240",
    listUnitPrice: "264",
    amount: "1200",
    total: "1200",
    currency: "USD",
    lineCount: 1,
    ...overrides,
  };
}

const mapping: AnnualMapping = {
  connectionId: "conn-1",
  customerTenantId: "tenant",
  customerName: "Contoso",
  psaCompanyId: "19",
  agreementId: "42",
  syncDate: null,
  pricing: { strategy: "cost-and-retail" },
};

describe("Seat-based Annual plan (prism-connect-behaviour.md §3.12)", () => {
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

  it("prorates by the days of the term the charge covers", () => {
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
});
