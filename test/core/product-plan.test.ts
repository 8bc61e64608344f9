import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  autotaskServiceName,
  chargeProductSku,
  collectCatalogProducts,
  planProductSync,
  productKey,
  pendingPriceConfirmations,
  productVariant,
  recordOrigin,
  type CatalogProduct,
  type ProductLineGroup,
  type PsaCatalogRecord,
  type TrackedProduct,
} from "../../src/core/product-plan.ts";

function group(overrides: Partial<ProductLineGroup> = {}): ProductLineGroup {
  return {
    customerTenantId: "tenant-a",
    motion: "seat-monthly",
    productId: "CFQ7TTC0LDPB",
    skuId: "0001",
    productName: "Microsoft 365 Business Standard",
    skuName: "Microsoft 365 Business Standard",
    billingFrequency: "Monthly",
    subscriptionStart: "2024-06-18",
    subscriptionEnd: "2024-07-17",
    chargeType: "new",
    isBillable: true,
    unitPrice: "12.50",
    effectiveUnitPrice: "10.08",
    lastChargeStart: "2024-06-18",
    ...overrides,
  };
}

function product(overrides: Partial<CatalogProduct> = {}): CatalogProduct {
  return {
    key: "CFQ7TTC0LDPB:0001",
    productId: "CFQ7TTC0LDPB",
    skuId: "0001",
    variant: "monthly",
    name: "Microsoft 365 Business Standard",
    price: "12.5",
    cost: "10.08",
    priceSource: "full-period charge",
    azure: false,
    contractCharges: false,
    customerTenantIds: ["tenant-a"],
    ...overrides,
  };
}

function record(overrides: Partial<PsaCatalogRecord> = {}): PsaCatalogRecord {
  return { id: "1", label: "X", keys: [], active: true, price: "12.5", cost: "10.08", ...overrides };
}

describe("product variants and keys (docs/sync-behaviour.md §2, §4.1)", () => {
  it("prefixes annual-term SKUs with P1Y:A (billed annually) or P1Y:M (billed monthly), monthly has none", () => {
    const annual = {
      subscriptionStart: "2024-06-05",
      subscriptionEnd: "2025-06-04",
      chargeStart: "2024-06-05",
    };
    assert.equal(productVariant({ ...annual, billingFrequency: null }), "P1Y:A");
    assert.equal(productVariant({ ...annual, billingFrequency: "Annual" }), "P1Y:A");
    assert.equal(productVariant({ ...annual, billingFrequency: "Monthly" }), "P1Y:M");
    const monthly = {
      subscriptionStart: "2024-06-18",
      subscriptionEnd: "2024-07-17",
      chargeStart: "2024-06-18",
    };
    assert.equal(productVariant({ ...monthly, billingFrequency: "Monthly" }), "monthly");
    assert.equal(
      productVariant({
        subscriptionStart: null,
        subscriptionEnd: null,
        chargeStart: "2024-06-18",
        billingFrequency: null,
      }),
      "one-time",
    );
    // A co-termed annual subscription is shorter than a year but still an annual commitment.
    assert.equal(
      productVariant({
        subscriptionStart: "2024-06-01",
        subscriptionEnd: "2024-12-31",
        chargeStart: "2024-06-01",
        billingFrequency: "Monthly",
      }),
      "P1Y:M",
    );
    assert.equal(productKey("CFQ7TTC0LCHC", "0002", "P1Y:A"), "P1Y:A:CFQ7TTC0LCHC:0002");
    assert.equal(productKey("CFQ7TTC0LCHC", "0002", "P1Y:M"), "P1Y:M:CFQ7TTC0LCHC:0002");
    assert.equal(productKey("CFQ7TTC0LCHC", "0002", "monthly"), "CFQ7TTC0LCHC:0002");
    assert.equal(autotaskServiceName("P1Y:A:CFQ7TTC0LCHC:0002"), "PC_P1Y:A:CFQ7TTC0LCHC:0002");
  });
});

