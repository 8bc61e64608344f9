import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChargeLine } from "../../src/core/billing.ts";
import { canonicalChargeType } from "../../src/core/billing.ts";
import { classifyLine } from "../../src/core/classify.ts";

function line(overrides: Partial<ChargeLine>): ChargeLine {
  return {
    sourceRow: 2,
    partnerId: "p",
    customerTenantId: "c",
    customerName: "C",
    customerDomain: null,
    customerCountry: null,
    invoiceNumber: "G1",
    orderId: null,
    orderDate: null,
    productId: "CFQ7TTC0LDPB",
    skuId: "0001",
    availabilityId: null,
    productName: "Microsoft 365 Business Standard",
    skuName: null,
    chargeType: "new",
    unitPrice: "12.5",
    quantity: "1",
    subtotal: "12.5",
    taxTotal: "0",
    total: "12.5",
    currency: "USD",
    publisherName: null,
    subscriptionDescription: null,
    subscriptionId: "s",
    chargeStart: "2024-06-18",
    chargeEnd: "2024-07-17",
    termAndBillingCycle: null,
    effectiveUnitPrice: "12.5",
    unitType: null,
    billableQuantity: "1",
    billingFrequency: "Monthly",
    meterDescription: null,
    reservationOrderId: null,
    subscriptionStart: "2024-06-18",
    subscriptionEnd: "2024-07-17",
    referenceId: null,
    productQualifiers: [],
    promotionId: null,
    ...overrides,
  };
}

const annualTerm = { subscriptionStart: "2024-06-18", subscriptionEnd: "2025-06-17", billingFrequency: null };

describe("classifying lines into billing motions (docs/billing-data.md §5.1, §7)", () => {
  it("monthly billing is Seat-based Monthly, including an annual commitment billed monthly", () => {
    assert.equal(classifyLine(line({})).motion, "seat-monthly");
    assert.equal(
      classifyLine(
        line({ chargeType: "cycleCharge", subscriptionStart: "2024-01-03", subscriptionEnd: "2025-01-02" }),
      ).motion,
      "seat-monthly",
    );
  });

  it("annual up front (blank BillingFrequency, year-long term) is Seat-based Annual, with its seat changes and refunds", () => {
    const purchase = classifyLine(line({ ...annualTerm, chargeEnd: "2025-06-17" }));
    assert.equal(purchase.motion, "seat-annual");
    assert.match(purchase.reason, /BillingFrequency blank with a 365-day term/);
    assert.equal(
      classifyLine(
        line({
          ...annualTerm,
          chargeType: "addQuantity",
          chargeStart: "2024-09-01",
          chargeEnd: "2025-06-17",
        }),
      ).motion,
      "seat-annual",
    );
    assert.equal(
      classifyLine(line({ ...annualTerm, chargeType: "cancelImmediate", subtotal: "-10" })).motion,
      "seat-annual",
    );
    // A co-termed first term shorter than a year is still a long commitment billed up front.
    assert.equal(
      classifyLine(
        line({ billingFrequency: null, subscriptionStart: "2024-06-18", subscriptionEnd: "2025-03-31" }),
      ).motion,
      "seat-annual",
    );
  });

  it("yearly installments (BillingFrequency Annual, e.g. P3Y billed annually) are Seat-based Annual", () => {
    assert.equal(
      classifyLine(
        line({ billingFrequency: "Annual", subscriptionStart: "2024-06-18", subscriptionEnd: "2027-06-17" }),
      ).motion,
      "seat-annual",
    );
  });

  it("a blank BillingFrequency on a one-month term stays monthly", () => {
    assert.equal(classifyLine(line({ billingFrequency: null })).motion, "seat-monthly");
  });

  it("one-time purchases without a term end (perpetual software) are billed up front", () => {
    assert.equal(
      classifyLine(
        line({ billingFrequency: null, chargeEnd: null, subscriptionStart: null, subscriptionEnd: null }),
      ).motion,
      "seat-annual",
    );
  });

  it("Azure plan consumption follows product identity, whatever the billing fields say", () => {
    assert.equal(
      classifyLine(line({ productId: "DZH318Z0BNZ5", billingFrequency: null, subscriptionEnd: null })).motion,
      "azure",
    );
    assert.equal(
      classifyLine(line({ productId: "dzh318z0bps6", billingFrequency: "Monthly" })).motion,
      "azure",
    );
    assert.equal(
      classifyLine(line({ productId: "XYZ", meterDescription: "Tables - LRS Data Stored (GB/Month)" }))
        .motion,
      "azure",
    );
  });

  it("ignores free text: a misleading TermAndBillingCycle does not change the motion", () => {
    assert.equal(
      classifyLine(line({ termAndBillingCycle: "One-Year commitment for yearly billing" })).motion,
      "seat-monthly",
    );
    assert.equal(
      classifyLine(line({ ...annualTerm, termAndBillingCycle: "One-Month commitment for monthly billing" }))
        .motion,
      "seat-annual",
    );
  });

  it("zero-value trial lines are kept but not billable; paid lines with a trial flag stay billable", () => {
    const trial = classifyLine(line({ productQualifiers: ["AddOn", "Trial"], subtotal: "0", total: "0" }));
    assert.deepEqual([trial.motion, trial.billable], ["seat-monthly", false]);
    assert.match(trial.reason, /zero-value trial/);
    assert.equal(classifyLine(line({ productQualifiers: ["Trial"], subtotal: "5" })).billable, true);
    assert.equal(classifyLine(line({ subtotal: "0" })).billable, true);
  });
});

describe("charge types (docs/billing-data.md §4)", () => {
  it("compares case-insensitively and keeps unknown ones verbatim", () => {
    assert.equal(canonicalChargeType("New"), "new");
    assert.equal(canonicalChargeType("CYCLECHARGE"), "cycleCharge");
    assert.equal(canonicalChargeType("CancelImmediate"), "cancelImmediate");
    assert.equal(canonicalChargeType("Cancel"), "cancelImmediate");
    assert.equal(canonicalChargeType("somethingElse"), "other:somethingElse");
  });
});
