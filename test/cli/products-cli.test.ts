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
