import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { createApp, type App } from "../src/app.ts";
import { importReconFile } from "../src/services/import-recon.ts";
import { openJobQueue, SYNC_CONNECTION_JOB } from "../src/jobs/sync-worker.ts";
import { DAILY_CHECK_JOB, DAILY_CHECK_SCHEDULE } from "../src/jobs/index.ts";
import { DEFAULT_MAX_CONCURRENT, DEFAULT_REQUESTS_PER_MINUTE } from "../src/psa/connectwise/client.ts";
import { isWriteKey } from "../src/core/write-keys.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../emulators/connectwise/index.ts";
import { tenantOf, writeMonth } from "./daily-data.ts";
import { mapThreeMotions, seedConnectWise } from "./daily-connectwise.ts";

/**
 * npm run bench:workers -- [--connections 8] [--customers 40] [--latency 50] [--workers 1,2,4] [--cpu-prof DIR]
 * Several `cspsync worker` processes on one PostgreSQL database (pg-boss): `connections` ConnectWise
 * connections, each to its own emulator (so each has its own PSA limits) with `customers` customers of
 * bench:daily's data (15 lines each, all three motions mapped), and for each W of --workers: a fresh database
 * and fresh emulators, W real `bin/cspsync.js worker` processes, one daily-check job (which queues one
 * sync-connection job per connection, as at the daily hour), and the wait until every job and run ended.
 * Prints writes, PSA requests, wall time, writes/s, and the minimum the PSAs' limits allow — per connection the
 * client's own pacing (900/min after a burst of 90) and its 4 concurrent requests; all connections in parallel,
 * so the slowest connection's — with the ratio. Then checks that every charge is in the PSA exactly once and
 * that ledger, runs, jobs and emulators agree; any mismatch fails the bench.
 */
const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "8" },
    customers: { type: "string", default: "40" },
    latency: { type: "string", default: "50" },
    workers: { type: "string", default: "1,2,4" },
    /** Give up on a point after this many seconds (a lost job or a retry would otherwise wait minutes). */
    timeout: { type: "string", default: "300" },
    /** Write a V8 CPU profile of every worker process into this directory (node --cpu-prof). */
    "cpu-prof": { type: "string" },
  },
});
const connectionCount = Number(values.connections);
const perConnection = Number(values.customers);
const latencyMs = Number(values.latency);
const workerCounts = values.workers.split(",").map(Number);
const timeoutMs = Number(values.timeout) * 1000;
/** Sync jobs one worker process runs at once (startSyncWorker's default; `cspsync worker` has no option). */
const JOBS_PER_WORKER = 2;
const BIN = path.resolve(import.meta.dirname, "../bin/cspsync.js");
// The V8 settings bin/cspsync.js runs with (read from its first line), as a worker started from it gets them.
const NODE_FLAGS = (fs.readFileSync(BIN, "utf8").split("\n")[0] ?? "")
  .split(/\s+/)
  .filter((word) => word.startsWith("--"));
const ADMIN_URL = process.env.CSPSYNC_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

function load(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/** A new PostgreSQL database for one point, dropped afterwards (as bench:ingest's). */
async function withPostgres<T>(label: string, run: (url: string) => Promise<T>): Promise<T> {
  const name = `cspsync_bench_workers_${process.pid}_${label}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  try {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    return await run(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

type WorkerProcess = {
  child: ChildProcess;
  pid: number;
  logFile: string;
  stderr(): string;
  exited: Promise<number | null>;
};

const BANNER = /^cspsync worker on .*: daily check /m;

function startWorker(databaseUrl: string, env: NodeJS.ProcessEnv, logFile: string): WorkerProcess {
  const profile = values["cpu-prof"]
    ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(values["cpu-prof"])}`]
    : [];
  const child = spawn(process.execPath, [...NODE_FLAGS, ...profile, BIN, "worker", "--db", databaseUrl], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = fs.createWriteStream(logFile);
  let stderr = "";
  child.stdout!.pipe(log);
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    log.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => log.end(() => resolve(code))),
  );
  return { child, pid: child.pid!, logFile, stderr: () => stderr, exited };
}

