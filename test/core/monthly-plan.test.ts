import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChargeEvent, EventKind } from "../../src/core/events.ts";
import {
  includedInvoices,
  monthlyTimelines,
  planConnectWiseMonthly,
  type MonthlyMapping,
  type Segment,
  type SyncedAddition,
} from "../../src/core/monthly-plan.ts";

const TENANT = "tenant-1";
const SUB = "sub-1";
const MAPPING: MonthlyMapping = {
  connectionId: "conn-1",
  customerTenantId: TENANT,
  startPoint: "most-recent",
  startInvoice: null,
  pricing: { strategy: "cost-and-retail" },
};

let sequence = 0;
function event(
  kind: EventKind,
  invoice: string,
  start: string,
  end: string,
  seatsAfter: string,
  prices: { eup?: string; list?: string; sub?: string } = {},
): ChargeEvent {
  sequence += 1;
  return {
    eventKey: `e${String(sequence).padStart(3, "0")}`,
    invoiceNumber: invoice,
    customerTenantId: TENANT,
    subscriptionId: prices.sub ?? SUB,
    motion: "seat-monthly",
    billable: true,
    kind,
    chargeType:
      kind === "seat-change" ? "addQuantity" : kind === "cancellation" ? "cancelImmediate" : "renew",
    orderDate: null,
    chargeStart: start,
    chargeEnd: end,
    termStart: null,
    termEnd: null,
    productId: "CFQ7TTC0LDPB",
    skuId: "0001",
    availabilityId: null,
    productName: "Microsoft 365 Business Standard",
    skuName: null,
    billingFrequency: "Monthly",
    seatDelta: "0",
    seatsAfter,
    effectiveUnitPrice: prices.eup ?? "10",
    listUnitPrice: prices.list ?? "12",
    amount: "0",
    total: "0",
    currency: "USD",
    lineCount: 1,
  };
}

function shape(segments: Segment[]) {
  return segments.map((s) => [s.start, s.end, s.quantity, s.unitCost, s.unitPrice]);
}

function timeline(events: ChargeEvent[], mapping = MAPPING) {
  return monthlyTimelines(mapping, events).timelines;
}

