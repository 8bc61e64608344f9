import { stringify } from "csv-stringify/sync";
import ExcelJS from "exceljs";
import { AppError } from "../core/errors.ts";
import {
  reconciliationBuilder,
  type PsaRecordInput,
  type ReconciliationReport,
  type ReportLine,
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
} from "../store/reports-repository.ts";

/**
 * The reconciliation and margin report as a use case (docs/reports.md §1, §3, §5): gathers an invoice's
 * events, the connection's mappings, write ledger, held lines and run errors, reads the mapped
 * agreements/contracts back from the PSA (read only), and hands them to the pure report; exports it as JSON,
 * CSV or XLSX with formula-safe cells.
 */

export class ReportError extends AppError {}

export type ReportsDeps = {
  store: Store;
  organizationId: string;
  /** A connection's PSA adapter (read-back only uses listAgreementRecords). */
  adapterFor(connectionId: string): Promise<Pick<PsaAdapter, "listAgreementRecords">>;
};

export type ReportOptions = {
  invoice: string;
  /** Which PSA connection; optional when there is exactly one. */
  connectionId?: string | undefined;
  /** Read the mapped agreements/contracts back from the PSA (default true). */
  readBack?: boolean | undefined;
};

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

  async reconciliation(options: ReportOptions): Promise<ReconciliationReport> {
    const { store, organizationId } = this.deps;
    const invoice = await findInvoice(store, organizationId, options.invoice);
    if (!invoice)
      throw new ReportError("not_found", `no imported invoice "${options.invoice}"`, { field: "invoice" });
    const connection = await this.connection(options.connectionId);
    const names = await customerNames(store, organizationId);
    // The events are read last and turned into lines as they arrive (never all held at once).
    const build = async (inputs: Omit<Parameters<typeof reconciliationBuilder>[0], "invoice">) => {
      const builder = reconciliationBuilder({ invoice, ...inputs });
      await eachReportEvent(store, organizationId, invoice.invoiceNumber, builder.add);
      return builder.finish();
    };
    if (!connection)
      return build({
        connection: null,
        customerNames: names,
        mappings: [],
        writes: [],
        holds: [],
        errors: [],
        psaRecords: null,
        readBackErrors: new Map(),
      });
    const tenants = await invoiceTenants(store, organizationId, invoice.invoiceNumber);
    const [mappings, writes, holds, errors] = await Promise.all([
      reportMappings(store, organizationId, connection.id),
      reportWrites(store, organizationId, connection.id, tenants),
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
      const adapter = await this.deps.adapterFor(connection.id);
      for (const target of targets) {
        if (!adapter.listAgreementRecords) {
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
    return build({
      connection,
      customerNames: names,
      mappings,
      writes,
      holds,
      errors,
      psaRecords,
      readBackErrors,
    });
  }

  /** Cost, billed and margin of the most recent invoices, oldest first (the month-over-month chart). */
  async trend(connectionId?: string, invoices = 12): Promise<TrendPoint[]> {
    const recent = await recentInvoices(this.deps.store, this.deps.organizationId, invoices);
    const points: TrendPoint[] = [];
    for (const invoice of recent.reverse()) {
      const report = await this.reconciliation({
        invoice: invoice.invoiceNumber,
        connectionId,
        readBack: false,
      });
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

/** One row per line (the drill-down), every cell formula-safe. */
export function reportCsv(report: ReconciliationReport): string {
  return stringify([
    LINE_COLUMNS.map(([name]) => name),
    ...report.lines.map((line) => LINE_COLUMNS.map(([, value]) => safeCell(value(line)))),
  ]);
}

export function reportJson(report: ReconciliationReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
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

function figureCells(f: ReconciliationReport["totals"][number] | ReconciliationReport["groups"][number]) {
  return [f.cost, f.billedCost, f.billed, f.margin, f.marginPercent, f.notBilled, String(f.lines)];
}

/**
 * The workbook: Summary (totals per currency), Customers (per customer × motion), Products, Lines and Drift.
 * Amounts are number cells (shown to two places); text cells are formula-safe like the CSV's.
 */
export async function reportXlsx(report: ReconciliationReport): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  book.creator = "cspsync";
  const sheet = (name: string, header: string[], rows: (string | null)[][], numeric: ReadonlySet<string>) => {
    const ws = book.addWorksheet(name);
    ws.addRow(header);
    ws.getRow(1).font = { bold: true };
    for (const row of rows)
      ws.addRow(
        row.map((cell, i) =>
          cell !== null && numeric.has(header[i]!) && cell !== "" ? Number(cell) : safeCell(cell),
        ),
      );
    header.forEach((name, i) => {
      if (numeric.has(name) && name !== "Lines" && name !== "Seats") ws.getColumn(i + 1).numFmt = "0.00";
    });
  };
  const figureNumeric = new Set<string>(FIGURE_COLUMNS);
  sheet(
    "Summary",
    ["Invoice", "Currency", ...FIGURE_COLUMNS],
    report.totals.map((t) => [report.invoice.invoiceNumber, t.currency, ...figureCells(t)]),
    figureNumeric,
  );
  sheet(
    "Customers",
    ["Customer", "Motion", "Agreement", "Currency", ...FIGURE_COLUMNS],
    report.groups.map((g) => [g.customerName, g.motion, g.agreementName, g.currency, ...figureCells(g)]),
    figureNumeric,
  );
  sheet(
    "Products",
    ["Product", "Product key", "Currency", ...FIGURE_COLUMNS],
    report.products.map((p) => [p.productName, p.productKey, p.currency, ...figureCells(p)]),
    figureNumeric,
  );
  sheet(
    "Lines",
    LINE_COLUMNS.map(([name]) => name),
    report.lines.map((line) => LINE_COLUMNS.map(([, value]) => value(line))),
    MONEY_COLUMNS,
  );
  sheet(
    "Drift",
    ["Kind", "Customer", "Motion", "Agreement/contract", "PSA record", "Description", "Detail"],
    report.drift.map((d) => [
      d.kind,
      d.customerName,
      d.motion,
      d.targetId,
      d.recordId,
      d.description,
      d.detail,
    ]),
    new Set(),
  );
  return Buffer.from(await book.xlsx.writeBuffer());
}
