import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mappedConnectWise } from "../support/connectwise-setup.ts";
import { runCli } from "../support/cli.ts";

describe("cspsync products (ConnectWise emulator)", () => {
  it("previews without writing, syncs, and finds nothing left to do the second time", async () => {
    const s = await mappedConnectWise("sqlite");
    try {
      const posts = () => s.emulator.server.requestLog().filter((r) => r.method === "POST").length;
      const run = (...args: string[]) =>
        runCli(["products", ...args, "CW", "--mode", "all", "--json", "--db", s.databaseUrl], { env: s.env });
      const before = posts();
      const preview = await run("preview");
      assert.ok(preview.code === 0 || preview.code === 1, preview.stderr);
      const planned = JSON.parse(preview.stdout) as { preview: { plan: { counts: Record<string, number> } } };
      assert.ok(
        planned.preview.plan.counts.create! > 0,
        "the sample's products are not in the demo catalog yet",
      );
      assert.equal(posts(), before, "preview writes nothing");
      const first = await run("sync");
      const synced = JSON.parse(first.stdout) as { result: { counts: Record<string, number> } };
      assert.equal(synced.result.counts.failed ?? 0, 0, first.stdout);
      assert.ok(posts() > before);
      const afterFirst = posts();
      const second = JSON.parse((await run("sync")).stdout) as { result: { counts: Record<string, number> } };
      assert.equal(second.result.counts.written ?? 0, 0);
      assert.equal(posts(), afterFirst, "a second sync writes nothing");
    } finally {
      await s.cleanup();
    }
  });
});

describe("cspsync products sync and the sell prices of linked catalog items", () => {
  it("lists linked price changes and writes nothing without --yes; --yes writes them", async () => {
    const s = await mappedConnectWise("sqlite");
    try {
      await s.app.connections.update(s.connectionId, {
        settings: { productSyncMode: "all", linkedPriceUpdates: "confirm" },
      });
      const std = () => s.emulator.data().tables.catalogItems.find((i) => i.identifier === "M365-STD")!;
      const writes = () => s.emulator.server.requestLog().filter((r) => r.method !== "GET").length;
      const run = (...args: string[]) =>
        runCli(["products", ...args, "CW", "--db", s.databaseUrl], { env: s.env });

      const preview = await run("preview");
      assert.match(preview.stdout, /Record/);
      assert.match(preview.stdout, /CFQ7TTC0LDPB:0001 .*M365-STD\s+linked \(yours\)/);
      assert.match(preview.stdout, /create +created by cspsync/);
      assert.match(preview.stdout, /price 15 → 10\.08 \(needs confirmation\)/);

      const before = writes();
      const refused = await run("sync");
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stdout, /Product sync for CW: nothing was written\./);
      assert.match(refused.stdout, /linkedPriceUpdates is "confirm"/);
      assert.match(refused.stdout, /CFQ7TTC0LDPB:0001\s+M365-STD\s+15\s+10\.08\s+decrease/);
      assert.match(refused.stdout, /Run the sync again with --yes to write these sell prices/);
      const json = await run("sync", "--json");
      assert.equal(json.code, 1);
      const body = JSON.parse(json.stdout) as {
        written: boolean;
        priceConfirmation: { changes: { key: string; from: string; to: string }[] };
      };
      assert.equal(body.written, false);
      assert.ok(body.priceConfirmation.changes.some((c) => c.key === "CFQ7TTC0LDPB:0001" && c.from === "15"));
      assert.equal(writes(), before, "nothing was sent to ConnectWise");
      assert.equal(String(std().price), "15");

      const confirmed = await run("sync", "--yes");
      assert.equal(confirmed.code, 0, confirmed.stdout + confirmed.stderr);
      assert.match(confirmed.stdout, /CFQ7TTC0LDPB:0001\s+link\s+written .*price 15 → 10\.08 \(confirmed\)/);
      assert.deepEqual([String(std().price), String(std().cost)], ["10.08", "10.08"]);
    } finally {
      await s.cleanup();
    }
  });
});
