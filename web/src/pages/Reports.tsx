import { useId, useState } from "react";
import { Bar, BarChart, CartesianGrid, Cell, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from "recharts";
import {
  MOTION_LABELS,
  query,
  type CustomerNames,
  type InvoiceSummary,
  type Motion,
  type ReconciliationReport,
  type ReportDrift,
  type ReportFigures,
  type ReportLine,
  type ReportLinePage,
  type ReportLineStatus,
  type ReportTrend,
} from "../api.ts";
import { Badge, EmptyState, ErrorMessage, Loading, Notice, PageHeader } from "../components.tsx";
import { formatDate, formatMoney, formatNumber, plural } from "../format.ts";
import { useApiQuery, useDocumentTitle } from "../hooks.ts";
import { useConnections } from "../Layout.tsx";
import { navigate, useLocation } from "../router.tsx";

/**
 * The reconciliation and margin report of one invoice (docs/reports.md §1, §3): what Microsoft charged, what
 * cspsync wrote to the PSA, the margin and every difference with its reason, per customer and product, drilled
 * down to the lines and to the PSA records read back; and two charts (margin per customer, cost / billed /
 * margin month over month), each with its numbers in a table beside it. Every figure is the server's: the
 * page only formats decimal strings. The charts turn them into numbers to draw bars, nothing else.
 */

type Tone = "ok" | "warn" | "bad" | "info" | "neutral";

const STATUS_LABELS: Record<ReportLineStatus, [string, Tone]> = {
  written: ["Written", "ok"],
  "not-billable": ["Not billable", "neutral"],
  "not-mapped": ["Not mapped", "bad"],
  "entry-disabled": ["Entry turned off", "warn"],
  "before-sync-date": ["Before the sync date", "neutral"],
  held: ["Held for approval", "warn"],
  error: ["Error", "bad"],
  "not-yet-synced": ["Not synced yet", "info"],
  "deleted-in-psa": ["Deleted in the PSA", "bad"],
};
const STATUSES = Object.keys(STATUS_LABELS) as ReportLineStatus[];

const DRIFT_LABELS: Record<ReportDrift["kind"], string> = {
  edited: "Edited by hand",
  deleted: "Deleted by hand",
  "not-written-by-cspsync": "Added by hand (not written by cspsync)",
};

/** Lines per page of a customer's drill-down (the server pages them). */
const LINES_PER_PAGE = 100;

/** How many customers the margin chart draws (the largest by cost). */
const CHART_CUSTOMERS = 15;

/**
 * The server pages the report's per-customer lists (BENCHMARKS.md, serve: 2,000 customers were 2.3 MB per
 * answer): this many customer × motion groups a page, and the ranking's first this many customers.
 */
const GROUPS_PER_PAGE = 100;
const RANKED_CUSTOMERS = 50;
/** The Customer picker lists at most this many names (the API's largest page). */
const CUSTOMER_PICKER_LIMIT = 5000;

function StatusBadge({ status }: { status: ReportLineStatus }) {
  const [label, tone] = STATUS_LABELS[status] ?? [status, "neutral"];
  return <Badge tone={tone}>{label}</Badge>;
}

function percent(value: string | null): string {
  return value === null ? "—" : `${formatNumber(value)} %`;
}

/** A decimal string as a number for drawing only (bar lengths), never for sums. */
function plotted(value: string): number {
  return Number(value);
}

type Filters = {
  invoice: string;
  connection: string;
  customer: string;
  motion: string;
  status: string;
  readBack: string;
  groupsOffset: string;
};

export function ReportsPage() {
  useDocumentTitle("Reports");
  const { search } = useLocation();
  const { connections } = useConnections();
  const invoices = useApiQuery<{ invoices: InvoiceSummary[] }>("/api/invoices");
  const sorted = [...(invoices.data?.invoices ?? [])].sort(
    (a, b) =>
      (b.firstChargeDate ?? "").localeCompare(a.firstChargeDate ?? "") ||
      b.invoiceNumber.localeCompare(a.invoiceNumber),
  );
  const filters: Filters = {
    invoice: search.get("invoice") ?? sorted[0]?.invoiceNumber ?? "",
    connection: search.get("connection") ?? (connections && connections.length > 1 ? connections[0]!.id : ""),
    customer: search.get("customer") ?? "",
    motion: search.get("motion") ?? "",
    status: search.get("status") ?? "",
    readBack: search.get("readBack") ?? "true",
    groupsOffset: search.get("groupsOffset") ?? "",
  };
  // Another filter starts the groups again from their first page.
  const setFilter = (changes: Partial<Filters>) =>
    navigate(`/reports${query({ ...filters, groupsOffset: "", ...changes })}`, {
      replace: true,
      sameView: true,
    });
  const reportQuery = query({
    invoice: filters.invoice,
    connection: filters.connection || undefined,
    readBack: filters.readBack,
  });
  // The groups are filtered and paged by the server; the totals, products and drift stay whole.
  const summaryQuery = query({
    invoice: filters.invoice,
    connection: filters.connection || undefined,
    readBack: filters.readBack,
    customer: filters.customer || undefined,
    motion: filters.motion || undefined,
    status: filters.status || undefined,
    groupsOffset: filters.groupsOffset || undefined,
    groupsLimit: GROUPS_PER_PAGE,
    customersLimit: RANKED_CUSTOMERS,
  });
  const report = useApiQuery<ReconciliationReport>(
    filters.invoice ? `/api/reports/reconciliation${summaryQuery}` : null,
  );
  const customerNames = useApiQuery<CustomerNames>(
    `/api/customers${query({ limit: CUSTOMER_PICKER_LIMIT })}`,
  );
  const trend = useApiQuery<ReportTrend>(
    `/api/reports/trend${query({ connection: filters.connection || undefined })}`,
  );

  return (
    <>
      <PageHeader title="Reports" />
      <p>
        The reconciliation and margin report of an invoice: Microsoft’s cost, what cspsync wrote to the PSA,
        the margin, and why any charge did not reach a customer invoice. The PSA is only read, never changed.
      </p>
      {invoices.error && <ErrorMessage error={invoices.error} retry={invoices.refetch} />}
      {invoices.data && sorted.length === 0 && (
        <EmptyState title="No invoice imported yet">
          Import a reconciliation file to see its report.
        </EmptyState>
      )}
      {sorted.length > 0 && (
        <div className="toolbar">
          <label htmlFor="report-invoice">Invoice</label>
          <select
            id="report-invoice"
            value={filters.invoice}
            onChange={(e) => setFilter({ invoice: e.target.value, customer: "" })}
          >
            {sorted.map((invoice) => (
              <option key={invoice.invoiceNumber} value={invoice.invoiceNumber}>
                {invoice.invoiceNumber}
                {invoice.firstChargeDate ? ` (${invoice.firstChargeDate.slice(0, 7)})` : ""}
              </option>
            ))}
          </select>
          {connections && connections.length > 1 && (
            <>
              <label htmlFor="report-connection">PSA connection</label>
              <select
                id="report-connection"
                value={filters.connection}
                onChange={(e) => setFilter({ connection: e.target.value })}
              >
                {connections.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </>
          )}
          <label className="checkbox">
            <input
              type="checkbox"
              checked={filters.readBack === "true"}
              onChange={(e) => setFilter({ readBack: e.target.checked ? "true" : "false" })}
            />
            Read the PSA back
          </label>
        </div>
      )}
      {report.error && <ErrorMessage error={report.error} retry={report.refetch} />}
      {report.loading && <Loading label="Building the report" />}
      {report.data && (
        <Report
          report={report.data}
          customerNames={customerNames.data?.customers ?? []}
          filters={filters}
          setFilter={setFilter}
          reportQuery={reportQuery}
        />
      )}
      <TrendSection trend={trend.data} error={trend.error} retry={trend.refetch} />
    </>
  );
}

function Report({
  report,
  customerNames,
  filters,
  setFilter,
  reportQuery,
}: {
  report: ReconciliationReport;
  customerNames: CustomerNames["customers"];
  filters: Filters;
  setFilter: (changes: Partial<Filters>) => void;
  reportQuery: string;
}) {
  const exportHref = (format: string) => `/api/reports/reconciliation/export${reportQuery}&format=${format}`;
  // The server sent the groups matching the filters (one page) and the ranking's head (the chosen customer's
  // figures when one is chosen).
  const groups = report.groups;
  const customers = report.customers;
  const groupsOffset = Number(filters.groupsOffset) || 0;
  const selected = report.customers.find((c) => c.customerTenantId === filters.customer);
  return (
    <>
      <section className="panel" aria-labelledby="report-summary">
        <div className="section-header">
          <h2 id="report-summary">
            Invoice {report.invoice.invoiceNumber}
            {report.connection ? ` — ${report.connection.name}` : ""}
          </h2>
          <div className="button-group" role="group" aria-label="Export">
            <a className="button secondary small" href={exportHref("csv")} download>
              Export CSV
            </a>
            <a className="button secondary small" href={exportHref("xlsx")} download>
              Export XLSX
            </a>
            <a className="button secondary small" href={exportHref("json")} download>
              Export JSON
            </a>
          </div>
        </div>
        <p className="muted">
          Charges {formatDate(report.invoice.firstChargeDate)} to {formatDate(report.invoice.lastChargeDate)}.{" "}
          {report.connection === null
            ? "No PSA connection: nothing is mapped."
            : report.readBack.done
              ? `The PSA was read back (${plural(report.readBack.agreements, "agreement/contract", "agreements/contracts")}).`
              : "The PSA was not read back: written lines are judged from what cspsync wrote."}
        </p>
        {report.readBack.errors.map((e) => (
          <Notice key={e.targetId} kind="warning">
            Agreement/contract {e.targetId} could not be read back: {e.message}
          </Notice>
        ))}
        {report.totals.map((t) => (
          <Totals key={t.currency} totals={t} />
        ))}
      </section>

      <div className="toolbar" role="group" aria-label="Filters">
        <label htmlFor="report-customer">Customer</label>
        <select
          id="report-customer"
          value={filters.customer}
          onChange={(e) => setFilter({ customer: e.target.value })}
        >
          <option value="">All customers</option>
          {customerNames.map((c) => (
            <option key={c.tenantId} value={c.tenantId}>
              {c.name}
            </option>
          ))}
        </select>
        <label htmlFor="report-motion">Billing motion</label>
        <select
          id="report-motion"
          value={filters.motion}
          onChange={(e) => setFilter({ motion: e.target.value })}
        >
          <option value="">All motions</option>
          {(Object.keys(MOTION_LABELS) as Motion[]).map((m) => (
            <option key={m} value={m}>
              {MOTION_LABELS[m]}
            </option>
          ))}
        </select>
        <label htmlFor="report-status">Status / reason</label>
        <select
          id="report-status"
          value={filters.status}
          onChange={(e) => setFilter({ status: e.target.value })}
        >
          <option value="">Any status</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABELS[s][0]}
            </option>
          ))}
        </select>
      </div>

      {selected ? (
        <CustomerDetail
          key={`${reportQuery}|${selected.customerTenantId}|${filters.motion}|${filters.status}`}
          report={report}
          customer={selected}
          filters={filters}
          close={() => setFilter({ customer: "" })}
        />
      ) : (
        <>
          <MarginChart customers={customers} />
          <RankingTable
            label="Customers"
            caption={
              report.customersTotal > customers.length
                ? `Per customer, largest cost first: the first ${formatNumber(customers.length)} of ${formatNumber(report.customersTotal)}`
                : "Per customer, largest cost first"
            }
            rows={customers.map((c) => ({
              key: `${c.customerTenantId}|${c.currency}`,
              name: c.customerName,
              figures: c,
              open: () => setFilter({ customer: c.customerTenantId }),
            }))}
          />
          <RankingTable
            label="Products"
            caption="Per product, largest cost first"
            rows={report.products.map((p) => ({
              key: `${p.productKey}|${p.currency}`,
              name: p.productName,
              figures: p,
            }))}
          />
        </>
      )}

      <section className="panel" aria-labelledby="report-groups">
        <h2 id="report-groups">Per customer and billing motion</h2>
        {groups.length === 0 ? (
          <p>No customer matches these filters.</p>
        ) : (
          <table className="table" aria-label="Per customer and billing motion">
            <thead>
              <tr>
                <th scope="col">Customer</th>
                <th scope="col">Motion</th>
                <th scope="col">Agreement/contract</th>
                <FigureHeaders />
                <th scope="col">Lines by status</th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr key={`${g.customerTenantId}|${g.motion}|${g.currency}`}>
                  <td>{g.customerName}</td>
                  <td>{MOTION_LABELS[g.motion]}</td>
                  <td>{g.agreementName ?? "—"}</td>
                  <FigureCells figures={g} />
                  <td>
                    {(Object.entries(g.byStatus) as [ReportLineStatus, number][]).map(([status, n]) => (
                      <span key={status} className="status-count">
                        <StatusBadge status={status} /> {n}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {report.groupsTotal > GROUPS_PER_PAGE && (
          <nav className="pager" aria-label="Group pages">
            <button
              type="button"
              className="secondary small"
              disabled={groupsOffset <= 0}
              onClick={() => setFilter({ groupsOffset: String(Math.max(0, groupsOffset - GROUPS_PER_PAGE)) })}
            >
              Previous page
            </button>
            <span className="pager-position" aria-live="polite">
              {formatNumber(groupsOffset + 1)}–{formatNumber(groupsOffset + groups.length)} of{" "}
              {formatNumber(report.groupsTotal)}
            </span>
            <button
              type="button"
              className="secondary small"
              disabled={groupsOffset + GROUPS_PER_PAGE >= report.groupsTotal}
              onClick={() => setFilter({ groupsOffset: String(groupsOffset + GROUPS_PER_PAGE) })}
            >
              Next page
            </button>
          </nav>
        )}
      </section>
      {!selected && <DriftTable drift={report.drift} readBack={report.readBack.done} />}
    </>
  );
}

function Totals({ totals }: { totals: ReportFigures }) {
  const c = totals.currency;
  const stats: [string, string][] = [
    ["Cost", formatMoney(totals.cost, c)],
    ["Billed", formatMoney(totals.billed, c)],
    ["Margin", formatMoney(totals.margin, c)],
    ["Margin %", percent(totals.marginPercent)],
    ["Not billed (leakage)", formatMoney(totals.notBilled, c)],
  ];
  return (
    <div className="stats" role="group" aria-label={`Totals in ${c}`}>
      {stats.map(([label, value]) => (
        <div className="stat" key={label}>
          <span className="stat-value">{value}</span>
          <span className="stat-label">{label}</span>
        </div>
      ))}
      <p className="muted">
        {plural(totals.lines, "line")}
        {totals.unpricedLines > 0
          ? `, ${plural(totals.unpricedLines, "written line")} at the PSA product’s own price (not known here)`
          : ""}
      </p>
    </div>
  );
}

function FigureHeaders() {
  return (
    <>
      <th scope="col">Cost</th>
      <th scope="col">Billed</th>
      <th scope="col">Margin</th>
      <th scope="col">Margin %</th>
      <th scope="col">Not billed</th>
    </>
  );
}

function FigureCells({ figures: f }: { figures: ReportFigures }) {
  return (
    <>
      <td className="mono">{formatMoney(f.cost, f.currency)}</td>
      <td className="mono">{formatMoney(f.billed, f.currency)}</td>
      <td className={f.margin.startsWith("-") ? "mono text-bad" : "mono"}>
        {formatMoney(f.margin, f.currency)}
      </td>
      <td className="mono">{percent(f.marginPercent)}</td>
      <td className={f.notBilled === "0" ? "mono" : "mono text-warn"}>
        {formatMoney(f.notBilled, f.currency)}
      </td>
    </>
  );
}

function RankingTable({
  label,
  caption,
  rows,
}: {
  label: string;
  caption: string;
  rows: { key: string; name: string; figures: ReportFigures; open?: () => void }[];
}) {
  const id = useId();
  return (
    <section className="panel" aria-labelledby={id}>
      <h2 id={id}>{label}</h2>
      <table className="table" aria-label={label}>
        <caption className="muted">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{label === "Customers" ? "Customer" : "Product"}</th>
            <FigureHeaders />
            <th scope="col">Lines</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key}>
              <td>
                {row.open ? (
                  <button type="button" className="link-button" onClick={row.open}>
                    {row.name}
                  </button>
                ) : (
                  row.name
                )}
              </td>
              <FigureCells figures={row.figures} />
              <td className="mono">{formatNumber(row.figures.lines)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/**
 * Margin per customer as horizontal bars (the largest customers by cost, in the report's main currency); the
 * Customers table below carries the same figures as text.
 */
function MarginChart({ customers }: { customers: ReconciliationReport["customers"] }) {
  const captionId = useId();
  const currency = customers[0]?.currency;
  const shown = customers.filter((c) => c.currency === currency).slice(0, CHART_CUSTOMERS);
  if (!currency || shown.length === 0) return null;
  const data = shown.map((c) => ({ name: c.customerName, margin: plotted(c.margin), label: c.margin }));
  const title = `Margin per customer (${currency})`;
  return (
    <figure className="panel chart" aria-labelledby={captionId} data-chart="margin-per-customer">
      <figcaption id={captionId}>
        <h2>{title}</h2>
        <span className="muted">
          {shown.length < customers.length
            ? `The ${shown.length} largest customers by cost; every customer is in the Customers table.`
            : "The same figures are in the Customers table."}
        </span>
      </figcaption>
      <BarChart
        responsive
        style={{ width: "100%", height: Math.max(160, 40 + 32 * data.length) }}
        data={data}
        layout="vertical"
        margin={{ left: 16, right: 96 }}
        title={title}
        desc={shown.map((c) => `${c.customerName}: ${formatMoney(c.margin, currency)}`).join("; ")}
      >
        <CartesianGrid strokeDasharray="3 3" horizontal={false} />
        <XAxis type="number" tickFormatter={(v: number) => formatMoney(String(v), currency)} />
        <YAxis type="category" dataKey="name" width={180} />
        <Tooltip formatter={(_value, _name, item) => formatMoney(String(item.payload.label), currency)} />
        <Bar dataKey="margin" name="Margin" isAnimationActive={false} minPointSize={2}>
          {data.map((d) => (
            <Cell key={d.name} fill={d.margin < 0 ? "var(--bad)" : "var(--primary)"} />
          ))}
        </Bar>
      </BarChart>
    </figure>
  );
}

function TrendSection({
  trend,
  error,
  retry,
}: {
  trend: ReportTrend | undefined;
  error: Parameters<typeof ErrorMessage>[0]["error"] | null;
  retry: () => void;
}) {
  const captionId = useId();
  if (error) return <ErrorMessage error={error} retry={retry} />;
  if (!trend || trend.length === 0) return null;
  const currency = trend[trend.length - 1]!.currency;
  const points = trend.filter((p) => p.currency === currency);
  const data = points.map((p) => ({
    name: p.period ?? p.invoiceNumber,
    cost: plotted(p.cost),
    billed: plotted(p.billed),
    margin: plotted(p.margin),
  }));
  const title = `Cost, billed and margin month over month (${currency})`;
  return (
    <figure className="panel chart" aria-labelledby={captionId} data-chart="month-over-month">
      <figcaption id={captionId}>
        <h2>{title}</h2>
        <span className="muted">The last {plural(points.length, "invoice")}, without the PSA read back.</span>
      </figcaption>
      <LineChart
        responsive
        style={{ width: "100%", height: 300 }}
        data={data}
        margin={{ left: 16, right: 24 }}
        title={title}
        desc={points
          .map(
            (p) => `${p.period ?? p.invoiceNumber}: cost ${p.cost}, billed ${p.billed}, margin ${p.margin}`,
          )
          .join("; ")}
      >
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="name" />
        <YAxis tickFormatter={(v: number) => formatMoney(String(v), currency)} width={96} />
        <Tooltip formatter={(value) => formatMoney(String(value), currency)} />
        <Legend />
        <Line dataKey="cost" name="Cost" stroke="#6b7280" isAnimationActive={false} />
        <Line dataKey="billed" name="Billed" stroke="#2563eb" isAnimationActive={false} />
        <Line dataKey="margin" name="Margin" stroke="#15803d" isAnimationActive={false} />
      </LineChart>
      <table className="table" aria-label="Month over month">
        <thead>
          <tr>
            <th scope="col">Invoice</th>
            <th scope="col">Month</th>
            <th scope="col">Cost</th>
            <th scope="col">Billed</th>
            <th scope="col">Margin</th>
            <th scope="col">Not billed</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr key={p.invoiceNumber}>
              <td>{p.invoiceNumber}</td>
              <td>{p.period ?? "—"}</td>
              <td className="mono">{formatMoney(p.cost, currency)}</td>
              <td className="mono">{formatMoney(p.billed, currency)}</td>
              <td className="mono">{formatMoney(p.margin, currency)}</td>
              <td className="mono">{formatMoney(p.notBilled, currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/**
 * One customer: its lines (status, reason, differences), fetched from the server a page at a time with the
 * filters, and the PSA records read back for it.
 */
function CustomerDetail({
  report,
  customer,
  filters,
  close,
}: {
  report: ReconciliationReport;
  customer: ReconciliationReport["customers"][number];
  filters: Filters;
  close: () => void;
}) {
  const [offset, setOffset] = useState(0);
  const page = useApiQuery<ReportLinePage>(
    `/api/reports/reconciliation/lines${query({
      invoice: filters.invoice,
      connection: filters.connection || undefined,
      readBack: filters.readBack,
      customer: customer.customerTenantId,
      motion: filters.motion || undefined,
      status: filters.status || undefined,
      offset,
      limit: LINES_PER_PAGE,
    })}`,
  );
  const drift = report.drift.filter((d) => d.customerTenantId === customer.customerTenantId);
  const data = page.data;
  return (
    <section className="panel" aria-labelledby="report-customer-detail">
      <div className="section-header">
        <h2 id="report-customer-detail">{customer.customerName}</h2>
        <button type="button" className="button secondary small" onClick={close}>
          All customers
        </button>
      </div>
      <table className="table" aria-label={`Figures of ${customer.customerName}`}>
        <thead>
          <tr>
            <FigureHeaders />
          </tr>
        </thead>
        <tbody>
          <tr>
            <FigureCells figures={customer} />
          </tr>
        </tbody>
      </table>
      <h3>Lines</h3>
      {page.error && <ErrorMessage error={page.error} retry={page.refetch} />}
      {page.loading && <Loading label="Reading the lines" />}
      {data && !page.loading && data.total === 0 && <p>No line matches these filters.</p>}
      {data && !page.loading && data.total > 0 && (
        <>
          <LinesTable lines={data.lines} label={`Lines of ${customer.customerName}`} />
          {data.total > data.limit && (
            <div className="toolbar" role="group" aria-label="Pages of lines">
              <button
                type="button"
                className="button secondary small"
                disabled={offset === 0}
                onClick={() => setOffset(Math.max(0, offset - LINES_PER_PAGE))}
              >
                Previous
              </button>
              <span className="muted">
                Lines {formatNumber(data.offset + 1)}–{formatNumber(data.offset + data.lines.length)} of{" "}
                {formatNumber(data.total)}
              </span>
              <button
                type="button"
                className="button secondary small"
                disabled={data.offset + data.lines.length >= data.total}
                onClick={() => setOffset(offset + LINES_PER_PAGE)}
              >
                Next
              </button>
            </div>
          )}
        </>
      )}
      <DriftTable drift={drift} readBack={report.readBack.done} />
    </section>
  );
}

function LinesTable({ lines, label }: { lines: ReportLine[]; label: string }) {
  return (
    <table className="table" aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Product</th>
          <th scope="col">Motion</th>
          <th scope="col">Kind</th>
          <th scope="col">Charge</th>
          <th scope="col">Seats</th>
          <th scope="col">Cost</th>
          <th scope="col">Billed</th>
          <th scope="col">Margin</th>
          <th scope="col">Not billed</th>
          <th scope="col">Status</th>
          <th scope="col">Reason</th>
          <th scope="col">PSA record</th>
        </tr>
      </thead>
      <tbody>
        {lines.map((l) => (
          <tr key={l.eventKey}>
            <td>{l.productName}</td>
            <td>{MOTION_LABELS[l.motion]}</td>
            <td>{l.kind}</td>
            <td>
              {formatDate(l.chargeStart)}
              {l.chargeEnd ? ` – ${formatDate(l.chargeEnd)}` : ""}
            </td>
            <td className="mono">{formatNumber(l.seats)}</td>
            <td className="mono">{formatMoney(l.cost, l.currency)}</td>
            <td className="mono">{formatMoney(l.billedPrice, l.currency)}</td>
            <td className="mono">{formatMoney(l.margin, l.currency)}</td>
            <td className="mono">{formatMoney(l.notBilled, l.currency)}</td>
            <td>
              <StatusBadge status={l.status} />
            </td>
            <td>
              {l.reason}
              {l.differences.length > 0 && (
                <ul className="small">
                  {l.differences.map((d) => (
                    <li key={d}>{d}</li>
                  ))}
                </ul>
              )}
            </td>
            <td className="mono">{l.psaRecordId ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DriftTable({ drift, readBack }: { drift: ReportDrift[]; readBack: boolean }) {
  return (
    <>
      <h3>PSA records changed by hand</h3>
      {!readBack ? (
        <p className="muted">Not read back: turn on “Read the PSA back” to compare with the PSA.</p>
      ) : drift.length === 0 ? (
        <p>Every record cspsync wrote is in the PSA as written, and nothing was added beside them.</p>
      ) : (
        <table className="table" aria-label="PSA records changed by hand">
          <thead>
            <tr>
              <th scope="col">Change</th>
              <th scope="col">Customer</th>
              <th scope="col">Motion</th>
              <th scope="col">Agreement/contract</th>
              <th scope="col">PSA record</th>
              <th scope="col">Description</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {drift.map((d) => (
              <tr key={`${d.kind}|${d.targetId}|${d.recordId ?? d.writeKey}`}>
                <td>{DRIFT_LABELS[d.kind]}</td>
                <td>{d.customerName}</td>
                <td>{MOTION_LABELS[d.motion]}</td>
                <td className="mono">{d.targetId}</td>
                <td className="mono">{d.recordId ?? "—"}</td>
                <td>{d.description}</td>
                <td>{d.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
