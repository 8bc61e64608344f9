import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { App } from "../../src/app.ts";
import { createLocalQueue, type LocalJobQueue } from "../../src/jobs/index.ts";
import { runDigest, startNotifyWorker } from "../../src/jobs/notify-worker.ts";
import { runFetch } from "../../src/jobs/sync-worker.ts";
import { silentLogger } from "../../src/log.ts";
import { RenewalsService } from "../../src/services/renewals.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp } from "../support/app.ts";
import {
  addMailChannel,
  pollUntil,
  SMTP_LOGIN,
  startSmtpReceiver,
  type SmtpReceiver,
} from "../support/smtp.ts";
import { addSource, FAST, SAMPLE, startEmulator } from "../sources/support.ts";

/**
 * A data source's health and the renewal reminders reach people (docs/notifications.md): a Partner Center
 * source whose secret stops working is told failing once and recovered once, through the fetch the jobs run;
 * renewals and closing change windows within the configured days are told by the daily digest job, each once.
 * Real SMTP server; SQLite and PostgreSQL.
 */

for (const dialect of DIALECTS) {
  describe(`data-source health and renewal reminders are told (${dialect})`, () => {
    let app: App | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    let smtp: SmtpReceiver | undefined;
    let queue: LocalJobQueue | undefined;
    let pc: PartnerCenterEmulator | undefined;
    afterEach(async () => {
      await queue?.stop({ graceful: true });
      app?.notifications.dispatchWith(null);
      await cleanup?.();
      await smtp?.close();
      await pc?.close();
      pc = undefined;
      queue = undefined;
      smtp = undefined;
      cleanup = undefined;
      app = undefined;
    });

    async function start(): Promise<App> {
      ({ app, cleanup } = await createTestApp(dialect, []));
      smtp = await startSmtpReceiver(SMTP_LOGIN);
      await addMailChannel(app, smtp, { minSeverity: "info" });
      // The clock stands still: no schedule fires by itself; notifications go out as they are recorded.
      queue = createLocalQueue(app.store, { pollIntervalMs: 3_600_000, onError: () => {} });
      await startNotifyWorker(app, queue, silentLogger().log);
      await queue.start();
      return app;
    }

    it("a source whose secret stops working is told failing once over two fetches, then recovered once", async () => {
      const a = await start();
      pc = await startEmulator();
      const source = await addSource(a, pc);
      const fetch = () => runFetch(a, queue!, { sourceId: source.id, trigger: "schedule" }, FAST);

      await a.sources.update(source.id, { secrets: { clientSecret: "not-the-secret" } });
      for (const _ of [1, 2]) assert.equal((await fetch()).status, "failed");
      await pollUntil(queue!, smtp!, 1);
      await sleep(200);
      assert.deepEqual(
        smtp!.messages.map((m) => m.subject),
        ["[cspsync Error] Data source failing: PC"],
      );
      const mail = smtp!.messages[0]!.text ?? "";
      assert.match(mail, /The data source PC is failing since/);
      assert.doesNotMatch(mail, /not-the-secret/, "no secret in the mail");

      await a.sources.update(source.id, { secrets: { clientSecret: pc.clientSecret } });
      assert.equal((await fetch()).status, "imported");
      await pollUntil(queue!, smtp!, 2);
      assert.deepEqual(
        smtp!.messages.map((m) => m.subject),
        ["[cspsync Error] Data source failing: PC", "[cspsync Info] Data source recovered: PC"],
      );
      const health = await a.notifications.health();
      assert.deepEqual(
        health.filter((h) => h.subjectKind === "source").map((h) => [h.name, h.state]),
        [["PC", "ok"]],
      );
    });

    it("renewals and closing change windows within the reminder days are told by the digest job, each once", async () => {
      const a = await start();
      await importReconFile(a.store, SAMPLE);
      // A day in the sample's month: its monthly terms renew within the next 30 days.
      const at = new Date("2024-06-20T07:00:00.000Z");
      const expected = await new RenewalsService(
        a.store,
        a.organizationId,
        () => at,
      ).upcomingRenewalReminders(30);
      assert.ok(expected.length > 0, "the sample has renewals within 30 days of the day");
      const notifications = a.notifications.withClock(() => at);

      // Off by default: the digest job tells no reminder.
      await notifications.setSettings({ digestEnabled: false });
      await runDigest({ notifications }, queue!, at);
      await sleep(200);
      assert.equal(smtp!.messages.length, 0);

      await notifications.setSettings({ renewalReminderDays: 30 });
      await runDigest({ notifications }, queue!, at);
      await pollUntil(queue!, smtp!, expected.length);
      await sleep(200);
      const subjects = smtp!.messages.map((m) => m.subject ?? "").sort();
      assert.equal(subjects.length, expected.length, subjects.join("\n"));
      for (const reminder of expected)
        assert.ok(
          subjects.some((s) => s.includes(reminder.customerName) && s.includes(reminder.productName)),
          `a reminder for ${reminder.text}`,
        );
      const renewal = smtp!.messages.find((m) => /Renews /.test(m.subject ?? ""));
      assert.ok(renewal, "a renewal is among them");
      assert.match(renewal.text ?? "", /locked in for another term/);

      // The next day's job finds the same renewals again: nothing is told twice.
      const nextDay = new Date(at.getTime() + 24 * 3_600_000);
      await runDigest({ notifications: a.notifications.withClock(() => nextDay) }, queue!, nextDay);
      await sleep(300);
      for (let i = 0; i < 10; i++) await queue!.poll();
      const again = await new RenewalsService(
        a.store,
        a.organizationId,
        () => nextDay,
      ).upcomingRenewalReminders(30);
      const fresh = again.filter((r) => !expected.some((e) => e.key === r.key)).length;
      assert.equal(smtp!.messages.length, expected.length + fresh, "only reminders new on that day are told");
    });
  });
}
