import type { App } from "../app.ts";
import type { BillingMotion } from "../core/billing.ts";
import {
  createJobQueue,
  DAILY_CHECK_JOB,
  installDailyCheckSchedule,
  type JobQueue,
  type JobQueueOptions,
} from "./index.ts";
import type { Job } from "./index.ts";
import type { Logger } from "../log.ts";
import { AppSettingsService } from "../services/app-settings.ts";
import { RunAlreadyActiveError, type SyncTrigger } from "../services/annual-sync.ts";
import { ConnectionInputError, type ConnectionView } from "../services/connections.ts";
import type { ImportSummary } from "../services/import-recon.ts";
import { enabledMotions, motionOffReason, runMotion } from "../services/motion-sync.ts";
import { ProductRunActiveError, runProductSync } from "../services/product-runs.ts";
import {
  fetchSource,
  linkSyncJobs,
  type FetchApp,
  type FetchOptions,
  type FetchOutcome,
} from "../services/fetch-partner-center.ts";
import { notifyFetchFinished, notifyRunFinished } from "../services/notifications.ts";
import { startNotifyWorker } from "./notify-worker.ts";

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
  /** The fetch run that queued this sync: its runs are linked to it in Sync history (docs/partner-center.md §7). */
  fetchRunId?: string;
};
export type ProductJobData = { connectionId: string; trigger: SyncTrigger };

/**
 * The job queue of the app's database, with the configured lease (CSPSYNC_JOB_LEASE_SECONDS): a job whose
 * worker died runs again on a live worker about one lease after its last heartbeat. Failed and lost jobs, and
 * the queue's own failures, are logged on the app's logger.
 */
export function openJobQueue(app: App, options: JobQueueOptions = {}, logger: Logger = app.log): JobQueue {
  const leaseSeconds = app.config.jobLeaseSeconds;
  return createJobQueue(app.store, app.config.databaseUrl, {
    local: { leaseSeconds, ...options.local },
    pgBoss: { leaseSeconds, ...options.pgBoss },
    logger: options.logger ?? logger,
  });
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
  return (await queueChecks(app, queue, { trigger })).filter((j) => j.jobId !== null).length;
}

/**
 * Queues a check for every connection with at least one motion on, with the job data's extra fields (the fetch
 * run that led to it); returns each connection's job id, null where one was already waiting.
 */
