import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { azureWriteKey } from "../../src/core/azure-plan.ts";
import { DIALECTS } from "../support/stores.ts";
import { CONTOSO } from "../support/recon-builder.ts";
import {
  azureAutotask,
  importJulyAzure,
  JULY_AZURE,
  JUNE_AZURE,
  type AzureAutotask,
} from "../support/azure-setup.ts";

/**
 * The contract's services and their billing periods around June, as Autotask shows them
 * (docs/autotask.md §8.4, §8.6).
 */
async function azureState(s: AzureAutotask) {
  const { client } = s;
  const services = await client.contractServices.queryAll([
    client.contractServices.where.eq("contractID", s.recurringContractId),
  ]);
  const result = [];
  for (const service of services) {
    const units = await client.contractServiceUnits.queryAll([
      client.contractServiceUnits.where.eq("contractServiceID", service.id),
    ]);
    const around = units
      .filter((u) => u.startDate.slice(0, 10) >= "2024-05-01" && u.startDate.slice(0, 10) <= "2024-08-01")
      .sort((a, b) => a.startDate.localeCompare(b.startDate))
      .map((u) => [u.startDate.slice(0, 10), u.units, u.price, u.cost]);
    result.push({
      serviceID: service.serviceID,
      key: service.internalDescription,
      invoiceDescription: service.invoiceDescription,
      periods: around,
    });
  }
  return result;
}

function expectedJune(s: AzureAutotask) {
  return [
    {
      serviceID: s.azureServiceId,
      key: azureWriteKey(s.connectionId, CONTOSO.id, JUNE_AZURE.month),
      invoiceDescription: JUNE_AZURE.description,
      periods: [
        ["2024-05-01", 0, JUNE_AZURE.price, JUNE_AZURE.cost],
        [JUNE_AZURE.first, 1, JUNE_AZURE.price, JUNE_AZURE.cost],
        // Set back to zero for the following month (docs/sync-behaviour.md §8).
        [JUNE_AZURE.next, 0, "0", "0"],
        ["2024-08-01", 0, "0", "0"],
      ],
    },
  ];
}

for (const dialect of DIALECTS) {
  describe(`Azure Plan sync into Autotask (${dialect}; docs/sync-behaviour.md §8)`, () => {
    let s: AzureAutotask;
    afterEach(async () => s?.cleanup());

    it("bills the month on a quantity-1 contract service, zeroed from the next month; a second sync writes nothing", async () => {
      s = await azureAutotask(dialect);
      const first = await (await s.sync()).run("manual");
      assert.deepEqual(
        [first.status, first.written, first.errors],
        ["success", 1, 0],
        JSON.stringify(first.items.map((i) => i.message)),
      );
      assert.deepEqual(await azureState(s), expectedJune(s));

      s.emulator.server.clearRequestLog();
      const second = await (await s.sync()).run("manual");
      assert.deepEqual([second.status, second.written, second.items.length], ["no-change", 0, 0]);
      assert.deepEqual(await azureState(s), expectedJune(s));
      const writes = s.emulator.server.requestLog().filter((r) => r.write);
      assert.deepEqual(writes, [], "the second sync wrote nothing to Autotask");
    });

    it("two consecutive months: July is billed on a second contract service, zeroed from August; June unchanged", async () => {
      s = await azureAutotask(dialect);
      assert.equal((await (await s.sync()).run("manual")).written, 1);
      await importJulyAzure(s.app);
      const july = await (await s.sync()).run("manual");
      assert.deepEqual([july.status, july.written, july.errors], ["success", 1, 0]);
      assert.deepEqual(await azureState(s), [
        ...expectedJune(s),
        {
          serviceID: s.azureServiceId,
          key: azureWriteKey(s.connectionId, CONTOSO.id, JULY_AZURE.month),
          invoiceDescription: JULY_AZURE.description,
          periods: [
            ["2024-05-01", 0, JULY_AZURE.price, JULY_AZURE.cost],
            ["2024-06-01", 0, JULY_AZURE.price, JULY_AZURE.cost],
            [JULY_AZURE.first, 1, JULY_AZURE.price, JULY_AZURE.cost],
            [JULY_AZURE.next, 0, "0", "0"],
          ],
        },
      ]);

      s.emulator.server.clearRequestLog();
      const again = await (await s.sync()).run("manual");
      assert.deepEqual([again.status, again.items.length], ["no-change", 0]);
      assert.deepEqual(
        s.emulator.server.requestLog().filter((r) => r.write),
        [],
      );
    });

    for (const [step, path] of [
      ["contract service create", "re:/Contracts/\\d+/Services$/i"],
      ["adjustment", "re:/ContractServiceAdjustments$/i"],
    ] as const) {
      it(`a lost response to the ${step}: Autotask's state is read back, every step happens exactly once`, async () => {
        s = await azureAutotask(dialect);
        const [fault] = s.emulator.addFaults([{ kind: "lose-response", method: "POST", path, nth: [1] }]);
        const run = await (await s.sync()).run("manual");
        assert.deepEqual(
          [run.status, run.written, run.errors],
          ["success", 1, 0],
          JSON.stringify(run.items.map((i) => i.message)),
        );
        assert.ok(
          s.emulator.server.faults().some((f) => f.id === fault!.id && f.fired > 0),
          "the response was lost",
        );
        const lost = s.emulator.server.requestLog().filter((r) => r.status === "lost");
        assert.deepEqual(
          lost.map((r) => r.write),
          [true],
          "exactly one committed write lost its response",
        );
        assert.deepEqual(await azureState(s), expectedJune(s));
        const again = await (await s.sync()).run("manual");
        assert.equal(again.written, 0);
        assert.deepEqual(await azureState(s), expectedJune(s));
      });
    }
  });
}
