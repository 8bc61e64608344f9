import type { Logger } from "../log.ts";
import { MAX_ATTEMPTS, localDate, type NotificationService } from "../services/notifications.ts";
import { installDailyCheckSchedule } from "./scheduler.ts";
import type { Job, JobQueue } from "./queue.ts";

/**
 * Notification delivery in the job queue (docs/notifications.md §Delivery), on both drivers:
 * - "notify" sends one outbox row (data: its key); a failed send is retried with backoff by the queue, and the
 *   outbox row's claim keeps every send to at most once whatever the queue repeats;
 * - an event's notifications are handed to "notify" as they are recorded (the service's dispatcher, set here),
 *   so a failing sync's e-mail goes out at once;
 * - "notify-sweep", every minute, is the safety net: it hands queued rows to "notify" (those recorded in a
 *   process without a worker, such as the CLI, or whose hand-over failed) and marks rows whose worker died
 *   mid-send as uncertain;
 * - "notify-digest", at the digest's time and zone, records the daily digest, checks for a missing invoice and
 *   tells the renewals and closing change windows within the reminder days.
 */
export const NOTIFY_JOB = "notify";
export const NOTIFY_SWEEP_JOB = "notify-sweep";
export const NOTIFY_SWEEP_SCHEDULE = "notify-sweep";
export const NOTIFY_DIGEST_JOB = "notify-digest";
export const NOTIFY_DIGEST_SCHEDULE = "notify-digest";

export type NotifyJobData = { key: string };

/** What the worker needs of the app. */
export type NotifyApp = { notifications: NotificationService };

/** Hands outbox rows to the queue; a row already waiting in the queue is not queued twice (serial key). */
export async function enqueueNotifications(queue: JobQueue, keys: readonly string[]): Promise<number> {
  let queued = 0;
  for (const key of keys) {
    const sent = await queue.send<NotifyJobData>(
      NOTIFY_JOB,
      { key },
      { serialKey: key, retryLimit: MAX_ATTEMPTS - 1, retryDelaySeconds: 30, retryBackoff: true },
    );
    if (sent !== null) queued += 1;
  }
  return queued;
}

async function runNotifyJob(app: NotifyApp, job: Job<NotifyJobData>, log: Logger): Promise<void> {
  const outcome = await app.notifications.deliver(job.data.key, `job:${job.id}:${job.attempt}`);
  if (outcome === "retry") {
    // Failing the job makes the queue try again after its backoff; the row is queued again meanwhile.
    throw new Error(`notification ${job.data.key} not sent yet; will try again`);
  }
  log.debug?.({ jobId: job.id, key: job.data.key, outcome }, "notify job finished");
}

/** The digest job: the day's digest and the invoice check, then their notifications handed to the queue. */
export async function runDigest(app: NotifyApp, queue: JobQueue, now: Date = new Date()): Promise<number> {
  const settings = await app.notifications.settings();
  const keys: string[] = [];
  if (settings.digestEnabled) keys.push(...(await app.notifications.digest()));
  keys.push(...(await app.notifications.checkInvoices(localDate(now, settings.digestTimeZone))));
  keys.push(...(await app.notifications.renewalReminders()));
  return enqueueNotifications(queue, keys);
}

export type NotifyWorker = {
  /** Installs the digest at the stored time and zone again (after the settings changed). */
  reschedule(): Promise<{ cron: string; timeZone: string; nextRunAt: Date }>;
  /** One sweep now: queued rows handed to the queue. */
  sweep(): Promise<number>;
};

/**
 * Registers the notification jobs on a queue and installs their schedules; call before or after the queue's
 * start (the sync worker calls it beside its own jobs).
 */
export async function startNotifyWorker(
  app: NotifyApp,
  queue: JobQueue,
  log: Logger,
  options: { now?: () => Date } = {},
): Promise<NotifyWorker> {
  let installedDigest = "";
  const reschedule = async () => {
    const { digestTime, digestTimeZone } = await app.notifications.settings();
    const installed = await installDailyCheckSchedule(queue, {
      time: digestTime,
      timeZone: digestTimeZone,
      scheduleName: NOTIFY_DIGEST_SCHEDULE,
      jobName: NOTIFY_DIGEST_JOB,
      ...(options.now ? { now: options.now() } : {}),
    });
    installedDigest = `${digestTime} ${digestTimeZone}`;
    return { cron: installed.cron, timeZone: installed.timeZone, nextRunAt: installed.nextRunAt };
  };
  const sweep = async () => {
    // The digest follows its settings within a minute of a change, whichever process changed them.
    const { digestTime, digestTimeZone } = await app.notifications.settings();
    if (`${digestTime} ${digestTimeZone}` !== installedDigest) await reschedule();
    return enqueueNotifications(queue, await app.notifications.pending());
  };
  await queue.work<NotifyJobData>(NOTIFY_JOB, (job) => runNotifyJob(app, job, log), { concurrency: 2 });
  // Each event's notifications go to the queue when they are recorded; the sweep catches what this misses.
  app.notifications.dispatchWith((keys) => enqueueNotifications(queue, keys));
  await queue.work(NOTIFY_SWEEP_JOB, async () => {
    await sweep();
  });
  await queue.work(NOTIFY_DIGEST_JOB, async (job) => {
    const queued = await runDigest(app, queue, options.now?.() ?? new Date());
    log.info({ jobId: job.id, queued }, "notification digest recorded");
  });
  await queue.schedule(
    NOTIFY_SWEEP_SCHEDULE,
    "* * * * *",
    NOTIFY_SWEEP_JOB,
    {},
    {
      tz: "UTC",
      serialKey: NOTIFY_SWEEP_SCHEDULE,
      retryLimit: 0,
    },
  );
  await reschedule();
  return { reschedule, sweep };
}
