import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { planAnnualLines, type AnnualMapping } from "../../src/core/annual-plan.ts";
import { planAzureMonths } from "../../src/core/azure-plan.ts";
import type { ChargeEvent } from "../../src/core/events.ts";
import { annualChargeEvent } from "../support/charge-events.ts";
import {
  priceLine,
  resolvePriceRule,
  type LineToPrice,
  type PriceRule,
  type PricingStrategy,
} from "../../src/core/pricing.ts";

const TENANT = "196e2273-9651-43a3-ba7e-7cbcd918fc40";
const OTHER_TENANT = "5b5c6bd2-0d5c-4f0c-9b5a-3e4a1b2c3d4e";
const RETAIL: PricingStrategy = { strategy: "cost-and-retail" };

function rule(overrides: Partial<PriceRule> & Pick<PriceRule, "id">): PriceRule {
  return {
    name: overrides.id,
    productKey: null,
    customerTenantId: null,
    kind: "markup",
    value: "10",
    effectiveFrom: "2024-01-01",
    effectiveTo: null,
    ...overrides,
  };
}

function line(overrides: Partial<LineToPrice> = {}): LineToPrice {
  return {
    cost: "100",
    list: "120",
    date: "2024-06-15",
    productKey: "CFQ7TTC0LCHC:0002",
    tenantId: TENANT,
    ...overrides,
  };
}

describe("price rules: which rule prices a line", () => {
  const customer = rule({ id: "customer", customerTenantId: TENANT, value: "5" });
  const product = rule({ id: "product", productKey: "CFQ7TTC0LCHC", value: "15" });
  const sku = rule({ id: "sku", productKey: "CFQ7TTC0LCHC:0002", value: "20" });
  const both = rule({ id: "both", productKey: "CFQ7TTC0LCHC", customerTenantId: TENANT, value: "25" });
  const bothSku = rule({ id: "both-sku", productKey: "CFQ7TTC0LCHC:0002", customerTenantId: TENANT });

  it("the most specific wins: customer and product over product over customer, whatever their dates", () => {
    const newestCustomer = { ...customer, effectiveFrom: "2024-06-01" };
    assert.equal(resolvePriceRule(line(), [newestCustomer, product, both])?.id, "both");
    assert.equal(resolvePriceRule(line(), [newestCustomer, product])?.id, "product");
    assert.equal(resolvePriceRule(line(), [newestCustomer])?.id, "customer");
    assert.equal(resolvePriceRule(line(), [])?.id, undefined);
  });

  it("within a scope an exact SKU beats its whole product", () => {
    assert.equal(resolvePriceRule(line(), [product, sku])?.id, "sku");
    assert.equal(resolvePriceRule(line(), [both, bothSku, sku])?.id, "both-sku");
    // A product-wide rule still prices the product's other SKUs.
    assert.equal(resolvePriceRule(line({ productKey: "CFQ7TTC0LCHC:0001" }), [product, sku])?.id, "product");
  });

  it("rules for another customer or product never apply; a product rule needs a product key", () => {
    const other = rule({ id: "other", customerTenantId: OTHER_TENANT });
    const otherProduct = rule({ id: "other-product", productKey: "CFQ7TTC0LDPB" });
    assert.equal(resolvePriceRule(line(), [other, otherProduct]), null);
    assert.equal(resolvePriceRule(line({ productKey: null }), [product, customer])?.id, "customer");
    // "CFQ7TTC0LC" is not the product "CFQ7TTC0LCHC": keys match whole, never by prefix.
    assert.equal(resolvePriceRule(line(), [rule({ id: "prefix", productKey: "CFQ7TTC0LC" })]), null);
  });

  it("a rule scoped to neither a product nor a customer applies to nothing", () => {
    assert.equal(resolvePriceRule(line(), [rule({ id: "everything" })]), null);
  });

  it("product keys match in any case", () => {
    assert.equal(resolvePriceRule(line({ productKey: "cfq7ttc0lchc:0002" }), [sku])?.id, "sku");
  });

  it("among rules of one scope, the latest effective date on or before the charge's date wins", () => {
    const may = rule({ id: "may", productKey: "CFQ7TTC0LCHC", effectiveFrom: "2024-05-01" });
    const june = rule({ id: "june", productKey: "CFQ7TTC0LCHC", effectiveFrom: "2024-06-15" });
    const july = rule({ id: "july", productKey: "CFQ7TTC0LCHC", effectiveFrom: "2024-07-01" });
    const rules = [july, may, june];
    assert.equal(resolvePriceRule(line({ date: "2024-06-14" }), rules)?.id, "may");
    assert.equal(resolvePriceRule(line({ date: "2024-06-15" }), rules)?.id, "june");
    assert.equal(resolvePriceRule(line({ date: "2024-07-01" }), rules)?.id, "july");
    assert.equal(resolvePriceRule(line({ date: "2024-04-30" }), rules), null);
  });

  it("an end date is the last day the rule applies; after it the next rule in line prices", () => {
    const promo = rule({ id: "promo", productKey: "CFQ7TTC0LCHC", effectiveTo: "2024-06-30" });
    assert.equal(resolvePriceRule(line({ date: "2024-06-30" }), [promo, customer])?.id, "promo");
    assert.equal(resolvePriceRule(line({ date: "2024-07-01" }), [promo, customer])?.id, "customer");
  });

  it("a tie (same scope, same date) goes to the name, then the id, whatever the order given", () => {
    const b = rule({ id: "1", name: "b", productKey: "CFQ7TTC0LCHC" });
    const a = rule({ id: "2", name: "a", productKey: "CFQ7TTC0LCHC" });
    assert.equal(resolvePriceRule(line(), [b, a])?.id, "2");
    assert.equal(resolvePriceRule(line(), [a, b])?.id, "2");
    const x = rule({ id: "x", name: "same", productKey: "CFQ7TTC0LCHC" });
    const y = rule({ id: "y", name: "same", productKey: "CFQ7TTC0LCHC" });
    assert.equal(resolvePriceRule(line(), [y, x])?.id, "x");
  });
});