describe("collecting products from the billing data", () => {
  it("makes one product per SKU and variant, priced from the latest full-period charge", () => {
    const products = collectCatalogProducts(
      [
        group({ lastChargeStart: "2024-06-01", unitPrice: "12.5", effectiveUnitPrice: "12.5" }),
        group({ lastChargeStart: "2024-06-18", unitPrice: "10.08", effectiveUnitPrice: "9.5" }),
        // A proration is newer but not a full-period price.
        group({ chargeType: "addQuantity", lastChargeStart: "2024-06-25", effectiveUnitPrice: "-4.1" }),
        group({
          billingFrequency: null,
          subscriptionStart: "2024-06-05",
          subscriptionEnd: "2025-06-04",
          productId: "CFQ7TTC0LCHC",
          skuId: "0002",
          unitPrice: "264",
          effectiveUnitPrice: "264",
          customerTenantId: "tenant-b",
        }),
      ],
      null,
    );
    assert.deepEqual(
      products.map((p) => [p.key, p.price, p.cost, p.priceSource, p.customerTenantIds]),
      [
        ["CFQ7TTC0LDPB:0001", "10.08", "9.5", "full-period charge", ["tenant-a"]],
        ["P1Y:A:CFQ7TTC0LCHC:0002", "264", "264", "full-period charge", ["tenant-b"]],
      ],
    );
  });

  it("in-use mode keeps only products billed to customers with an enabled mapping", () => {
    const groups = [group(), group({ customerTenantId: "tenant-b", productId: "OTHER" })];
    assert.deepEqual(
      collectCatalogProducts(groups, new Set(["tenant-b"])).map((p) => p.key),
      ["OTHER:0001"],
    );
  });

  it("falls back to the list price when only prorations or trials were billed", () => {
    const [only] = collectCatalogProducts(
      [group({ chargeType: "addQuantity", unitPrice: "12.50", effectiveUnitPrice: "-3.2" })],
      null,
    );
    assert.equal(only!.cost, "12.5");
    assert.equal(only!.priceSource, "list price");
  });
});

describe("planning the ConnectWise catalog (docs/sync-behaviour.md §4.2)", () => {
  it("creates what is missing, links through the vendor SKU, updates price and cost of its own items, only cost of linked ones", () => {
    const plan = planProductSync({
      vendor: "connectwise",
      products: [
        product({ key: "NEW:0001", productId: "NEW" }),
        product({ key: "P1Y:A:LINK:0001", productId: "LINK", variant: "P1Y:A", price: "120", cost: "100" }),
        product({ key: "OWN:0001", productId: "OWN", price: "15", cost: "12" }),
        product({ key: "SAME:0001", productId: "SAME" }),
      ],
      records: [
        record({
          id: "7",
          label: "M365-ANNUAL",
          keys: ["M365-ANNUAL", "P1Y:A:LINK:0001"],
          price: "110",
          cost: "100",
        }),
        record({ id: "8", label: "OWN:0001", keys: ["OWN:0001"], price: "14", cost: "12" }),
        record({ id: "9", label: "SAME:0001", keys: ["SAME:0001"], active: false }),
      ],
      tracked: [
        { productKey: "OWN:0001", psaRecordId: "8", owned: true, status: "synced" },
        { productKey: "SAME:0001", psaRecordId: "9", owned: true, status: "synced" },
      ],
    });
    assert.deepEqual(
      plan.items.map((i) => [i.key, i.action, i.recordId, i.owned, i.changes]),
      [
        ["NEW:0001", "create", null, true, { price: "12.5", cost: "10.08" }],
        // Linked, not created by cspsync: its sell price 110 is the MSP's and stays.
        ["P1Y:A:LINK:0001", "link", "7", false, {}],
        ["OWN:0001", "update", "8", true, { price: "15" }],
        ["SAME:0001", "skip", "9", true, {}],
      ],
    );
    assert.match(plan.items[3]!.notes.join(), /inactive.*left inactive/);
    assert.deepEqual(plan.counts, { create: 1, link: 1, update: 1, skip: 1, conflict: 0 });
  });

  it("reports two items carrying the same SKU as a conflict instead of guessing", () => {
    const plan = planProductSync({
      vendor: "connectwise",
      products: [product()],
      records: [
        record({ id: "3", label: "A", keys: ["A", "CFQ7TTC0LDPB:0001"] }),
        record({ id: "4", label: "B", keys: ["B", "CFQ7TTC0LDPB:0001"] }),
      ],
      tracked: [],
    });
    assert.equal(plan.items[0]!.action, "conflict");
    assert.match(
      plan.items[0]!.reason,
      /2 ConnectWise catalog items carry SKU CFQ7TTC0LDPB:0001 \(3 "A", 4 "B"\)/,
    );
  });

  it("prefers the one active item over inactive duplicates and never links a record tracked for another product", () => {
    const plan = planProductSync({
      vendor: "connectwise",
      products: [product(), product({ key: "OTHER:0001", productId: "OTHER" })],
      records: [
        record({ id: "3", label: "A", keys: ["CFQ7TTC0LDPB:0001"], active: false }),
        record({ id: "4", label: "B", keys: ["CFQ7TTC0LDPB:0001"] }),
        record({ id: "5", label: "C", keys: ["OTHER:0001"] }),
      ],
      tracked: [{ productKey: "ELSEWHERE", psaRecordId: "5", owned: true, status: "synced" }],
    });
    assert.deepEqual(
      plan.items.map((i) => [i.key, i.action, i.recordId]),
      [
        ["CFQ7TTC0LDPB:0001", "link", "4"],
        ["OTHER:0001", "create", null],
      ],
    );
  });
});