/** Resolves once the worker printed its banner (it polls for jobs from then on). */
async function started(worker: WorkerProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (fs.existsSync(worker.logFile) && BANNER.test(fs.readFileSync(worker.logFile, "utf8"))) return;
    if (worker.child.exitCode !== null || Date.now() > deadline)
      throw new Error(
        `worker ${worker.pid} did not start (exit ${worker.child.exitCode}): ${worker.stderr()}`,
      );
    await sleep(50);
  }
}

/** CPU seconds (user + system) a live process has used so far, from /proc. */
function cpuSecondsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the command); Linux counts 100 per second.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Seconds the process's main thread (where its JavaScript runs) was ready to run but waited for a core, from
 * /proc/<pid>/schedstat: how much of a point's wall time the machine's other work took from it.
 */
function runQueueWaitOf(pid: number | "self"): number {
  return Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
}

type ConnectionResult = {
  name: string;
  requests: number;
  writes: number;
  /** The minimum this connection's client allows for its requests (seconds). */
  bound: number;
};

type Point = {
  workers: number;
  seconds: number;
  syncSpanSeconds: number;
  writes: number;
  requests: number;
  connections: ConnectionResult[];
  workerCpuSeconds: number;
  benchCpuSeconds: number;
  /** Run-queue waits of the workers' main threads (sum) and of the bench's (the emulators'). */
  workerWaitSeconds: number;
  benchWaitSeconds: number;
  /** Each sync job's start and end, seconds after the daily-check job was sent. */
  jobTimes: { start: number; end: number }[];
  workerPids: number;
  loadStart: string;
  loadEnd: string;
};

/**
 * The minimum one ConnectWise connection's requests take under its client's limits: the pacing bucket (a burst of
 * a tenth of the rate, then the rate) and the concurrency cap with every request waiting `latency` ms.
 */
function connectionBound(requests: number): number {
  const perSecond = DEFAULT_REQUESTS_PER_MINUTE / 60;
  const burst = Math.ceil(DEFAULT_REQUESTS_PER_MINUTE / 10);
  return Math.max(
    (requests * latencyMs) / 1000 / DEFAULT_MAX_CONCURRENT,
    Math.max(0, requests - burst) / perSecond,
  );
}

async function createConnections(app: App, emulators: ConnectWiseEmulator[]): Promise<string[]> {
  const ids: string[] = [];
  for (const [n, cw] of emulators.entries()) {
    const { companyId, publicKey, privateKey } = cw.credentials;
    const connection = await app.connections.create({
      vendor: "connectwise",
      name: `CW ${n + 1}`,
      config: {
        site: cw.url,
        companyId,
        publicKey,
        clientId: `00000000-0000-4000-8000-${(0xda11 + n).toString(16).padStart(12, "0")}`,
      },
      secrets: { privateKey },
      settings: { fallbackCatalogItem: "CSP-LICENSE" },
    });
    await app.connections.update(connection.id, { seatAnnualEnabled: true });
    // Connection n bills customers n × perConnection + 1 … (n + 1) × perConnection of the invoice, on the
    // companies seeded into its own emulator.
    const targets = seedConnectWise(cw, perConnection);
    for (const [c, t] of targets) {
      await mapThreeMotions(app.mappings, connection.id, tenantOf(n * perConnection + c), t);
    }
    ids.push(connection.id);
  }
  return ids;
}

type JobRow = { id: string; name: string; state: string; retry_count: number; output: unknown };

async function jobsOf(client: pg.Client): Promise<JobRow[]> {
  const { rows } = await client.query<JobRow>(
    `SELECT id, name, state::text AS state, retry_count, output FROM pgboss.job WHERE name = ANY($1)`,
    [[DAILY_CHECK_JOB, SYNC_CONNECTION_JOB]],
  );
  return rows;
}

/**
 * Every charge written exactly once: for each connection the ledger's confirmed keys and the additions carrying
 * a write key in its emulator are the same set, one addition per key with the ledger's record id, every write
 * request of the log made one addition, and every sync job ran once on one worker, one run per motion.
 */
