import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { azureWriteKey } from "../../src/core/azure-plan.ts";
import { azureConnectWise, JUNE_AZURE } from "../support/azure-setup.ts";
import { runCli } from "../support/cli.ts";
import { CONTOSO } from "../support/recon-builder.ts";

describe("cspsync sync --motion azure (ConnectWise emulator; docs/sync-behaviour.md §8)", () => {
  it("plans without writing, writes the June addition once, and finds nothing left the second time", async () => {
    const s = await azureConnectWise("sqlite");
    try {
      const key = azureWriteKey(s.connectionId, CONTOSO.id, JUNE_AZURE.month);
      const writes = () => s.emulator.server.requestLog().filter((r) => r.method !== "GET").length;
      // No connection named: every connection with an enabled Azure Plan mapping, here the one "CW".
      const sync = (...args: string[]) =>
        runCli(["sync", "--motion", "azure", ...args, "--db", s.databaseUrl], { env: s.env });
      const before = writes();

      const plan = await sync("--dry-run");
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, new RegExp(`WRITE ${key}  ${JUNE_AZURE.month}  cost ${JUNE_AZURE.cost}`));
      assert.equal(writes(), before, "a dry run writes nothing");
      assert.deepEqual(await s.client.listAdditions(Number(s.monthlyAgreementId)), []);

      const first = await sync();
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /success — 1 written/);
      const additions = await s.client.listAdditions(Number(s.monthlyAgreementId));
      assert.deepEqual(
        additions.map((a) => [a.serialNumber, a.unitCost, a.description]),
        [[key, JUNE_AZURE.cost, JUNE_AZURE.description]],
      );

      const second = await sync("CW", "--json");
      assert.equal(second.code, 0, second.stderr);
      const summary = JSON.parse(second.stdout) as { status: string; written: number };
      assert.deepEqual([summary.status, summary.written], ["no-change", 0]);
      assert.equal((await s.client.listAdditions(Number(s.monthlyAgreementId))).length, 1);
    } finally {
      await s.cleanup();
    }
  });
});