describe("planning Autotask services (docs/sync-behaviour.md §4.3, §12.2)", () => {
  it("follows a tracked service by id whatever its name, and recreates one that was deleted", () => {
    const plan = planProductSync({
      vendor: "autotask",
      products: [product(), product({ key: "GONE:0001", productId: "GONE" })],
      records: [record({ id: "30", label: "Renamed by the MSP", keys: ["RENAMED BY THE MSP"], price: "11" })],
      tracked: [
        { productKey: "CFQ7TTC0LDPB:0001", psaRecordId: "30", owned: true, status: "synced" },
        { productKey: "GONE:0001", psaRecordId: "31", owned: true, status: "synced" },
      ],
    });
    assert.deepEqual(
      plan.items.map((i) => [i.key, i.action, i.recordId, i.changes]),
      [
        ["CFQ7TTC0LDPB:0001", "update", "30", { price: "12.5" }],
        ["GONE:0001", "create", null, { price: "12.5", cost: "10.08" }],
      ],
    );
    assert.match(plan.items[1]!.notes[0]!, /service 31 that cspsync created no longer exists/);
  });

  it("reports a same-named service cspsync did not create with the IX_service error and the fix", () => {
    const plan = planProductSync({
      vendor: "autotask",
      products: [product()],
      records: [record({ id: "44", label: "PC_CFQ7TTC0LDPB:0001", keys: ["PC_CFQ7TTC0LDPB:0001"] })],
      tracked: [],
    });
    const [item] = plan.items;
    assert.equal(item!.action, "conflict");
    assert.match(item!.reason, /Violation of UNIQUE KEY constraint 'IX_service'/);
    assert.match(item!.reason, /Rename or remove service 44 in Autotask/);
  });

  it("adopts the service an interrupted create left behind instead of calling it a collision", () => {
    const plan = planProductSync({
      vendor: "autotask",
      products: [product()],
      records: [record({ id: "45", label: "PC_CFQ7TTC0LDPB:0001", keys: ["PC_CFQ7TTC0LDPB:0001"] })],
      tracked: [{ productKey: "CFQ7TTC0LDPB:0001", psaRecordId: null, owned: true, status: "pending" }],
    });
    assert.deepEqual(
      [plan.items[0]!.action, plan.items[0]!.recordId, plan.items[0]!.owned],
      ["link", "45", true],
    );
  });

  it("skips Azure consumption, which the Azure Plan sync bills", () => {
    const plan = planProductSync({
      vendor: "autotask",
      products: [product({ azure: true })],
      records: [],
      tracked: [],
    });
    assert.equal(plan.items[0]!.action, "skip");
    assert.match(plan.items[0]!.reason, /Azure Plan sync/);
  });
});