async function verify(
  app: App,
  client: pg.Client,
  connectionIds: string[],
  emulators: ConnectWiseEmulator[],
  expectedWrites: number | null,
): Promise<string[]> {
  const problems: string[] = [];
  const jobs = await jobsOf(client);
  const syncJobs = jobs.filter((j) => j.name === SYNC_CONNECTION_JOB);
  if (syncJobs.length !== connectionIds.length)
    problems.push(`${syncJobs.length} sync jobs for ${connectionIds.length} connections`);
  for (const job of jobs)
    if (job.state !== "completed" || job.retry_count !== 0)
      problems.push(
        `job ${job.name} ${job.id}: ${job.state}, retry ${job.retry_count}: ${JSON.stringify(job.output)}`,
      );
  let writes = 0;
  for (const [n, connectionId] of connectionIds.entries()) {
    const name = `CW ${n + 1}`;
    const ledger = await app.store.db
      .selectFrom("psa_writes")
      .select(["write_key", "status", "psa_record_id", "attempts"])
      .where("connection_id", "=", connectionId)
      .execute();
    const runs = await app.store.db
      .selectFrom("sync_runs")
      .select(["id", "status", "owner", "written", "errors"])
      .where("connection_id", "=", connectionId)
      .execute();
    const notConfirmed = ledger.filter((w) => w.status !== "confirmed");
    if (notConfirmed.length > 0) problems.push(`${name}: ${notConfirmed.length} ledger rows not confirmed`);
    const retried = ledger.filter((w) => Number(w.attempts) !== 1);
    if (retried.length > 0) problems.push(`${name}: ${retried.length} writes attempted more than once`);
    // "warning" is the Azure run's note on the data (not an error); every run must have ended without errors.
    if (
      runs.length !== 3 ||
      runs.some((r) => !["success", "warning"].includes(r.status) || Number(r.errors) !== 0)
    )
      problems.push(
        `${name}: runs ${JSON.stringify(runs.map((r) => [r.status, Number(r.errors)]))}, expected 3 runs without errors`,
      );
    const owners = new Set(runs.map((r) => r.owner));
    if (owners.size !== 1)
      problems.push(`${name}: its runs ran in ${owners.size} processes (one job, one process)`);
    const written = runs.reduce((sum, r) => sum + Number(r.written), 0);
    if (written !== ledger.length)
      problems.push(`${name}: runs wrote ${written}, ledger holds ${ledger.length}`);

    const additions = emulators[n]!.data().tables.additions.filter(
      (a) => typeof a.serialNumber === "string" && isWriteKey(a.serialNumber),
    );
    const byKey = new Map<string, number[]>();
    for (const a of additions) {
      const key = String(a.serialNumber);
      byKey.set(key, [...(byKey.get(key) ?? []), a.id]);
    }
    const duplicated = [...byKey.values()].filter((ids) => ids.length > 1).length;
    if (duplicated > 0)
      problems.push(`${name}: ${duplicated} write keys on more than one addition in the PSA`);
    const missing = ledger.filter((w) => {
      const ids = byKey.get(w.write_key);
      return !ids || !ids.includes(Number(w.psa_record_id));
    }).length;
    if (missing > 0) problems.push(`${name}: ${missing} ledger rows without their addition in the PSA`);
    if (byKey.size !== ledger.length)
      problems.push(`${name}: ${byKey.size} keys in the PSA, ${ledger.length} in the ledger`);
    const posts = emulators[n]!.server.requestLog().filter((r) => r.method !== "GET").length;
    if (posts !== additions.length)
      problems.push(`${name}: ${posts} write requests for ${additions.length} additions`);
    writes += ledger.length;
  }
  if (expectedWrites !== null && writes !== expectedWrites)
    problems.push(`${writes} writes where the first point made ${expectedWrites}: not the same work`);
  return problems;
}

