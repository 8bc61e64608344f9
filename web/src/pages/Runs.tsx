import { useState } from "react";
import {
  MOTION_LABELS,
  query,
  type ItemOutcome,
  type Motion,
  type RunItemView,
  type RunView,
} from "../api.ts";
import {
  EmptyState,
  ErrorMessage,
  Loading,
  OutcomeBadge,
  PageHeader,
  RunStatusBadge,
} from "../components.tsx";
import { formatDuration, formatInstant, formatMoney, formatNumber } from "../format.ts";
import { useDocumentTitle, useResource } from "../hooks.ts";
import { useConnections } from "../Layout.tsx";
import { ActionBadge, lineFacts, PricedByNote, UnitPrice, useFallbackCurrency } from "../lines.tsx";
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

function useConnectionName(): (id: string) => string {
  const { connections } = useConnections();
  return (id) => connections?.find((c) => c.id === id)?.name ?? "Removed connection";
}

export function RunsPage() {
  useDocumentTitle("Sync history");
  const { search } = useLocation();
  const { connections } = useConnections();
  const connectionId = search.get("connectionId") ?? "";
  const runs = useResource<{ runs: RunView[] }>(`/api/runs${query({ connectionId, limit: 100 })}`);
  const nameOf = useConnectionName();
  const list = runs.data?.runs;

  return (
    <>
      <PageHeader title="Sync history" />
      <div className="toolbar">
        <label htmlFor="run-connection">Connection</label>
        <select
          id="run-connection"
          value={connectionId}
          onChange={(e) => navigate(`/runs${query({ connectionId: e.target.value })}`, { replace: true })}
        >
          <option value="">All connections</option>
          {connections?.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </div>
      {runs.error && <ErrorMessage error={runs.error} retry={runs.reload} />}
      {!list && runs.loading && <Loading label="Loading sync history…" />}
      {list && list.length === 0 && (
        <EmptyState title="No sync has run yet.">
          <p>Runs appear here after the daily sync, or after “Sync now” on a customer’s entry.</p>
        </EmptyState>
      )}
      {list && list.length > 0 && (
        <table className="table responsive runs">
          <caption className="visually-hidden">Sync runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Connection</th>
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
            {list.map((run) => (
              <tr key={run.id}>
                <th scope="row" data-label="Started">
                  <Link to={`/runs/${run.id}`}>{formatInstant(run.startedAt)}</Link>
                </th>
                <td data-label="Connection">{nameOf(run.connectionId)}</td>
                <td data-label="Billing motion">{motionLabel(run.scope)}</td>
                <td data-label="Trigger">
                  {triggerLabel(run.trigger)}
                  <span className="block small muted">{scopeLabel(run.scope)}</span>
                </td>
                <td data-label="Status">
                  <RunStatusBadge status={run.status} />
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
            ))}
          </tbody>
        </table>
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
        <PricedByNote pricedBy={facts.pricedBy} />
      </td>
      <td data-label="Result" className="result">
        <OutcomeBadge outcome={item.outcome} />
        {item.psaRecordId && (
          <span className="block small">
            PSA record <span className="mono">{item.psaRecordId}</span>
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

export function RunDetailPage({ id }: { id: string }) {
  const detail = useResource<{ run: RunView; items: RunItemView[] }>(`/api/runs/${id}`);
  const nameOf = useConnectionName();
  const [filter, setFilter] = useState("all");
  const run = detail.data?.run;
  const items = detail.data?.items;
  const currencyOf = useCurrency(items);
  useDocumentTitle(run ? `Sync run ${formatInstant(run.startedAt)}` : "Sync run");
  const keep = FILTERS.find((f) => f.value === filter)?.keep ?? (() => true);
  const shown = items?.filter((i) => keep(i.outcome));

  return (
    <>
      <PageHeader title="Sync status">
        <Link to={run ? `/runs?connectionId=${run.connectionId}` : "/runs"} className="button secondary">
          Back to history
        </Link>
      </PageHeader>
      {detail.error && <ErrorMessage error={detail.error} retry={detail.reload} />}
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
              <dd>{nameOf(run.connectionId)}</dd>
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
                    <th scope="col" className="num">
                      Unit cost
                    </th>
                    <th scope="col" className="num">
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
