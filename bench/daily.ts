import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { setTimeout as sleep } from "node:timers/promises";
import { createApp, type App } from "../src/app.ts";
import { importReconFile } from "../src/services/import-recon.ts";
import { runMotion } from "../src/services/motion-sync.ts";
import { BILLING_MOTIONS } from "../src/core/billing.ts";
import { RequestBudget } from "../src/psa/shared/transport.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../emulators/connectwise/index.ts";
import { startAutotaskEmulator, type AutotaskEmulator } from "../emulators/autotask/index.ts";
import type { EmulatorServer } from "../emulators/kit.ts";
import { changedCustomers, INVOICE, tenantOf, writeChange, writeMonth } from "./daily-data.ts";
import { measureServe } from "./daily-serve.ts";
import { seedAutotask } from "./daily-autotask.ts";
import { mapThreeMotions, seedConnectWise } from "./daily-connectwise.ts";

/**
 * npm run bench:daily -- [--customers 2000] [--psa connectwise|autotask] [--latency 50] [--serve]
 *                          [--unpaced] [--keep DIR] [--serve-from DIR]
 * An MSP of N customers, all three billing motions mapped on one PSA connection (3 × N entries), 15
 * lines per customer on the month's invoice, the emulator answering every request after `latency` ms. Measures
 * the first full sync, a daily check with nothing new, and a daily check after 1 % of the customers changed
 * seats: PSA reads and writes, wall time, peak RSS so far, and the minimum the PSA's limits allow.
 * `--serve` then measures `cspsync serve` answering the customers, history and report pages on that database.
 *
 * Building the 2,000-customer database for `--serve` takes ~30 minutes through ConnectWise's 900 requests/minute.
 * `--unpaced --latency 0` builds the same database (same data, same runs and ledger) in a few minutes: the
 * client's pacing waits are skipped (RequestBudget.pace returns at once; the ConnectWise emulator never
 * throttles), so the sync phases' times are then meaningless. `--keep DIR` copies the database and
 * what serve needs to open it (secret key, connection id) to DIR; `--serve-from DIR` measures serve on a copy
 * of a kept database without syncing anything.
 */
const { values } = parseArgs({
  options: {
    customers: { type: "string", default: "2000" },
    psa: { type: "string", default: "connectwise" },
    latency: { type: "string", default: "50" },
    /** Print each request of the "changed" check (method and path, ids as :id). */
    "show-requests": { type: "boolean", default: false },
    /** Then start `cspsync serve` on the benchmark's database and measure its peak RSS (bench/daily-serve.ts). */
    serve: { type: "boolean", default: false },
    /** Skip the PSA client's pacing waits (seeding a database for --serve; sync times are then meaningless). */
    unpaced: { type: "boolean", default: false },
    /** Keep the database (and what serve needs to open it) in this directory. */
    keep: { type: "string" },
    /** Only measure serve, on a copy of a database kept with --keep in this directory. */
    "serve-from": { type: "string" },
  },
});
const customers = Number(values.customers);
const latencyMs = Number(values.latency);
if (values.psa !== "connectwise" && values.psa !== "autotask") {
  console.error(`--psa ${values.psa}: connectwise or autotask`);
  process.exit(2);
}
const vendor: "connectwise" | "autotask" = values.psa;

/** What --keep writes beside the database, and --serve-from reads. */
type Kept = {
  customers: number;
  env: Record<string, string>;
  connectionId: string;
  invoice: string;
  customer: string;
  built: string;
};

function printServe(serve: Awaited<ReturnType<typeof measureServe>>): void {
  console.log(
    `\ncspsync serve on this database: peak RSS (VmHWM) ${serve.peakRssMb.toFixed(0)} MB (goal < 300 MB), ${serve.webAppPeakMb.toFixed(0)} MB after the web app's requests; ${serve.startedMb.toFixed(0)} MB when it first answered`,
  );
  for (const c of serve.calls)
    console.log(
      `  ${c.status} ${c.path}: ${c.ms.toFixed(0)} ms, ${(c.bytes / 1024).toFixed(0)} KiB, VmHWM after it ${c.peakMb.toFixed(0)} MB`,
    );
}