async function queueChecks(
  app: App,
  queue: JobQueue,
  data: Omit<SyncJobData, "connectionId">,
): Promise<{ connectionId: string; jobId: string | null }[]> {
  const jobs: { connectionId: string; jobId: string | null }[] = [];
  for (const connection of await app.connections.list()) {
    if ((await enabledMotions(app, connection)).length === 0) continue;
    jobs.push({
      connectionId: connection.id,
      jobId: await enqueueSync(queue, { ...data, connectionId: connection.id }),
    });
  }
  return jobs;
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

/**
 * The connection a job is for, or null when it was removed since the job was queued. Any other failure to
 * read it (the database, say) fails the job, which is then retried: it must not pass for "nothing to do".
 */
async function connectionOf(app: App, connectionId: string): Promise<ConnectionView | null> {
  try {
    return await app.connections.view(connectionId);
  } catch (error) {
    if (error instanceof ConnectionInputError && error.field === "id") return null;
    throw error;
  }
}

function jobFields(job: Job<{ connectionId: string }>) {
  return { jobId: job.id, jobName: job.name, attempt: job.attempt, connectionId: job.data.connectionId };
}

/**
 * Runs the job's motions one after the other. A job that ends without a sync run says why in the log; a busy
 * connection (another run holds its lock) makes the job fail and come back later, never pass as done.
 */
async function runSyncJob(app: App, job: Job<SyncJobData>, log: Logger): Promise<void> {
  const { data } = job;
  const fields = jobFields(job);
  const connection = await connectionOf(app, data.connectionId);
  if (!connection) {
    log.info(fields, "sync job skipped: its connection was removed after it was queued");
    return;
  }
  const on = await enabledMotions(app, connection);
  // A motion switched off since the job was queued is not synced.
  const motions = data.motion ? on.filter((m) => m === data.motion) : on;
  if (motions.length === 0) {
    const reason = data.motion
      ? ((await motionOffReason(app, connection, data.motion))?.message ?? `${data.motion} is off`)
      : `no billing motion is switched on for ${connection.name}`;
    log.info({ ...fields, motion: data.motion }, `sync job skipped: ${reason}`);
    return;
  }
  const scope = data.customerTenantId ? { customerTenantId: data.customerTenantId } : {};
  let busy: RunAlreadyActiveError | null = null;
  for (const motion of motions) {
    try {
      // The run's PSA requests are logged with the job's fields (job id, connection id).
      const run = await runMotion(app, motion, data.connectionId, data.trigger, scope, {
        log: log.child(fields),
      });
      if (data.fetchRunId)
        await app.sources.repository.linkSyncRun(data.fetchRunId, run.runId, data.connectionId);
      await notifyRunFinished(app, connection, motion, run);
      log.info(
        { ...fields, motion, runId: run.runId, status: run.status, written: run.written, errors: run.errors },
        "sync run finished",
      );
    } catch (error) {
      if (!(error instanceof RunAlreadyActiveError)) throw error;
      busy = error;
      log.warn(
        { ...fields, motion, activeRunId: error.activeRunId },
        "sync not started: another run holds this connection's lock; the job will be retried",
      );
    }
  }
  if (busy) throw new Error(`${busy.message}; will try again`);
}

async function runProductJob(app: App, job: Job<ProductJobData>, log: Logger): Promise<void> {
  const fields = jobFields(job);
  const connection = await connectionOf(app, job.data.connectionId);
  if (!connection) {
    log.info(fields, "product sync job skipped: its connection was removed after it was queued");
    return;
  }
  const mode = connection.settings.productSyncMode;
  if (mode !== "all" && mode !== "in-use") {
    log.info(fields, `product sync job skipped: product sync is off for ${connection.name}`);
    return;
  }
  try {
    const { run } = await runProductSync(app, job.data.connectionId, job.data.trigger);
    log.info({ ...fields, runId: run.id, status: run.status }, "product sync run finished");
  } catch (error) {
    if (!(error instanceof ProductRunActiveError)) throw error;
    log.warn(fields, "product sync not started: another product run is active; the job will be retried");
    throw new Error(`${error.message}; will try again`);
  }
}

/**
 * Fetching billing data from a source (Microsoft Partner Center, docs/partner-center.md §7): one "fetch-source"
 * job per source at a time (serial key), queued by the daily check before the syncs. A fetch that imported new
 * lines queues the syncs at once and records them on its fetch run; a passing failure (throttled, Microsoft
 * down, an export that did not finish, a blob cut short) fails the job so the queue retries it with backoff.
 */
export const FETCH_SOURCE_JOB = "fetch-source";
export type FetchJobData = {
  sourceId: string;
  trigger: SyncTrigger;
  invoiceId?: string;
  unbilled?: boolean;
  /** The fetch run "Fetch now" queued (and answered with); the job runs it. */
  fetchRunId?: string;
};

export function fetchAppOf(app: App): FetchApp {
  return {
    store: app.store,
    organizationId: app.organizationId,
    dataDir: app.config.dataDir,
    microsoftAllowedHosts: app.config.microsoftAllowedHosts,
    sources: app.sources,
  };
}

export function enqueueFetch(queue: JobQueue, data: FetchJobData): Promise<string | null> {
  return queue.send(FETCH_SOURCE_JOB, data, {
    serialKey: `fetch:${data.sourceId}`,
    retryLimit: 4,
    retryDelaySeconds: 300,
    retryBackoff: true,
  });
}

/** Queues a fetch (billed and unbilled) for every enabled source; returns how many were queued. */
export async function enqueueFetches(app: App, queue: JobQueue, trigger: SyncTrigger): Promise<number> {
  let queued = 0;
  for (const source of await app.sources.list()) {
    if (!source.enabled) continue;
    if ((await enqueueFetch(queue, { sourceId: source.id, trigger, unbilled: true })) !== null) queued += 1;
  }
  return queued;
}

/**
 * Runs one fetch and, when it brought new lines, queues the syncs of every enabled connection (linked on the
 * fetch run). Returns the outcome; throws for a passing failure so that the job is retried.
 */
export async function runFetch(
  app: App,
  queue: JobQueue,
  data: FetchJobData,
  options: Partial<FetchOptions> = {},
): Promise<FetchOutcome> {
  const fetchApp = fetchAppOf(app);
  const outcome = await fetchSource(fetchApp, data.sourceId, {
    ...options,
    trigger: data.trigger,
    ...(data.invoiceId ? { invoiceId: data.invoiceId } : {}),
    ...(data.fetchRunId ? { runId: data.fetchRunId } : {}),
    unbilled: data.unbilled ?? false,
  });
  await notifyFetchFinished(app, outcome);
  if (outcome.newLines > 0) {
    const jobs = await queueChecks(app, queue, { trigger: data.trigger, fetchRunId: outcome.runId });
    await linkSyncJobs(fetchApp, outcome.runId, jobs);
  }
  return outcome;
}

async function runFetchJob(
  app: App,
  queue: JobQueue,
  job: Job<FetchJobData>,
  log: Logger,
  options: Partial<FetchOptions>,
): Promise<void> {
  const fields = { jobId: job.id, jobName: job.name, attempt: job.attempt, sourceId: job.data.sourceId };
  let outcome: FetchOutcome;
  try {
    outcome = await runFetch(app, queue, job.data, options);
  } catch (error) {
    if (error instanceof Error && "field" in error && (error as { field?: string }).field === "id") {
      log.info(fields, "fetch job skipped: its source was removed after it was queued");
      return;
    }
    throw error;
  }
  log.info(
    {
      ...fields,
      runId: outcome.runId,
      status: outcome.status,
      errorKind: outcome.errorKind,
      newLines: outcome.newLines,
    },
    outcome.message,
  );
  if (outcome.status === "failed" && outcome.transient) throw new Error(`${outcome.message}; will try again`);
}

export type SyncWorker = {
  queue: JobQueue;
  reschedule(): Promise<{ cron: string; timeZone: string; nextRunAt: Date }>;
  stop(): Promise<void>;
};

export type SyncWorkerOptions = {
  /** The queue to work; by default one is opened (openJobQueue) and stopped if starting fails. */
  queue?: JobQueue;
  /** Sync jobs this process runs at once. Default 2. */
  concurrency?: number;
  /** Default: the app's logger (JSON lines on standard output at CSPSYNC_LOG_LEVEL). */
  logger?: Logger;
  /** How fetches poll and retry (default: Microsoft's pace; tests shorten it). */
  fetch?: Partial<FetchOptions>;
};

/**
 * Starts working the sync jobs and installs the daily check. If anything fails on the way, the queue it
 * opened is stopped before the error is thrown, so a process that could not start has nothing left running.
 */
export async function startSyncWorker(app: App, options: SyncWorkerOptions = {}): Promise<SyncWorker> {
  const log = options.logger ?? app.log;
  const queue = options.queue ?? openJobQueue(app, {}, log);
  try {
    await queue.work<SyncJobData>(SYNC_CONNECTION_JOB, (job) => runSyncJob(app, job, log), {
      concurrency: options.concurrency ?? 2,
    });
    await queue.work<ProductJobData>(SYNC_PRODUCTS_JOB, (job) => runProductJob(app, job, log));
    await queue.work<FetchJobData>(FETCH_SOURCE_JOB, (job) =>
      runFetchJob(app, queue, job, log, options.fetch ?? {}),
    );
    await queue.work(DAILY_CHECK_JOB, async (job) => {
      // New billing data first: the fetches are queued before the syncs (docs/partner-center.md §7).
      const fetches = await enqueueFetches(app, queue, "schedule");
      if (fetches > 0) log.info({ jobId: job.id, fetches }, "daily check queued fetches");
      const syncs = await enqueueChecks(app, queue, "schedule");
      const products = await enqueueProductSyncs(app, queue, "schedule");
      log.info({ jobId: job.id, syncs, products }, "daily check queued syncs");
    });
    await startNotifyWorker(app, queue, log);
    await queue.start();
    const settings = new AppSettingsService(app.store, app.organizationId);
    const reschedule = async () => {
      const { dailySyncTime, timeZone } = await settings.get();
      const installed = await installDailyCheckSchedule(queue, { time: dailySyncTime, timeZone });
      return { cron: installed.cron, timeZone: installed.timeZone, nextRunAt: installed.nextRunAt };
    };
    await reschedule();
    return { queue, reschedule, stop: () => queue.stop({ graceful: true }) };
  } catch (error) {
    if (!options.queue) await queue.stop({ graceful: false }).catch(() => undefined);
    throw error;
  }
}
