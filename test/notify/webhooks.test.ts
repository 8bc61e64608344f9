import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { createApp, type App } from "../../src/app.ts";
import { importRejectedEvent, SIGNATURE_HEADER, verifyWebhook } from "../../src/core/notifications.ts";
import { FAILING_AFTER } from "../../src/services/notifications.ts";
import { createTestDatabase, DIALECTS } from "../support/stores.ts";
import { startHttpReceiver, type HttpReceiver } from "./receivers.ts";

const SIGNING_SECRET = "whsec-0123456789abcdef";

async function appAllowing(dialect: (typeof DIALECTS)[number], hosts: string[]) {
  const database = await createTestDatabase(dialect);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-notify-"));
  const app = await createApp({
    databaseUrl: database.url,
    env: {
      CSPSYNC_DATA_DIR: dataDir,
      CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
      CSPSYNC_NOTIFY_ALLOWED_HOSTS: hosts.join(","),
    },
    log: false,
  });
  return {
    app,
    async cleanup() {
      await app.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`Teams, Slack and generic webhooks (${dialect})`, () => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });
    async function receiver(respond?: Parameters<typeof startHttpReceiver>[0]): Promise<HttpReceiver> {
      const r = await startHttpReceiver(respond);
      closers.push(r.close);
      return r;
    }
    async function setUp(hosts: string[]): Promise<App> {
      const { app, cleanup } = await appAllowing(dialect, hosts);
      closers.push(cleanup);
      return app;
    }

    it("a Teams card, Slack blocks and a signed JSON body arrive; the signature verifies and a changed body does not", async () => {
      const teams = await receiver();
      const slack = await receiver();
      const hook = await receiver();
      const app = await setUp([teams.host, slack.host, hook.host]);
      await app.notifications.addChannel({
        kind: "teams",
        name: "Teams",
        secrets: { url: `${teams.url}/wh/abc` },
      });
      await app.notifications.addChannel({
        kind: "slack",
        name: "Slack",
        secrets: { url: `${slack.url}/services/T/B/x` },
      });
      const webhook = await app.notifications.addChannel({
        kind: "webhook",
        name: "Hook",
        secrets: { url: `${hook.url}/cspsync`, signingSecret: SIGNING_SECRET },
      });
      assert.deepEqual(webhook.secretsSet, { password: false, url: true, signingSecret: true });
      assert.equal(webhook.webhookHost, hook.host);
      assert.equal(JSON.stringify(webhook).includes(SIGNING_SECRET), false);

      const event = importRejectedEvent(
        "imp-9",
        "may.csv",
        "row 2, column ChargeStartDate: not a date",
        "2026-05-04T06:00:00.000Z",
      );
      const keys = await app.notifications.record(event);
      assert.equal(keys.length, 3);
      for (const key of keys) assert.equal(await app.notifications.deliver(key), "sent");

      assert.equal(teams.requests.length, 1);
      const card = JSON.parse(teams.requests[0]!.body);
      assert.equal(card.type, "message");
      assert.equal(card.attachments[0].contentType, "application/vnd.microsoft.card.adaptive");
      assert.deepEqual(
        card.attachments[0].content.body.slice(0, 3).map((b: { text: string }) => b.text),
        [
          "Import rejected: may.csv",
          "The file may.csv was rejected and nothing of it was stored.",
          "Reason: row 2, column ChargeStartDate: not a date",
        ],
      );

      assert.equal(slack.requests.length, 1);
      const blocks = JSON.parse(slack.requests[0]!.body);
      assert.equal(blocks.text, "[cspsync Error] Import rejected: may.csv");
      assert.deepEqual(blocks.blocks[0], {
        type: "header",
        text: { type: "plain_text", text: "Import rejected: may.csv" },
      });

      assert.equal(hook.requests.length, 1);
      const [request] = hook.requests;
      const body = JSON.parse(request!.body);
      assert.deepEqual(
        [body.event, body.severity, body.eventKey, body.title],
        ["import-rejected", "error", "import:imp-9:rejected", "Import rejected: may.csv"],
      );
      const signature = String(request!.headers[SIGNATURE_HEADER.toLowerCase()]);
      assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
      const t = Number(/t=(\d+)/.exec(signature)![1]);
      assert.equal(verifyWebhook(SIGNING_SECRET, signature, request!.body, t), true);
      assert.equal(
        verifyWebhook(SIGNING_SECRET, signature, request!.body.replace("may.csv", "june.csv"), t),
        false,
      );
      assert.equal(verifyWebhook("another-secret-000", signature, request!.body, t), false);
      assert.equal(verifyWebhook(SIGNING_SECRET, signature, request!.body, t + 3600), false);
    });

    it("a redirecting webhook host is refused: nothing reaches where it points, and the failure names it", async () => {
      const elsewhere = await receiver();
      const redirecting = await receiver(() => ({
        status: 302,
        headers: { location: `${elsewhere.url}/steal` },
      }));
      const app = await setUp([redirecting.host, elsewhere.host]);
      await app.notifications.addChannel({
        kind: "webhook",
        name: "Hook",
        secrets: { url: `${redirecting.url}/in`, signingSecret: SIGNING_SECRET },
      });
      const test = await app.notifications.sendTest("Hook");
      assert.equal(test.outcome, "failed");
      assert.equal(
        test.error,
        `webhook at ${redirecting.host} answered 302, a redirect to ${elsewhere.url}; redirects are not followed (nothing was sent there)`,
      );
      assert.equal(redirecting.requests.length, 1);
      assert.equal(elsewhere.requests.length, 0);
      const [delivery] = await app.notifications.deliveries();
      assert.deepEqual([delivery!.eventKind, delivery!.status], ["test", "failed"]);
    });

    it("a host that is not allow-listed is refused when the channel is saved; Teams and Slack public hosts are allowed", async () => {
      const app = await setUp([]);
      await assert.rejects(
        app.notifications.addChannel({
          kind: "webhook",
          name: "Hook",
          secrets: { url: "https://hooks.example.net/x", signingSecret: SIGNING_SECRET },
        }),
        /https:\/\/hooks\.example\.net is not an allow-listed webhook host; add it to CSPSYNC_NOTIFY_ALLOWED_HOSTS/,
      );
      await assert.rejects(
        app.notifications.addChannel({
          kind: "slack",
          name: "Slack",
          secrets: { url: "http://hooks.slack.com/services/x" },
        }),
        /not a public Slack webhook host/,
      );
      const teams = await app.notifications.addChannel({
        kind: "teams",
        name: "Teams",
        secrets: { url: "https://contoso.webhook.office.com/webhookb2/abc" },
      });
      assert.equal(teams.webhookHost, "contoso.webhook.office.com");
      await app.notifications.addChannel({
        kind: "slack",
        name: "Slack",
        secrets: { url: "https://hooks.slack.com/services/T/B/x" },
      });
      assert.deepEqual(
        (await app.notifications.listChannels()).map((c) => c.name),
        ["Slack", "Teams"],
      );
    });

    it(`a channel failing ${FAILING_AFTER} times in a row is marked failing and its queued sends are given up`, async () => {
      const down = await receiver(() => ({ status: 503 }));
      const app = await setUp([down.host]);
      await app.notifications.addChannel({ kind: "slack", name: "Slack", secrets: { url: `${down.url}/x` } });
      const keys: string[] = [];
      for (let i = 0; i < FAILING_AFTER + 2; i++) {
        keys.push(
          ...(await app.notifications.record(
            importRejectedEvent(`imp-${i}`, `f${i}.csv`, "bad", "2026-05-04T06:00:00.000Z"),
          )),
        );
      }
      const outcomes: string[] = [];
      for (const key of keys) outcomes.push(await app.notifications.deliver(key));
      assert.deepEqual(outcomes, ["retry", "retry", "retry", "retry", "failed", "skipped", "skipped"]);
      assert.equal(down.requests.length, FAILING_AFTER);
      const [channel] = await app.notifications.listChannels();
      assert.deepEqual([channel!.status, channel!.consecutiveFailures], ["failing", FAILING_AFTER]);
      assert.equal(channel!.lastError, `Slack webhook at ${down.host} answered 503`);
      assert.deepEqual(await app.notifications.pending(), []);
      // A failing channel is sent nothing new until it is saved again or a test gets through.
      assert.deepEqual(
        await app.notifications.record(
          importRejectedEvent("imp-x", "x.csv", "bad", "2026-05-04T06:00:00.000Z"),
        ),
        [],
      );
    });
  });
}
