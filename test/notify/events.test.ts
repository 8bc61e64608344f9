import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { App } from "../../src/app.ts";
import { runMotion } from "../../src/services/motion-sync.ts";
import { notifyRunFinished } from "../../src/services/notifications.ts";
import { NOTIFY_SWEEP_JOB, runDigest, startNotifyWorker } from "../../src/jobs/notify-worker.ts";
import { createLocalQueue, type LocalJobQueue } from "../../src/jobs/index.ts";
import { SYNC_PRODUCTS_JOB, startSyncWorker, type SyncWorker } from "../../src/jobs/sync-worker.ts";
import { silentLogger } from "../../src/log.ts";
import { listInvoices } from "../../src/store/billing-repository.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";
import {
  addMailChannel,
  pollUntil,
  SMTP_LOGIN,
  startSmtpReceiver,
  type SmtpReceiver,
} from "../support/smtp.ts";

/**
 * Events told at once and the ones the earlier tests leave out (docs/notifications.md): a failing sync's e-mail
 * goes out when the run ends, through a notify job, without the minute's sweep; an expected invoice not arrived
 * by its day is told once, on a driven clock and in the digest's zone; a product catalog run tells its
 * connection's failure and recovery like a billing run. Real SMTP server; SQLite and PostgreSQL.
 */

/** A local queue on a clock that only moves when the test says: no schedule fires by itself. */
function drivenQueue(app: App, clock: { now: number }): LocalJobQueue {
  return createLocalQueue(app.store, { now: () => clock.now, pollIntervalMs: 3_600_000, onError: () => {} });
}

