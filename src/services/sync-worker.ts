import type { App } from "../app.ts";
import type { BillingMotion } from "../core/billing.ts";
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
import { enabledMotions, syncFor } from "./motion-sync.ts";
import { ProductRunActiveError, runProductSync } from "./product-runs.ts";

/**
 * Background syncing: a "sync-connection" job runs the billing sync of one connection — one motion, or every
 * motion switched on for it (serialised per connection by the queue, and by the database's one-active-run
 * rule) — and the daily check, installed at the configured time and time zone, queues one for every
 * connection with a motion on, plus a product catalog sync where its mode is not off. New billing data can
 * queue the same billing check right after an import.
 */
export const SYNC_CONNECTION_JOB = "sync-connection";
export const SYNC_PRODUCTS_JOB = "sync-products";
export type SyncJobData = {
  connectionId: string;
  trigger: SyncTrigger;
  customerTenantId?: string;
  /** One motion only; without it every motion switched on for the connection. */
  motion?: BillingMotion;
};
export type ProductJobData = { connectionId: string; trigger: SyncTrigger };

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

/** Queues a check for every connection with at least one motion on; returns how many were queued. */
export async function enqueueChecks(app: App, queue: JobQueue, trigger: SyncTrigger): Promise<number> {
  let queued = 0;
  for (const connection of await app.connections.list()) {
    if ((await enabledMotions(app, connection)).length === 0) continue;
    if ((await enqueueSync(queue, { connectionId: connection.id, trigger })) !== null) queued += 1;
  }
  return queued;
}

/** Queues a product catalog sync for every connection whose product sync mode is not off. */
export async function enqueueProductSyncs(app: App, queue: JobQueue, trigger: SyncTrigger): Promise<number> {
  let queued = 0;
  for (const connection of await app.connections.list()) {
    const mode = connection.settings.productSyncMode;
    if (mode !== "all" && mode !== "in-use") continue;
    const data: ProductJobData = { connectionId: connection.id, trigger };
    const sent = await queue.send(SYNC_PRODUCTS_JOB, data, {
      serialKey: `products:${connection.id}`,
      retryLimit: 3,
      retryDelaySeconds: 60,
      retryBackoff: true,
    });
    if (sent !== null) queued += 1;
  }
  return queued;
}

// Motions whose new lines are worth syncing right after an import rather than at the daily hour.
const SYNC_AFTER_IMPORT: readonly BillingMotion[] = ["seat-annual", "azure"];

/** After an import that brought new annual or Azure charges, the daily check need not wait for its hour. */
export async function enqueueChecksAfterImport(
  app: App,
  queue: JobQueue,
  summaries: readonly ImportSummary[],
): Promise<number> {
  const fresh = summaries.some(
    (s) => s.status === "imported" && s.newLines > 0 && SYNC_AFTER_IMPORT.some((m) => s.linesByMotion[m] > 0),
  );
  return fresh ? enqueueChecks(app, queue, "import") : 0;
}

/** Runs the job's motions one after the other; a busy connection makes the whole job come back later. */
async function runSyncJob(app: App, data: SyncJobData): Promise<void> {
  const connection = await app.connections.view(data.connectionId).catch(() => null);
  if (!connection) return; // removed since it was queued
  const on = await enabledMotions(app, connection);
  // A motion switched off since the job was queued is not synced.
  const motions = data.motion ? on.filter((m) => m === data.motion) : on;
  const scope = data.customerTenantId ? { customerTenantId: data.customerTenantId } : {};
  let busy: RunAlreadyActiveError | null = null;
  for (const motion of motions) {
    try {
      await (await syncFor(app, motion, data.connectionId)).run(data.trigger, scope);
    } catch (error) {
      if (!(error instanceof RunAlreadyActiveError)) throw error;
      busy = error;
    }
  }
  if (busy) throw new Error(`${busy.message}; will try again`);
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
  await queue.work<SyncJobData>(SYNC_CONNECTION_JOB, (job) => runSyncJob(app, job.data), {
    concurrency: options.concurrency ?? 2,
  });
  await queue.work<ProductJobData>(SYNC_PRODUCTS_JOB, async (job) => {
    const connection = await app.connections.view(job.data.connectionId).catch(() => null);
    const mode = connection?.settings.productSyncMode;
    if (mode !== "all" && mode !== "in-use") return; // removed or switched off since it was queued
    try {
      await runProductSync(app, job.data.connectionId, job.data.trigger);
    } catch (error) {
      if (error instanceof ProductRunActiveError) throw new Error(`${error.message}; will try again`);
      throw error;
    }
  });
  await queue.work(DAILY_CHECK_JOB, async () => {
    await enqueueChecks(app, queue, "schedule");
    await enqueueProductSyncs(app, queue, "schedule");
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
