import { useState } from "react";
import {
  api,
  MOTION_LABELS,
  type CustomerNames,
  query,
  type ItemHold,
  type ItemOutcome,
  type Motion,
  type RunDetail,
  type RunItemView,
  type RunPage,
  type RunStatus,
  type RunTotals,
} from "../api.ts";
import {
  EmptyState,
  ErrorMessage,
  Loading,
  OutcomeBadge,
  PageHeader,
  RunStatusBadge,
} from "../components.tsx";
import { formatDuration, formatInstant, formatMoney, formatNumber, UNIT_MONEY_TITLE } from "../format.ts";
import { holdsApproved, useAction, useApiQuery, useDocumentTitle, useSession } from "../hooks.ts";
import { useConnections } from "../Layout.tsx";
import { ActionBadge, lineFacts, PriceNote, UnitPrice, useFallbackCurrency } from "../lines.tsx";
import { Link, navigate, useLocation } from "../router.tsx";

const TRIGGERS: Record<string, string> = {
  manual: "Sync now",
  schedule: "Daily schedule",
  import: "After import",
  cli: "Command line",
};

function triggerLabel(trigger: string): string {
  return TRIGGERS[trigger] ?? trigger;
}

function motionLabel(scope: Record<string, unknown>): string {
  const motion = scope.motion as Motion | undefined;
  return motion && MOTION_LABELS[motion] ? MOTION_LABELS[motion] : "—";
}

function scopeLabel(scope: Record<string, unknown>): string {
  return typeof scope.customerTenantId === "string" ? "One customer" : "All customers";
}

const PAGE = 50;
/** The Customer picker lists at most this many names (the API's largest page). */
const CUSTOMER_PICKER_LIMIT = 5000;

const STATUSES: { value: RunStatus; label: string }[] = [
  { value: "error", label: "Error" },
  { value: "warning", label: "Warning" },
  { value: "success", label: "Success" },
  { value: "no-change", label: "No change" },
  { value: "running", label: "Running" },
  { value: "abandoned", label: "Abandoned" },
];

type HistoryFetch = RunPage["fetches"][number];

const FETCH_STATUS: Record<HistoryFetch["status"], string> = {
  queued: "Queued",
  running: "Fetching",
  imported: "Imported",
  "nothing-new": "Nothing new",
  failed: "Failed",
};

/** A fetch of billing data in the history: its outcome and the sync runs it led to, each a link. */
function FetchRow({ fetch, nameOf }: { fetch: HistoryFetch; nameOf: (id: string) => string }) {
  return (
    <tr className="fetch-row" data-kind="fetch" data-status={fetch.status}>
      <th scope="row" data-label="Started">
        <Link to="/sources">{formatInstant(fetch.startedAt)}</Link>
      </th>
      <td data-label="Fetch" colSpan={9}>
        <strong>Billing data: {fetch.sourceName ?? "Partner Center"}</strong> ({triggerLabel(fetch.trigger)},{" "}
        {FETCH_STATUS[fetch.status]}) — {fetch.message ?? FETCH_STATUS[fetch.status]}
        {fetch.errorKind && <span className="text-bad"> ({fetch.errorKind})</span>}
        {fetch.syncRuns.length > 0 && (
          <ul className="small">
            {fetch.syncRuns.map((sync) => (
              <li key={sync.id}>
                →{" "}
                <Link to={`/runs/${sync.id}`}>
                  {sync.motion && MOTION_LABELS[sync.motion as Motion]
                    ? MOTION_LABELS[sync.motion as Motion]
                    : "Sync"}{" "}
                  on {sync.connectionName ?? nameOf(sync.connectionId)}
                </Link>
                : {sync.status === "running" ? "running" : `${formatNumber(sync.written)} written`}
                {sync.errors > 0 ? `, ${formatNumber(sync.errors)} error(s)` : ""}
              </li>
            ))}
          </ul>
        )}
      </td>
      <td data-label="Duration">{formatDuration(fetch.startedAt, fetch.finishedAt)}</td>
    </tr>
  );
}

function useConnectionName(): (id: string) => string {
  const { connections } = useConnections();
  return (id) => connections?.find((c) => c.id === id)?.name ?? "Removed connection";
}

