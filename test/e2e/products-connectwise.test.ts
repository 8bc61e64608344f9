import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCatalogTarget, productSettingsFrom, ProductSync } from "../../src/services/product-sync.ts";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";

async function productSync(setup: MappedConnectWise): Promise<ProductSync> {
  const details = await setup.app.connections.details(setup.connectionId);
  const settings = await productSettingsFrom("connectwise", {}, { productSyncMode: "all" });
  const target = await createCatalogTarget(details, settings, {
    allowedHosts: [hostOf(setup.emulator.url)],
    transport: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 },
  });
  return new ProductSync({
    store: setup.app.store,
    organizationId: setup.app.organizationId,
    connectionId: setup.connectionId,
    target,
  });
}

function writes(setup: MappedConnectWise): string[] {
  return setup.emulator.server
    .requestLog()
    .filter((r) => r.method !== "GET")
    .map((r) => `${r.method} ${r.path}`);
}

type Row = Record<string, unknown>;
const catalog = (setup: MappedConnectWise): Row[] => setup.emulator.data().tables.catalogItems;
const byIdentifier = (setup: MappedConnectWise, identifier: string): Row | undefined =>
  catalog(setup).find((r) => r.identifier === identifier);

// The June sample's products (samples/nce-reconciliation-2024-06.csv) against the demo catalog.
const EXPECTED_PLAN = [
  ["CFQ7TTC0L3PB:0001", "link", "PBI-PRO"],
  ["CFQ7TTC0LDPB:0001", "link", "M365-STD"],
  ["CFQ7TTC0LFLZ:0002", "link", "M365-E5"],
  ["CFQ7TTC0LH18:0001", "link", "M365-BASIC"],
  ["DG7GMGF0D7FV:0002", "create", null],
  ["DZH318Z0BNZ5:006G", "skip", null],
  ["DZH318Z0BPS6:0070", "skip", null],
  ["P1Y:A:CFQ7TTC0HD33:0002", "create", null],
  ["P1Y:A:CFQ7TTC0LCHC:0002", "link", "M365-PREM-ANNUAL"],
  ["P1Y:A:CFQ7TTC0LFLX:0002", "link", "M365-E3-ANNUAL"],
  ["P1Y:A:CFQ7TTC0LH16:0001", "create", null],
  ["P1Y:M:CFQ7TTC0LH18:0001", "create", null],
];
const CREATED: Array<[string, string, string]> = [
  ["DG7GMGF0D7FV:0002", "972.5", "972.5"],
  ["P1Y:A:CFQ7TTC0HD33:0002", "180", "180"],
  ["P1Y:A:CFQ7TTC0LH16:0001", "48", "48"],
  ["P1Y:M:CFQ7TTC0LH18:0001", "6", "6"],
];

for (const dialect of DIALECTS) {
  describe(`ConnectWise product catalog sync on ${dialect} (docs/sync-behaviour.md §4.1, §4.2)`, () => {
    let setup: MappedConnectWise;
    let seededCount: number;
    before(async () => {
      setup = await mappedConnectWise(dialect);
      seededCount = catalog(setup).length;
      setup.emulator.server.clearRequestLog();
    });
    after(async () => setup.cleanup());

    it("previews create / link / skip per product and writes nothing", async () => {
      const preview = await (await productSync(setup)).preview("all");
      assert.deepEqual(
        preview.plan.items.map((i) => [i.key, i.action, i.recordLabel]),
        EXPECTED_PLAN,
      );
      assert.deepEqual(preview.plan.counts, { create: 4, link: 6, update: 0, skip: 2, conflict: 0 });
      const linkStd = preview.plan.items.find((i) => i.key === "CFQ7TTC0LDPB:0001")!;
      // M365-STD is the MSP's item (price 15, cost 12.5): only its cost follows the billing data.
      assert.deepEqual(linkStd.changes, { cost: "10.08" });
      assert.deepEqual(linkStd.linkedPrice, { from: "15", to: "10.08", handling: "kept" });
      assert.deepEqual(writes(setup), []);
      assert.equal(catalog(setup).length, seededCount);
    });

    it("sync creates the missing items with the configured defaults; linked items keep their sell price", async () => {
      const result = await (await productSync(setup)).sync("all");
      assert.deepEqual(result.counts, { written: 10, unchanged: 2, conflict: 0, failed: 0 });
      assert.equal(catalog(setup).length, seededCount + CREATED.length);
      const data = setup.emulator.data().tables;
      const m365 = data.productSubcategories.find((s) => s.name === "Microsoft 365")!;
      const licensing = data.productTypes.find((t) => t.name === "Software Licensing")!;
      for (const [key, price, cost] of CREATED) {
        const item = byIdentifier(setup, key)!;
        assert.ok(item, `catalog item ${key} exists`);
        assert.equal(item.vendorSku, key);
        assert.equal(String(item.price), price);
        assert.equal(String(item.cost), cost);
        assert.equal((item.subcategory as Row).id, m365.id);
        assert.equal((item.type as Row).id, licensing.id);
        assert.equal(item.taxableFlag, false);
      }
      assert.equal(
        byIdentifier(setup, "P1Y:A:CFQ7TTC0LH16:0001")!.description,
        "Exchange Online (Plan 1) (annual)",
      );
      // Linked items keep their identifier, vendor SKU and sell price; only cost follows the data.
      const std = byIdentifier(setup, "M365-STD")!;
      assert.deepEqual(
        [std.vendorSku, String(std.price), String(std.cost)],
        ["CFQ7TTC0LDPB:0001", "15", "10.08"],
      );
      const premium = byIdentifier(setup, "M365-PREM-ANNUAL")!;
      assert.deepEqual([String(premium.price), String(premium.cost)], ["316.8", "264"]);
      // The trial-only product never overwrites a catalog price.
      assert.equal(String(byIdentifier(setup, "PBI-PRO")!.price), "16.8");
    });

    it("a second sync has nothing to do and sends no writes", async () => {
      setup.emulator.server.clearRequestLog();
      const again = await (await productSync(setup)).sync("all");
      assert.deepEqual(again.counts, { written: 0, unchanged: 12, conflict: 0, failed: 0 });
      assert.deepEqual(writes(setup), []);
    });

    it("recreates an item it created that was deleted, and never deletes anything", async () => {
      const items = catalog(setup);
      const index = items.findIndex((r) => r.identifier === "P1Y:A:CFQ7TTC0LH16:0001");
      items.splice(index, 1);
      const before = items.length;
      const result = await (await productSync(setup)).sync("all");
      const recreated = result.items.find((i) => i.key === "P1Y:A:CFQ7TTC0LH16:0001")!;
      assert.deepEqual([recreated.action, recreated.status], ["create", "written"]);
      assert.match(recreated.notes.join(), /no longer exists in ConnectWise/);
      assert.equal(catalog(setup).length, before + 1);
      assert.equal(String(byIdentifier(setup, "P1Y:A:CFQ7TTC0LH16:0001")!.price), "48");
    });
  });
}
