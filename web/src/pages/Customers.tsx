import { useEffect, useRef, useState } from "react";
import {
  api,
  MOTION_LABELS,
  query,
  VENDOR_LABELS,
  type ConnectionView,
  type CustomerFilter,
  type CustomerMapping,
  type CustomerPage,
  type CustomerView,
  type HeldLine,
  type Pricing,
  type SyncPlans,
  type SyncResults,
  type UnmappedCharges,
} from "../api.ts";
import {
  Badge,
  ConnectionTabs,
  EmptyState,
  ErrorMessage,
  Loading,
  Notice,
  PageHeader,
} from "../components.tsx";
import { formatDate, formatInstant, formatMoney, formatNumber } from "../format.ts";
import {
  holdsApproved,
  syncRan,
  useAction,
  useApiQuery,
  useDebounced,
  useDocumentTitle,
  useInvalidate,
  useSession,
} from "../hooks.ts";
import { useFallbackCurrency } from "../lines.tsx";
import { Link, navigate, useLocation } from "../router.tsx";
import { DryRunResult, SyncResult } from "../sync-views.tsx";
import { MappingForm } from "./MappingForm.tsx";

/** What one Sync now (or dry run) covers: the whole connection, one customer, or one customer's entry. */
type SyncRequest = {
  customerTenantId?: string;
  motion?: CustomerMapping["motion"];
  dryRun?: boolean;
  label: string;
};

/** The answer shown under the page header: a sync's runs, or a dry run's plans. */
type SyncPanel =
  { kind: "runs"; label: string; results: SyncResults } | { kind: "plans"; label: string; plans: SyncPlans };

/** Customers with something to write, and the lines a sync would write, in a dry run. */
function planCounts(plans: SyncPlans): { customers: number; lines: number } {
  const customers = new Set<string>();
  let lines = 0;
  for (const plan of plans.plans)
    for (const entry of plan.mappings) {
      if (entry.plan.lines.length === 0) continue;
      customers.add(entry.mapping.customerTenantId);
      lines += entry.plan.lines.length;
    }
  return { customers: customers.size, lines };
}

/** The banner over a sync's results: what the runs say, never "synced" when they failed or only held lines. */
function syncOutcome(label: string, results: SyncResults): string {
  const statuses = results.runs.map((run) => run.status);
  const held = results.runs.reduce((n, run) => n + run.items.filter((i) => i.outcome === "held").length, 0);
  if (statuses.includes("error") || statuses.includes("abandoned"))
    return `The sync of ${label} ended with errors: see below.`;
  if (held > 0 && results.runs.every((run) => run.written === 0))
    return `The sync of ${label} wrote nothing: ${formatNumber(held)} ${held === 1 ? "line is" : "lines are"} held for approval.`;
  if (statuses.includes("warning")) return `Synced ${label}, with warnings: see below.`;
  if (statuses.every((status) => status === "no-change")) return `Nothing new to sync for ${label}.`;
  return `Synced ${label}.`;
}

/** Whether Sync now can run this entry: mapped, enabled, and (annual) the connection's switch on. */
function canSync(mapping: CustomerMapping, connection: ConnectionView | undefined): boolean {
  if (!mapping.psaCompanyId || !mapping.enabled) return false;
  return mapping.motion !== "seat-annual" || connection?.seatAnnualEnabled === true;
}

export function pricingLabel(pricing: Pricing): string {
  switch (pricing.strategy) {
    case "cost-and-retail":
      return "Cost and retail";
    case "cost-only":
      return "Cost only";
    case "markup":
      return `Cost + ${pricing.markupPercent ?? "?"} % markup`;
  }
}