async function runPoint(
  workerCount: number,
  dir: string,
  monthFile: string,
  expectedWrites: number | null,
): Promise<Point> {
  // Fresh PSA side: one emulator per connection, seeded before any request, latency on.
  const emulators: ConnectWiseEmulator[] = [];
  for (let n = 0; n < connectionCount; n++)
    emulators.push(await startConnectWiseEmulator({ seed: "demo", latencyMs }));
  const env = {
    CSPSYNC_DATA_DIR: path.join(dir, `data-${workerCount}`),
    CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
    CSPSYNC_PSA_ALLOWED_HOSTS: emulators.map((e) => new URL(e.url).host).join(","),
    CSPSYNC_LOG_LEVEL: "info",
  };
  try {
    return await withPostgres(`w${workerCount}`, async (databaseUrl) => {
      const app = await createApp({ databaseUrl, env, log: false });
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      const workers: WorkerProcess[] = [];
      try {
        const imported = await importReconFile(app.store, monthFile);
        if (imported.status !== "imported") throw new Error(`import failed: ${JSON.stringify(imported)}`);
        const connectionIds = await createConnections(app, emulators);
        for (const e of emulators) e.server.clearRequestLog();
        for (let w = 0; w < workerCount; w++)
          workers.push(startWorker(databaseUrl, env, path.join(dir, `worker-${workerCount}-${w + 1}.log`)));
        for (const worker of workers) await started(worker);
        const cpuBefore = workers.map((w) => cpuSecondsOf(w.pid));
        const waitBefore = workers.map((w) => runQueueWaitOf(w.pid));
        const benchWaitBefore = runQueueWaitOf("self");
        const benchCpuBefore = process.cpuUsage();

        // What the daily hour does: one daily-check job, which a worker runs and which queues the syncs.
        const loadStart = load();
        const queue = openJobQueue(app);
        const startedAt = process.hrtime.bigint();
        const sentAt = Date.now();
        await queue.send(DAILY_CHECK_JOB, {}, { serialKey: DAILY_CHECK_SCHEDULE });
        await queue.stop();
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const jobs = await jobsOf(client);
          const check = jobs.find((j) => j.name === DAILY_CHECK_JOB);
          const syncs = jobs.filter((j) => j.name === SYNC_CONNECTION_JOB);
          const ended = (j: JobRow) => j.state === "completed" || j.state === "failed";
          if (check && ended(check) && syncs.length === connectionIds.length && syncs.every(ended)) break;
          const stuck = jobs.find((j) => j.state === "retry" || j.state === "failed");
          if (stuck)
            throw new Error(`job ${stuck.name} ${stuck.id} ${stuck.state}: ${JSON.stringify(stuck.output)}`);
          if (Date.now() > deadline)
            throw new Error(`not done after ${values.timeout} s: ${JSON.stringify(jobs)}`);
          await sleep(100);
        }
        const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
        const loadEnd = load();
        const benchCpu = process.cpuUsage(benchCpuBefore);
        const workerCpuSeconds = workers.reduce((sum, w, i) => sum + cpuSecondsOf(w.pid) - cpuBefore[i]!, 0);
        const workerWaitSeconds = workers.reduce(
          (sum, w, i) => sum + runQueueWaitOf(w.pid) - waitBefore[i]!,
          0,
        );
        const benchWaitSeconds = runQueueWaitOf("self") - benchWaitBefore;
        const { rows: times } = await client.query<{ started: Date; completed: Date }>(
          `SELECT started_on AS started, completed_on AS completed FROM pgboss.job WHERE name = $1 ORDER BY started_on`,
          [SYNC_CONNECTION_JOB],
        );
        const jobTimes = times.map((t) => ({
          start: (t.started.getTime() - sentAt) / 1000,
          end: (t.completed.getTime() - sentAt) / 1000,
        }));

        const span = await app.store.db
          .selectFrom("sync_runs")
          .select((eb) => [eb.fn.min("started_at").as("first"), eb.fn.max("finished_at").as("last")])
          .executeTakeFirstOrThrow();
        const owners = await app.store.db.selectFrom("sync_runs").select("owner").distinct().execute();
        const problems = await verify(app, client, connectionIds, emulators, expectedWrites);
        if (problems.length > 0) {
          throw new Error(
            `W = ${workerCount}: ${problems.length} problems:\n  ${problems.join("\n  ")}\nworker logs: ${workers.map((w) => w.logFile).join(", ")}`,
          );
        }
        const connections = emulators.map((e, n): ConnectionResult => {
          const log = e.server.requestLog();
          const writes = log.filter((r) => r.method !== "GET").length;
          return { name: `CW ${n + 1}`, requests: log.length, writes, bound: connectionBound(log.length) };
        });
        return {
          workers: workerCount,
          seconds,
          syncSpanSeconds: (Date.parse(String(span.last)) - Date.parse(String(span.first))) / 1000,
          writes: connections.reduce((sum, c) => sum + c.writes, 0),
          requests: connections.reduce((sum, c) => sum + c.requests, 0),
          connections,
          workerCpuSeconds,
          benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
          workerWaitSeconds,
          benchWaitSeconds,
          jobTimes,
          workerPids: owners.length,
          loadStart,
          loadEnd,
        };
      } finally {
        for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGTERM");
        await Promise.all(workers.map((w) => w.exited));
        await client.end();
        await app.close();
      }
    });
  } finally {
    for (const e of emulators) await e.close();
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-workers-"));
const monthFile = path.join(dir, "june.csv");
const customers = connectionCount * perConnection;
const lines = writeMonth(monthFile, customers);
console.log(
  `${connectionCount} ConnectWise connections (one emulator each, latency ${latencyMs} ms) × ${perConnection} customers × 15 lines (${lines} lines, 3 motions mapped per customer); PostgreSQL, pg-boss; ${JOBS_PER_WORKER} sync jobs per worker process; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}`,
);
const points: Point[] = [];
let failed = false;
try {
  for (const w of workerCounts) {
    const point = await runPoint(w, dir, monthFile, points[0]?.writes ?? null);
    points.push(point);
    const bound = Math.max(...point.connections.map((c) => c.bound));
    console.log(
      `W = ${w}: ${point.writes} writes, ${point.requests} PSA requests, wall ${point.seconds.toFixed(1)} s (runs span ${point.syncSpanSeconds.toFixed(1)} s), ${(point.writes / point.seconds).toFixed(1)} writes/s; bound ${bound.toFixed(1)} s (${(point.seconds / bound).toFixed(2)}×); ran in ${point.workerPids} processes; CPU workers ${point.workerCpuSeconds.toFixed(1)} s, bench + emulators ${point.benchCpuSeconds.toFixed(1)} s; waiting for a core: workers ${point.workerWaitSeconds.toFixed(1)} s, bench ${point.benchWaitSeconds.toFixed(1)} s; load ${point.loadStart} → ${point.loadEnd}; written once: checked`,
    );
    console.log(
      `  sync jobs (start → end, s after the daily check was queued): ${point.jobTimes.map((t) => `${t.start.toFixed(1)}→${t.end.toFixed(1)}`).join(", ")}`,
    );
  }
} catch (error) {
  failed = true;
  console.error(error instanceof Error ? error.message : error);
  console.error(`logs kept in ${dir}`);
}

if (points.length > 0) {
  console.log("");
  console.log(
    "| workers | job slots | writes | PSA requests | wall (s) | writes/s | speed-up | PSA bound (s) | wall ÷ bound | bound with the job slots (s) | load start → end |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const p of points) {
    const bounds = p.connections.map((c) => c.bound);
    const bound = Math.max(...bounds);
    // W workers run W × 2 sync jobs at once: the connections' bounds shared over the slots, at least the slowest.
    const slots = p.workers * JOBS_PER_WORKER;
    const slotBound = Math.max(bound, bounds.reduce((a, b) => a + b, 0) / slots);
    console.log(
      `| ${p.workers} | ${slots} | ${p.writes} | ${p.requests} | ${p.seconds.toFixed(1)} | ${(p.writes / p.seconds).toFixed(1)} | ${(points[0]!.seconds / p.seconds).toFixed(2)}× | ${bound.toFixed(1)} | ${(p.seconds / bound).toFixed(2)}× | ${slotBound.toFixed(1)} (${(p.seconds / slotBound).toFixed(2)}×) | ${p.loadStart} → ${p.loadEnd} |`,
    );
  }
  const last = points.at(-1)!;
  console.log(
    `\nper connection at W = ${last.workers}: ${last.connections.map((c) => `${c.name} ${c.requests} req / ${c.writes} writes, bound ${c.bound.toFixed(1)} s`).join("; ")}`,
  );
}
if (!failed) fs.rmSync(dir, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
