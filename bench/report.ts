/**
 * bench:report — the reconciliation report's computation for an invoice of 100,000 lines over 2,000 customers
 * (src/core/reconciliation-report.ts, inputs built in memory: half the customers mapped, one write per
 * annual event). It does not include reading the rows from the database or the PSA read-back.
 * Prints time and peak RSS; BENCHMARKS.md records the results.
 */
import { buildReconciliationReport, type ReportWriteInput } from "../src/core/reconciliation-report.ts";
import type { ChargeEvent } from "../src/core/events.ts";

const LINES = 100_000;
const CUSTOMERS = 2_000;
const events: ChargeEvent[] = [];
const writes: ReportWriteInput[] = [];
for (let i = 0; i < LINES; i++) {
  const tenant = `tenant-${i % CUSTOMERS}`;
  const eventKey = `line:${i}`;
  const seats = String(1 + (i % 9));
  events.push({
    eventKey,
    invoiceNumber: "G-BENCH",
    customerTenantId: tenant,
    subscriptionId: `sub-${i}`,
    motion: "seat-annual",
    billable: true,
    kind: "purchase",
    chargeType: "new",
    orderDate: null,
    chargeStart: "2024-06-05",
    chargeEnd: "2025-06-04",
    termStart: "2024-06-05",
    termEnd: "2025-06-04",
    productId: `P${i % 50}`,
    skuId: "0001",
    availabilityId: null,
    productName: `Product ${i % 50}`,
    skuName: null,
    billingFrequency: null,
    seatDelta: seats,
    seatsAfter: seats,
    effectiveUnitPrice: "12.34",
    listUnitPrice: "13.57",
    amount: (12.34 * Number(seats)).toFixed(2),
    total: "0",
    currency: "USD",
    lineCount: 1,
  });
  if (i % CUSTOMERS < CUSTOMERS / 2)
    writes.push({
      writeKey: `k${i}`,
      customerTenantId: tenant,
      motion: "seat-annual",
      eventKey,
      targetId: "1",
      status: "confirmed",
      psaRecordId: String(i),
      lastError: null,
      payload: {
        unitCost: "12.34",
        unitPrice: "14.81",
        quantity: seats,
        extendedCost: (12.34 * Number(seats)).toFixed(2),
        extendedPrice: (14.81 * Number(seats)).toFixed(2),
        pricedBy: null,
      },
    });
}
const mappings = Array.from({ length: CUSTOMERS / 2 }, (_, c) => ({
  customerTenantId: `tenant-${c}`,
  motion: "seat-annual" as const,
  agreementId: "1",
  agreementName: "A",
  syncDate: null,
  enabled: true,
}));
let peak = process.memoryUsage().rss;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const started = performance.now();
const report = buildReconciliationReport({
  invoice: { invoiceNumber: "G-BENCH", currency: "USD", firstChargeDate: null, lastChargeDate: null },
  connection: { id: "c", name: "CW", vendor: "connectwise" },
  events,
  customerNames: new Map(),
  mappings,
  writes,
  holds: [],
  errors: [],
  psaRecords: null,
  readBackErrors: new Map(),
});
const ms = performance.now() - started;
clearInterval(timer);
peak = Math.max(peak, process.memoryUsage().rss);
console.log(
  JSON.stringify({
    lines: report.lines.length,
    customers: report.customers.length,
    totals: report.totals[0],
    ms: Math.round(ms),
    peakRssMb: Math.round(peak / 1048576),
  }),
);
