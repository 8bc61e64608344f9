import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { createApp } from "../src/app.ts";
import { Dec } from "../src/core/money.ts";
import { importReconFile } from "../src/services/import-recon.ts";
import {
  ReportsService,
  writeReportCsv,
  writeReportXlsx,
  type ReportSource,
  type ReportSummary,
} from "../src/services/reports.ts";
import { finished } from "node:stream/promises";
import { generateAnnualRecon } from "./generate-recon.ts";

/**
 * npm run bench:report -- [--customers 2000] [--per-customer 50] [--keep | --dir DIR] [--what summary|csv|xlsx]
 *   [--node-flags="…"] (default --max-semi-space-size=8, as bin/cspsync.js starts every command)
 * The reconciliation report (docs/reports.md §1, §3a) of one invoice of 100,000 Seat-based Annual lines over
 * 2,000 customers, on the real path: store → report. Not timed: a synthetic reconciliation CSV is generated and
 * imported with the real importer into a new SQLite database, a ConnectWise connection is added, half the
 * customers are mapped and every event of theirs gets a confirmed write in the ledger (psa_writes), as a sync
 * would leave them. Timed, in a fresh process under GNU time (so its peak RSS is the report's alone, not the
 * import's): opening the app and, with the PSA read-back off (network time), either the summary the report
 * endpoint returns (`--what summary`) or an export streamed to a file (`csv`, `xlsx`). The child samples its
 * heap every 1,000 lines (the SQLite read does not yield to timers often enough for a timer to sample it).
 * Prints time, peak RSS, the heap's peaks and the report's totals; BENCHMARKS.md records runs.
 */
const { values } = parseArgs({
  options: {
    customers: { type: "string", default: "2000" },
    "per-customer": { type: "string", default: "50" },
    measure: { type: "string" },
    /** Reuse a directory a run with --keep prepared (skips generating and importing). */
    dir: { type: "string" },
    keep: { type: "boolean" },
    /** What the measured child does: summary (the report endpoint), csv or xlsx (the exports, to a file). */
    what: { type: "string", default: "summary" },
    /** V8 flags for the measured child; by default the young-generation size every `cspsync` command runs with. */
    "node-flags": { type: "string", default: "--max-semi-space-size=8" },
  },
});

const INVOICE = "G300000001";
const CLIENT_ID = "00000000-0000-4000-8000-00000000b3c4";

type Measured = {
  lines: number;
  customers: number;
  totals: unknown;
  reportMs: number;
  rssBeforeMb: number;
  heapUsedPeakMb: number;
  heapTotalPeakMb: number;
};

/** The measured child: opens the prepared database and builds the report once. */
async function measure(dir: string): Promise<void> {
  const env = JSON.parse(fs.readFileSync(path.join(dir, "env.json"), "utf8")) as NodeJS.ProcessEnv;
  const app = await createApp({ databaseUrl: `sqlite:${path.join(dir, "report.db")}`, env, log: false });
  try {
    const service = new ReportsService({
      store: app.store,
      organizationId: app.organizationId,
      adapterFor: app.adapterFor,
    });
    const rssBefore = process.memoryUsage().rss;
    const peak = { heapUsed: 0, heapTotal: 0 };
    let seen = 0;
    const sample = () => {
      if (++seen % 1000 !== 0) return;
      const m = process.memoryUsage();
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
      peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    };
    const started = performance.now();
    const { source } = await service.open({ invoice: INVOICE, readBack: false });
    const sampled: ReportSource = (onLine) =>
      source((line) => {
        sample();
        return onLine(line);
      });
    let report: ReportSummary;
    if (values.what === "summary") report = await sampled(() => {});
    else {
      // The export as GET /api/reports/reconciliation/export streams it, to a file instead of a socket.
      const out = fs.createWriteStream(path.join(dir, `export.${values.what}`));
      let summary: ReportSummary | undefined;
      const capture: ReportSource = async (onLine) => (summary = await sampled(onLine));
      await Promise.all([
        (values.what === "xlsx" ? writeReportXlsx : writeReportCsv)(capture, out),
        finished(out),
      ]);
      report = summary!;
    }
    const reportMs = performance.now() - started;
    const result: Measured = {
      lines: report.totals.reduce((n, t) => n + t.lines, 0),
      customers: report.customers.length,
      heapUsedPeakMb: Math.round(peak.heapUsed / 1048576),
      heapTotalPeakMb: Math.round(peak.heapTotal / 1048576),
      totals: report.totals,
      reportMs: Math.round(reportMs),
      rssBeforeMb: Math.round(rssBefore / 1048576),
    };
    console.log(JSON.stringify(result));
  } finally {
    await app.close();
  }
}

