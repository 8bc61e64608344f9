import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { createApp, type App } from "../src/app.ts";
import { importReconFile } from "../src/services/import-recon.ts";
import { runMotion } from "../src/services/motion-sync.ts";
import { BILLING_MOTIONS } from "../src/core/billing.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../emulators/connectwise/index.ts";
import { allocateId } from "../emulators/connectwise/state.ts";
import { changedCustomers, tenantOf, writeChange, writeMonth } from "./daily-data.ts";

/**
 * npm run bench:daily -- [--customers 2000] [--psa connectwise] [--latency 50]
 * An MSP of N customers, all three billing motions mapped on one ConnectWise connection (3 × N entries), 15
 * lines per customer on the month's invoice, the emulator answering every request after `latency` ms. Measures
 * the first full sync, a daily check with nothing new, and a daily check after 1 % of the customers changed
 * seats: PSA reads and writes, wall time, peak RSS so far, and the minimum the PSA's limits allow.
 * Only ConnectWise is built so far (see BENCHMARKS.md, "Daily check at scale").
 */
const { values } = parseArgs({
  options: {
    customers: { type: "string", default: "2000" },
    psa: { type: "string", default: "connectwise" },
    latency: { type: "string", default: "50" },
    /** Print each request of the "changed" check (method and path, ids as :id). */
    "show-requests": { type: "boolean", default: false },
  },
});
const customers = Number(values.customers);
const latencyMs = Number(values.latency);
if (values.psa !== "connectwise") {
  console.error(`--psa ${values.psa}: only connectwise is built in bench:daily so far (see BENCHMARKS.md)`);
  process.exit(2);
}

/**
 * Each customer gets a company with its two agreements — recurring "Microsoft CSP" (Seat-based Monthly and
 * Azure Plan) and one-time "Microsoft CSP Annual" — copied from the demo's Contoso, straight into the
 * emulator's data (no request of the set-up shows in its log), plus the two catalog items the syncs bill as.
 */
