import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProductSyncSetupError } from "../../src/services/product-sync.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedAutotask, type MappedAutotask } from "../support/autotask-setup.ts";
import { autotaskProductSync, billingCodeId } from "../support/product-setup.ts";

function serviceWrites(setup: MappedAutotask): string[] {
  return setup.emulator.server
    .requestLog()
    .filter((r) => r.method !== "GET" && !/\/query/.test(r.path))
    .map((r) => `${r.method} ${r.path}`);
}

// Services only: the Products for contract charges have their own test (products-autotask-charges.test.ts).
function actionCounts(items: ReadonlyArray<{ kind: string; action: string }>): Record<string, number> {
  const counts: Record<string, number> = { create: 0, link: 0, update: 0, skip: 0, conflict: 0 };
  for (const item of items) if (item.kind === "catalog") counts[item.action]! += 1;
  return counts;
}
function statusCounts(items: ReadonlyArray<{ kind: string; status: string }>): Record<string, number> {
  const counts: Record<string, number> = { written: 0, unchanged: 0, conflict: 0, failed: 0 };
  for (const item of items) if (item.kind === "catalog") counts[item.status]! += 1;
  return counts;
}

const services = (setup: MappedAutotask) => setup.emulator.state.list("Services");
const named = (setup: MappedAutotask, name: string) => services(setup).find((s) => s.name === name);

// The June sample's products; the monthly Business Standard name is taken by a service someone else made.
const CONFLICT_NAME = "PC_CFQ7TTC0LDPB:0001";
const CREATED: Array<[string, string, string, string]> = [
  ["PC_CFQ7TTC0L3PB:0001", "0", "0", "Monthly"],
  ["PC_CFQ7TTC0LFLZ:0002", "28.5", "28.5", "Monthly"],
  ["PC_CFQ7TTC0LH18:0001", "6", "6", "Monthly"],
  ["PC_DG7GMGF0D7FV:0002", "972.5", "972.5", "Monthly"],
  ["PC_P1Y:A:CFQ7TTC0HD33:0002", "180", "180", "Yearly"],
  ["PC_P1Y:A:CFQ7TTC0LCHC:0002", "264", "264", "Yearly"],
  ["PC_P1Y:A:CFQ7TTC0LFLX:0002", "250", "250", "Yearly"],
  ["PC_P1Y:A:CFQ7TTC0LH16:0001", "48", "48", "Yearly"],
  ["PC_P1Y:M:CFQ7TTC0LH18:0001", "6", "6", "Monthly"],
];

