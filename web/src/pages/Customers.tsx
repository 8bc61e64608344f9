import { useState } from "react";
import {
  api,
  MOTION_LABELS,
  query,
  VENDOR_LABELS,
  type ConnectionView,
  type CustomerMapping,
  type CustomerView,
  type Pricing,
  type SyncPlans,
  type SyncResults,
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
import { formatDate, formatInstant, formatNumber } from "../format.ts";
import { useAction, useDebounced, useDocumentTitle, useResource, useSession } from "../hooks.ts";
import { Link } from "../router.tsx";
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

export function CustomersPage({ id }: { id: string }) {
  const { isAdmin } = useSession();
  const connection = useResource<{ connection: ConnectionView }>(`/api/connections/${id}`);
  const [search, setSearch] = useState("");
  const debounced = useDebounced(search.trim(), 250);
  const customers = useResource<{ customers: CustomerView[] }>(
    `/api/connections/${id}/customers${query({ search: debounced })}`,
  );
  const [editing, setEditing] = useState<{ customer: CustomerView; mapping: CustomerMapping } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [panel, setPanel] = useState<SyncPanel | null>(null);
  const c = connection.data?.connection;
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
    customers.reload();
  });
  useDocumentTitle(c ? `${c.name} · Microsoft CSP` : "Microsoft CSP");
  const list = customers.data?.customers;

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
      {connection.error && <ErrorMessage error={connection.error} retry={connection.reload} />}
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
        <section className="sync-results" aria-label={`Sync of ${panel.label}`}>
          <p className="muted">{syncOutcome(panel.label, panel.results)}</p>
          {panel.results.runs.map((run) => (
            <SyncResult key={run.runId} result={run} />
          ))}
        </section>
      )}
      {panel?.kind === "plans" && (
        <section className="sync-results" aria-label={`Dry run of ${panel.label}`} role="status">
          <p className="muted">
            Dry run of {panel.label}: nothing has been written.{" "}
            <button type="button" className="link-button" onClick={() => setPanel(null)}>
              Close
            </button>
          </p>
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
      {customers.error && <ErrorMessage error={customers.error} retry={customers.reload} />}
      {!list && customers.loading && <Loading label="Loading customers…" />}
      {list && (
        <div aria-busy={customers.loading} aria-live="polite">
          <p className="muted small">
            {customers.loading
              ? "Searching…"
              : `${list.length === 1 ? "1 customer" : `${list.length} customers`}${debounced ? ` matching “${debounced}”` : ""}`}
          </p>
          {list.length === 0 &&
            (debounced ? (
              <EmptyState title={`No customer matches “${debounced}”.`}>
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
        </div>
      )}
      {editing && c && (
        <MappingForm
          connection={c}
          customer={editing.customer}
          mapping={editing.mapping}
          onClose={() => setEditing(null)}
          onSaved={(message) => {
            customers.reload();
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