function seedCompanies(
  emulator: ConnectWiseEmulator,
): Map<number, { company: string; recurring: string; annual: string }> {
  const data = emulator.data();
  const { companies, agreements, catalogItems } = data.tables;
  const contoso = companies.find((c) => c.identifier === "ContosoDental")!;
  const recurring = agreements.find(
    (a) => (a.company as { id: number }).id === contoso.id && String(a.name).startsWith("Microsoft CSP -"),
  )!;
  const annual = agreements.find(
    (a) =>
      (a.company as { id: number }).id === contoso.id && String(a.name).startsWith("Microsoft CSP Annual -"),
  )!;
  const template = catalogItems.find((item) => item.identifier === "O365-E1")!;
  const { vendorSku: _sku, manufacturerPartNumber: _part, ...fields } = template;
  for (const [identifier, description] of [
    ["CSP-LICENSE", "Microsoft CSP licence"],
    ["AZURE-PLAN", "Azure plan"],
  ] as const)
    catalogItems.push({
      ...fields,
      id: allocateId(data, "catalogItems"),
      identifier,
      description,
      customerDescription: description,
    });
  const targets = new Map<number, { company: string; recurring: string; annual: string }>();
  for (let c = 1; c <= customers; c++) {
    const companyId = allocateId(data, "companies");
    companies.push({
      ...contoso,
      id: companyId,
      identifier: `DailyCustomer${c}`,
      name: `Daily Customer ${c}`,
    });
    const recurringId = allocateId(data, "agreements");
    agreements.push({
      ...recurring,
      id: recurringId,
      company: { id: companyId },
      name: `Microsoft CSP - Daily Customer ${c}`,
    });
    const annualId = allocateId(data, "agreements");
    agreements.push({
      ...annual,
      id: annualId,
      company: { id: companyId },
      name: `Microsoft CSP Annual - Daily Customer ${c}`,
    });
    targets.set(c, { company: String(companyId), recurring: String(recurringId), annual: String(annualId) });
  }
  return targets;
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
  emulator: ConnectWiseEmulator,
  connectionId: string,
  name: string,
): Promise<Phase> {
  emulator.server.clearRequestLog();
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
  const writeLog = log.filter((r) => r.method !== "GET");
  const touched = new Set(
    writeLog.map((r) => /\/finance\/agreements\/(\d+)/.exec(r.path)?.[1]).filter(Boolean),
  );
  if (errors > 0) console.error(`${name}: ${errors} errors, e.g. ${firstError}`);
  return {
    name,
    reads: log.length - writeLog.length,
    writes: writeLog.length,
    written,
    errors,
    agreementsTouched: touched.size,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * ConnectWise: the client paces itself at 900 requests/minute after a burst of 90 (docs/connectwise.md §7.3)
 * over 4 connections; so a phase takes at least max(writes × latency / 4, (requests − 90) / 15 per s).
 */
function bound(p: Phase, requests: number): number {
  return Math.max((p.writes * latencyMs) / 1000 / 4, Math.max(0, requests - 90) / 15);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-daily-"));
const monthFile = path.join(dir, "june.csv");
const changeFile = path.join(dir, "change.csv");
const lines = writeMonth(monthFile, customers);
const changeLines = writeChange(changeFile, customers);
const emulator = await startConnectWiseEmulator({ seed: "demo", latencyMs: 0 });
const targets = seedCompanies(emulator);
const app = await createApp({
  databaseUrl: `sqlite:${path.join(dir, "daily.db")}`,
  env: {
    CSPSYNC_DATA_DIR: path.join(dir, "data"),
    CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
    CSPSYNC_PSA_ALLOWED_HOSTS: new URL(emulator.url).host,
  },
});
console.log(
  `${customers} customers × 15 lines (${lines} lines; 3 × ${customers} entries on one ConnectWise connection), emulator latency ${latencyMs} ms; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}`,
);
try {
  const imported = await importReconFile(app.store, monthFile);
  if (imported.status !== "imported") throw new Error(`import failed: ${JSON.stringify(imported)}`);
  const { companyId, publicKey, privateKey } = emulator.credentials;
  const connection = await app.connections.create({
    vendor: "connectwise",
    name: "CW",
    config: { site: emulator.url, companyId, publicKey, clientId: "00000000-0000-4000-8000-00000000da11" },
    secrets: { privateKey },
    settings: { fallbackCatalogItem: "CSP-LICENSE" },
  });
  await app.connections.update(connection.id, { seatAnnualEnabled: true });
  for (const [c, t] of targets) {
    const tenant = tenantOf(c);
    await app.mappings.save(
      connection.id,
      tenant,
      "seat-annual",
      { psaCompanyId: t.company, agreementId: t.annual },
      null,
    );
    await app.mappings.save(
      connection.id,
      tenant,
      "seat-monthly",
      { psaCompanyId: t.company, agreementId: t.recurring },
      null,
    );
    await app.mappings.save(
      connection.id,
      tenant,
      "azure",
      { psaCompanyId: t.company, agreementId: t.recurring },
      null,
    );
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
    const minimum = bound(p, requests);
    const writesOnly = Math.max((p.writes * latencyMs) / 1000 / 4, Math.max(0, p.writes - 90) / 15);
    console.log(
      `${p.name}\n  PSA requests ${requests} (reads ${p.reads}, writes ${p.writes}; ${p.written} lines written, ${p.errors} errors), agreements written to ${p.agreementsTouched}` +
        `\n  wall ${p.seconds.toFixed(1)} s; minimum the limits allow for these requests ${minimum.toFixed(1)} s (${(p.seconds / Math.max(minimum, 0.001)).toFixed(2)}×), for the writes alone ${writesOnly.toFixed(1)} s` +
        `\n  requests / (writes + agreements written to) = ${(requests / Math.max(1, p.writes + p.agreementsTouched)).toFixed(3)}; peak RSS so far ${p.peakRssMb.toFixed(0)} MB`,
    );
  }
} finally {
  await app.close();
  await emulator.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
