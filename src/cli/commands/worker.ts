import { parseArgs } from "node:util";
import { startSyncWorker, enqueueChecks, openJobQueue } from "../../services/sync-worker.ts";
import { withApp } from "./connections.ts";

export const workerHelp = `cspsync worker [--db URL]
cspsync worker --check-now [--db URL]

Runs background syncing: the daily check at the configured time and time zone (cspsync serve's Settings, or
PUT /api/settings), and queued syncs (e.g. after an import with new annual charges). Several workers may share
one PostgreSQL database. --check-now queues a check for every connection with annual sync on and exits.`;

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
    console.log(
      `cspsync worker on ${app.store.describe}: daily check ${schedule.cron} (${schedule.timeZone}), next ${schedule.nextRunAt.toISOString()}`,
    );
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    console.log("stopping: letting running syncs finish…");
    await worker.stop();
    return 0;
  });
}