for (const dialect of DIALECTS) {
  describe(`Autotask product (service) sync on ${dialect} (docs/sync-behaviour.md §4.3, §12.2)`, () => {
    let setup: MappedAutotask;
    let settings: Record<string, unknown>;
    let seeded: number;
    let conflictId: number;
    before(async () => {
      setup = await mappedAutotask(dialect);
      settings = { serviceBillingCodeId: await billingCodeId(setup, "Microsoft CSP Licensing") };
      conflictId = await setup.client.services.create({
        name: CONFLICT_NAME,
        billingCodeID: await billingCodeId(setup, "Recurring Contract Services"),
        periodType: 2,
        unitPrice: "99",
        unitCost: "1",
      });
      seeded = services(setup).length;
      setup.emulator.server.clearRequestLog();
    });
    after(async () => setup.cleanup());

    it("refuses a billing code that is not a Recurring Contract Service code, naming the valid ones", async () => {
      const sync = await autotaskProductSync(setup, {
        serviceBillingCodeId: await billingCodeId(setup, "Software Licences"),
      });
      await assert.rejects(sync.preview("all"), (error: Error) => {
        assert.ok(error instanceof ProductSyncSetupError);
        assert.match(error.message, /"Software Licences"\) is not a Recurring Contract Service code/);
        assert.match(error.message, /Microsoft CSP Licensing \(\d+\)/);
        assert.doesNotMatch(error.message, /Legacy Hosting/);
        return true;
      });
    });

    it("previews every service to create and reports the name collision with the fix", async () => {
      const preview = await (await autotaskProductSync(setup, settings)).preview("all");
      const conflict = preview.plan.items.find((i) => i.key === "CFQ7TTC0LDPB:0001")!;
      assert.equal(conflict.action, "conflict");
      assert.match(conflict.reason, /Violation of UNIQUE KEY constraint 'IX_service'/);
      assert.match(conflict.reason, new RegExp(`Rename or remove service ${conflictId} in Autotask`));
      assert.deepEqual(actionCounts(preview.plan.items), {
        create: 9,
        link: 0,
        update: 0,
        skip: 2,
        conflict: 1,
      });
      assert.deepEqual(serviceWrites(setup), []);
    });

    it("sync creates exactly the expected services and leaves the conflicting one alone", async () => {
      const result = await (await autotaskProductSync(setup, settings)).sync("all");
      assert.deepEqual(statusCounts(result.items), { written: 9, unchanged: 2, conflict: 1, failed: 0 });
      assert.equal(services(setup).length, seeded + CREATED.length);
      const code = await billingCodeId(setup, "Microsoft CSP Licensing");
      for (const [name, price, cost, period] of CREATED) {
        const service = named(setup, name)!;
        assert.ok(service, `service ${name} exists`);
        assert.deepEqual(
          [String(service.unitPrice), String(service.unitCost), service.billingCodeID, service.isActive],
          [price, cost, code, true],
        );
        assert.equal(service.periodType, period === "Yearly" ? 5 : 2);
      }
      const untouched = setup.emulator.state.get("Services", conflictId)!;
      assert.deepEqual([untouched.name, String(untouched.unitPrice)], [CONFLICT_NAME, "99"]);
    });

    it("a second sync writes nothing", async () => {
      setup.emulator.server.clearRequestLog();
      const again = await (await autotaskProductSync(setup, settings)).sync("all");
      assert.deepEqual(statusCounts(again.items), { written: 0, unchanged: 11, conflict: 1, failed: 0 });
      assert.deepEqual(serviceWrites(setup), []);
    });

    it("follows a renamed service by id, keeps a deactivated one inactive, and recreates a deleted one", async () => {
      const renamed = named(setup, "PC_CFQ7TTC0LFLZ:0002")!;
      await setup.client.services.update(renamed.id, { name: "M365 E5 (our name)", unitPrice: "30" });
      const deactivated = named(setup, "PC_P1Y:A:CFQ7TTC0HD33:0002")!;
      await setup.client.services.update(deactivated.id, { isActive: false, unitCost: "170" });
      const deleted = named(setup, "PC_P1Y:M:CFQ7TTC0LH18:0001")!;
      setup.emulator.state.store.delete("Services", deleted.id);

      const result = await (await autotaskProductSync(setup, settings)).sync("all");
      const outcome = (key: string) => result.items.find((i) => i.key === key)!;
      assert.deepEqual(
        [outcome("CFQ7TTC0LFLZ:0002").action, outcome("CFQ7TTC0LFLZ:0002").recordId],
        ["update", String(renamed.id)],
      );
      const afterRename = setup.emulator.state.get("Services", renamed.id)!;
      assert.deepEqual([afterRename.name, String(afterRename.unitPrice)], ["M365 E5 (our name)", "28.5"]);
      const afterDeactivate = setup.emulator.state.get("Services", deactivated.id)!;
      assert.deepEqual([afterDeactivate.isActive, String(afterDeactivate.unitCost)], [false, "180"]);
      assert.equal(outcome("P1Y:M:CFQ7TTC0LH18:0001").action, "create");
      const recreated = named(setup, "PC_P1Y:M:CFQ7TTC0LH18:0001")!;
      assert.notEqual(recreated.id, deleted.id);
      assert.equal(recreated.isActive, true);
    });
  });
}