describe("Seat-based Monthly timelines (docs/sync-behaviour.md §7)", () => {
  it("a seat increase inside the cycle splits the subscription into two segments at the change date", () => {
    const [t] = timeline([
      event("renewal", "G1", "2024-06-01", "2024-06-30", "10"),
      event("seat-change", "G1", "2024-06-11", "2024-06-30", "15", { eup: "6.6667" }),
    ]);
    assert.deepEqual(shape(t!.segments), [
      ["2024-06-01", "2024-06-10", "10", "10", "12"],
      ["2024-06-11", null, "15", "10", "12"],
    ]);
    assert.deepEqual(t!.warnings, []);
  });

  it("a decrease in the next month continues the segment through the renewal and closes it at the change", () => {
    const [t] = timeline([
      event("renewal", "G1", "2024-06-01", "2024-06-30", "10"),
      event("renewal", "G2", "2024-07-01", "2024-07-31", "10"),
      event("seat-change", "G2", "2024-07-03", "2024-07-31", "8", { eup: "9.3548" }),
    ]);
    assert.deepEqual(shape(t!.segments), [
      ["2024-06-01", "2024-07-02", "10", "10", "12"],
      ["2024-07-03", null, "8", "10", "12"],
    ]);
  });

  it("two changes in one period give three segments", () => {
    const [t] = timeline([
      event("renewal", "G1", "2024-06-01", "2024-06-30", "10"),
      event("seat-change", "G1", "2024-06-05", "2024-06-30", "12", { eup: "8.6667" }),
      event("seat-change", "G1", "2024-06-20", "2024-06-30", "14", { eup: "3.6667" }),
    ]);
    assert.deepEqual(shape(t!.segments), [
      ["2024-06-01", "2024-06-04", "10", "10", "12"],
      ["2024-06-05", "2024-06-19", "12", "10", "12"],
      ["2024-06-20", null, "14", "10", "12"],
    ]);
  });

  it("a cancellation ends the subscription the day before; one refunded on its first day has no segment", () => {
    const [cancelled, refunded] = timeline([
      event("purchase", "G1", "2024-06-20", "2024-07-19", "2"),
      event("cancellation", "G2", "2024-06-24", "2024-07-19", "0", { eup: "-8.6667" }),
      event("purchase", "G1", "2024-06-20", "2024-07-19", "3", { sub: "sub-2" }),
      event("cancellation", "G1", "2024-06-20", "2024-07-19", "0", { sub: "sub-2", eup: "-10" }),
    ]);
    assert.deepEqual(shape(cancelled!.segments), [["2024-06-20", "2024-06-23", "2", "10", "12"]]);
    assert.deepEqual(refunded!.segments, []);
  });

  it("a subscription the latest invoice does not renew ends where its last cycle ends", () => {
    const [lapsed, running] = timeline([
      event("renewal", "G1", "2024-06-01", "2024-06-30", "3"),
      event("purchase", "G2", "2024-07-10", "2024-08-09", "4", { sub: "sub-2" }),
    ]);
    assert.deepEqual(shape(lapsed!.segments), [["2024-06-01", "2024-06-30", "3", "10", "12"]]);
    assert.deepEqual(shape(running!.segments), [["2024-07-10", null, "4", "10", "12"]]);
  });

  it("a price that changed inside the cycle is not prorated and raises the documented warnings", () => {
    const [t] = timeline([
      event("cycle", "G1", "2024-07-01", "2024-07-31", "5", { eup: "22", list: "22" }),
      // 24 / 31 × 16 days = 12.3871
      event("seat-change", "G1", "2024-07-16", "2024-07-31", "7", { eup: "12.3871", list: "24" }),
    ]);
    assert.deepEqual(shape(t!.segments), [
      ["2024-07-01", "2024-07-15", "5", "22", "22"],
      ["2024-07-16", null, "7", "22", "22"],
    ]);
    assert.deepEqual(
      t!.warnings.map((w) => w.message),
      [
        "Subscription retail unit price changed from 22 to 24 on 2024-07-16",
        "Subscription cost unit price changed from 22 to 24 on 2024-07-16",
      ],
    );
  });

  it("a new price at a renewal starts a new segment at the renewal, without a warning", () => {
    const [t] = timeline([
      event("renewal", "G1", "2024-06-01", "2024-06-30", "10"),
      event("renewal", "G2", "2024-07-01", "2024-07-31", "10", { eup: "11", list: "13" }),
    ]);
    assert.deepEqual(shape(t!.segments), [
      ["2024-06-01", "2024-06-30", "10", "10", "12"],
      ["2024-07-01", null, "10", "11", "13"],
    ]);
    assert.deepEqual(t!.warnings, []);
  });

  it("prices follow the mapping's pricing strategy", () => {
    const events = [event("renewal", "G1", "2024-06-01", "2024-06-30", "10", { eup: "10.08", list: "12.6" })];
    const markup = timeline(events, { ...MAPPING, pricing: { strategy: "markup", markupPercent: "15" } });
    const costOnly = timeline(events, { ...MAPPING, pricing: { strategy: "cost-only" } });
    assert.deepEqual(shape(markup[0]!.segments), [["2024-06-01", null, "10", "10.08", "11.592"]]);
    assert.deepEqual(shape(costOnly[0]!.segments), [["2024-06-01", null, "10", "10.08", null]]);
  });

  it("a price rule in effect from a renewal prices the segments from it on and says so; below cost warns", () => {
    const events = [
      event("renewal", "G1", "2024-06-01", "2024-06-30", "10"),
      event("renewal", "G2", "2024-07-01", "2024-07-31", "10"),
    ];
    const rule = {
      id: "r1",
      name: "Standard at 9",
      productKey: "CFQ7TTC0LDPB",
      customerTenantId: TENANT,
      kind: "fixed" as const,
      value: "9",
      effectiveFrom: "2024-07-01",
      effectiveTo: null,
    };
    const [t] = timeline(events, { ...MAPPING, priceRules: [rule] });
    assert.deepEqual(shape(t!.segments), [
      ["2024-06-01", "2024-06-30", "10", "10", "12"],
      ["2024-07-01", null, "10", "10", "9"],
    ]);
    assert.deepEqual(
      t!.segments.map((s) => s.pricedBy?.ruleName ?? null),
      [null, "Standard at 9"],
    );
    assert.deepEqual(t!.warnings, [
      {
        date: "2024-07-01",
        message:
          "Sell price 9 is below cost 10 per unit for Microsoft 365 Business Standard (priced by rule Standard at 9)",
      },
    ]);
  });

  it("the start point keeps invoices before it out: the most recent invoice at enabling, or the next one", () => {
    const numbers = ["G3", "G1", "G2"];
    assert.deepEqual(includedInvoices({ startPoint: "most-recent", startInvoice: "G2" }, numbers), {
      included: ["G2", "G3"],
      skipped: ["G1"],
    });
    assert.deepEqual(includedInvoices({ startPoint: "next", startInvoice: "G2" }, numbers), {
      included: ["G3"],
      skipped: ["G1", "G2"],
    });
    assert.deepEqual(includedInvoices({ startPoint: "next", startInvoice: null }, numbers).included, [
      "G1",
      "G2",
      "G3",
    ]);
  });
});

