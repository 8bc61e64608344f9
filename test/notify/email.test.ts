import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { runMotion } from "../../src/services/motion-sync.ts";
import { notifyRunFinished, SEND_LEASE_MS } from "../../src/services/notifications.ts";
import { importRejectedEvent } from "../../src/core/notifications.ts";
import { claimOutboxRow, getOutboxRow } from "../../src/store/notifications-repository.ts";
import { sendEmail } from "../../src/notify/senders.ts";
import { startSyncWorker, type SyncWorker } from "../../src/jobs/sync-worker.ts";
import { NOTIFY_SWEEP_JOB, startNotifyWorker } from "../../src/jobs/notify-worker.ts";
import { createLocalQueue, nextCronTime } from "../../src/jobs/index.ts";
import { silentLogger } from "../../src/log.ts";
import type { App } from "../../src/app.ts";
import { listImports, listInvoices } from "../../src/store/billing-repository.ts";
import { Dec } from "../../src/core/money.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";
import { addMailChannel, SMTP_LOGIN, startSmtpReceiver, type SmtpReceiver } from "../support/smtp.ts";

const TO = ["ops@msp.example", "billing@msp.example"];

/** Delivers everything queued, as the notify jobs would (the queue-driven path is tested below). */
async function deliverAll(app: App): Promise<string[]> {
  const outcomes: string[] = [];
  for (const key of await app.notifications.pending()) outcomes.push(await app.notifications.deliver(key));
  return outcomes;
}

async function syncAndNotify(s: MappedConnectWise) {
  const run = await runMotion(s.app, "seat-annual", s.connectionId, "schedule");
  await notifyRunFinished(s.app, { id: s.connectionId, name: "CW" }, "seat-annual", run);
  return run;
}

