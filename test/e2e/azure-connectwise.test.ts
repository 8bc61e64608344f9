import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { azureWriteKey } from "../../src/core/azure-plan.ts";
import { DIALECTS } from "../support/stores.ts";
import { CONTOSO } from "../support/recon-builder.ts";
import {
  azureConnectWise,
  importJulyAzure,
  JULY_AZURE,
  JUNE_AZURE,
  type AzureConnectWise,
} from "../support/azure-setup.ts";

/** The agreement's additions as cspsync's Azure sync should have left them. */
async function azureAdditions(s: AzureConnectWise) {
  const additions = await s.client.listAdditions(Number(s.monthlyAgreementId));
  return additions.map((a) => ({
    key: a.serialNumber,
    product: a.product?.id,
    quantity: a.quantity,
    cost: a.unitCost,
    price: a.unitPrice,
    from: a.effectiveDate?.slice(0, 10),
    to: a.cancelledDate?.slice(0, 10),
    description: a.description,
    invoiceDescription: a.invoiceDescription,
  }));
}

function expectedMonth(s: AzureConnectWise, month: typeof JUNE_AZURE | typeof JULY_AZURE) {
  return {
    key: azureWriteKey(s.connectionId, CONTOSO.id, month.month),
    product: s.catalogItemId,
    quantity: "1",
    cost: month.cost,
    price: month.price,
    from: month.first,
    to: month.last,
    description: month.description,
    invoiceDescription: month.description,
  };
}

const expectedJune = (s: AzureConnectWise) => expectedMonth(s, JUNE_AZURE);

for (const dialect of DIALECTS) {
  describe(`Azure Plan sync into ConnectWise (${dialect}; docs/sync-behaviour.md §8)`, () => {
    let s: AzureConnectWise;
    afterEach(async () => s?.cleanup());

    it("writes the month as one quantity-1 addition from the 1st to the last day; a second sync writes nothing", async () => {
      s = await azureConnectWise(dialect);
      const first = await (await s.sync()).run("manual");
      assert.deepEqual([first.status, first.written, first.errors], ["success", 1, 0]);
      assert.deepEqual(await azureAdditions(s), [expectedJune(s)]);
      const ledger = await s.app.store.db.selectFrom("psa_writes").selectAll().execute();
      assert.deepEqual(
        ledger.map((w) => [w.motion, w.event_key, w.status]),
        [["azure", "azure:2024-06", "confirmed"]],
      );

      s.emulator.server.clearRequestLog();
      const second = await (await s.sync()).run("manual");
      assert.deepEqual([second.status, second.written, second.items.length], ["no-change", 0, 0]);
      assert.deepEqual(await azureAdditions(s), [expectedJune(s)]);
      const writes = s.emulator.server.requestLog().filter((r) => r.method !== "GET");
      assert.deepEqual(writes, [], "the second sync sent no write to ConnectWise");
    });

    it("two consecutive months: July's usage is a second addition of its own; June's is left as it was", async () => {
      s = await azureConnectWise(dialect);
      assert.equal((await (await s.sync()).run("manual")).written, 1);
      await importJulyAzure(s.app);
      const july = await (await s.sync()).run("manual");
      assert.deepEqual([july.status, july.written, july.errors], ["success", 1, 0]);
      assert.deepEqual(await azureAdditions(s), [expectedJune(s), expectedMonth(s, JULY_AZURE)]);

      s.emulator.server.clearRequestLog();
      const again = await (await s.sync()).run("manual");
      assert.deepEqual([again.status, again.items.length], ["no-change", 0]);
      assert.deepEqual(
        s.emulator.server.requestLog().filter((r) => r.method !== "GET"),
        [],
      );
    });

    it("a dry run plans the month without writing anything", async () => {
      s = await azureConnectWise(dialect);
      const [planned] = await (await s.sync()).plan({}, { resolveProducts: true });
      assert.equal(planned!.problem, null);
      assert.deepEqual(
        planned!.plan.lines.map((l) => [l.description, l.unitCost, l.unitPrice]),
        [[JUNE_AZURE.description, JUNE_AZURE.cost, JUNE_AZURE.price]],
      );
      assert.deepEqual(planned!.product, {
        ok: true,
        productRef: String(s.catalogItemId),
        label: "AZURE-PLAN",
      });
      assert.deepEqual(await azureAdditions(s), []);
    });

    it("a lost response after ConnectWise committed the addition: looked up by key, written exactly once", async () => {
      s = await azureConnectWise(dialect);
      s.emulator.server.addFaults([{ kind: "lose-response", method: "POST", path: "/additions", nth: [1] }]);
      const run = await (await s.sync()).run("manual");
      assert.deepEqual([run.status, run.written, run.errors], ["success", 1, 0]);
      assert.ok(
        s.emulator.server.faults().every((f) => f.fired > 0),
        "the response was lost",
      );
      assert.deepEqual(await azureAdditions(s), [expectedJune(s)]);
      const again = await (await s.sync()).run("manual");
      assert.equal(again.written, 0);
      assert.deepEqual(await azureAdditions(s), [expectedJune(s)]);
    });
  });
}