export function RunsPage() {
  useDocumentTitle("Sync history");
  const { search } = useLocation();
  const { connections } = useConnections();
  const filters = {
    connectionId: search.get("connectionId") ?? "",
    motion: search.get("motion") ?? "",
    status: search.get("status") ?? "",
    customerTenantId: search.get("customerTenantId") ?? "",
    from: search.get("from") ?? "",
    to: search.get("to") ?? "",
  };
  const offset = Number(search.get("offset") ?? "0") || 0;
  const { connectionId } = filters;
  const runs = useApiQuery<RunPage>(`/api/runs${query({ ...filters, limit: PAGE, offset })}`);
  // The organization's customers, names only: the picker needs no mapping or status of each customer.
  const customers = useApiQuery<CustomerNames>(`/api/customers${query({ limit: CUSTOMER_PICKER_LIMIT })}`);
  const nameOf = useConnectionName();
  const list = runs.data?.runs;
  const total = runs.data?.total ?? 0;
  // Fetches of billing data (Partner Center) among the runs, by time, each with the sync runs it led to.
  const fetches = runs.data?.fetches ?? [];
  const rows = [
    ...(list ?? []).map((run) => ({ at: run.startedAt, run, fetch: null })),
    ...fetches.map((fetch) => ({ at: fetch.startedAt, run: null, fetch })),
  ].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  const setFilter = (key: keyof typeof filters, value: string) =>
    navigate(`/runs${query({ ...filters, [key]: value })}`, { replace: true });

  return (
    <>
      <PageHeader title="Sync history" />
      <div className="toolbar">
        <label htmlFor="run-connection">Connection</label>
        <select
          id="run-connection"
          value={connectionId}
          onChange={(e) => setFilter("connectionId", e.target.value)}
        >
          <option value="">All connections</option>
          {connections?.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
        <label htmlFor="run-motion">Billing motion</label>
        <select id="run-motion" value={filters.motion} onChange={(e) => setFilter("motion", e.target.value)}>
          <option value="">All motions</option>
          {(Object.keys(MOTION_LABELS) as Motion[]).map((m) => (
            <option key={m} value={m}>
              {MOTION_LABELS[m]}
            </option>
          ))}
        </select>
        <label htmlFor="run-status">Status</label>
        <select id="run-status" value={filters.status} onChange={(e) => setFilter("status", e.target.value)}>
          <option value="">Any status</option>
          {STATUSES.map((st) => (
            <option key={st.value} value={st.value}>
              {st.label}
            </option>
          ))}
        </select>
        <label htmlFor="run-customer">Customer</label>
        <select
          id="run-customer"
          value={filters.customerTenantId}
          onChange={(e) => setFilter("customerTenantId", e.target.value)}
        >
          <option value="">All customers</option>
          {customers.data?.customers.map((c) => (
            <option key={c.tenantId} value={c.tenantId}>
              {c.name}
            </option>
          ))}
        </select>
        <label htmlFor="run-from">From</label>
        <input
          id="run-from"
          type="date"
          value={filters.from}
          onChange={(e) => setFilter("from", e.target.value)}
        />
        <label htmlFor="run-to">To</label>
        <input id="run-to" type="date" value={filters.to} onChange={(e) => setFilter("to", e.target.value)} />
      </div>
      {runs.error && <ErrorMessage error={runs.error} retry={runs.refetch} />}
      {!list && runs.loading && <Loading label="Loading sync history…" />}
      {list && list.length === 0 && fetches.length === 0 && (
        <EmptyState title="No sync has run yet.">
          <p>Runs appear here after the daily sync, or after “Sync now” on a customer’s entry.</p>
        </EmptyState>
      )}
      {list && rows.length > 0 && (
        <table className="table responsive runs">
          <caption className="visually-hidden">Sync runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Connection</th>
              <th scope="col">Customer</th>
              <th scope="col">Billing motion</th>
              <th scope="col">Trigger</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Written
              </th>
              <th scope="col" className="num">
                Unchanged
              </th>
              <th scope="col" className="num">
                Warnings
              </th>
              <th scope="col" className="num">
                Errors
              </th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ run, fetch }) =>
              fetch ? (
                <FetchRow key={`fetch-${fetch.id}`} fetch={fetch} nameOf={nameOf} />
              ) : (
                <tr key={run.id}>
                  <th scope="row" data-label="Started">
                    <Link to={`/runs/${run.id}`}>{formatInstant(run.startedAt)}</Link>
                  </th>
                  <td data-label="Connection">{nameOf(run.connectionId)}</td>
                  <td data-label="Customer">{run.customerName ?? run.customerTenantId ?? "All customers"}</td>
                  <td data-label="Billing motion">{motionLabel(run.scope)}</td>
                  <td data-label="Trigger">
                    {triggerLabel(run.trigger)}
                    <span className="block small muted">{scopeLabel(run.scope)}</span>
                  </td>
                  <td data-label="Status">
                    <RunStatusBadge status={run.status} />
                    {/* Why a run failed belongs in the list: an unreachable PSA should not need a click to find. */}
                    {(run.status === "error" || run.status === "abandoned") && run.message && (
                      <span className="block small text-bad">{run.message}</span>
                    )}
                  </td>
                  <td data-label="Written" className="num">
                    {formatNumber(run.written)}
                  </td>
                  <td data-label="Unchanged" className="num">
                    {formatNumber(run.unchanged)}
                  </td>
                  <td data-label="Warnings" className="num">
                    {formatNumber(run.warnings)}
                  </td>
                  <td data-label="Errors" className="num">
                    {formatNumber(run.errors)}
                  </td>
                  <td data-label="Duration">{formatDuration(run.startedAt, run.finishedAt)}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
      {list && total > PAGE && (
        <nav className="toolbar" aria-label="Pages">
          <span className="muted">
            {formatNumber(offset + 1)}–{formatNumber(offset + list.length)} of {formatNumber(total)}
          </span>
          <button
            type="button"
            className="button secondary small"
            disabled={offset === 0}
            onClick={() => navigate(`/runs${query({ ...filters, offset: Math.max(0, offset - PAGE) })}`)}
          >
            Newer
          </button>
          <button
            type="button"
            className="button secondary small"
            disabled={offset + PAGE >= total}
            onClick={() => navigate(`/runs${query({ ...filters, offset: offset + PAGE })}`)}
          >
            Older
          </button>
        </nav>
      )}
    </>
  );
}

const FILTERS: { value: string; label: string; keep: (o: ItemOutcome) => boolean }[] = [
  { value: "all", label: "All items", keep: () => true },
  {
    value: "problems",
    label: "Warnings, holds and errors",
    keep: (o) => o === "warning" || o === "error" || o === "held",
  },
  { value: "written", label: "Written", keep: (o) => o === "written" || o === "warning" },
];

/** The data's currency: items carry it when the API sends it, else the one currency of the invoices. */
function useCurrency(items: RunItemView[] | undefined): (item: RunItemView) => string | null {
  const needsFallback = items?.some((i) => !i.details.currency && !i.details.segment) ?? false;
  const fallback = useFallbackCurrency(needsFallback);
  return (item) => item.details.currency ?? item.details.segment?.currency ?? fallback;
}

function ItemRow({ item, currency }: { item: RunItemView; currency: string | null }) {
  const facts = lineFacts(item.details);
  return (
    <tr data-outcome={item.outcome}>
      <td data-label="#" className="num">
        {item.sequence}
      </td>
      <td data-label="Customer">
        {item.customerName ?? item.customerTenantId ?? "—"}
        {item.motion && MOTION_LABELS[item.motion as Motion] && (
          <span className="block small muted">{MOTION_LABELS[item.motion as Motion]}</span>
        )}
      </td>
      <td data-label="Subscription">
        {facts.product ?? "—"} <ActionBadge action={facts.action} />
        {facts.description && facts.description !== facts.product && (
          <span className="block small">{facts.description}</span>
        )}
        {item.subscriptionId && <span className="block small muted mono">{item.subscriptionId}</span>}
      </td>
      <td data-label="Date">{facts.when}</td>
      <td data-label="Qty" className="num">
        {facts.quantity}
      </td>
      <td data-label="Unit cost" className="num">
        {formatMoney(facts.unitCost, currency, { unit: true })}
      </td>
      <td data-label="Unit price" className="num">
        <UnitPrice value={facts.unitPrice} currency={currency} />
        <PriceNote facts={facts} />
      </td>
      <td data-label="Result" className="result">
        <OutcomeBadge outcome={item.outcome} />
        {item.psaRecordId && (
          <span className="block small">
            PSA record <span className="mono">{item.psaRecordId}</span>
          </span>
        )}
        {item.target?.agreementId && (item.outcome === "written" || item.outcome === "warning") && (
          <span className="block small">
            {item.target.link ? (
              <a href={item.target.link} target="_blank" rel="noreferrer">
                Open {item.target.agreementName ?? item.target.agreementId} in the PSA
              </a>
            ) : (
              <>In {item.target.agreementName ?? item.target.agreementId}</>
            )}
          </span>
        )}
        {item.message && (
          <span className={item.outcome === "error" ? "block small text-bad" : "block small"}>
            {item.message}
          </span>
        )}
      </td>
    </tr>
  );
}

const HOLD_STATES: Record<ItemHold["status"], string> = {
  held: "Waiting for approval",
  approved: "Approved: the next sync writes it",
  written: "Approved and written",
  replaced: "Held again at another price since (see the Pricing page)",
};

/** The lines this run held because they sell below cost, with Approve where they still wait. */
function HeldItems({
  items,
  connectionId,
  currency,
}: {
  items: RunItemView[];
  connectionId: string;
  currency: (item: RunItemView) => string | null;
}) {
  const { isAdmin } = useSession();
  const approve = useAction(async (writeKey: string) => {
    await api.post(`/api/connections/${connectionId}/holds/approve`, { writeKeys: [writeKey] });
  }, holdsApproved(connectionId));
  return (
    <section className="panel" aria-labelledby="held-title">
      <h2 id="held-title">Held for approval</h2>
      <p className="muted">
        These lines sell below cost, so they were not written. Approve a line to have the next sync write it
        at this price.
      </p>
      {approve.error && <ErrorMessage error={approve.error} />}
      <ul className="held-items">
        {items.map((item) => {
          const hold = item.hold!;
          const facts = lineFacts(item.details);
          return (
            <li key={item.sequence} data-write-key={hold.writeKey} data-hold={hold.status}>
              <strong>{facts.description ?? facts.product ?? hold.writeKey}</strong>
              {item.customerName && <span className="muted"> — {item.customerName}</span>}
              <span className="block small" title={UNIT_MONEY_TITLE}>
                Sell price {formatMoney(hold.unitPrice, currency(item), { unit: true })} per unit, below cost{" "}
                {formatMoney(hold.unitCost, currency(item), { unit: true })}
              </span>
              <span className="block small">
                {HOLD_STATES[hold.status]}
                {hold.approvedBy && hold.status !== "held" ? ` (approved by ${hold.approvedBy})` : ""}
              </span>
              {hold.status === "held" && isAdmin && (
                <button
                  type="button"
                  className="button primary small"
                  disabled={approve.busy}
                  onClick={() => void approve.run(hold.writeKey)}
                  aria-label={`Approve ${facts.description ?? hold.writeKey}`}
                >
                  Approve
                </button>
              )}
              {hold.status === "held" && !isAdmin && (
                <span className="block small muted">An admin can approve it.</span>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function TotalsFacts({ totals, currency }: { totals: RunTotals; currency: string | null }) {
  const c = totals.currency ?? currency;
  return (
    <>
      <dt>Written lines</dt>
      <dd>
        {formatNumber(totals.lines)} · cost {formatMoney(totals.cost, c)} · price{" "}
        {totals.price === null ? "PSA price" : formatMoney(totals.price, c)}
        {totals.margin !== null && <> · margin {formatMoney(totals.margin, c)}</>}
      </dd>
    </>
  );
}

export function RunDetailPage({ id }: { id: string }) {
  const detail = useApiQuery<RunDetail>(`/api/runs/${id}`);
  const nameOf = useConnectionName();
  const [filter, setFilter] = useState("all");
  const run = detail.data?.run;
  const items = detail.data?.items;
  const currencyOf = useCurrency(items);
  useDocumentTitle(run ? `Sync run ${formatInstant(run.startedAt)}` : "Sync run");
  const keep = FILTERS.find((f) => f.value === filter)?.keep ?? (() => true);
  const shown = items?.filter((i) => keep(i.outcome));
  const held = items?.filter((i) => i.hold) ?? [];
  const targets = [
    ...new Map(
      (items ?? [])
        .filter((i) => i.target?.agreementId)
        .map((i) => [i.target!.agreementId!, i.target!] as const),
    ).values(),
  ];

  return (
    <>
      <PageHeader title="Sync status">
        <Link to={run ? `/runs?connectionId=${run.connectionId}` : "/runs"} className="button secondary">
          Back to history
        </Link>
      </PageHeader>
      {detail.error && <ErrorMessage error={detail.error} retry={detail.refetch} />}
      {!run && detail.loading && <Loading label="Loading the run…" />}
      {run && items && shown && (
        <>
          <section className="panel" aria-label="Run summary">
            <dl className="facts wide">
              <dt>Status</dt>
              <dd>
                <RunStatusBadge status={run.status} />
              </dd>
              <dt>Connection</dt>
              <dd>{detail.data?.connection?.name ?? nameOf(run.connectionId)}</dd>
              <dt>Customer</dt>
              <dd>{run.customerName ?? run.customerTenantId ?? "All customers"}</dd>
              {targets.length > 0 && (
                <>
                  <dt>Agreement / contract</dt>
                  <dd>
                    {targets.map((t) => (
                      <span key={t.agreementId} className="block">
                        {t.companyName ? `${t.companyName}: ` : ""}
                        {t.link ? (
                          <a href={t.link} target="_blank" rel="noreferrer">
                            {t.agreementName ?? "Agreement"}
                          </a>
                        ) : (
                          (t.agreementName ?? "Agreement")
                        )}{" "}
                        <span className="muted mono">(id {t.agreementId})</span>
                      </span>
                    ))}
                  </dd>
                </>
              )}
              {detail.data && (
                <TotalsFacts
                  totals={detail.data.totals}
                  currency={items?.[0] ? currencyOf(items[0]) : null}
                />
              )}
              <dt>Billing motion</dt>
              <dd>{motionLabel(run.scope)}</dd>
              <dt>Trigger</dt>
              <dd>
                {triggerLabel(run.trigger)} · {scopeLabel(run.scope)}
              </dd>
              <dt>Started</dt>
              <dd>{formatInstant(run.startedAt)}</dd>
              <dt>Finished</dt>
              <dd>
                {run.finishedAt ? formatInstant(run.finishedAt) : "Still running"}
                {run.finishedAt && (
                  <span className="muted"> ({formatDuration(run.startedAt, run.finishedAt)})</span>
                )}
              </dd>
              <dt>Counts</dt>
              <dd>
                {formatNumber(run.written)} written · {formatNumber(run.unchanged)} unchanged ·{" "}
                {formatNumber(run.warnings)} warnings · {formatNumber(run.errors)} errors ·{" "}
                {formatNumber(run.psaRequests)} PSA requests
              </dd>
              {run.message && (
                <>
                  <dt>Message</dt>
                  <dd>{run.message}</dd>
                </>
              )}
            </dl>
          </section>
          {held.length > 0 && (
            <HeldItems items={held} connectionId={run.connectionId} currency={currencyOf} />
          )}
          <section aria-labelledby="items-title">
            <div className="section-header">
              <h2 id="items-title">Items</h2>
              <div className="toolbar">
                <label htmlFor="item-filter">Show</label>
                <select id="item-filter" value={filter} onChange={(e) => setFilter(e.target.value)}>
                  {FILTERS.map((f) => (
                    <option key={f.value} value={f.value}>
                      {f.label}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            {items.length === 0 && (
              <EmptyState title="This run wrote nothing.">
                <p>There were no new charges for the mapped customers.</p>
              </EmptyState>
            )}
            {items.length > 0 && shown.length === 0 && <EmptyState title="No items match this filter." />}
            {shown.length > 0 && (
              <table className="table responsive items">
                <caption className="visually-hidden">Items of this run</caption>
                <thead>
                  <tr>
                    <th scope="col" className="num">
                      #
                    </th>
                    <th scope="col">Customer</th>
                    <th scope="col">Subscription</th>
                    <th scope="col">Date</th>
                    <th scope="col" className="num">
                      Qty
                    </th>
                    <th scope="col" className="num" title={UNIT_MONEY_TITLE}>
                      Unit cost
                    </th>
                    <th scope="col" className="num" title={UNIT_MONEY_TITLE}>
                      Unit price
                    </th>
                    <th scope="col">PSA record / message</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((item) => (
                    <ItemRow key={item.sequence} item={item} currency={currencyOf(item)} />
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </>
  );
}