for (const dialect of DIALECTS) {
  describe(`notification events told at once, invoice due, product runs (${dialect})`, () => {
    let s: MappedConnectWise | undefined;
    let smtp: SmtpReceiver | undefined;
    let queue: LocalJobQueue | undefined;
    let worker: SyncWorker | undefined;
    afterEach(async () => {
      await queue?.stop({ graceful: true });
      queue = undefined;
      await worker?.stop();
      worker = undefined;
      s?.app.notifications.dispatchWith(null);
      await s?.cleanup();
      await smtp?.close();
    });

    it("a failing sync's e-mail goes out when the run ends, without waiting for the sweep; a sweep after it sends nothing again", async () => {
      s = await mappedConnectWise(dialect);
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      await addMailChannel(s.app, smtp);
      // The clock stands still half a minute before the sweep's next minute: the sweep cannot fire.
      const clock = { now: Date.parse("2026-03-02T08:00:30.000Z") };
      queue = drivenQueue(s.app, clock);
      await startNotifyWorker(s.app, queue, silentLogger().log, { now: () => new Date(clock.now) });
      await queue.start();

      const { privateKey } = s.emulator.credentials;
      await s.app.connections.update(s.connectionId, { secrets: { privateKey: "not-the-key" } });
      const failed = await runMotion(s.app, "seat-annual", s.connectionId, "schedule");
      assert.equal(failed.status, "error");
      await notifyRunFinished(s.app, { id: s.connectionId, name: "CW" }, "seat-annual", failed);
      await pollUntil(queue, smtp, 1);
      assert.deepEqual(
        smtp.messages.map((m) => m.subject),
        ["[cspsync Error] PSA connection failing: CW"],
      );

      await s.app.connections.update(s.connectionId, { secrets: { privateKey } });
      const ok = await runMotion(s.app, "seat-annual", s.connectionId, "schedule");
      await notifyRunFinished(s.app, { id: s.connectionId, name: "CW" }, "seat-annual", ok);
      await pollUntil(queue, smtp, 2);
      assert.deepEqual(
        smtp.messages.map((m) => m.subject),
        ["[cspsync Error] PSA connection failing: CW", "[cspsync Info] PSA connection recovered: CW"],
      );

      // The sweep, the safety net, finds nothing left to send: each was sent once.
      await queue.send(NOTIFY_SWEEP_JOB, {});
      for (let i = 0; i < 10; i++) {
        await queue.poll();
        await sleep(30);
      }
      assert.equal(smtp.messages.length, 2);
      const deliveries = await s.app.notifications.deliveries();
      assert.deepEqual(deliveries.map((d) => [d.eventKind, d.status, d.attempts]).sort(), [
        ["subject-failing", "sent", 1],
        ["subject-recovered", "sent", 1],
      ]);
    });

    it("an invoice not arrived by the due day is told once, on that day in the digest's zone", async () => {
      s = await mappedConnectWise(dialect);
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      await addMailChannel(s.app, smtp);
      await s.app.notifications.setSettings({
        digestEnabled: false,
        digestTimeZone: "Europe/Amsterdam",
        invoiceDueDay: 5,
      });
      // The set-up imported charges up to a last month (annual terms run on); the month after it has not arrived.
      const [invoice] = await listInvoices(s.app.store, s.app.organizationId);
      const billed = invoice!.lastChargeDate!.slice(0, 7);
      const [y, m] = billed.split("-").map(Number) as [number, number];
      const monthAfter = (year: number, month: number) =>
        month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, "0")}`;
      const arrivedIn = monthAfter(y, m); // its invoice, for `billed`, is here
      const [y2, m2] = arrivedIn.split("-").map(Number) as [number, number];
      const missingIn = monthAfter(y2, m2); // nothing was imported for `arrivedIn`

      const clock = { now: 0 };
      queue = drivenQueue(s.app, clock);
      const clocked = { notifications: s.app.notifications.withClock(() => new Date(clock.now)) };
      await startNotifyWorker(clocked, queue, silentLogger().log, { now: () => new Date(clock.now) });
      await queue.start();
      const checkAt = async (iso: string) => {
        clock.now = Date.parse(iso);
        return runDigest(clocked, queue!, new Date(clock.now));
      };

      assert.equal(await checkAt(`${arrivedIn}-10T10:00:00.000Z`), 0, "the month's data is there");
      assert.equal(await checkAt(`${missingIn}-04T12:00:00.000Z`), 0, "the 4th: not due yet");
      // 22:30 UTC on the 4th is already the 5th in Amsterdam (UTC+1 or +2): due.
      await checkAt(`${missingIn}-04T22:30:00.000Z`);
      await pollUntil(queue, smtp, 1);
      assert.equal(smtp.messages.length, 1);
      const mail = smtp.messages[0]!;
      assert.equal(mail.subject, `[cspsync Warning] No billing data for ${missingIn} yet`);
      assert.match(
        mail.text ?? "",
        new RegExp(
          `No reconciliation data with charges in ${arrivedIn} has been imported by day 5 of ${missingIn}\\.`,
        ),
      );
      assert.equal(await checkAt(`${missingIn}-06T08:00:00.000Z`), 0, "told once a month");
      for (let i = 0; i < 10; i++) {
        await queue.poll();
        await sleep(30);
      }
      assert.equal(smtp.messages.length, 1);
      const deliveries = await s.app.notifications.deliveries();
      assert.deepEqual(
        deliveries.map((d) => [d.eventKind, d.status]),
        [["invoice-missing", "sent"]],
      );
    });

    it("a product catalog run raises run events: its connection failing, then recovered (the sync worker's job)", async () => {
      s = await mappedConnectWise(dialect);
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      await addMailChannel(s.app, smtp, { minSeverity: "info" });
      await s.app.connections.update(s.connectionId, { settings: { productSyncMode: "all" } });
      const { privateKey } = s.emulator.credentials;
      await s.app.connections.update(s.connectionId, { secrets: { privateKey: "not-the-key" } });
      worker = await startSyncWorker(s.app, { logger: silentLogger().log });

      await worker.queue.send(SYNC_PRODUCTS_JOB, { connectionId: s.connectionId, trigger: "schedule" });
      await smtp.waitFor(1);
      assert.deepEqual(
        smtp.messages.map((m) => m.subject),
        ["[cspsync Error] PSA connection failing: CW"],
      );
      assert.match(smtp.messages[0]!.text ?? "", /Reason: .*ConnectWise refused the credentials \(401\)/);

      await s.app.connections.update(s.connectionId, { secrets: { privateKey } });
      await worker.queue.send(SYNC_PRODUCTS_JOB, { connectionId: s.connectionId, trigger: "schedule" });
      await smtp.waitFor(2);
      assert.deepEqual(
        smtp.messages.map((m) => m.subject),
        ["[cspsync Error] PSA connection failing: CW", "[cspsync Info] PSA connection recovered: CW"],
      );
      const [health] = await s.app.notifications.health();
      assert.deepEqual([health!.name, health!.state, health!.failingSince], ["CW", "ok", null]);
    });
  });
}