describe("Autotask Products for contract charges (docs/autotask.md §8.3, §8.9)", () => {
  const annual = (overrides: Partial<CatalogProduct> = {}) =>
    product({
      key: "P1Y:A:CFQ7TTC0LCHC:0002",
      productId: "CFQ7TTC0LCHC",
      skuId: "0002",
      variant: "P1Y:A",
      name: "Microsoft 365 Business Premium",
      price: "264",
      cost: "250.8",
      contractCharges: true,
      ...overrides,
    });
  const atProduct = (id: string, sku: string, overrides: Partial<PsaCatalogRecord> = {}) =>
    record({
      id,
      label: `Product ${id}`,
      keys: [sku.toUpperCase()],
      price: "264",
      cost: "250.8",
      ...overrides,
    });
  const plan = (
    products: CatalogProduct[],
    records: PsaCatalogRecord[],
    options: { tracked?: TrackedProduct[]; canCreate?: boolean } = {},
  ) =>
    planProductSync({
      vendor: "autotask",
      products,
      records: [],
      tracked: options.tracked ?? [],
      chargeProducts: { records, canCreate: options.canCreate ?? true },
    }).items.filter((i) => i.kind === "charge-product");

  it("collects contract-charge products from Seat-based Annual lines only", () => {
    const products = collectCatalogProducts(
      [
        group(),
        group({
          motion: "seat-annual",
          billingFrequency: "Annual",
          subscriptionEnd: "2025-06-17",
          productId: "CFQ7TTC0LCHC",
          skuId: "0002",
        }),
      ],
      null,
    );
    assert.deepEqual(
      products.map((p) => [p.key, p.contractCharges]),
      [
        ["CFQ7TTC0LDPB:0001", false],
        ["P1Y:A:CFQ7TTC0LCHC:0002", true],
      ],
    );
  });

  it("writes the SKU the annual sync looks up first; one-time purchases keep the plain SKU", () => {
    assert.equal(chargeProductSku(annual()), "P1Y:A:CFQ7TTC0LCHC:0002");
    assert.equal(chargeProductSku(annual({ variant: "P3Y:A" })), "P1Y:A:CFQ7TTC0LCHC:0002");
    assert.equal(chargeProductSku(annual({ variant: "one-time" })), "CFQ7TTC0LCHC:0002");
  });

  it("creates one product per SKU for annual and one-time charges, none for monthly or Azure", () => {
    const items = plan(
      [
        annual(),
        annual({ key: "P3Y:A:CFQ7TTC0LCHC:0002", variant: "P3Y:A", price: "792", cost: "752.4" }),
        product({
          key: "DG7GMGF0D7FV:0002",
          productId: "DG7GMGF0D7FV",
          skuId: "0002",
          variant: "one-time",
          name: "W".repeat(120),
          price: "972.5",
          cost: "972.5",
          contractCharges: true,
        }),
        product(),
        annual({ key: "P1Y:A:DZH318Z0BPS6:0001", productId: "DZH318Z0BPS6", skuId: "0001", azure: true }),
      ],
      [],
    );
    assert.deepEqual(
      items.map((i) => [i.key, i.action, i.name, i.changes, i.owned]),
      [
        ["product:DG7GMGF0D7FV:0002", "create", "W".repeat(100), { price: "972.5", cost: "972.5" }, true],
        // The one-year term prices the shared product.
        [
          "product:P1Y:A:CFQ7TTC0LCHC:0002",
          "create",
          "Microsoft 365 Business Premium",
          { price: "264", cost: "250.8" },
          true,
        ],
      ],
    );
    assert.equal(
      items[1]!.reason,
      'new product "Microsoft 365 Business Premium" with SKU P1Y:A:CFQ7TTC0LCHC:0002 at price 264, cost 250.8',
    );
  });

  it("links the active product of the first SKU spelling that has one, as the annual sync would", () => {
    const items = plan(
      [annual()],
      [
        atProduct("7", "CFQ7TTC0LCHC:0002"),
        atProduct("8", "CFQ7TTC0LCHC:0002:P1Y", { price: "300", cost: "240" }),
        atProduct("9", "P1Y:A:CFQ7TTC0LCHC:0002", { active: false }),
      ],
    );
    assert.deepEqual(
      items.map((i) => [i.action, i.recordId, i.owned, i.changes]),
      [["link", "8", false, { cost: "250.8" }]],
    );
    assert.match(
      items[0]!.reason,
      /existing product 8 \("Product 8"\) carries the SKU the annual sync looks for; cost 240 → 250.8$/,
    );
    assert.match(items[0]!.notes.join(), /sell price 300 kept: cspsync linked this product/);
  });

  it("reports several active products with one SKU spelling as a conflict with the fix", () => {
    const items = plan(
      [annual()],
      [atProduct("7", "P1Y:A:CFQ7TTC0LCHC:0002"), atProduct("8", "p1y:a:cfq7ttc0lchc:0002")],
    );
    assert.equal(items[0]!.action, "conflict");
    assert.match(
      items[0]!.reason,
      /2 active Autotask products carry the same SKU spelling for CFQ7TTC0LCHC:0002 \(7 "Product 7", 8 "Product 8"\)/,
    );
    assert.match(items[0]!.reason, /Deactivate all but one, or change the SKU of the others/);
  });

  it("without a product billing code, skips what it would create and names the setting", () => {
    const items = plan([annual()], [atProduct("9", "P1Y:A:CFQ7TTC0LCHC:0002", { active: false })], {
      canCreate: false,
    });
    assert.equal(items[0]!.action, "skip");
    assert.match(items[0]!.reason, /set the product billing code \(productBillingCodeId\)/);
    assert.deepEqual(items[0]!.notes, [
      "an inactive product carries SKU P1Y:A:CFQ7TTC0LCHC:0002; the annual sync ignores inactive products",
    ]);
  });

  it("follows a tracked product by id: updates price/cost, leaves it inactive, recreates it when deleted", () => {
    const tracked = (id: string | null, status: TrackedProduct["status"] = "synced"): TrackedProduct[] => [
      { productKey: "product:P1Y:A:CFQ7TTC0LCHC:0002", psaRecordId: id, owned: true, status },
    ];
    const [renamed] = plan(
      [annual()],
      [atProduct("5", "P1Y:A:CFQ7TTC0LCHC:0002", { label: "BP annual", cost: "240" })],
      { tracked: tracked("5") },
    );
    assert.deepEqual(
      [renamed!.action, renamed!.recordId, renamed!.changes],
      ["update", "5", { cost: "250.8" }],
    );

    const [inactive] = plan([annual()], [atProduct("5", "P1Y:A:CFQ7TTC0LCHC:0002", { active: false })], {
      tracked: tracked("5"),
    });
    assert.deepEqual([inactive!.action, inactive!.recordId], ["skip", "5"]);
    assert.match(inactive!.notes.join("; "), /left inactive; the annual sync uses only active products/);

    const [reskued] = plan([annual()], [atProduct("5", "OUR-SKU")], { tracked: tracked("5") });
    assert.match(reskued!.notes.join(" "), /its SKU no longer reads P1Y:A:CFQ7TTC0LCHC:0002/);

    const [deleted] = plan([annual()], [], { tracked: tracked("5") });
    assert.deepEqual(
      [deleted!.action, deleted!.notes],
      ["create", ["product 5 that cspsync created no longer exists in Autotask"]],
    );

    const [interrupted] = plan([annual()], [atProduct("6", "P1Y:A:CFQ7TTC0LCHC:0002")], {
      tracked: tracked(null, "pending"),
    });
    assert.deepEqual(
      [interrupted!.action, interrupted!.recordId, interrupted!.owned, interrupted!.reason],
      ["link", "6", true, "found the product an interrupted sync created"],
    );
  });

  it("never links a product another item already tracks, and ignores the services' tracking", () => {
    const items = plan([annual()], [atProduct("5", "P1Y:A:CFQ7TTC0LCHC:0002")], {
      tracked: [
        { productKey: "product:P1Y:A:OTHER:0001", psaRecordId: "5", owned: false, status: "synced" },
        { productKey: "P1Y:A:CFQ7TTC0LCHC:0002", psaRecordId: "5", owned: true, status: "synced" },
      ],
    });
    assert.deepEqual([items[0]!.action, items[0]!.recordId], ["create", null]);
  });

  it("ConnectWise plans no contract-charge products", () => {
    const items = planProductSync({
      vendor: "connectwise",
      products: [annual()],
      records: [],
      tracked: [],
      chargeProducts: { records: [], canCreate: true },
    }).items;
    assert.deepEqual(
      items.map((i) => i.kind),
      ["catalog"],
    );
  });
});

