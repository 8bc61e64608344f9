import { stringify } from "csv-stringify/sync";
import type { Writable } from "node:stream";
import type ExcelJS from "exceljs";
import { AppError } from "../core/errors.ts";
import type { BillingMotion } from "../core/billing.ts";
import {
  reconciliationBuilder,
  type LineStatus,
  type PsaRecordInput,
  type ReconciliationReport,
  type ReportLine,
  type ReportSums,
} from "../core/reconciliation-report.ts";
import type { PsaAdapter } from "../psa/port.ts";
import type { Store } from "../store/db.ts";
import {
  customerNames,
  findInvoice,
  invoiceTenants,
  eachReportEvent,
  recentInvoices,
  reportConnections,
  reportHolds,
  reportMappings,
  reportRunErrors,
  reportWrites,
  type ReportInvoice,
} from "../store/reports-repository.ts";

/**
 * The reconciliation and margin report as a use case (docs/reports.md §1, §3, §5): gathers an invoice's
 * events, the connection's mappings, write ledger, held lines and run errors, reads the mapped
 * agreements/contracts back from the PSA (read only), and hands them to the pure report; exports it as JSON,
 * CSV or XLSX with formula-safe cells.
 */

export class ReportError extends AppError {}

/**
 * How many customers' writes are held at once: the report reads the invoice's customers in batches, each
 * batch's ledger rows and then its events (bench:report: 50,000 writes held at once were ~60 MB). The events
 * cannot be read in one pass meanwhile: on SQLite their stream holds the one connection the writes need.
 */
const WRITE_BATCH_CUSTOMERS = 250;

function summaryOf(report: ReconciliationReport): ReportSummary {
  const { lines: _lines, ...summary } = report;
  return summary;
}

export type ReportsDeps = {
  store: Store;
  organizationId: string;
  /** A connection's PSA adapter (read-back only uses listAgreementRecords). */
  adapterFor(connectionId: string): Promise<Pick<PsaAdapter, "listAgreementRecords">>;
  /** How many customers' writes are held at once (default WRITE_BATCH_CUSTOMERS; tests use fewer). */
  writeBatchCustomers?: number;
};

export type ReportOptions = {
  invoice: string;
  /** Which PSA connection; optional when there is exactly one. */
  connectionId?: string | undefined;
  /** Read the mapped agreements/contracts back from the PSA (default true). */
  readBack?: boolean | undefined;
  /** Only this customer (tenant id): its lines, figures and read-back (a drill-down). */
  customer?: string | undefined;
};

/** The report without its lines: summary, totals, rankings, customer × motion groups, drift. */
export type ReportSummary = Omit<ReconciliationReport, "lines">;

/** Where each line goes as it is built; a promise makes the report wait (a reader that is behind). */
export type LineSink = (line: ReportLine) => void | Promise<void>;

/** A report's lines, handed one by one to a sink, then its summary (see ReportsService.open). */
export type ReportSource = (onLine: LineSink) => Promise<ReportSummary>;

export type LineFilter = {
  motion?: BillingMotion | undefined;
  status?: LineStatus | undefined;
};

/** Which part of the summary's per-customer lists one answer carries (the web app pages through them). */
export type SummaryPaging = {
  /** Groups of this customer only; `customers` then holds only its figures. */
  customer?: string | undefined;
  motion?: BillingMotion | undefined;
  /** Groups with at least one line of this status. */
  status?: LineStatus | undefined;
  groupsOffset: number;
  groupsLimit: number;
  /** The first customers of the ranking (largest cost first). */
  customersLimit: number;
};

/** The summary with one page of its customer × motion groups and the head of its customer ranking. */
export type SummaryPage = ReportSummary & { groupsTotal: number; customersTotal: number };

export type LinePage = { total: number; offset: number; limit: number; lines: ReportLine[] };

export type TrendPoint = {
  invoiceNumber: string;
  period: string | null;
  currency: string;
  cost: string;
  billed: string;
  margin: string;
  notBilled: string;
};

/**
 * A cell as it is exported: text that a spreadsheet would read as a formula (it starts with =, +, -, @, or a
 * tab / carriage return) gets a leading apostrophe (docs/reports.md §5). In CSV every cell is text, so a
 * negative amount "-12.50" is written "'-12.50"; XLSX writes amounts as number cells instead.
 */
