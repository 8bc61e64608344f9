import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildEvent, eventKeyFor, standaloneEventFields, type EventLine } from "../../src/core/events.ts";

function eventLine(overrides: Partial<EventLine>): EventLine {
  return {
    lineKey: "k1-0",
    invoiceNumber: "G1",
    customerTenantId: "c",
    subscriptionId: "s",
    motion: "seat-annual",
    billable: true,
    chargeType: "addQuantity",
    orderDate: "2024-06-25T10:00:00.000Z",
    chargeStart: "2024-06-25",
    chargeEnd: "2025-06-04",
    subscriptionStart: "2024-06-05",
    subscriptionEnd: "2025-06-04",
    productId: "P",
    skuId: "0001",
    availabilityId: null,
    productName: "Product",
    skuName: null,
    billingFrequency: null,
    unitPrice: "264",
    effectiveUnitPrice: "249.5342466",
    billableQuantity: "7",
    subtotal: "1746.73",
    total: "1746.73",
    currency: "USD",
    ...overrides,
  };
}

describe("charge events (docs/billing-data.md §8.2)", () => {
  it("pairs lines of one subscription by ReferenceId, and only for paired charge types", () => {
    const base = { lineKey: "a-0", invoiceNumber: "G1", subscriptionId: "s", referenceId: "r" };
    assert.equal(eventKeyFor({ ...base, chargeType: "addQuantity" }), "pair:G1:s:r:addQuantity");
    assert.equal(eventKeyFor({ ...base, chargeType: "convert" }), "pair:G1:s:r:convert");
    assert.equal(eventKeyFor({ ...base, chargeType: "new" }), "line:a-0");
    assert.equal(eventKeyFor({ ...base, chargeType: "addQuantity", referenceId: null }), "line:a-0");
  });

  it("nets a seat-add pair: delta, seats after, prorated unit price and exact amount", () => {
    const credit = eventLine({
      lineKey: "b-0",
      effectiveUnitPrice: "-249.5342466",
      billableQuantity: "5",
      subtotal: "-1247.67",
      total: "-1247.67",
    });
    const charge = eventLine({ lineKey: "a-0" });
    const event = buildEvent("pair:x", [credit, charge]);
    assert.deepEqual(
      [
        event.kind,
        event.seatDelta,
        event.seatsAfter,
        event.effectiveUnitPrice,
        event.amount,
        event.lineCount,
      ],
      ["seat-change", "2", "7", "249.5342466", "499.06", 2],
    );
    // Order of the lines does not matter.
    assert.deepEqual(buildEvent("pair:x", [charge, credit]), event);
  });

  it("nets a seat reduction to a negative delta and a credit amount", () => {
    const credit = eventLine({
      chargeType: "removeQuantity",
      lineKey: "a-0",
      effectiveUnitPrice: "-248.0876712",
      billableQuantity: "7",
      subtotal: "-1736.61",
      total: "-1736.61",
    });
    const charge = eventLine({
      chargeType: "removeQuantity",
      lineKey: "b-0",
      effectiveUnitPrice: "248.0876712",
      billableQuantity: "6",
      subtotal: "1488.52",
      total: "1488.52",
    });
    const event = buildEvent("pair:y", [credit, charge]);
    assert.deepEqual([event.seatDelta, event.seatsAfter, event.amount], ["-1", "6", "-248.09"]);
  });

  it("a refund alone is a negative event with no seats left", () => {
    const refund = eventLine({
      chargeType: "cancelImmediate",
      effectiveUnitPrice: "-47.7369863",
      billableQuantity: "3",
      subtotal: "-143.21",
      total: "-143.21",
    });
    const event = buildEvent("line:r", [refund]);
    assert.deepEqual(
      [event.kind, event.seatDelta, event.seatsAfter, event.amount],
      ["cancellation", "-3", "0", "-143.21"],
    );
  });

  it("Azure lines are usage events with fractional quantities", () => {
    const usage = eventLine({
      motion: "azure",
      chargeType: "new",
      billableQuantity: "3.1618",
      effectiveUnitPrice: "0.03825",
      subtotal: "0.12",
      total: "0.12",
    });
    const event = buildEvent("line:u", [usage]);
    assert.deepEqual([event.kind, event.seatDelta, event.amount], ["usage", "3.1618", "0.12"]);
  });

  it("a line on its own gives canonical sums whatever its spelling (as PostgreSQL NUMERIC returns it)", () => {
    const line = eventLine({
      chargeType: "new",
      billableQuantity: "7.000",
      subtotal: "1746.7300",
      total: "1.74673E+3",
      effectiveUnitPrice: "249.53",
    });
    const event = buildEvent("line:n", [line]);
    assert.deepEqual(
      [event.seatDelta, event.seatsAfter, event.amount, event.total],
      ["7", "7", "1746.73", "1746.73"],
    );
    const refund = buildEvent("line:r", [eventLine({ ...line, subtotal: "-0.50", total: "-0.5" })]);
    assert.deepEqual([refund.seatDelta, refund.seatsAfter, refund.amount], ["-7", "0", "-0.5"]);
    const free = buildEvent("line:f", [eventLine({ ...line, subtotal: "0.00", effectiveUnitPrice: "-0" })]);
    assert.deepEqual([free.seatDelta, free.seatsAfter, free.amount], ["7", "7", "0"]);
  });

  it("standalone event fields are the one-line event's; a pair half has none", () => {
    const alone = eventLine({ chargeType: "cancelImmediate", subtotal: "-143.21", billableQuantity: "3" });
    assert.deepEqual(standaloneEventFields({ ...alone, referenceId: null }), {
      kind: "cancellation",
      seatDelta: "-3",
      seatsAfter: "0",
    });
    assert.equal(standaloneEventFields({ ...eventLine({}), referenceId: "r-1" }), null);
  });

  it("refuses an event without lines", () => {
    assert.throws(() => buildEvent("line:none", []), /has no lines/);
  });
});