describe("a pending create whose record is not found (issue 6: faults never duplicate)", () => {
  const sentAt = "2024-07-01T10:00:00.000Z";
  const inDoubt = (now: string) => ({ now: new Date(now), ms: 120_000 });
  const pending = (productKey: string): TrackedProduct[] => [
    { productKey, psaRecordId: null, owned: true, status: "pending", updatedAt: sentAt },
  ];
  const annual = product({
    key: "P1Y:A:CFQ7TTC0LCHC:0002",
    productId: "CFQ7TTC0LCHC",
    skuId: "0002",
    variant: "P1Y:A",
    contractCharges: true,
  });

  for (const vendor of ["connectwise", "autotask"] as const) {
    it(`${vendor}: waits while the create may still land, then creates it`, () => {
      const planAt = (now: string) =>
        planProductSync({
          vendor,
          products: [product()],
          records: [],
          tracked: pending("CFQ7TTC0LDPB:0001"),
          inDoubt: inDoubt(now),
        }).items[0]!;
      const waiting = planAt("2024-07-01T10:01:59.999Z");
      assert.deepEqual(
        [waiting.action, waiting.recordId, waiting.changes, waiting.waitUntil],
        ["skip", null, {}, "2024-07-01T10:02:00.000Z"],
      );
      assert.match(
        waiting.reason,
        /sent at 2024-07-01T10:00:00.000Z got no answer .* left for a run after 2024-07-01T10:02:00.000Z$/,
      );
      const later = planAt("2024-07-01T10:02:00.000Z");
      assert.deepEqual([later.action, later.waitUntil], ["create", undefined]);
    });
  }

  it("links the record once it has landed, even inside the window", () => {
    const item = planProductSync({
      vendor: "connectwise",
      products: [product()],
      records: [record({ id: "7", label: "CFQ7TTC0LDPB:0001", keys: ["CFQ7TTC0LDPB:0001"] })],
      tracked: pending("CFQ7TTC0LDPB:0001"),
      inDoubt: inDoubt("2024-07-01T10:00:30.000Z"),
    }).items[0]!;
    assert.deepEqual(
      [item.action, item.recordId, item.owned, item.waitUntil],
      ["link", "7", true, undefined],
    );
  });

  it("Autotask Products for contract charges wait the same way", () => {
    const planAt = (now: string) =>
      planProductSync({
        vendor: "autotask",
        products: [annual],
        records: [],
        tracked: pending("product:P1Y:A:CFQ7TTC0LCHC:0002"),
        chargeProducts: { records: [], canCreate: true },
        inDoubt: inDoubt(now),
      }).items.find((i) => i.kind === "charge-product")!;
    assert.deepEqual(
      [planAt("2024-07-01T10:00:01.000Z").action, planAt("2024-07-01T10:00:01.000Z").waitUntil],
      ["skip", "2024-07-01T10:02:00.000Z"],
    );
    assert.equal(planAt("2024-07-01T10:05:00.000Z").action, "create");
  });

  it("a synced row or a row without its send time is never held", () => {
    const item = planProductSync({
      vendor: "connectwise",
      products: [product()],
      records: [],
      tracked: [{ productKey: "CFQ7TTC0LDPB:0001", psaRecordId: null, owned: true, status: "pending" }],
      inDoubt: inDoubt(sentAt),
    }).items[0]!;
    assert.equal(item.action, "create");
  });
});