export function safeCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export class ReportsService {
  private readonly deps: ReportsDeps;

  constructor(deps: ReportsDeps) {
    this.deps = deps;
  }

  private async connection(connectionId: string | undefined) {
    const connections = await reportConnections(this.deps.store, this.deps.organizationId);
    if (connectionId === undefined) {
      if (connections.length > 1)
        throw new ReportError("validation", "name the PSA connection: there are several", {
          field: "connection",
        });
      return connections[0] ?? null;
    }
    const found = connections.find((c) => c.id === connectionId || c.name === connectionId);
    if (!found)
      throw new ReportError("not_found", `no connection "${connectionId}"`, { field: "connection" });
    return found;
  }

  /**
   * Everything the report needs except the events, gathered (and the PSA read back) now, so that an unknown
   * invoice or connection fails before an export starts. The returned source then reads the invoice's events
   * once, turning each into its line as it arrives; only the sums, the drift and what the sink keeps stay.
   * Customers are read in batches with their writes, so the ledger is never all held either.
   */
  async open(
    options: ReportOptions,
    /** Which sums the summary holds (a page of lines needs none, the trend the totals only). */
    sums: ReportSums = "all",
  ): Promise<{ invoice: ReportInvoice; source: ReportSource }> {
    const { store, organizationId } = this.deps;
    const invoice = await findInvoice(store, organizationId, options.invoice);
    if (!invoice)
      throw new ReportError("not_found", `no imported invoice "${options.invoice}"`, { field: "invoice" });
    const connection = await this.connection(options.connectionId);
    const names = await customerNames(store, organizationId);
    const scope = options.customer === undefined ? undefined : [options.customer];
    const base = { invoice, customerNames: names, holds: [], errors: [], readBackErrors: new Map() };
    if (!connection)
      return {
        invoice,
        source: async (onLine) => {
          const builder = reconciliationBuilder(
            { ...base, connection: null, mappings: [], writes: [], psaRecords: null },
            { keepLines: false, sums },
          );
          await eachReportEvent(
            store,
            organizationId,
            invoice.invoiceNumber,
            (e) => onLine(builder.add(e)),
            scope,
          );
          return summaryOf(builder.finish());
        },
      };
    const tenants = scope ?? (await invoiceTenants(store, organizationId, invoice.invoiceNumber));
    const [mappings, holds, errors] = await Promise.all([
      reportMappings(store, organizationId, connection.id),
      reportHolds(store, organizationId, connection.id),
      reportRunErrors(store, organizationId, connection.id),
    ]);
    let psaRecords: Map<string, readonly PsaRecordInput[]> | null = null;
    const readBackErrors = new Map<string, string>();
    if (options.readBack !== false) {
      psaRecords = new Map();
      const inInvoice = new Set(tenants);
      const targets = [
        ...new Set(
          mappings
            .filter((m) => m.agreementId && m.enabled && inInvoice.has(m.customerTenantId))
            .map((m) => m.agreementId!),
        ),
      ].sort();
      const adapter = targets.length > 0 ? await this.deps.adapterFor(connection.id) : null;
      for (const target of targets) {
        if (!adapter?.listAgreementRecords) {
          readBackErrors.set(target, "this PSA's records cannot be read back");
          continue;
        }
        try {
          psaRecords.set(target, await adapter.listAgreementRecords(target));
        } catch (error) {
          readBackErrors.set(target, error instanceof Error ? error.message : String(error));
        }
      }
    }
    // Writes to agreements that could not be read back are judged from the ledger alone (see the core).
    return {
      invoice,
      source: async (onLine) => {
        const builder = reconciliationBuilder(
          { ...base, connection, mappings, writes: [], holds, errors, psaRecords, readBackErrors },
          { keepLines: false, sums },
        );
        const size = this.deps.writeBatchCustomers ?? WRITE_BATCH_CUSTOMERS;
        for (let i = 0; i < tenants.length; i += size) {
          const batch = tenants.slice(i, i + size);
          builder.useWrites(await reportWrites(store, organizationId, connection.id, batch));
          await eachReportEvent(
            store,
            organizationId,
            invoice.invoiceNumber,
            (e) => onLine(builder.add(e)),
            batch.length === tenants.length && !scope ? undefined : batch,
          );
        }
        return summaryOf(builder.finish());
      },
    };
  }

  /** The whole report with every line (small invoices, tests); the API and exports use summary/lines/open. */
  async reconciliation(options: ReportOptions): Promise<ReconciliationReport> {
    const { source } = await this.open(options);
    const lines: ReportLine[] = [];
    const summary = await source((line) => {
      lines.push(line);
    });
    return { ...summary, lines };
  }

  /** The report without its lines (GET /api/reports/reconciliation); `sums` as in open. */
  async summary(options: ReportOptions, sums: ReportSums = "all"): Promise<ReportSummary> {
    const { source } = await this.open(options, sums);
    return source(() => {});
  }

  /**
   * The summary with a page of its groups (filtered by customer, motion and status) and the first customers of
   * the ranking: at 2,000 customers every group and customer was 2.3 MB per answer (BENCHMARKS.md, serve).
   * The totals, products and drift are whole.
   */
  async summaryPage(options: ReportOptions, paging: SummaryPaging): Promise<SummaryPage> {
    const summary = await this.summary(options);
    const groups = summary.groups.filter(
      (g) =>
        (paging.customer === undefined || g.customerTenantId === paging.customer) &&
        (paging.motion === undefined || g.motion === paging.motion) &&
        (paging.status === undefined || (g.byStatus[paging.status] ?? 0) > 0),
    );
    const customers =
      paging.customer === undefined
        ? summary.customers
        : summary.customers.filter((c) => c.customerTenantId === paging.customer);
    return {
      ...summary,
      groups: groups.slice(paging.groupsOffset, paging.groupsOffset + paging.groupsLimit),
      groupsTotal: groups.length,
      customers: customers.slice(0, paging.customersLimit),
      customersTotal: customers.length,
    };
  }

  /** One page of the lines matching the filter (the drill-down), with how many match in all. */
  async lines(options: ReportOptions, filter: LineFilter, offset: number, limit: number): Promise<LinePage> {
    const { source } = await this.open(options, "none");
    const lines: ReportLine[] = [];
    let total = 0;
    await source((line) => {
      if (filter.motion && line.motion !== filter.motion) return;
      if (filter.status && line.status !== filter.status) return;
      if (total >= offset && lines.length < limit) lines.push(line);
      total += 1;
    });
    return { total, offset, limit, lines };
  }

  /** Cost, billed and margin of the most recent invoices, oldest first (the month-over-month chart). */
  async trend(connectionId?: string, invoices = 12): Promise<TrendPoint[]> {
    const recent = await recentInvoices(this.deps.store, this.deps.organizationId, invoices);
    const points: TrendPoint[] = [];
    for (const invoice of recent.reverse()) {
      const report = await this.summary(
        { invoice: invoice.invoiceNumber, connectionId, readBack: false },
        "totals",
      );
      for (const total of report.totals)
        points.push({
          invoiceNumber: invoice.invoiceNumber,
          period: invoice.firstChargeDate?.slice(0, 7) ?? null,
          currency: total.currency,
          cost: total.cost,
          billed: total.billed,
          margin: total.margin,
          notBilled: total.notBilled,
        });
    }
    return points;
  }
}

