import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../support/stores.ts";
import { runCli } from "../support/cli.ts";
import { hostOf } from "../support/app.ts";
import { startEmulator } from "./support.ts";

/** `cspsync source add|edit|list|test|remove`, `cspsync fetch` and `cspsync runs`, as a user runs them. */
for (const dialect of DIALECTS) {
  describe(`cspsync source and fetch (${dialect})`, () => {
    let pc: PartnerCenterEmulator;
    let database: TestDatabase;
    let env: NodeJS.ProcessEnv;
    let dataDir: string;
    const all: string[] = [];
    const cli = async (...args: string[]) => {
      const result = await runCli([...args], { env });
      all.push(result.stdout, result.stderr);
      return result;
    };

    before(async () => {
      pc = await startEmulator();
      database = await createTestDatabase(dialect);
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-source-cli-"));
      env = {
        CSPSYNC_DATABASE_URL: database.url,
        CSPSYNC_DATA_DIR: dataDir,
        CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
        CSPSYNC_MICROSOFT_ALLOWED_HOSTS: hostOf(pc.url),
        CSPSYNC_LOG_LEVEL: "error",
        OLD_SECRET: "an old secret that Entra refuses",
        PC_SECRET: pc.clientSecret,
      };
    });
    after(async () => {
      await pc.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("adds, tests, rotates the secret, fetches, shows the fetch in the history and removes; no secret is ever printed", async () => {
      const added = await cli(
        "source",
        "add",
        "partner-center",
        "--name",
        "PC",
        "--tenant-id",
        pc.tenantId,
        "--client-id",
        pc.clientId,
        "--client-secret-env",
        "OLD_SECRET",
        "--endpoints",
        pc.url,
      );
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /^added PC \(partner-center, id [0-9a-f-]+\)/);
      const refused = await cli("source", "test", "PC");
      assert.equal(refused.code, 1, "the old secret is refused");
      assert.match(refused.stdout, /^FAILED \(bad-credentials\)/);

      const edited = await cli("source", "edit", "PC", "--client-secret-env", "PC_SECRET");
      assert.equal(edited.code, 0, edited.stderr);
      assert.match(edited.stdout, /^updated PC .* last test: never tested/);
      const tested = await cli("source", "test", "PC");
      assert.equal(tested.code, 0, tested.stdout + tested.stderr);
      assert.match(tested.stdout, /^OK: /);
      const nothing = await cli("source", "edit", "PC");
      assert.equal(nothing.code, 2, "an edit without a change is a usage error");

      const listed = await cli("source", "list", "--json");
      assert.equal(listed.code, 0, listed.stderr);
      const [source] = JSON.parse(listed.stdout) as { name: string; secretsSet: { clientSecret: boolean } }[];
      assert.deepEqual([source?.name, source?.secretsSet.clientSecret], ["PC", true]);

      const fetched = await cli("fetch", "PC");
      assert.equal(fetched.code, 0, fetched.stdout + fetched.stderr);
      assert.match(fetched.stdout, /^PC: imported — Partner Center: 1 new invoice\(s\) G100000001/);
      assert.match(fetched.stdout, /G100000001: imported/);
      const again = await cli("fetch", "PC", "--json");
      const [outcome] = JSON.parse(again.stdout) as { status: string; invoices: unknown[] }[];
      assert.deepEqual([outcome?.status, outcome?.invoices], ["nothing-new", []]);

      const runs = await cli("runs");
      assert.equal(runs.code, 0, runs.stderr);
      assert.match(runs.stdout, /Billing data fetches:/);
      assert.match(runs.stdout, /PC: Partner Center: 1 new invoice\(s\) G100000001/);
      assert.match(runs.stdout, /PC: Partner Center: nothing new/);

      const removed = await cli("source", "remove", "PC");
      assert.equal(removed.code, 0, removed.stderr);
      assert.match((await cli("source", "list")).stdout, /no source yet/);
      for (const text of all) {
        assert.equal(text.includes(pc.clientSecret), false, "the secret is never printed");
        assert.equal(text.includes("an old secret"), false, "nor the old one");
      }
    });
  });
}
