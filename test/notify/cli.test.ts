import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../support/stores.ts";
import { runCli } from "../support/cli.ts";
import { startSmtpReceiver, type SmtpReceiver } from "../support/smtp.ts";

for (const dialect of DIALECTS) {
  describe(`cspsync notify (${dialect})`, () => {
    let smtp: SmtpReceiver;
    let database: TestDatabase;
    let env: NodeJS.ProcessEnv;
    let dataDir: string;
    before(async () => {
      smtp = await startSmtpReceiver({ user: "notify", password: "cli-smtp-secret" });
      database = await createTestDatabase(dialect);
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-notify-cli-"));
      env = {
        CSPSYNC_DATABASE_URL: database.url,
        CSPSYNC_DATA_DIR: dataDir,
        CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
        SMTP_PASSWORD: "cli-smtp-secret",
      };
    });
    after(async () => {
      await smtp.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("adds an SMTP channel, lists it without its password, sends a test and the digest", async () => {
      const added = await runCli(
        [
          "notify",
          "channel",
          "add",
          "email",
          "--name",
          "Ops",
          "--smtp-host",
          "127.0.0.1",
          "--smtp-port",
          String(smtp.port),
          "--smtp-security",
          "none",
          "--smtp-user",
          "notify",
          "--smtp-password-env",
          "SMTP_PASSWORD",
          "--from",
          "cspsync@msp.example",
          "--to",
          "ops@msp.example",
          "--min-severity",
          "info",
        ],
        { env },
      );
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /Channel Ops \(email\) added/);
      const listed = await runCli(["notify", "channel", "list", "--json"], { env });
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout.includes("cli-smtp-secret"), false);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { name: string; secretsSet: { password: boolean } }[]).map((c) => [
          c.name,
          c.secretsSet.password,
        ]),
        [["Ops", true]],
      );
      const test = await runCli(["notify", "test", "Ops"], { env });
      assert.equal(test.code, 0, test.stderr);
      assert.equal(test.stdout.trim(), "Test sent through Ops.");
      const digest = await runCli(["notify", "digest", "--now"], { env });
      assert.equal(digest.code, 0, digest.stderr);
      assert.equal(digest.stdout.trim(), "Digest sent through 1 of 1 channel(s).");
      await smtp.waitFor(2);
      assert.deepEqual(
        smtp.messages.map((m) => m.subject?.replace(/\d{4}-\d{2}-\d{2}$/, "DATE")),
        ["cspsync test notification: Ops", "cspsync daily digest DATE"],
      );
      assert.match(smtp.messages[1]!.text ?? "", /Synced: 0 run\(s\), 0 written/);
    });
  });
}