describe("priceLine: the sell price of one line", () => {
  it("without a rule, the mapping's strategy prices as before: retail, cost only, markup", () => {
    assert.deepEqual(priceLine(line({ list: "12.34565" }), RETAIL, []), {
      unitPrice: "12.3457",
      pricedBy: null,
      belowCost: true,
      priceSource: "microsoft-list",
      atOrBelowCost: true,
      retailWarning: null,
    });
    assert.deepEqual(priceLine(line(), { strategy: "cost-only" }, []), {
      unitPrice: null,
      pricedBy: null,
      belowCost: false,
      priceSource: "cost-only",
      atOrBelowCost: false,
      retailWarning: null,
    });
    assert.equal(priceLine(line(), { strategy: "markup", markupPercent: "12.5" }, []).unitPrice, "112.5");
  });

  it("a markup rule marks the cost up, rounded half away from zero to the places asked", () => {
    const markup = rule({ id: "m", name: "CSP 15%", customerTenantId: TENANT, value: "15" });
    // 33.3333 × 1.15 = 38.333295
    assert.deepEqual(priceLine(line({ cost: "33.3333" }), { strategy: "cost-only" }, [markup]), {
      unitPrice: "38.3333",
      pricedBy: { ruleId: "m", ruleName: "CSP 15%", description: "cost + 15%" },
      belowCost: false,
      priceSource: "price-rule",
      atOrBelowCost: false,
      retailWarning: null,
    });
    assert.equal(priceLine(line({ cost: "33.3333", places: 2 }), RETAIL, [markup]).unitPrice, "38.33");
    // 0.00005 × 1 → 0.0001 (half up), −0.00005 → −0.0001 (half away from zero).
    const flat = rule({ id: "flat", customerTenantId: TENANT, value: "0" });
    assert.equal(priceLine(line({ cost: "0.00005" }), RETAIL, [flat]).unitPrice, "0.0001");
    assert.equal(priceLine(line({ cost: "-0.00005" }), RETAIL, [flat]).unitPrice, "-0.0001");
  });

  it("a fixed price is per full-price unit: scaled by the line's units, and a credit refunds it", () => {
    const fixed = rule({ id: "f", customerTenantId: TENANT, kind: "fixed", value: "300" });
    assert.equal(priceLine(line(), RETAIL, [fixed]).unitPrice, "300");
    assert.equal(priceLine(line({ units: "0.5" }), RETAIL, [fixed]).unitPrice, "150");
    assert.equal(priceLine(line({ cost: "-47.7367", units: "3" }), RETAIL, [fixed]).unitPrice, "-900");
    // 300 × 345/365 = 283.56164…
    assert.equal(priceLine(line({ units: (345 / 365).toString() }), RETAIL, [fixed]).unitPrice, "283.5616");
    assert.equal(priceLine(line(), RETAIL, [fixed]).pricedBy?.description, "fixed price 300");
  });

  it("below cost: only a charge priced under its cost, never a credit or a kept PSA price", () => {
    const cheap = rule({ id: "cheap", customerTenantId: TENANT, kind: "fixed", value: "99.99" });
    assert.equal(priceLine(line(), RETAIL, [cheap]).belowCost, true);
    assert.equal(priceLine(line({ cost: "99.99" }), RETAIL, [cheap]).belowCost, false);
    assert.equal(priceLine(line({ cost: "-100" }), RETAIL, [cheap]).belowCost, false);
    assert.equal(
      priceLine(line({ cost: "100", list: "99" }), { strategy: "cost-only" }, []).belowCost,
      false,
    );
    assert.equal(priceLine(line({ cost: "0" }), RETAIL, [cheap]).belowCost, false);
  });
});

