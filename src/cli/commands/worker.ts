import { parseArgs } from "node:util";
import { startSyncWorker, enqueueChecks, openJobQueue } from "../../jobs/sync-worker.ts";
import { withApp } from "./connections.ts";
import { untilStopped } from "../signals.ts";

export const workerHelp = `cspsync worker [--db URL]
cspsync worker --check-now [--db URL]

Runs background syncing: the daily check at the configured time and time zone (cspsync serve's Settings, or
PUT /api/settings), and queued syncs (e.g. after an import with new annual charges). Several workers may share
one database and may be started at the same time. --check-now queues a check for every connection with annual
sync on and exits.

A worker that cannot start (database unreachable, schema newer than this version, …) exits with status 1 and
the reason on stderr. A job whose worker dies runs again on another worker within about 7/6 of the job lease
plus a second (CSPSYNC_JOB_LEASE_SECONDS, default 60: about 71 s). Its sync takes over the dead run at once on
the same node; from another node only once the run has been silent for CSPSYNC_RUN_STALE_SECONDS (default
120), so until then the job waits for its next retry (a few minutes with the defaults). Log lines (JSON) go to
standard output at CSPSYNC_LOG_LEVEL.`;

export async function workerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { db: { type: "string" }, "check-now": { type: "boolean" } },
  });
  return withApp(values.db, async (app) => {
    if (values["check-now"]) {
      const queue = openJobQueue(app);
      try {
        const queued = await enqueueChecks(app, queue, "manual");
        console.log(
          `Queued a Seat-based Annual check for ${queued} connection(s); a running worker will pick it up.`,
        );
      } finally {
        await queue.stop();
      }
      return 0;
    }
    const worker = await startSyncWorker(app);
    const schedule = await worker.reschedule();
    // Listening before the banner: whoever waits for the banner may stop the worker right after it.
    const stopped = untilStopped();
    console.log(
      `cspsync worker on ${app.store.describe}: daily check ${schedule.cron} (${schedule.timeZone}), next ${schedule.nextRunAt.toISOString()}`,
    );
    await stopped;
    console.log("stopping: letting running syncs finish…");
    await worker.stop();
    return 0;
  });
}