// ------------------------------------------------------------------------------------------ exports

const LINE_COLUMNS: [string, (l: ReportLine) => string | null][] = [
  ["Customer", (l) => l.customerName],
  ["Tenant", (l) => l.customerTenantId],
  ["Motion", (l) => l.motion],
  ["Product", (l) => l.productName],
  ["Subscription", (l) => l.subscriptionId],
  ["Kind", (l) => l.kind],
  ["Charge start", (l) => l.chargeStart],
  ["Charge end", (l) => l.chargeEnd],
  ["Seats", (l) => l.seats],
  ["Currency", (l) => l.currency],
  ["Cost", (l) => l.cost],
  ["Billed cost", (l) => l.billedCost],
  ["Billed", (l) => l.billedPrice],
  ["Margin", (l) => l.margin],
  ["Not billed", (l) => l.notBilled],
  ["Status", (l) => l.status],
  ["Reason", (l) => l.reason],
  ["Differences", (l) => l.differences.join("; ")],
  ["PSA record", (l) => l.psaRecordId],
];
const MONEY_COLUMNS = new Set(["Cost", "Billed cost", "Billed", "Margin", "Not billed", "Seats"]);

/** Resolves when `out` may take more (its buffer drained), at once when it has room. */
function room(out: Writable): Promise<void> | undefined {
  if (!out.writableNeedDrain) return undefined;
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      out.off("drain", done);
      out.off("error", done);
      out.off("close", done);
      if (error) reject(error);
      else resolve();
    };
    out.on("drain", done);
    out.on("error", done);
    out.on("close", done);
  });
}

/** A report already built, as a source for the export writers. */
export function sourceOf(report: ReconciliationReport): ReportSource {
  return async (onLine) => {
    for (const line of report.lines) await onLine(line);
    return summaryOf(report);
  };
}

/**
 * The lines as CSV, one row per line (the drill-down), every cell formula-safe, written to `out` as they are
 * built, waiting for `out` when it is behind; `out` is ended.
 */
export async function writeReportCsv(source: ReportSource, out: Writable): Promise<void> {
  out.write(stringify([LINE_COLUMNS.map(([name]) => name)]));
  await source((line) => {
    out.write(stringify([LINE_COLUMNS.map(([, value]) => safeCell(value(line)))]));
    return room(out);
  });
  out.end();
}

/**
 * The whole report as JSON: `lines` first (written as they are built, one per text line), then the summary
 * fields, which are known only once every line is in; `out` is ended.
 */
