import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  azureWriteKey,
  describeAzureMonth,
  lastDayOf,
  nextMonthStart,
  planAzureMonths,
  type AzureMapping,
} from "../../src/core/azure-plan.ts";
import type { ChargeEvent } from "../../src/core/events.ts";

const TENANT = "196e2273-9651-43a3-ba7e-7cbcd918fc40";
const mapping: AzureMapping = {
  connectionId: "conn-1",
  customerTenantId: TENANT,
  customerName: "Contoso",
  syncDate: null,
  pricing: { strategy: "cost-and-retail" },
};

let sequence = 0;
function usage(overrides: Partial<ChargeEvent>): ChargeEvent {
  sequence += 1;
  return {
    eventKey: `line:${sequence}`,
    invoiceNumber: "G1",
    customerTenantId: TENANT,
    subscriptionId: "azure-sub",
    motion: "azure",
    billable: true,
    kind: "usage",
    chargeType: "new",
    orderDate: null,
    chargeStart: "2024-06-01",
    chargeEnd: "2024-06-30",
    termStart: null,
    termEnd: null,
    productId: "DZH318Z0BPS6",
    skuId: "0070",
    availabilityId: null,
    productName: "Virtual Machines",
    skuName: "D2 v3",
    billingFrequency: null,
    seatDelta: "720",
    seatsAfter: "720",
    effectiveUnitPrice: "0.096",
    listUnitPrice: "0.096",
    amount: "69.12",
    total: "69.12",
    currency: "USD",
    lineCount: 1,
    ...overrides,
  };
}

// The June sample's three Azure lines for Contoso: storage, a VM, and an Azure credit offer.
const JUNE = [
  usage({ seatDelta: "3.1618", listUnitPrice: "0.045", effectiveUnitPrice: "0.03825", amount: "0.12" }),
  usage({}),
  usage({ kind: "credit", chargeType: "customerCredit", seatDelta: "1", listUnitPrice: "0", amount: "-5" }),
];

describe("Azure Plan planner (docs/sync-behaviour.md §8)", () => {
  it("sums a month's Azure charges into one quantity-1 line dated the first to the last day", () => {
    const { lines, skipped } = planAzureMonths(mapping, JUNE, new Set());
    assert.deepEqual(skipped, []);
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line!.quantity, "1");
    assert.equal(line!.unitCost, "64.24");
    // List value: 0.045 × 3.1618 + 0.096 × 720 − 5 (the credit passes through) = 64.262281 → 64.26.
    assert.equal(line!.unitPrice, "64.26");
    assert.equal(line!.periodStart, "2024-06-01");
    assert.equal(line!.periodEnd, "2024-06-30");
    assert.equal(line!.description, "Azure plan usage June 2024");
    assert.equal(line!.eventKey, "azure:2024-06");
    assert.equal(line!.writeKey, azureWriteKey("conn-1", TENANT, "2024-06"));
    assert.equal(line!.eventKeys.length, 3);
  });

  it("keeps cost exact and prices by strategy: cost-only leaves the price, markup adds to cost", () => {
    const events = [usage({ amount: "10.005" }), usage({ amount: "0.001" })];
    const costOnly = planAzureMonths({ ...mapping, pricing: { strategy: "cost-only" } }, events, new Set());
    assert.equal(costOnly.lines[0]!.unitCost, "10.006");
    assert.equal(costOnly.lines[0]!.unitPrice, null);
    const markup = planAzureMonths(
      { ...mapping, pricing: { strategy: "markup", markupPercent: "15" } },
      events,
      new Set(),
    );
    assert.equal(markup.lines[0]!.unitPrice, "11.51"); // 10.006 × 1.15 = 11.5069
  });

  it("plans one line per calendar month, in month order", () => {
    const may = usage({ chargeStart: "2024-05-01", chargeEnd: "2024-05-31", amount: "1.5" });
    const { lines } = planAzureMonths(mapping, [...JUNE, may], new Set());
    assert.deepEqual(
      lines.map((l) => [l.month, l.unitCost, l.periodEnd]),
      [
        ["2024-05", "1.5", "2024-05-31"],
        ["2024-06", "64.24", "2024-06-30"],
      ],
    );
  });

  it("skips months before the sync date, months netting to zero, and months already written", () => {
    const may = usage({ chargeStart: "2024-05-01", amount: "1.5" });
    const july = [
      usage({ chargeStart: "2024-07-01", amount: "2" }),
      usage({ chargeStart: "2024-07-01", amount: "-2" }),
    ];
    const written = new Set([azureWriteKey("conn-1", TENANT, "2024-06")]);
    const plan = planAzureMonths({ ...mapping, syncDate: "2024-05-15" }, [may, ...JUNE, ...july], written);
    assert.deepEqual(plan.lines, []);
    assert.deepEqual(
      plan.skipped.map((s) => s.month),
      ["2024-05", "2024-07"],
    );
  });

  it("ignores other motions, other customers and non-billable events", () => {
    const other = [
      usage({ motion: "seat-monthly", amount: "100" }),
      usage({ customerTenantId: "someone-else", amount: "100" }),
      usage({ billable: false, amount: "100" }),
    ];
    const { lines } = planAzureMonths(mapping, [...JUNE, ...other], new Set());
    assert.equal(lines[0]!.unitCost, "64.24");
  });

  it("keys by connection, customer and month, never by agreement", () => {
    assert.notEqual(azureWriteKey("conn-1", TENANT, "2024-06"), azureWriteKey("conn-1", TENANT, "2024-07"));
    assert.notEqual(azureWriteKey("conn-1", TENANT, "2024-06"), azureWriteKey("conn-2", TENANT, "2024-06"));
    assert.match(azureWriteKey("conn-1", TENANT, "2024-06"), /^cspsync-[0-9a-f]{24}$/);
  });

  it("knows month ends, including leap Februaries, and names months in full", () => {
    assert.equal(lastDayOf("2024-02"), "2024-02-29");
    assert.equal(lastDayOf("2023-02"), "2023-02-28");
    assert.equal(nextMonthStart("2024-12"), "2025-01-01");
    assert.equal(describeAzureMonth("2024-12"), "Azure plan usage December 2024");
  });

  it("warns when a markup below zero sells under cost", () => {
    const { lines } = planAzureMonths(
      { ...mapping, pricing: { strategy: "markup", markupPercent: "-10" } },
      [usage({ amount: "100" })],
      new Set(),
    );
    assert.equal(lines[0]!.unitPrice, "90");
    assert.equal(lines[0]!.warnings.length, 1);
  });
});