if (values["serve-from"] !== undefined) {
  // A copy, so that every measurement starts from the same file (serve adds its admin and sessions).
  const from = path.resolve(values["serve-from"]);
  const kept = JSON.parse(fs.readFileSync(path.join(from, "kept.json"), "utf8")) as Kept;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-serve-"));
  try {
    fs.copyFileSync(path.join(from, "daily.db"), path.join(work, "daily.db"));
    console.log(
      `serve on a copy of ${from}/daily.db: ${kept.customers} customers, built ${kept.built}; node ${process.version}; load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    printServe(
      await measureServe({
        databaseUrl: `sqlite:${path.join(work, "daily.db")}`,
        env: { ...kept.env, CSPSYNC_DATA_DIR: path.join(work, "data") },
        connectionId: kept.connectionId,
        invoice: kept.invoice,
        customer: kept.customer,
      }),
    );
    console.log(
      `load average at the end ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}

/** The PSA connection the bench syncs to. */
function createConnection(
  app: App,
  cw: ConnectWiseEmulator | null,
  at: AutotaskEmulator | null,
  billingCodeId: number | null,
) {
  if (cw) {
    const { companyId, publicKey, privateKey } = cw.credentials;
    return app.connections.create({
      vendor: "connectwise",
      name: "CW",
      config: { site: cw.url, companyId, publicKey, clientId: "00000000-0000-4000-8000-00000000da11" },
      secrets: { privateKey },
      settings: { fallbackCatalogItem: "CSP-LICENSE" },
    });
  }
  const user = at!.users[0]!;
  return app.connections.create({
    vendor: "autotask",
    name: "AT",
    config: { username: user.userName, discoveryUrl: at!.apiBaseUrl },
    secrets: { secret: user.secret, integrationCode: user.integrationCode },
    settings: { chargeBillingCodeId: billingCodeId! },
  });
}

type Phase = {
  name: string;
  reads: number;
  writes: number;
  written: number;
  errors: number;
  agreementsTouched: number;
  seconds: number;
  peakRssMb: number;
};

async function phase(
  app: App,
  emulator: { server: EmulatorServer },
  connectionId: string,
  name: string,
): Promise<Phase> {
  emulator.server.clearRequestLog();
  const startedAt = new Date().toISOString();
  const started = process.hrtime.bigint();
  let written = 0;
  let errors = 0;
  let firstError: string | undefined;
  for (const motion of BILLING_MOTIONS) {
    const run = await runMotion(app, motion, connectionId, "schedule");
    written += run.written;
    errors += run.errors;
    firstError ??= run.items.find((i) => i.outcome === "error")?.message ?? undefined;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const log = emulator.server.requestLog();
  // Autotask queries are POSTs to /{Entity}/query: reads.
  const writeLog = log.filter((r) => r.method !== "GET" && !/\/query(\/count)?(\?|$)/i.test(r.path));
  // Agreements/contracts written to: the ledger's targets of this phase's confirmed writes (an Autotask
  // adjustment's path does not name its contract).
  const touched = await app.store.db
    .selectFrom("psa_writes")
    .select("target_id")
    .distinct()
    .where("connection_id", "=", connectionId)
    .where("status", "=", "confirmed")
    .where("updated_at", ">=", startedAt)
    .execute();
  if (errors > 0) console.error(`${name}: ${errors} errors, e.g. ${firstError}`);
  return {
    name,
    reads: log.length - writeLog.length,
    writes: writeLog.length,
    written,
    errors,
    agreementsTouched: touched.length,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * ConnectWise: the client paces itself at 900 requests/minute after a burst of 90 (docs/connectwise.md §7.3)
 * over 4 connections; so a phase takes at least max(writes × latency / 4, (requests − 90) / 15 per s).
 * Autotask: 3 concurrent requests per endpoint and 10,000 requests per hour (docs/autotask.md §10): at least
 * max(writes × latency / 3, (requests − 10,000) / (10,000 / 3,600 per s)).
 */
function bound(requests: number, writes: number): number {
  return vendor === "connectwise"
    ? Math.max((writes * latencyMs) / 1000 / 4, Math.max(0, requests - 90) / 15)
    : Math.max((writes * latencyMs) / 1000 / 3, Math.max(0, requests - 10_000) / (10_000 / 3600));
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-daily-"));
const monthFile = path.join(dir, "june.csv");
const changeFile = path.join(dir, "change.csv");
const lines = writeMonth(monthFile, customers);
const changeLines = writeChange(changeFile, customers);
const cw = vendor === "connectwise" ? await startConnectWiseEmulator({ seed: "demo", latencyMs: 0 }) : null;
const at = vendor === "autotask" ? await startAutotaskEmulator({ seed: "demo", latencyMs: 0 }) : null;
const emulator: { url: string; server: EmulatorServer; close(): Promise<void> } = (cw ?? at)!;
const seeded = cw ? seedConnectWise(cw, customers) : seedAutotask(at!, customers);
const targets = seeded instanceof Map ? seeded : seeded.targets;
const databaseUrl = `sqlite:${path.join(dir, "daily.db")}`;
const appEnv = {
  CSPSYNC_DATA_DIR: path.join(dir, "data"),
  CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
  CSPSYNC_PSA_ALLOWED_HOSTS: new URL(emulator.url).host,
};
// --unpaced: the client's token bucket never waits (the ConnectWise emulator does not throttle); everything
// else the transport does (concurrency cap, retries) is unchanged.
if (values.unpaced) RequestBudget.prototype.pace = async () => {};
const app = await createApp({ databaseUrl, env: appEnv });
console.log(
  `${customers} customers × 15 lines (${lines} lines; 3 × ${customers} entries on one ${vendor} connection), emulator latency ${latencyMs} ms${values.unpaced ? ", unpaced (sync times meaningless)" : ""}; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}`,
);
try {
  const imported = await importReconFile(app.store, monthFile);
  if (imported.status !== "imported") throw new Error(`import failed: ${JSON.stringify(imported)}`);
  const connection = await createConnection(app, cw, at, seeded instanceof Map ? null : seeded.billingCodeId);
  await app.connections.update(connection.id, { seatAnnualEnabled: true });
  for (const [c, t] of targets) {
    await mapThreeMotions(app.mappings, connection.id, tenantOf(c), t);
  }
  // The daily check counts lines imported less than a minute before a run as new to the next run too (an
  // import's commit trails its finish time): the first sync starts after that minute, as the next day's would.
  await sleep(61_000);
  emulator.server.setLatency(latencyMs);

  const results: { phase: Phase; requests: number }[] = [];
  const full = await phase(app, emulator, connection.id, "first full sync");
  results.push({ phase: full, requests: full.reads + full.writes });
  const quiet = await phase(app, emulator, connection.id, "daily check, nothing new");
  results.push({ phase: quiet, requests: quiet.reads + quiet.writes });
  const change = await importReconFile(app.store, changeFile);
  if (change.status !== "imported") throw new Error(`import failed: ${JSON.stringify(change)}`);
  const changed = await phase(
    app,
    emulator,
    connection.id,
    `daily check, ${changedCustomers(customers).length} customers changed (${changeLines} lines)`,
  );
  results.push({ phase: changed, requests: changed.reads + changed.writes });
  if (values["show-requests"]) {
    const counts = new Map<string, number>();
    for (const r of emulator.server.requestLog()) {
      const shape = `${r.method} ${r.path.replace(/\/\d+/g, "/:id").replace(/\?.*$/, "")}`;
      counts.set(shape, (counts.get(shape) ?? 0) + 1);
    }
    for (const [shape, count] of counts) console.log(`  ${String(count).padStart(6)} × ${shape}`);
  }

  console.log("");
  for (const { phase: p, requests } of results) {
    const minimum = bound(requests, p.writes);
    const writesOnly = bound(p.writes, p.writes);
    console.log(
      `${p.name}\n  PSA requests ${requests} (reads ${p.reads}, writes ${p.writes}; ${p.written} lines written, ${p.errors} errors), agreements written to ${p.agreementsTouched}` +
        `\n  wall ${p.seconds.toFixed(1)} s; minimum the limits allow for these requests ${minimum.toFixed(1)} s (${(p.seconds / Math.max(minimum, 0.001)).toFixed(2)}×), for the writes alone ${writesOnly.toFixed(1)} s` +
        `\n  requests / (writes + agreements written to) = ${(requests / Math.max(1, p.writes + p.agreementsTouched)).toFixed(3)}; peak RSS so far ${p.peakRssMb.toFixed(0)} MB`,
    );
  }
  if (values.keep !== undefined) {
    const keep = path.resolve(values.keep);
    fs.mkdirSync(keep, { recursive: true });
    // VACUUM INTO writes one consistent file, whatever is still in the write-ahead log.
    const target = path.join(keep, "daily.db");
    fs.rmSync(target, { force: true });
    await sql`VACUUM INTO ${sql.lit(target)}`.execute(app.store.db);
    const kept: Kept = {
      customers,
      env: {
        CSPSYNC_SECRET_KEY: appEnv.CSPSYNC_SECRET_KEY,
        CSPSYNC_PSA_ALLOWED_HOSTS: appEnv.CSPSYNC_PSA_ALLOWED_HOSTS,
      },
      connectionId: connection.id,
      invoice: INVOICE,
      customer: tenantOf(1),
      built: `${new Date().toISOString()}: bench:daily --customers ${customers} --latency ${latencyMs}${values.unpaced ? " --unpaced" : ""}`,
    };
    fs.writeFileSync(path.join(keep, "kept.json"), `${JSON.stringify(kept, null, 2)}\n`);
    console.log(`\nkept the database in ${target}`);
  }
  if (values.serve) {
    printServe(
      await measureServe({
        databaseUrl,
        env: appEnv,
        connectionId: connection.id,
        invoice: INVOICE,
        customer: tenantOf(1),
      }),
    );
  }
} finally {
  await app.close();
  await emulator.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