export async function writeReportJson(source: ReportSource, out: Writable): Promise<void> {
  out.write('{\n  "lines": [');
  let first = true;
  const summary = await source((line) => {
    out.write(`${first ? "\n" : ",\n"}    ${JSON.stringify(line)}`);
    first = false;
    return room(out);
  });
  out.write(first ? "],\n" : "\n  ],\n");
  const fields = Object.entries(summary).map(
    ([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value, null, 2).replaceAll("\n", "\n  ")}`,
  );
  out.write(`${fields.join(",\n")}\n}\n`);
  out.end();
}

const FIGURE_COLUMNS = [
  "Cost",
  "Billed cost",
  "Billed",
  "Margin",
  "Margin %",
  "Not billed",
  "Lines",
] as const;

function figureCells(f: ReportSummary["totals"][number] | ReportSummary["groups"][number]) {
  return [f.cost, f.billedCost, f.billed, f.margin, f.marginPercent, f.notBilled, String(f.lines)];
}

/**
 * The workbook: Summary (totals per currency), Customers (per customer × motion), Products, Lines and Drift,
 * written with exceljs's streaming writer: the Lines sheet is written first, row by row as the lines are built
 * (a sheet's part of the file opens with its first row), the others once the sums are known; they still come
 * in this order in the workbook. Amounts are number cells (shown to two places); text cells are formula-safe
 * like the CSV's; no shared strings table (it would hold every text). `out` is ended.
 */
export async function writeReportXlsx(source: ReportSource, out: Writable): Promise<void> {
  // exceljs (~35 MB with its zip and stream libraries) is loaded on the first XLSX export, not by every
  // process that can make one (BENCHMARKS.md, serve).
  const { default: Excel } = await import("exceljs");
  const book = new Excel.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: true,
    useSharedStrings: false,
  });
  book.creator = "cspsync";
  const sheets = ["Summary", "Customers", "Products", "Lines", "Drift"].map((name) =>
    book.addWorksheet(name),
  );
  const [summarySheet, customersSheet, productsSheet, linesSheet, driftSheet] = sheets as [
    ExcelJS.Worksheet,
    ExcelJS.Worksheet,
    ExcelJS.Worksheet,
    ExcelJS.Worksheet,
    ExcelJS.Worksheet,
  ];
  const begin = (ws: ExcelJS.Worksheet, header: string[], numeric: ReadonlySet<string>) => {
    ws.columns = header.map((name) => ({
      key: name,
      ...(numeric.has(name) && name !== "Lines" && name !== "Seats" ? { style: { numFmt: "0.00" } } : {}),
    }));
    const row = ws.addRow(header);
    row.font = { bold: true };
    row.commit();
    return (cells: (string | null)[]) =>
      ws
        .addRow(
          cells.map((cell, i) =>
            cell !== null && numeric.has(header[i]!) && cell !== "" ? Number(cell) : safeCell(cell),
          ),
        )
        .commit();
  };
  const lineRow = begin(
    linesSheet,
    LINE_COLUMNS.map(([name]) => name),
    MONEY_COLUMNS,
  );
  let rows = 0;
  const report = await source(async (line) => {
    lineRow(LINE_COLUMNS.map(([, value]) => value(line)));
    // exceljs gives no backpressure on a sheet being written, and its XML waits in the zip entry's stream
    // (BENCHMARKS.md, bench:report xlsx); let other work run now and then.
    if (++rows % 500 === 0) await new Promise(setImmediate);
    await room(out);
  });
  linesSheet.commit();
  const figureNumeric = new Set<string>(FIGURE_COLUMNS);
  const summaryRow = begin(summarySheet, ["Invoice", "Currency", ...FIGURE_COLUMNS], figureNumeric);
  for (const t of report.totals) summaryRow([report.invoice.invoiceNumber, t.currency, ...figureCells(t)]);
  summarySheet.commit();
  const customerRow = begin(
    customersSheet,
    ["Customer", "Motion", "Agreement", "Currency", ...FIGURE_COLUMNS],
    figureNumeric,
  );
  for (const g of report.groups)
    customerRow([g.customerName, g.motion, g.agreementName, g.currency, ...figureCells(g)]);
  customersSheet.commit();
  const productRow = begin(
    productsSheet,
    ["Product", "Product key", "Currency", ...FIGURE_COLUMNS],
    figureNumeric,
  );
  for (const p of report.products) productRow([p.productName, p.productKey, p.currency, ...figureCells(p)]);
  productsSheet.commit();
  const driftRow = begin(
    driftSheet,
    ["Kind", "Customer", "Motion", "Agreement/contract", "PSA record", "Description", "Detail"],
    new Set(),
  );
  for (const d of report.drift)
    driftRow([d.kind, d.customerName, d.motion, d.targetId, d.recordId, d.description, d.detail]);
  driftSheet.commit();
  await book.commit();
}
