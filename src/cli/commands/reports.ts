import fs from "node:fs";
import { PassThrough, type Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { RenewalsService } from "../../services/renewals.ts";
import {
  ReportsService,
  writeReportCsv,
  writeReportJson,
  writeReportXlsx,
  type ReportSummary,
} from "../../services/reports.ts";
import type { ReportLine } from "../../core/reconciliation-report.ts";
import { printJson, renderTable, UsageError } from "../output.ts";
import { withApp } from "./connections.ts";

/** `cspsync report reconciliation` and `cspsync renewals` (docs/reports.md §6). */

export const reportHelp = `cspsync report reconciliation --invoice G… [--connection ID|NAME] [--format csv|xlsx|json] [--out FILE] [--no-read-back] [--db URL]

The invoice's reconciliation and margin report: per customer × billing motion, Microsoft's cost, what cspsync
wrote to the PSA, the margin and every difference with its reason; the mapped agreements/contracts are read
back from the PSA (read only) to find edits and deletions by hand. Without --format a summary is printed; csv
(the lines), xlsx (the whole report) and json go to --out, or standard output (xlsx needs --out).`;

export const renewalsHelp = `cspsync renewals [--days N] [--json] [--db URL]
cspsync renewals ledger [--customer TENANT-ID] [--json] [--db URL]
cspsync renewals feed-token [--db URL]

Subscriptions renewing in the next N days (default 90) and change windows closing in the next 7 days; the NCE
term ledger; a new calendar feed token (the previous one stops working; the token is shown once).`;

export async function reportCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "reconciliation") throw new UsageError(`unknown report "${sub ?? ""}"\n\n${reportHelp}`);
  const { values } = parseArgs({
    args: rest,
    options: {
      invoice: { type: "string" },
      connection: { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      "no-read-back": { type: "boolean" },
      db: { type: "string" },
    },
  });
  if (!values.invoice) throw new UsageError(`--invoice is required\n\n${reportHelp}`);
  const format = values.format;
  if (format !== undefined && !["csv", "xlsx", "json"].includes(format))
    throw new UsageError(`--format must be csv, xlsx or json, not "${format}"`);
  if (format === "xlsx" && !values.out) throw new UsageError("--format xlsx needs --out FILE");
  return withApp(values.db, async (app) => {
    const service = new ReportsService({
      store: app.store,
      organizationId: app.organizationId,
      adapterFor: app.adapterFor,
    });
    const options = {
      invoice: values.invoice!,
      connectionId: values.connection,
      readBack: !values["no-read-back"],
    };
    if (format) {
      // Streamed: each line is written as it is built, never the whole list held.
      const { source } = await service.open(options);
      let out: Writable;
      if (values.out) out = fs.createWriteStream(values.out);
      else {
        out = new PassThrough();
        (out as PassThrough).pipe(process.stdout, { end: false });
      }
      const write =
        format === "xlsx" ? writeReportXlsx : format === "json" ? writeReportJson : writeReportCsv;
      await Promise.all([write(source, out), finished(out)]);
      return 0;
    }
    // The summary keeps only the lines worth printing: not written, or written with a difference.
    const { source } = await service.open(options);
    const issues: ReportLine[] = [];
    const report: ReportSummary = await source((line) => {
      if (line.status !== "written" || line.differences.length > 0) issues.push(line);
    });
    console.log(
      `Invoice ${report.invoice.invoiceNumber}${report.connection ? ` on ${report.connection.name}` : ""}`,
    );
    console.log(
      renderTable(report.totals, [
        { header: "Currency", value: (t) => t.currency },
        { header: "Cost", value: (t) => t.cost, align: "right" },
        { header: "Billed", value: (t) => t.billed, align: "right" },
        { header: "Margin", value: (t) => t.margin, align: "right" },
        { header: "Margin %", value: (t) => t.marginPercent ?? "", align: "right" },
        { header: "Not billed", value: (t) => t.notBilled, align: "right" },
      ]),
    );
    console.log(
      renderTable(report.groups, [
        { header: "Customer", value: (g) => g.customerName },
        { header: "Motion", value: (g) => g.motion },
        { header: "Cost", value: (g) => g.cost, align: "right" },
        { header: "Billed", value: (g) => g.billed, align: "right" },
        { header: "Margin", value: (g) => g.margin, align: "right" },
        { header: "Not billed", value: (g) => g.notBilled, align: "right" },
      ]),
    );
    if (issues.length > 0)
      console.log(
        renderTable(issues, [
          { header: "Customer", value: (l) => l.customerName },
          { header: "Product", value: (l) => l.productName },
          { header: "Cost", value: (l) => l.cost, align: "right" },
          { header: "Status", value: (l) => l.status },
          { header: "Reason", value: (l) => [l.reason, ...l.differences].join("; ") },
        ]),
      );
    for (const d of report.drift)
      console.log(`drift: ${d.kind} — ${d.customerName}: ${d.description} (${d.detail})`);
    return 0;
  });
}

export async function renewalsCommand(argv: string[]): Promise<number> {
  const sub = argv[0] === "ledger" || argv[0] === "feed-token" ? argv[0] : null;
  const { values } = parseArgs({
    args: sub ? argv.slice(1) : argv,
    options: {
      days: { type: "string" },
      customer: { type: "string" },
      json: { type: "boolean" },
      db: { type: "string" },
    },
  });
  const days = values.days === undefined ? 90 : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 3660)
    throw new UsageError("--days must be a whole number of days from 1 to 3660");
  return withApp(values.db, async (app) => {
    const service = new RenewalsService(app.store, app.organizationId);
    if (sub === "feed-token") {
      const { token } = await service.rotateFeedToken("cli");
      console.log(
        `Calendar feed (shown once; the previous token no longer works):\n/api/renewals/feed/${token}.ics`,
      );
      return 0;
    }
    if (sub === "ledger") {
      const ledger = await service.ledger(values.customer);
      if (values.json) printJson({ ledger });
      else
        console.log(
          renderTable(ledger, [
            { header: "Customer", value: (e) => e.customerName },
            { header: "Product", value: (e) => e.productName },
            { header: "Term", value: (e) => e.term ?? "unknown" },
            { header: "Plan", value: (e) => e.billingPlan ?? "unknown" },
            { header: "Term end", value: (e) => e.termEnd ?? "" },
            { header: "Seats", value: (e) => e.seats, align: "right" },
            { header: "Status", value: (e) => e.status },
            { header: "Window closes", value: (e) => e.changeWindow?.closesAt ?? "" },
            { header: "Renews", value: (e) => e.renewalDate ?? "" },
          ]),
        );
      return 0;
    }
    const view = await service.renewals(days);
    if (values.json) {
      printJson(view);
      return 0;
    }
    if (view.renewing.length === 0) console.log(`Nothing renews in the next ${days} days.`);
    else
      console.log(
        renderTable(view.renewing, [
          { header: "Renews", value: (e) => e.renewalDate ?? "" },
          { header: "Customer", value: (e) => e.customerName },
          { header: "Product", value: (e) => e.productName },
          { header: "Term", value: (e) => e.term ?? "unknown" },
          { header: "Seats", value: (e) => e.seats, align: "right" },
          {
            header: "Next term",
            value: (e) => (e.nextTermValue === null ? "unknown" : `${e.nextTermValue} ${e.currency}`),
            align: "right",
          },
          { header: "Auto-renew", value: () => "unknown" },
        ]),
      );
    for (const e of view.windowsClosing)
      console.log(
        `Change window closes ${e.changeWindow!.closesAt}: ${e.customerName} — ${e.productName} (${e.seats} seats)`,
      );
    return 0;
  });
}