for (const dialect of DIALECTS) {
  describe(`e-mail notifications through a real SMTP server (${dialect})`, () => {
    let s: MappedConnectWise | undefined;
    let smtp: SmtpReceiver | undefined;
    let worker: SyncWorker | undefined;
    afterEach(async () => {
      await worker?.stop();
      worker = undefined;
      await s?.cleanup();
      await smtp?.close();
    });

    it("a failing connection e-mails once while it keeps failing, and its recovery once", async () => {
      s = await mappedConnectWise(dialect);
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      const channel = await addMailChannel(s.app, smtp, { to: TO });
      assert.deepEqual(channel.secretsSet, { password: true, url: false, signingSecret: false });
      const { privateKey } = s.emulator.credentials;

      await s.app.connections.update(s.connectionId, { secrets: { privateKey: "not-the-key" } });
      const failed = await syncAndNotify(s);
      assert.equal(failed.status, "error");
      await syncAndNotify(s);
      await syncAndNotify(s);
      assert.deepEqual(await deliverAll(s.app), ["sent"]);
      assert.equal(smtp.messages.length, 1);
      const [failing] = smtp.messages;
      assert.equal(failing!.subject, "[cspsync Error] PSA connection failing: CW");
      assert.match(
        failing!.text ?? "",
        /^PSA connection failing: CW\n\nThe PSA connection CW is failing since /,
      );
      assert.match(failing!.text ?? "", /Reason: .*ConnectWise refused the credentials \(401\)/);
      assert.doesNotMatch(failing!.text ?? "", /not-the-key|smtp-pass-123/);
      assert.match(failing!.html || "", /<h2>PSA connection failing: CW<\/h2>/);
      assert.deepEqual(smtp.envelopes[0], { to: ["ops@msp.example", "billing@msp.example"], user: "notify" });
      assert.match(failing!.messageId ?? "", /^<ntf-[0-9a-f]{32}@msp\.example>$/);
      const health = await s.app.notifications.health();
      assert.deepEqual(
        health.map((h) => [h.subjectKind, h.name, h.state]),
        [["connection", "CW", "failing"]],
      );

      await s.app.connections.update(s.connectionId, { secrets: { privateKey } });
      const ok = await syncAndNotify(s);
      assert.equal(ok.status, "success");
      await syncAndNotify(s);
      assert.deepEqual(await deliverAll(s.app), ["sent"]);
      assert.deepEqual(
        smtp.messages.map((m) => m.subject),
        ["[cspsync Error] PSA connection failing: CW", "[cspsync Info] PSA connection recovered: CW"],
      );
      assert.match(smtp.messages[1]!.text ?? "", /The PSA connection CW works again \(it was failing since /);
      const [after] = await s.app.notifications.health();
      assert.equal(after!.state, "ok");
      assert.equal(after!.failingSince, null);
      assert.ok(after!.lastSuccessAt);
      const deliveries = await s.app.notifications.deliveries();
      assert.deepEqual(deliveries.map((d) => [d.eventKind, d.status, d.attempts]).sort(), [
        ["subject-failing", "sent", 1],
        ["subject-recovered", "sent", 1],
      ]);
    });

    it("the sync worker's run is told through the job queue: the sweep hands it to a notify job that sends it", async () => {
      s = await mappedConnectWise(dialect);
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      await addMailChannel(s.app, smtp, { to: TO });
      await s.app.connections.update(s.connectionId, { secrets: { privateKey: "wrong" } });
      worker = await startSyncWorker(s.app, { logger: silentLogger().log });
      await worker.queue.send("sync-connection", { connectionId: s.connectionId, trigger: "schedule" });
      for (let i = 0; i < 400; i++) {
        if ((await s.app.notifications.deliveries()).length > 0) break;
        await sleep(25);
      }
      // The sweep runs every minute; sent now instead of waiting for it.
      await worker.queue.send(NOTIFY_SWEEP_JOB, {});
      await smtp.waitFor(1);
      assert.deepEqual(
        smtp.messages.map((m) => m.subject),
        ["[cspsync Error] PSA connection failing: CW"],
      );
      for (let i = 0; i < 200; i++) {
        if ((await s.app.notifications.deliveries())[0]?.status === "sent") break;
        await sleep(25);
      }
      assert.equal((await s.app.notifications.deliveries())[0]?.status, "sent");
    });

    it("at most once: two workers delivering one notification send it once; a worker killed mid-send is not repeated", async () => {
      s = await mappedConnectWise(dialect);
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      await addMailChannel(s.app, smtp, { to: TO });
      const at = "2026-03-02T08:00:00.000Z";
      const [first] = await s.app.notifications.record(
        importRejectedEvent("imp-1", "march.csv", "row 3: bad date", at),
      );
      const outcomes = await Promise.all([
        s.app.notifications.deliver(first!, "worker-a"),
        s.app.notifications.deliver(first!, "worker-b"),
      ]);
      assert.deepEqual(outcomes.sort(), ["sent", "skipped"]);
      assert.equal((await smtp.waitFor(1)).length, 1);
      assert.equal(smtp.messages[0]!.subject, "[cspsync Error] Import rejected: march.csv");
      // The same event recorded again is the same key: nothing new is queued.
      assert.deepEqual(
        await s.app.notifications.record(importRejectedEvent("imp-1", "march.csv", "row 3: bad date", at)),
        [],
      );

      // A worker claims the next one, sends it, and dies before marking it sent.
      const [second] = await s.app.notifications.record(
        importRejectedEvent("imp-2", "april.csv", "empty", at),
      );
      const t0 = Date.now();
      const claimed = await claimOutboxRow(
        s.app.store,
        second!,
        "dead-worker",
        new Date(t0 + SEND_LEASE_MS).toISOString(),
      );
      assert.ok(claimed);
      await sendEmail(
        {
          host: "127.0.0.1",
          port: smtp.port,
          security: "none",
          user: "notify",
          from: "cspsync@msp.example",
          to: ["ops@msp.example"],
        },
        { password: "smtp-pass-123" },
        JSON.parse(claimed.payload),
        { deliveryKey: second!, timeoutSeconds: 5, allowedHosts: [], now: new Date(t0) },
      );
      await smtp.waitFor(2);
      // While its lease runs, another worker leaves it alone; after it, it is marked uncertain, not sent again.
      assert.equal(await s.app.notifications.deliver(second!, "worker-c"), "skipped");
      const later = s.app.notifications.withClock(() => new Date(t0 + SEND_LEASE_MS + 1_000));
      assert.deepEqual(await later.pending(), []);
      assert.equal(await later.deliver(second!, "worker-c"), "skipped");
      assert.equal((await getOutboxRow(s.app.store, second!))!.status, "uncertain");
      await sleep(200);
      assert.equal(smtp.messages.length, 2);
      assert.equal(smtp.messages[1]!.messageId, `<${second}@msp.example>`);
    });

    it("the digest arrives at its time and zone with the day's figures", async () => {
      s = await mappedConnectWise(dialect);
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      const channel = await addMailChannel(s.app, smtp, { to: TO });
      await s.app.notifications.updateChannel(channel.id, { minSeverity: "info" });
      await s.app.notifications.setSettings({
        digestTime: "07:30",
        digestTimeZone: "Europe/Amsterdam",
        appUrl: "https://cspsync.msp.example",
      });
      const run = await syncAndNotify(s);
      assert.deepEqual([run.status, run.written], ["success", 8]);
      assert.deepEqual(await deliverAll(s.app), []);

      // The queue's clock is driven: one minute before the digest time nothing fires, at it the digest does.
      const digestAt = nextCronTime("30 7 * * *", "Europe/Amsterdam", new Date()).getTime();
      let now = digestAt - 60_000;
      const queue = createLocalQueue(s.app.store, {
        now: () => now,
        pollIntervalMs: 3_600_000,
        onError: () => {},
      });
      const clocked = { notifications: s.app.notifications.withClock(() => new Date(now)) };
      const notify = await startNotifyWorker(clocked, queue, silentLogger().log, {
        now: () => new Date(now),
      });
      const installed = await notify.reschedule();
      assert.deepEqual(
        [installed.cron, installed.timeZone, installed.nextRunAt.getTime()],
        ["30 7 * * *", "Europe/Amsterdam", digestAt],
      );
      try {
        await queue.start();
        await queue.poll();
        await sleep(300);
        assert.equal(smtp.messages.length, 0);
        now = digestAt + 1_000;
        for (let i = 0; i < 200 && smtp.messages.length === 0; i++) {
          await queue.poll();
          await sleep(100);
        }
      } finally {
        await queue.stop({ graceful: true });
      }
      assert.equal(smtp.messages.length, 1);
      const digest = smtp.messages[0]!;
      const date = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Amsterdam" }).format(
        new Date(digestAt),
      );
      assert.equal(digest.subject, `cspsync daily digest ${date}`);
      const text = digest.text ?? "";
      // The set-up imported the June sample today: its invoice's subtotal, summed apart from the digest.
      const [invoice] = await listInvoices(s.app.store, s.app.organizationId);
      const lines = (await listImports(s.app.store, s.app.organizationId, 1))[0]!.newLines;
      assert.ok(
        text.includes(
          `Imported: 1 file(s), ${lines} line(s) — ${new Dec(invoice!.subtotal).toFixed(2)} ${invoice!.currency}.`,
        ),
        text,
      );
      assert.match(text, /Synced: 1 run\(s\), 8 written, 0 warning\(s\), 0 error\(s\), 0 failed run\(s\)\./);
      assert.match(text, /Held for approval: 0 line\(s\) — 0\./);
      assert.match(text, /CW: 1 run\(s\), 8 written, 0 error\(s\), 0 held \(0\)/);
      assert.match(text, /Open in cspsync: https:\/\/cspsync\.msp\.example\/runs/);
    });
  });
}
