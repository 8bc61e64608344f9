import type { App } from "../app.ts";
import {
  createJobQueue,
  DAILY_CHECK_JOB,
  installDailyCheckSchedule,
  type JobQueue,
  type JobQueueOptions,
} from "../jobs/index.ts";
import { AppSettingsService } from "./app-settings.ts";
import { RunAlreadyActiveError, type SyncTrigger } from "./annual-sync.ts";
import type { ImportSummary } from "./import-recon.ts";

/**
 * Background syncing: a "sync-connection" job runs the Seat-based Annual sync of one connection (serialised
 * per connection by the queue, and by the database's one-active-run rule), and the daily check — installed at
 * the configured time and time zone — queues one for every connection that has the sync turned on. New
 * billing data can queue the same check right after an import.
 */
export const SYNC_CONNECTION_JOB = "sync-connection";
export type SyncJobData = { connectionId: string; trigger: SyncTrigger; customerTenantId?: string };

export function openJobQueue(app: App, options: JobQueueOptions = {}): JobQueue {
  return createJobQueue(app.store, app.config.databaseUrl, options);
}

export function enqueueSync(queue: JobQueue, data: SyncJobData): Promise<string | null> {
  // A busy connection makes the job fail and come back later; the queue keeps one per connection waiting.
  return queue.send(SYNC_CONNECTION_JOB, data, {
    serialKey: data.connectionId,
    retryLimit: 5,
    retryDelaySeconds: 60,
    retryBackoff: true,
  });
}

/** Queues a check for every connection with Seat-based Annual sync on; returns how many were queued. */
export async function enqueueChecks(app: App, queue: JobQueue, trigger: SyncTrigger): Promise<number> {
  let queued = 0;
  for (const connection of await app.connections.list()) {
    if (!connection.seatAnnualEnabled) continue;
    if ((await enqueueSync(queue, { connectionId: connection.id, trigger })) !== null) queued += 1;
  }
  return queued;
}

/** After an import that brought new annual charges, the daily check need not wait for its hour. */
export async function enqueueChecksAfterImport(
  app: App,
  queue: JobQueue,
  summaries: readonly ImportSummary[],
): Promise<number> {
  const newAnnual = summaries.some(
    (s) => s.status === "imported" && s.newLines > 0 && s.linesByMotion["seat-annual"] > 0,
  );
  return newAnnual ? enqueueChecks(app, queue, "import") : 0;
}

export type SyncWorker = {
  queue: JobQueue;
  reschedule(): Promise<{ cron: string; timeZone: string; nextRunAt: Date }>;
  stop(): Promise<void>;
};

export async function startSyncWorker(
  app: App,
  options: { queue?: JobQueue; concurrency?: number } = {},
): Promise<SyncWorker> {
  const queue = options.queue ?? openJobQueue(app);
  await queue.work<SyncJobData>(
    SYNC_CONNECTION_JOB,
    async (job) => {
      const connection = await app.connections.view(job.data.connectionId).catch(() => null);
      if (!connection?.seatAnnualEnabled) return; // removed or switched off since it was queued
      const scope = job.data.customerTenantId ? { customerTenantId: job.data.customerTenantId } : {};
      try {
        await (await app.annualSync(job.data.connectionId)).run(job.data.trigger, scope);
      } catch (error) {
        if (error instanceof RunAlreadyActiveError) throw new Error(`${error.message}; will try again`);
        throw error;
      }
    },
    { concurrency: options.concurrency ?? 2 },
  );
  await queue.work(DAILY_CHECK_JOB, async () => {
    await enqueueChecks(app, queue, "schedule");
  });
  await queue.start();
  const settings = new AppSettingsService(app.store, app.organizationId);
  const reschedule = async () => {
    const { dailySyncTime, timeZone } = await settings.get();
    const installed = await installDailyCheckSchedule(queue, { time: dailySyncTime, timeZone });
    return { cron: installed.cron, timeZone: installed.timeZone, nextRunAt: installed.nextRunAt };
  };
  await reschedule();
  return { queue, reschedule, stop: () => queue.stop({ graceful: true }) };
}
