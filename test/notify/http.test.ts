import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS } from "../support/stores.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";
import { startSmtpReceiver, type SmtpReceiver } from "../support/smtp.ts";

const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };

for (const dialect of DIALECTS) {
  describe(`HTTP API: notifications (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let viewer: Client;
    let smtp: SmtpReceiver;

    before(async () => {
      smtp = await startSmtpReceiver({ user: "notify", password: "smtp-secret-9" });
      h = await startHarness(dialect);
      admin = h.client();
      await admin.setup();
      await admin.post("/api/users", { ...VIEWER, role: "viewer" });
      viewer = h.client();
      await viewer.login(VIEWER.email, VIEWER.password);
    });
    after(async () => {
      await h.cleanup();
      await smtp.close();
    });

    it("an admin adds an SMTP channel and sends a test that arrives; secrets are never returned; viewers read only", async () => {
      const body = {
        kind: "email",
        name: "Ops",
        config: {
          host: "127.0.0.1",
          port: smtp.port,
          security: "none",
          user: "notify",
          from: "cspsync@msp.example",
          to: ["ops@msp.example"],
        },
        secrets: { password: "smtp-secret-9" },
      };
      assert.equal((await viewer.post("/api/notifications/channels", body)).status, 403);
      const created = await admin.post("/api/notifications/channels", body);
      assert.equal(created.status, 201);
      assert.equal(created.text.includes("smtp-secret-9"), false);
      const channel = created.body as { id: string; secretsSet: { password: boolean } };
      assert.equal(channel.secretsSet.password, true);

      assert.equal((await viewer.post(`/api/notifications/channels/${channel.id}/test`, {})).status, 403);
      const test = await admin.post(`/api/notifications/channels/${channel.id}/test`, {});
      assert.equal(test.status, 200);
      assert.equal((test.body as { outcome: string }).outcome, "sent");
      await smtp.waitFor(1);
      assert.equal(smtp.messages[0]!.subject, "cspsync test notification: Ops");

      const listed = await viewer.get("/api/notifications/channels");
      assert.equal(listed.status, 200);
      assert.equal(listed.text.includes("smtp-secret-9"), false);
      const deliveries = await viewer.get("/api/notifications/deliveries");
      assert.deepEqual(
        (deliveries.body as { deliveries: { eventKind: string; status: string }[] }).deliveries.map((d) => [
          d.eventKind,
          d.status,
        ]),
        [["test", "sent"]],
      );
      assert.equal((await viewer.put("/api/notifications/settings", { digestTime: "08:00" })).status, 403);
      const bad = await admin.put("/api/notifications/settings", { digestTime: "25:00" });
      assert.equal(bad.status, 422);
      const settings = await admin.put("/api/notifications/settings", {
        digestTime: "08:15",
        digestTimeZone: "Europe/Berlin",
      });
      assert.deepEqual(
        [
          (settings.body as { digestTime: string }).digestTime,
          (settings.body as { digestTimeZone: string }).digestTimeZone,
        ],
        ["08:15", "Europe/Berlin"],
      );
      assert.equal((await viewer.get("/api/health/subjects")).status, 200);
      assert.equal((await admin.delete(`/api/notifications/channels/${channel.id}`)).status, 204);
    });
  });
}