describe("sell prices of linked records (the MSP's own)", () => {
  // The catalog item the MSP made before cspsync: price 15, cost 12.5; the billing data says 10.08 for both.
  const billed = product({ price: "10.08", cost: "10.08" });
  const msps = record({
    id: "3",
    label: "M365-STD",
    keys: ["M365-STD", "CFQ7TTC0LDPB:0001"],
    price: "15",
    cost: "12.5",
  });
  const planWith = (linkedPriceUpdates?: "never" | "confirm", tracked: TrackedProduct[] = []) =>
    planProductSync({
      vendor: "connectwise",
      products: [billed],
      records: [msps],
      tracked,
      ...(linkedPriceUpdates ? { linkedPriceUpdates } : {}),
    });

  it("by default keeps the sell price of a linked item, updates its cost, and says so", () => {
    for (const tracked of [
      [],
      [{ productKey: billed.key, psaRecordId: "3", owned: false, status: "synced" as const }],
    ]) {
      const plan = planWith(undefined, tracked);
      const item = plan.items[0]!;
      assert.deepEqual(
        [item.action, item.recordId, item.owned, item.changes, recordOrigin(item)],
        [tracked.length ? "update" : "link", "3", false, { cost: "10.08" }, "linked"],
      );
      assert.deepEqual(item.linkedPrice, { from: "15", to: "10.08", handling: "kept" });
      assert.doesNotMatch(item.reason, /price 15/);
      assert.match(
        item.notes.join(),
        /sell price 15 kept: cspsync linked this catalog item, it did not create it/,
      );
      assert.deepEqual(pendingPriceConfirmations(plan), []);
    }
  });

  it("a linked item whose only difference is the price has nothing to write", () => {
    const plan = planProductSync({
      vendor: "connectwise",
      products: [billed],
      records: [{ ...msps, cost: "10.08" }],
      tracked: [{ productKey: billed.key, psaRecordId: "3", owned: false, status: "synced" }],
    });
    assert.deepEqual(
      [plan.items[0]!.action, plan.items[0]!.changes, plan.items[0]!.reason],
      ["skip", {}, "sell price kept, cost up to date"],
    );
  });

  it("with linkedPriceUpdates confirm, lists the price change as needing confirmation", () => {
    const plan = planWith("confirm");
    const item = plan.items[0]!;
    assert.deepEqual([item.action, item.changes], ["link", { price: "10.08", cost: "10.08" }]);
    assert.deepEqual(item.linkedPrice, { from: "15", to: "10.08", handling: "needs-confirmation" });
    assert.match(item.reason, /price 15 → 10.08 \(needs confirmation\), cost 12.5 → 10.08/);
    assert.deepEqual(pendingPriceConfirmations(plan), [
      {
        key: "CFQ7TTC0LDPB:0001",
        kind: "catalog",
        name: "Microsoft 365 Business Standard",
        recordId: "3",
        recordLabel: "M365-STD",
        from: "15",
        to: "10.08",
        direction: "decrease",
      },
    ]);
    const raised = planProductSync({
      vendor: "connectwise",
      products: [product({ price: "18", cost: "15" })],
      records: [msps],
      tracked: [],
      linkedPriceUpdates: "confirm",
    });
    assert.equal(pendingPriceConfirmations(raised)[0]!.direction, "increase");
  });

  it("records cspsync created follow the billing data's price with either setting", () => {
    for (const setting of ["never", "confirm"] as const) {
      const plan = planWith(setting, [
        { productKey: billed.key, psaRecordId: "3", owned: true, status: "synced" },
      ]);
      const item = plan.items[0]!;
      assert.deepEqual(
        [item.action, item.changes, item.linkedPrice, recordOrigin(item)],
        ["update", { price: "10.08", cost: "10.08" }, undefined, "cspsync"],
      );
      assert.deepEqual(pendingPriceConfirmations(plan), []);
    }
    const created = planProductSync({ vendor: "connectwise", products: [billed], records: [], tracked: [] });
    assert.equal(recordOrigin(created.items[0]!), "cspsync");
  });

  it("Autotask Products linked for contract charges follow the same rule", () => {
    const annual = product({
      key: "P1Y:A:CFQ7TTC0LCHC:0002",
      productId: "CFQ7TTC0LCHC",
      skuId: "0002",
      variant: "P1Y:A",
      price: "264",
      cost: "250.8",
      contractCharges: true,
    });
    const linked = record({
      id: "8",
      label: "BP (Annual)",
      keys: ["CFQ7TTC0LCHC:0002:P1Y"],
      price: "300",
      cost: "240",
    });
    const plan = (linkedPriceUpdates: "never" | "confirm") =>
      planProductSync({
        vendor: "autotask",
        products: [annual],
        records: [],
        tracked: [],
        chargeProducts: { records: [linked], canCreate: true },
        linkedPriceUpdates,
      });
    const kept = plan("never").items.find((i) => i.kind === "charge-product")!;
    assert.deepEqual(
      [kept.action, kept.changes, kept.linkedPrice?.handling],
      ["link", { cost: "250.8" }, "kept"],
    );
    const confirm = plan("confirm");
    assert.deepEqual(
      pendingPriceConfirmations(confirm).map((c) => [c.kind, c.recordId, c.from, c.to, c.direction]),
      [["charge-product", "8", "300", "264", "decrease"]],
    );
  });
});