/** Generates and imports the invoice, adds the connection, the mappings and the writes (not timed). */
async function prepare(dir: string, customers: number, perCustomer: number): Promise<void> {
  const csv = path.join(dir, "annual.csv");
  const tenants = await generateAnnualRecon(csv, customers, perCustomer);
  const env: NodeJS.ProcessEnv = {
    CSPSYNC_DATA_DIR: path.join(dir, "data"),
    CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
    CSPSYNC_PSA_ALLOWED_HOSTS: "127.0.0.1:1",
  };
  fs.writeFileSync(path.join(dir, "env.json"), JSON.stringify(env));
  const app = await createApp({ databaseUrl: `sqlite:${path.join(dir, "report.db")}`, env, log: false });
  try {
    const summary = await importReconFile(app.store, csv);
    if (summary.problem) throw new Error(`the import was rejected: ${summary.problem.message}`);
    const connection = await app.connections.create({
      vendor: "connectwise",
      name: "CW",
      config: { site: "http://127.0.0.1:1", companyId: "bench", publicKey: "bench", clientId: CLIENT_ID },
      secrets: { privateKey: "bench" },
      settings: { fallbackCatalogItem: "O365-E1" },
    });
    const now = new Date().toISOString();
    const mapped = new Set(tenants.slice(0, Math.floor(tenants.length / 2)));
    const db = app.store.db;
    // What mapping and a sync would leave (the bench has no PSA): one agreement per mapped customer and a
    // confirmed write per event, its payload shaped like an annual PlannedLine at a 20 % markup.
    for (let i = 0; i < tenants.length; i += 200) {
      const rows = tenants
        .slice(i, i + 200)
        .filter((t) => mapped.has(t))
        .map((tenant, n) => ({
          organization_id: app.organizationId,
          connection_id: connection.id,
          customer_tenant_id: tenant,
          motion: "seat-annual",
          psa_company_id: String(i + n),
          psa_company_name: `Company ${i + n}`,
          agreement_id: String(1000 + i + n),
          agreement_name: "Microsoft annual",
          sync_date: null,
          pricing_strategy: "markup",
          markup_percent: "20",
          enabled: 1 as const,
          start_point: "most-recent",
          start_invoice: null,
          created_at: now,
          updated_at: now,
        }));
      if (rows.length > 0) await db.insertInto("mappings").values(rows).execute();
    }
    const agreementOf = new Map(
      (await db.selectFrom("mappings").select(["customer_tenant_id", "agreement_id"]).execute()).map((m) => [
        m.customer_tenant_id,
        m.agreement_id!,
      ]),
    );
    const events = await db
      .selectFrom("charge_events")
      .select(["event_key", "customer_tenant_id", "seat_delta", "amount"])
      .where("invoice_number", "=", INVOICE)
      .execute();
    const writes = events
      .filter((e) => mapped.has(e.customer_tenant_id))
      .map((e, n) => {
        const seats = e.seat_delta;
        const cost = e.amount;
        const unitCost = new Dec(cost).dividedBy(seats).toFixed(4);
        return {
          connection_id: connection.id,
          write_key: `bench-${n}`,
          organization_id: app.organizationId,
          customer_tenant_id: e.customer_tenant_id,
          motion: "seat-annual",
          event_key: e.event_key,
          target_id: agreementOf.get(e.customer_tenant_id)!,
          status: "confirmed" as const,
          psa_record_id: String(n + 1),
          payload: JSON.stringify({
            action: "create-addition",
            description: `bench line ${n}`,
            quantity: seats,
            unitCost,
            unitPrice: new Dec(unitCost).times("1.2").toFixed(4),
            extendedCost: cost,
            extendedPrice: new Dec(cost).times("1.2").toFixed(2),
            pricedBy: null,
          }),
          attempts: 1,
          in_flight: 0,
          last_run_id: null,
          last_error: null,
          created_at: now,
          updated_at: now,
        };
      });
    for (let i = 0; i < writes.length; i += 500)
      await db
        .insertInto("psa_writes")
        .values(writes.slice(i, i + 500))
        .execute();
    console.log(
      `prepared: ${events.length} events over ${tenants.length} customers, ${mapped.size} mapped, ${writes.length} confirmed writes`,
    );
  } finally {
    await app.close();
  }
}

if (values.measure) {
  await measure(values.measure);
} else {
  const customers = Number(values.customers);
  const perCustomer = Number(values["per-customer"]);
  const dir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-report-"));
  try {
    if (!values.dir) await prepare(dir, customers, perCustomer);
    const run = spawnSync(
      "/usr/bin/time",
      [
        "-f",
        "TIME %e %M",
        process.execPath,
        ...values["node-flags"].split(" ").filter(Boolean),
        import.meta.filename,
        "--measure",
        dir,
        "--what",
        values.what,
      ],
      { encoding: "utf8", maxBuffer: 64 << 20 },
    );
    if (run.status !== 0) throw new Error(`the measured run failed: ${run.stderr}`);
    const measured = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Measured;
    const [, wall, maxKb] = /TIME (\S+) (\d+)/.exec(run.stderr) ?? [];
    console.log(
      JSON.stringify({
        node: process.version,
        cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}`,
        what: values.what,
        nodeFlags: values["node-flags"] || null,
        loadAverage: os
          .loadavg()
          .map((n) => n.toFixed(2))
          .join(" "),
        lines: measured.lines,
        customers: measured.customers,
        totals: measured.totals,
        reportSeconds: measured.reportMs / 1000,
        processSeconds: Number(wall),
        rssBeforeReportMb: measured.rssBeforeMb,
        heapUsedPeakMb: measured.heapUsedPeakMb,
        heapTotalPeakMb: measured.heapTotalPeakMb,
        peakRssMb: Math.round(Number(maxKb) / 1024),
      }),
    );
  } finally {
    if (values.keep || values.dir) console.log(`kept: ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}
