import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { monthlyConnectWise } from "../support/monthly-setup.ts";
import { runCli } from "../support/cli.ts";
import { MONTHLY_INVOICES } from "../support/monthly-data.ts";

describe("cspsync sync --motion seat-monthly (ConnectWise emulator; docs/sync-behaviour.md §7)", () => {
  it("plans without writing, writes June's additions, and finds nothing left the second time", async () => {
    const s = await monthlyConnectWise("sqlite");
    try {
      const writes = () => s.emulator.server.requestLog().filter((r) => r.method !== "GET").length;
      const sync = (...args: string[]) =>
        runCli(["sync", "--motion", "seat-monthly", ...args, "--db", s.databaseUrl], { env: s.env });
      const before = writes();

      const plan = await sync("--dry-run");
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, new RegExp(`\\(invoices ${MONTHLY_INVOICES.june}\\)`));
      assert.equal(plan.stdout.match(/WRITE cspsync-[0-9a-f]{24} {2}create-addition/g)?.length, 5);
      assert.equal(writes(), before, "a dry run writes nothing");

      const first = await sync();
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /success — 5 written/);
      assert.equal((await s.client.listAdditions(s.agreementId)).length, 5);

      const second = await sync("CW", "--json");
      assert.equal(second.code, 0, second.stderr);
      const summary = JSON.parse(second.stdout) as { status: string; written: number };
      assert.deepEqual([summary.status, summary.written], ["no-change", 0]);
    } finally {
      await s.cleanup();
    }
  });
});