function MappingStatus({ mapping }: { mapping: CustomerMapping }) {
  if (!mapping.psaCompanyId) return <Badge tone="neutral">Not mapped</Badge>;
  if (!mapping.enabled) return <Badge tone="neutral">Sync off</Badge>;
  // From what the last run that covered the entry did to it, never from the mere fact that a run happened.
  switch (mapping.lastStatus) {
    case "written":
      return <Badge tone="ok">Synced</Badge>;
    case "no-change":
      return <Badge tone="ok">No change</Badge>;
    case "held":
      return <Badge tone="warn">Held</Badge>;
    case "warning":
      return <Badge tone="warn">Warning</Badge>;
    case "error":
      return <Badge tone="bad">Error</Badge>;
    default:
      return <Badge tone="info">Mapped</Badge>;
  }
}

/**
 * The customer's lines held for approval, where the customer is: a count, and on opening the lines themselves
 * (what, unit cost, sell price) with Approve; the next sync writes approved lines at their held price.
 */
function CustomerHolds({
  connectionId,
  customer,
  canEdit,
}: {
  connectionId: string;
  customer: CustomerView;
  canEdit: boolean;
}) {
  const [open, setOpen] = useState(false);
  const holds = useApiQuery<{ holds: HeldLine[] }>(
    open ? `/api/connections/${connectionId}/holds${query({ customerTenantId: customer.tenantId })}` : null,
  );
  const currency = useFallbackCurrency(open);
  const approve = useAction(async (writeKeys: string[]) => {
    await api.post(`/api/connections/${connectionId}/holds/approve`, { writeKeys });
  }, holdsApproved(connectionId));
  const held = holds.data?.holds.filter((h) => h.status === "held") ?? [];
  const count = customer.heldLines;
  const panelId = `holds-${customer.tenantId}`;
  return (
    <div className="customer-holds">
      <p>
        <Badge tone="warn">
          {formatNumber(count)} {count === 1 ? "line" : "lines"} held for approval
        </Badge>{" "}
        <button
          type="button"
          className="link-button"
          aria-expanded={open}
          aria-controls={panelId}
          onClick={() => setOpen(!open)}
        >
          {open ? "Hide held lines" : "Show held lines"}
        </button>
      </p>
      {open && (
        <div id={panelId}>
          {holds.error && <ErrorMessage error={holds.error} retry={holds.refetch} />}
          {approve.error && <ErrorMessage error={approve.error} />}
          {!holds.data && holds.loading && <Loading label="Loading held lines…" />}
          {holds.data && (
            <table className="table holds">
              <caption className="visually-hidden">Lines of {customer.name} held for approval</caption>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col" className="num">
                    Unit cost
                  </th>
                  <th scope="col" className="num">
                    Sell price
                  </th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {holds.data.holds.map((h) => (
                  <tr key={h.writeKey} data-write-key={h.writeKey}>
                    <th scope="row">{h.description}</th>
                    <td className="num">{formatMoney(h.unitCost, currency, { unit: true })}</td>
                    <td className="num">{formatMoney(h.unitPrice, currency, { unit: true })}</td>
                    <td>
                      {h.status === "approved" ? (
                        <Badge tone="ok">Approved: the next sync writes it</Badge>
                      ) : canEdit ? (
                        <button
                          type="button"
                          className="button small secondary"
                          disabled={approve.busy}
                          aria-label={`Approve ${h.description} at ${formatMoney(h.unitPrice, currency, { unit: true })}`}
                          onClick={() => void approve.run([h.writeKey])}
                        >
                          Approve
                        </button>
                      ) : (
                        <Badge tone="warn">Held</Badge>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {canEdit && held.length > 1 && (
            <button
              type="button"
              className="button small secondary"
              disabled={approve.busy}
              onClick={() => void approve.run(held.map((h) => h.writeKey))}
            >
              Approve all {formatNumber(held.length)} held lines of {customer.name}
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function CustomerEntries({
  customer,
  connection,
  canEdit,
  busy,
  onEdit,
  onSync,
}: {
  customer: CustomerView;
  connection: ConnectionView | undefined;
  canEdit: boolean;
  busy: boolean;
  onEdit: (mapping: CustomerMapping) => void;
  onSync: (request: SyncRequest) => void;
}) {
  const headingId = `customer-${customer.tenantId}`;
  const anySyncable = customer.mappings.some((m) => canSync(m, connection));
  return (
    <section className="customer" aria-labelledby={headingId}>
      <header className="customer-header">
        <h2 id={headingId}>{customer.name}</h2>
        <p className="muted">
          {[customer.domain, customer.country].filter(Boolean).join(" · ") || customer.tenantId}
        </p>
        {canEdit && anySyncable && (
          <span className="customer-actions">
            <button
              type="button"
              className="button secondary small"
              disabled={busy}
              onClick={() =>
                onSync({ customerTenantId: customer.tenantId, dryRun: true, label: customer.name })
              }
            >
              Dry run {customer.name}
            </button>
            <button
              type="button"
              className="button secondary small"
              disabled={busy}
              onClick={() => onSync({ customerTenantId: customer.tenantId, label: customer.name })}
            >
              Sync {customer.name}
            </button>
          </span>
        )}
      </header>
      {customer.unmappedCharges.length > 0 && (
        <p className="small unmapped-note">
          <Badge tone="warn">Charges not mapped</Badge>{" "}
          {customer.unmappedCharges
            .map(
              (u) =>
                `${MOTION_LABELS[u.motion]}: ${formatNumber(u.lines)} ${u.lines === 1 ? "charge" : "charges"}, ` +
                totalsText(u.totals),
            )
            .join(" · ")}
        </p>
      )}
      {customer.heldLines > 0 && connection && (
        <CustomerHolds connectionId={connection.id} customer={customer} canEdit={canEdit} />
      )}
      <table className="table responsive mappings">
        <caption className="visually-hidden">Billing motions of {customer.name}</caption>
        <thead>
          <tr>
            <th scope="col">Billing motion</th>
            <th scope="col">PSA company</th>
            <th scope="col">Agreement / contract</th>
            <th scope="col">Sync from</th>
            <th scope="col">Pricing</th>
            <th scope="col">Last sync</th>
            <th scope="col">Status</th>
            {canEdit && (
              <th scope="col">
                <span className="visually-hidden">Edit</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {customer.mappings.map((m) => (
            <tr key={m.motion} data-motion={m.motion}>
              <th scope="row" data-label="Billing motion">
                {MOTION_LABELS[m.motion]}
              </th>
              <td data-label="PSA company">
                {m.psaCompanyName ?? (m.psaCompanyId ? `#${m.psaCompanyId}` : "—")}
              </td>
              <td data-label="Agreement">{m.agreementName ?? (m.agreementId ? `#${m.agreementId}` : "—")}</td>
              <td data-label="Sync from">{m.psaCompanyId ? formatDate(m.syncDate) : "—"}</td>
              <td data-label="Pricing">{m.psaCompanyId ? pricingLabel(m.pricing) : "—"}</td>
              <td data-label="Last sync">{m.lastSyncAt ? formatInstant(m.lastSyncAt) : "—"}</td>
              <td data-label="Status">
                <MappingStatus mapping={m} />
                {m.lastMessage && m.lastStatus !== "written" && m.lastStatus !== "no-change" && (
                  <span className="block small muted">{m.lastMessage}</span>
                )}
              </td>
              {canEdit && (
                <td data-label="" className="actions">
                  {canSync(m, connection) && (
                    <button
                      type="button"
                      className="button secondary small"
                      disabled={busy}
                      aria-label={`Sync ${MOTION_LABELS[m.motion]} for ${customer.name}`}
                      onClick={() =>
                        onSync({
                          customerTenantId: customer.tenantId,
                          motion: m.motion,
                          label: `${MOTION_LABELS[m.motion]} of ${customer.name}`,
                        })
                      }
                    >
                      Sync
                    </button>
                  )}
                  <button
                    type="button"
                    className="icon-button pencil"
                    aria-label={`Edit ${MOTION_LABELS[m.motion]} for ${customer.name}`}
                    title={`Edit ${MOTION_LABELS[m.motion]}`}
                    onClick={() => onEdit(m)}
                  >
                    <span aria-hidden="true">✎</span>
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const PAGE_SIZE = 25;

const FILTERS: { key: CustomerFilter; label: string }[] = [
  { key: "all", label: "All" },
  { key: "unmapped", label: "Unmapped with charges" },
  { key: "mapped", label: "Mapped" },
  { key: "error", label: "Error" },
  { key: "held", label: "Held" },
];

function isFilter(value: string | null): value is CustomerFilter {
  return FILTERS.some((f) => f.key === value);
}

/** "USD 1,234.50 + EUR 80.00": one total per currency, never added across currencies. */
function totalsText(totals: UnmappedCharges["totals"]): string {
  return totals.map((t) => formatMoney(t.amount, t.currency)).join(" + ");
}

/** The status filters as a group of toggle buttons, each with how many customers it shows. */
function FilterBar({
  current,
  counts,
  onChange,
}: {
  current: CustomerFilter;
  counts: CustomerPage["counts"] | undefined;
  onChange: (filter: CustomerFilter) => void;
}) {
  return (
    <div className="filter-bar" role="group" aria-label="Show customers">
      {FILTERS.map((f) => (
        <button
          key={f.key}
          type="button"
          className={f.key === current ? "button small primary" : "button small secondary"}
          aria-pressed={f.key === current}
          data-filter={f.key}
          onClick={() => onChange(f.key)}
        >
          {f.label}
          {counts && <span className="count"> ({formatNumber(counts[f.key])})</span>}
        </button>
      ))}
    </div>
  );
}

/** Previous / next with where the page is; buttons, so they work from the keyboard. */
function Pager({
  page,
  pageSize,
  total,
  onPage,
}: {
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label="Customer pages">
      <button
        type="button"
        className="button small secondary"
        disabled={page <= 1}
        onClick={() => onPage(page - 1)}
      >
        Previous page
      </button>
      <span className="pager-position" aria-live="polite">
        Page {formatNumber(page)} of {formatNumber(pages)}
      </span>
      <button
        type="button"
        className="button small secondary"
        disabled={page >= pages}
        onClick={() => onPage(page + 1)}
      >
        Next page
      </button>
    </nav>
  );
}

/** What a Dry run of every customer leaves out: customers with charges in motions no mapping covers. */
function UnmappedList({ unmapped }: { unmapped: NonNullable<SyncPlans["unmapped"]> }) {
  if (unmapped.length === 0)
    return <p className="muted">Every customer with charges is mapped for each motion it is billed in.</p>;
  const customers = new Set(unmapped.map((u) => u.tenantId)).size;
  return (
    <section className="unmapped-charges" aria-labelledby="unmapped-title">
      <h3 id="unmapped-title">
        Not mapped: {formatNumber(customers)} {customers === 1 ? "customer has" : "customers have"} charges no
        sync writes
      </h3>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Customer</th>
            <th scope="col">Billing motion</th>
            <th scope="col">Charges</th>
            <th scope="col">Would bill (cost)</th>
          </tr>
        </thead>
        <tbody>
          {unmapped.map((u) => (
            <tr key={`${u.tenantId}-${u.motion}`} data-tenant={u.tenantId}>
              <th scope="row">{u.name}</th>
              <td>{MOTION_LABELS[u.motion]}</td>
              <td>{formatNumber(u.lines)}</td>
              <td>{totalsText(u.totals)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function CustomersPage({ id }: { id: string }) {
  const { isAdmin } = useSession();
  const location = useLocation();
  const statusParam = location.search.get("status");
  const status: CustomerFilter = isFilter(statusParam) ? statusParam : "all";
  const page = Math.max(1, Number.parseInt(location.search.get("page") ?? "1", 10) || 1);
  const urlSearch = location.search.get("q") ?? "";
  const connection = useApiQuery<{ connection: ConnectionView }>(`/api/connections/${id}`);
  const [search, setSearch] = useState(urlSearch);
  const debounced = useDebounced(search.trim(), 250);
  /** Filter, page and search live in the URL, so reload and back show the same list. */
  const go = (changes: { status?: CustomerFilter; page?: number; q?: string }, replace = false) => {
    const next = { status, page, q: urlSearch, ...changes };
    navigate(
      `/psa/${id}/csp${query({
        status: next.status === "all" ? undefined : next.status,
        q: next.q || undefined,
        page: next.page > 1 ? next.page : undefined,
      })}`,
      { replace, sameView: true },
    );
  };
  useEffect(() => {
    // A new search starts at page 1; the URL is replaced, not pushed, for every pause in typing.
    if (debounced !== urlSearch) go({ q: debounced, page: 1 }, true);
  }, [debounced]);
  const customers = useApiQuery<CustomerPage>(
    `/api/connections/${id}/customers${query({ search: urlSearch, status, page, pageSize: PAGE_SIZE })}`,
  );
  const [editing, setEditing] = useState<{ customer: CustomerView; mapping: CustomerMapping } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [panel, setPanel] = useState<SyncPanel | null>(null);
  const panelHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    // The answer to a button at the top of a long page: bring it into view and move focus to it.
    if (!panel) return;
    panelHeading.current?.scrollIntoView({ block: "start" });
    panelHeading.current?.focus();
  }, [panel]);
  const c = connection.data?.connection;
  const invalidate = useInvalidate();
  const sync = useAction(async (request: SyncRequest) => {
    setNotice(null);
    setPanel(null);
    const { label, ...body } = request;
    if (body.dryRun) {
      const plans = await api.post<SyncPlans>(`/api/connections/${id}/sync`, body);
      setPanel({ kind: "plans", label, plans });
      return;
    }
    if (!body.customerTenantId && !body.motion) {
      // Everything at once: show what it would write first, and go on only when a person agrees.
      const plans = await api.post<SyncPlans>(`/api/connections/${id}/sync`, { ...body, dryRun: true });
      const { customers: customerCount, lines } = planCounts(plans);
      if (lines === 0) {
        setPanel({ kind: "plans", label, plans });
        return;
      }
      const question =
        `Sync ${formatNumber(customerCount)} ${customerCount === 1 ? "customer" : "customers"} now? ` +
        `${formatNumber(lines)} ${lines === 1 ? "line is" : "lines are"} written into the PSA.`;
      if (!window.confirm(question)) return;
    }
    const results = await api.post<SyncResults>(`/api/connections/${id}/sync`, body);
    setPanel({ kind: "runs", label, results });
    invalidate(...syncRan(id));
  });
  useDocumentTitle(c ? `${c.name} · Microsoft CSP` : "Microsoft CSP");
  const data = customers.data;
  const list = data?.customers;
  const filterLabel = FILTERS.find((f) => f.key === status)!.label.toLowerCase();

  return (
    <>
      <PageHeader title={c ? `${c.name} — Microsoft CSP` : "Microsoft CSP"}>
        {isAdmin && c && (
          <>
            <button
              type="button"
              className="button secondary"
              disabled={sync.busy}
              onClick={() => void sync.run({ dryRun: true, label: `every customer of ${c.name}` })}
            >
              Dry run all customers
            </button>
            <button
              type="button"
              className="button primary"
              disabled={sync.busy}
              onClick={() => void sync.run({ label: `every customer of ${c.name}` })}
            >
              {sync.busy ? "Working…" : "Sync all customers"}
            </button>
          </>
        )}
      </PageHeader>
      <ConnectionTabs id={id} current="csp" />
      {connection.error && <ErrorMessage error={connection.error} retry={connection.refetch} />}
      {c && !c.seatAnnualEnabled && (
        <Notice kind="warning">
          Seat-based Annual subscription sync is off for this {VENDOR_LABELS[c.vendor]} connection.{" "}
          <Link to={`/psa/${id}/settings`}>Turn it on in PSA settings</Link> to sync annual charges.
          Seat-based Monthly and Azure Plan entries sync once mapped.
        </Notice>
      )}
      {notice && <Notice kind="success">{notice}</Notice>}
      {sync.error && <ErrorMessage error={sync.error} />}
      {panel?.kind === "runs" && (
        <section className="sync-results" aria-labelledby="sync-panel-title">
          <h2 id="sync-panel-title" ref={panelHeading} tabIndex={-1}>
            Sync of {panel.label}
          </h2>
          <p className="muted">{syncOutcome(panel.label, panel.results)}</p>
          {panel.results.runs.map((run) => (
            <SyncResult key={run.runId} result={run} />
          ))}
        </section>
      )}
      {panel?.kind === "plans" && (
        <section className="sync-results" aria-labelledby="sync-panel-title" role="status">
          <h2 id="sync-panel-title" ref={panelHeading} tabIndex={-1}>
            Dry run of {panel.label}
          </h2>
          <p className="muted">
            Nothing has been written.{" "}
            <button type="button" className="link-button" onClick={() => setPanel(null)}>
              Close
            </button>
          </p>
          {panel.plans.unmapped && <UnmappedList unmapped={panel.plans.unmapped} />}
          <DryRunResult plans={panel.plans.plans} />
        </section>
      )}
      <form className="search" role="search" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="customer-search">Search customers by name</label>
        <input
          id="customer-search"
          type="search"
          placeholder="e.g. Contoso"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </form>
      <FilterBar
        current={status}
        counts={data?.counts}
        onChange={(filter) => go({ status: filter, page: 1 })}
      />
      {customers.error && <ErrorMessage error={customers.error} retry={customers.refetch} />}
      {!list && customers.loading && <Loading label="Loading customers…" />}
      {data && list && (
        <div aria-busy={customers.loading}>
          <p className="muted small" aria-live="polite" data-testid="customer-total">
            {customers.loading
              ? "Loading…"
              : data.total === 0
                ? "No customers"
                : `${formatNumber((data.page - 1) * data.pageSize + 1)}–${formatNumber(
                    (data.page - 1) * data.pageSize + list.length,
                  )} of ${data.total === 1 ? "1 customer" : `${formatNumber(data.total)} customers`}` +
                  `${status === "all" ? "" : ` (${filterLabel})`}` +
                  `${urlSearch ? ` matching “${urlSearch}”` : ""}`}
          </p>
          {list.length === 0 &&
            (urlSearch || status !== "all" ? (
              <EmptyState
                title={
                  urlSearch
                    ? `No ${status === "all" ? "" : `${filterLabel} `}customer matches “${urlSearch}”.`
                    : `No ${filterLabel} customers.`
                }
              >
                <p>Search looks at customer names in the imported billing data.</p>
              </EmptyState>
            ) : (
              <EmptyState title="No customers yet.">
                <p>
                  Customers appear once billing data is imported.{" "}
                  {isAdmin && <Link to="/import">Import a reconciliation file</Link>}
                </p>
              </EmptyState>
            ))}
          {list.map((customer) => (
            <CustomerEntries
              key={customer.tenantId}
              customer={customer}
              connection={c}
              canEdit={isAdmin}
              busy={sync.busy}
              onEdit={(mapping) => {
                setNotice(null);
                setEditing({ customer, mapping });
              }}
              onSync={(request) => void sync.run(request)}
            />
          ))}
          <Pager
            page={data.page}
            pageSize={data.pageSize}
            total={data.total}
            onPage={(p) => go({ page: p })}
          />
        </div>
      )}
      {editing && c && (
        <MappingForm
          connection={c}
          customer={editing.customer}
          mapping={editing.mapping}
          onClose={() => setEditing(null)}
          onSaved={(message) => {
            invalidate(`/api/connections/${id}/customers`, "/api/dashboard");
            if (message) {
              setNotice(message);
              setEditing(null);
            }
          }}
        />
      )}
    </>
  );
}