describe("Seat-based Monthly plan for ConnectWise", () => {
  const events = () => [
    event("renewal", "G1", "2024-06-01", "2024-06-30", "10"),
    event("seat-change", "G1", "2024-06-11", "2024-06-30", "15", { eup: "6.6667" }),
  ];

  function written(segments: Segment[], edit: Partial<SyncedAddition> = {}): SyncedAddition[] {
    return segments.map((s, i) => ({
      recordId: String(i + 1),
      syncKey: s.key,
      quantity: s.quantity,
      effectiveDate: s.start,
      cancelledDate: s.end,
      lastUpdated: "2024-07-01T00:00:00Z",
      ...(i === segments.length - 1 ? edit : {}),
    }));
  }

  it("creates one addition per segment, keyed, the last one ongoing", () => {
    const timelines = timeline(events());
    const lines = planConnectWiseMonthly(MAPPING, timelines, []);
    assert.deepEqual(
      lines.map((l) => [l.action, l.writeKey, l.description]),
      [
        [
          "create-addition",
          timelines[0]!.segments[0]!.key,
          "Microsoft 365 Business Standard, 10 seats from 2024-06-01",
        ],
        [
          "create-addition",
          timelines[0]!.segments[1]!.key,
          "Microsoft 365 Business Standard, 15 seats from 2024-06-11",
        ],
      ],
    );
    assert.match(lines[0]!.writeKey, /^cspsync-[0-9a-f]{24}$/);
    assert.notEqual(lines[0]!.writeKey, lines[1]!.writeKey);
  });

  it("plans nothing when the agreement already holds every segment", () => {
    const timelines = timeline(events());
    assert.deepEqual(planConnectWiseMonthly(MAPPING, timelines, written(timelines[0]!.segments)), []);
  });

  it("sets an edited quantity back with one update that warns with both numbers", () => {
    const timelines = timeline(events());
    const additions = written(timelines[0]!.segments, { quantity: "20" });
    const [line, ...rest] = planConnectWiseMonthly(MAPPING, timelines, additions);
    assert.deepEqual(rest, []);
    assert.equal(line!.action, "update-addition");
    assert.deepEqual(line!.action === "update-addition" && line!.changes, { quantity: "15" });
    assert.deepEqual(line!.warnings, [
      `Microsoft 365 Business Standard (subscription ${SUB}) had quantity 20 in ConnectWise; set back to the billed 15`,
    ]);
    // Edited again later (a new lastUpdated): a new key, so the second edit is corrected too.
    const again = planConnectWiseMonthly(
      MAPPING,
      timelines,
      written(timelines[0]!.segments, { quantity: "20", lastUpdated: "2024-08-01T00:00:00Z" }),
    );
    assert.notEqual(again[0]!.writeKey, line!.writeKey);
  });

  it("ends the ongoing addition when a later invoice changes the seats, and adds the new segment", () => {
    const june = timeline(events());
    const additions = written(june[0]!.segments);
    const july = timeline([
      ...events(),
      event("renewal", "G2", "2024-07-01", "2024-07-31", "15"),
      event("seat-change", "G2", "2024-07-03", "2024-07-31", "12", { eup: "9.3548" }),
    ]);
    const lines = planConnectWiseMonthly(MAPPING, july, additions);
    assert.deepEqual(
      lines.map((l) => [l.action, l.action === "update-addition" ? l.changes : l.segment.quantity]),
      [
        ["update-addition", { cancelledDate: "2024-07-02" }],
        ["create-addition", "12"],
      ],
    );
    assert.deepEqual(
      lines.flatMap((l) => l.warnings),
      [],
    );
  });

  it("a price warning travels with the write of the segment it happened in", () => {
    const timelines = timeline([
      event("cycle", "G1", "2024-07-01", "2024-07-31", "5", { eup: "22", list: "22" }),
      event("seat-change", "G1", "2024-07-16", "2024-07-31", "7", { eup: "12.3871", list: "24" }),
    ]);
    const lines = planConnectWiseMonthly(MAPPING, timelines, []);
    assert.deepEqual(
      lines.map((l) => l.warnings.length),
      [0, 2],
    );
  });
});