function annualEvent(overrides: Partial<ChargeEvent>): ChargeEvent {
  return annualChargeEvent({ customerTenantId: TENANT, ...overrides });
}

const annualMapping: AnnualMapping = {
  connectionId: "conn-1",
  customerTenantId: TENANT,
  customerName: "Contoso",
  psaCompanyId: "19",
  agreementId: "42",
  syncDate: null,
  pricing: RETAIL,
};

describe("price rules in the planners", () => {
  const premium = rule({
    id: "r1",
    name: "Premium at 300",
    productKey: "CFQ7TTC0LCHC:0002",
    kind: "fixed",
    value: "300",
  });

  it("annual: a fixed price per seat for the term, prorated for a seat change; the line names its rule", () => {
    const purchase = annualEvent({});
    const change = annualEvent({
      eventKey: "pair:1",
      kind: "seat-change",
      chargeStart: "2024-06-25",
      seatDelta: "2",
      seatsAfter: "7",
      effectiveUnitPrice: "249.5342466",
      amount: "499.06",
    });
    const { lines } = planAnnualLines(
      { ...annualMapping, priceRules: [premium] },
      [purchase, change],
      new Set(),
    );
    assert.deepEqual(
      lines.map((l) => [
        l.quantity,
        l.unitCost,
        l.unitPrice,
        l.extendedPrice,
        l.pricedBy?.ruleName,
        l.belowCost,
      ]),
      [
        ["5", "240", "300", "1500", "Premium at 300", false],
        // 300 × 345/365 per seat
        ["2", "249.53", "283.5616", "567.12", "Premium at 300", false],
      ],
    );
  });

  it("annual: one unit carrying several seats carries their fixed price; a rule from a later date does not apply yet", () => {
    // 100.01 / 300 = 0.3334 per seat would bill 100.02, so one unit carries the 300 seats.
    const odd = annualEvent({ seatDelta: "300", amount: "100.01", effectiveUnitPrice: "0.3334" });
    const later = { ...premium, id: "r2", effectiveFrom: "2024-07-01", value: "1" };
    const [planned] = planAnnualLines(
      { ...annualMapping, priceRules: [premium, later] },
      [odd],
      new Set(),
    ).lines;
    assert.deepEqual([planned!.quantity, planned!.unitCost, planned!.unitPrice], ["1", "100.01", "90000"]);
    assert.equal(planned!.pricedBy?.ruleId, "r1");
  });

  it("annual: a rule below cost marks the line and warns", () => {
    const cheap = { ...premium, value: "200" };
    const [planned] = planAnnualLines(
      { ...annualMapping, priceRules: [cheap] },
      [annualEvent({})],
      new Set(),
    ).lines;
    assert.equal(planned!.belowCost, true);
    assert.deepEqual(planned!.warnings, [
      "Sell price 200 is below cost 240 per unit for Microsoft 365 Business Premium",
    ]);
  });

  it("annual: without rules the line says the mapping priced it", () => {
    const [planned] = planAnnualLines(annualMapping, [annualEvent({})], new Set()).lines;
    assert.deepEqual([planned!.unitPrice, planned!.pricedBy, planned!.belowCost], ["264", null, false]);
  });

  it("Azure: a customer rule or an AZURE-PLAN rule prices the month to the cent", () => {
    const usage = annualEvent({
      motion: "azure",
      kind: "usage",
      chargeStart: "2024-06-01",
      chargeEnd: "2024-06-30",
      termStart: null,
      termEnd: null,
      productId: "DZH318Z0BPS6",
      skuId: "0070",
      seatDelta: "720",
      effectiveUnitPrice: "0.096",
      listUnitPrice: "0.096",
      amount: "69.125",
    });
    const azure = {
      connectionId: "conn-1",
      customerTenantId: TENANT,
      customerName: "Contoso",
      syncDate: null,
    };
    const customerMarkup = rule({ id: "c", name: "Contoso +7.5%", customerTenantId: TENANT, value: "7.5" });
    const plan = (rules: PriceRule[]) =>
      planAzureMonths({ ...azure, pricing: RETAIL, priceRules: rules }, [usage], new Set()).lines[0]!;
    // 69.125 × 1.075 = 74.309375
    assert.deepEqual(
      [plan([customerMarkup]).unitPrice, plan([customerMarkup]).pricedBy?.ruleId],
      ["74.31", "c"],
    );
    const azurePlan = rule({ id: "a", productKey: "azure-plan", kind: "fixed", value: "50" });
    assert.deepEqual(
      [plan([customerMarkup, azurePlan]).unitPrice, plan([customerMarkup, azurePlan]).belowCost],
      ["50", true],
    );
    assert.deepEqual([plan([]).unitPrice, plan([]).pricedBy], ["69.12", null]);
  });
});
