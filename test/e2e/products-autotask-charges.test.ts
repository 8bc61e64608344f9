import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProductSyncSetupError } from "../../src/services/product-sync.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedAutotask, type MappedAutotask } from "../support/autotask-setup.ts";
import { autotaskProductSync, billingCodeId } from "../support/product-setup.ts";

/** Writes to Autotask Products (queries excluded). */
function productWrites(setup: MappedAutotask): string[] {
  return setup.emulator.server
    .requestLog()
    .filter((r) => r.method !== "GET" && /\/Products/i.test(r.path) && !/\/query/i.test(r.path))
    .map((r) => `${r.method} ${r.path}`);
}

const products = (setup: MappedAutotask) => setup.emulator.state.list("Products");
const bySku = (setup: MappedAutotask, sku: string) => products(setup).filter((p) => p.sku === sku);

const chargeItems = <T extends { kind: string }>(items: readonly T[]) =>
  items.filter((i) => i.kind === "charge-product");

for (const dialect of DIALECTS) {
  describe(`Autotask Products for contract charges in the product sync on ${dialect}`, () => {
    let setup: MappedAutotask;
    let settings: Record<string, unknown>;
    let softwareCode: number;
    let seededBp: number;
    let seededE3: number;
    before(async () => {
      setup = await mappedAutotask(dialect);
      softwareCode = await billingCodeId(setup, "Software Licences");
      settings = {
        serviceBillingCodeId: await billingCodeId(setup, "Microsoft CSP Licensing"),
        productBillingCodeId: softwareCode,
      };
      seededBp = bySku(setup, "CFQ7TTC0LCHC:0002:P1Y")[0]!.id;
      seededE3 = bySku(setup, "CFQ7TTC0LFLX:0002:P1Y")[0]!.id;
      setup.emulator.server.clearRequestLog();
    });
    after(async () => setup.cleanup());

    it("refuses a System billing code for products, naming the setting and the usable codes", async () => {
      const sync = await autotaskProductSync(setup, {
        ...settings,
        productBillingCodeId: await billingCodeId(setup, "Block Hour Purchase"),
      });
      await assert.rejects(sync.preview("all"), (error: Error) => {
        assert.ok(error instanceof ProductSyncSetupError);
        assert.match(
          error.message,
          /^productBillingCodeId: billing code \d+ \("Block Hour Purchase"\) is a System code/,
        );
        assert.match(error.message, new RegExp(`Software Licences \\(${softwareCode}\\)`));
        assert.doesNotMatch(error.message, /Retainer Purchase|Legacy Hosting/);
        return true;
      });
    });

    it("without a product billing code, links what exists and says how to create the rest", async () => {
      const preview = await (
        await autotaskProductSync(setup, { serviceBillingCodeId: settings.serviceBillingCodeId })
      ).preview("all");
      const items = chargeItems(preview.plan.items);
      assert.deepEqual(
        items.map((i) => [i.key, i.action]),
        [
          ["product:DG7GMGF0D7FV:0002", "skip"],
          ["product:P1Y:A:CFQ7TTC0HD33:0002", "skip"],
          ["product:P1Y:A:CFQ7TTC0LCHC:0002", "link"],
          ["product:P1Y:A:CFQ7TTC0LFLX:0002", "link"],
          ["product:P1Y:A:CFQ7TTC0LH16:0001", "skip"],
        ],
      );
      assert.match(items[0]!.reason, /set the product billing code \(productBillingCodeId\)/);
    });

    it("previews create / link per product, beside the services, and writes nothing", async () => {
      const preview = await (await autotaskProductSync(setup, settings)).preview("all");
      const items = chargeItems(preview.plan.items);
      assert.deepEqual(
        items.map((i) => [i.key, i.action, i.name, i.recordId, i.changes]),
        [
          [
            "product:DG7GMGF0D7FV:0002",
            "create",
            "Windows Server 2022 Standard - 16 Core License Pack",
            null,
            { price: "972.5", cost: "972.5" },
          ],
          ["product:P1Y:A:CFQ7TTC0HD33:0002", "create", "Visio Plan 2", null, { price: "180", cost: "180" }],
          [
            "product:P1Y:A:CFQ7TTC0LCHC:0002",
            "link",
            "Microsoft 365 Business Premium",
            String(seededBp),
            // The MSP's product: its sell price (414.6) stays, its cost follows the billing data.
            { cost: "264" },
          ],
          ["product:P1Y:A:CFQ7TTC0LFLX:0002", "link", "Microsoft 365 E3", String(seededE3), { cost: "250" }],
          [
            "product:P1Y:A:CFQ7TTC0LH16:0001",
            "create",
            "Exchange Online (Plan 1)",
            null,
            { price: "48", cost: "48" },
          ],
        ],
      );
      assert.match(
        items[2]!.reason,
        /existing product \d+ \("Microsoft 365 Business Premium \(Annual\)"\) carries the SKU/,
      );
      assert.ok(preview.plan.items.some((i) => i.kind === "catalog" && i.key === "P1Y:A:CFQ7TTC0LCHC:0002"));
      assert.deepEqual(productWrites(setup), []);
    });

    it("sync creates the products with the SKU the annual sync looks for first, and links the existing one (its price kept)", async () => {
      const before = products(setup).length;
      const result = await (await autotaskProductSync(setup, settings)).sync("all");
      const items = chargeItems(result.items);
      assert.deepEqual(
        items.map((i) => i.status),
        ["written", "written", "written", "written", "written"],
        JSON.stringify(items),
      );
      assert.equal(products(setup).length, before + 3);
      const expected: Array<[string, string, string, number]> = [
        ["DG7GMGF0D7FV:0002", "Windows Server 2022 Standard - 16 Core License Pack", "972.5", 1],
        ["P1Y:A:CFQ7TTC0HD33:0002", "Visio Plan 2", "180", 5],
        ["P1Y:A:CFQ7TTC0LH16:0001", "Exchange Online (Plan 1)", "48", 5],
      ];
      for (const [sku, name, price, periodType] of expected) {
        const [created, ...others] = bySku(setup, sku);
        assert.equal(others.length, 0, `one product with SKU ${sku}`);
        assert.deepEqual(
          [created!.name, created!.productBillingCodeID, created!.isActive, created!.isSerialized],
          [name, softwareCode, true, false],
        );
        assert.deepEqual(
          [String(created!.unitPrice), String(created!.unitCost), created!.periodType],
          [price, price, periodType],
        );
      }
      const linked = setup.emulator.state.get("Products", seededBp)!;
      assert.deepEqual(
        [linked.name, linked.sku, String(linked.unitPrice), String(linked.unitCost)],
        ["Microsoft 365 Business Premium (Annual)", "CFQ7TTC0LCHC:0002:P1Y", "414.6", "264"],
      );
      const e3 = setup.emulator.state.get("Products", seededE3)!;
      assert.deepEqual(
        [e3.name, e3.sku, String(e3.unitPrice), String(e3.unitCost)],
        ["Microsoft 365 E3 (Annual)", "CFQ7TTC0LFLX:0002:P1Y", "604.8", "250"],
      );
    });

    it("the annual sync's contract charges now use these products, not the billing code fallback", async () => {
      const run = await (await setup.app.annualSync(setup.connectionId)).run("manual");
      assert.deepEqual([run.status, run.written, run.errors], ["success", 8, 0]);
      const charges = await setup.client.contractCharges.queryAll([
        setup.client.contractCharges.where.eq("contractID", Number(setup.contractId)),
      ]);
      const written = charges.filter((c) => c.internalPurchaseOrderNumber?.startsWith("cspsync-"));
      assert.equal(written.length, 8);
      const skuOf = new Map(products(setup).map((p) => [p.id, p.sku]));
      assert.deepEqual(written.map((c) => [c.billingCodeID ?? null, skuOf.get(c.productID!)]).sort(), [
        [null, "CFQ7TTC0LCHC:0002:P1Y"],
        [null, "CFQ7TTC0LCHC:0002:P1Y"],
        [null, "CFQ7TTC0LCHC:0002:P1Y"],
        [null, "CFQ7TTC0LFLX:0002:P1Y"],
        [null, "DG7GMGF0D7FV:0002"],
        [null, "P1Y:A:CFQ7TTC0HD33:0002"],
        [null, "P1Y:A:CFQ7TTC0LH16:0001"],
        [null, "P1Y:A:CFQ7TTC0LH16:0001"],
      ]);
    });

    it("a second product sync writes nothing", async () => {
      setup.emulator.server.clearRequestLog();
      const again = await (await autotaskProductSync(setup, settings)).sync("all");
      assert.deepEqual(
        chargeItems(again.items).map((i) => [i.action, i.status]),
        Array(5).fill(["skip", "unchanged"]),
      );
      assert.deepEqual(productWrites(setup), []);
    });

    it("recreates a deleted product, leaves a deactivated one inactive, and follows a renamed one by id", async () => {
      const [deleted] = bySku(setup, "P1Y:A:CFQ7TTC0HD33:0002");
      setup.emulator.state.store.delete("Products", deleted!.id);
      const [deactivated] = bySku(setup, "P1Y:A:CFQ7TTC0LH16:0001");
      await setup.client.products.update(deactivated!.id, { isActive: false, unitCost: "40" });
      const [renamed] = bySku(setup, "DG7GMGF0D7FV:0002");
      await setup.client.products.update(renamed!.id, { name: "Windows Server 16 cores (our name)" });

      const result = await (await autotaskProductSync(setup, settings)).sync("all");
      const outcome = (key: string) => result.items.find((i) => i.key === key)!;
      const recreated = outcome("product:P1Y:A:CFQ7TTC0HD33:0002");
      assert.deepEqual([recreated.action, recreated.status], ["create", "written"]);
      assert.match(
        recreated.notes.join(" "),
        new RegExp(`product ${deleted!.id} that cspsync created no longer exists`),
      );
      const [again] = bySku(setup, "P1Y:A:CFQ7TTC0HD33:0002");
      assert.notEqual(again!.id, deleted!.id);
      assert.equal(again!.isActive, true);

      assert.deepEqual(
        [
          outcome("product:P1Y:A:CFQ7TTC0LH16:0001").action,
          outcome("product:P1Y:A:CFQ7TTC0LH16:0001").recordId,
        ],
        ["update", String(deactivated!.id)],
      );
      const afterDeactivate = setup.emulator.state.get("Products", deactivated!.id)!;
      assert.deepEqual([afterDeactivate.isActive, String(afterDeactivate.unitCost)], [false, "48"]);

      assert.deepEqual(
        [outcome("product:DG7GMGF0D7FV:0002").action, outcome("product:DG7GMGF0D7FV:0002").recordId],
        ["skip", String(renamed!.id)],
      );
      assert.equal(
        setup.emulator.state.get("Products", renamed!.id)!.name,
        "Windows Server 16 cores (our name)",
      );
    });
  });
}
