import { VENDOR_LABELS, type DashboardView } from "../api.ts";
import { Badge, EmptyState, ErrorMessage, Loading, PageHeader, RunStatusBadge } from "../components.tsx";
import { formatInstant, formatNumber } from "../format.ts";
import { useDocumentTitle, useResource, useSession } from "../hooks.ts";
import { Link } from "../router.tsx";

export function DashboardPage() {
  useDocumentTitle("Dashboard");
  const { isAdmin } = useSession();
  const dashboard = useResource<DashboardView>("/api/dashboard");
  const data = dashboard.data;

  return (
    <>
      <PageHeader title="Dashboard" />
      {dashboard.error && <ErrorMessage error={dashboard.error} retry={dashboard.reload} />}
      {!data && dashboard.loading && <Loading label="Loading the dashboard…" />}
      {data && (
        <>
          <section aria-labelledby="billing-data" className="stats">
            <h2 id="billing-data" className="visually-hidden">
              Billing data
            </h2>
            <div className="stat">
              <span className="stat-value">{formatNumber(data.customers)}</span>
              <span className="stat-label">Customers</span>
            </div>
            <div className="stat">
              <span className="stat-value">{formatNumber(data.invoices)}</span>
              <span className="stat-label">Invoices</span>
            </div>
            {data.invoices === 0 && (
              <p className="stat-hint">
                No billing data yet. {isAdmin ? <Link to="/import">Import a reconciliation file</Link> : null}
              </p>
            )}
          </section>
          <section aria-labelledby="sync-cards">
            <h2 id="sync-cards">Sync results</h2>
            {data.connections.length === 0 ? (
              <EmptyState title="No PSA is connected yet.">
                {isAdmin ? (
                  <p>
                    <Link to="/connections">Connect ConnectWise or Autotask</Link> to start syncing.
                  </p>
                ) : (
                  <p>An admin has to connect a PSA first.</p>
                )}
              </EmptyState>
            ) : (
              <div className="cards">
                {data.connections.map((c) => (
                  <article key={c.id} className="card" aria-labelledby={`dash-${c.id}`}>
                    <header className="card-header">
                      <h3 id={`dash-${c.id}`}>{c.name}</h3>
                      {c.name !== VENDOR_LABELS[c.vendor] && (
                        <span className="muted">{VENDOR_LABELS[c.vendor]}</span>
                      )}
                    </header>
                    <dl className="facts">
                      <dt>Seat-based Annual sync</dt>
                      <dd>
                        {c.seatAnnualEnabled ? (
                          <Badge tone="ok">On</Badge>
                        ) : (
                          <Badge tone="neutral">Off</Badge>
                        )}
                      </dd>
                      <dt>Last successful sync</dt>
                      <dd>{c.lastSuccessfulSync ? formatInstant(c.lastSuccessfulSync) : "Never"}</dd>
                      <dt>Last run</dt>
                      <dd>
                        {c.lastRun ? (
                          <>
                            <RunStatusBadge status={c.lastRun.status} /> {formatInstant(c.lastRun.startedAt)}
                          </>
                        ) : (
                          "No runs yet"
                        )}
                      </dd>
                    </dl>
                    {c.lastRun && (
                      <ul className="counts" aria-label="Last run counts">
                        <li>
                          <strong>{formatNumber(c.lastRun.written)}</strong> written
                        </li>
                        <li>
                          <strong>{formatNumber(c.lastRun.unchanged)}</strong> unchanged
                        </li>
                        <li>
                          <strong>{formatNumber(c.lastRun.warnings)}</strong> warnings
                        </li>
                        <li>
                          <strong>{formatNumber(c.lastRun.errors)}</strong> errors
                        </li>
                      </ul>
                    )}
                    <div className="card-actions">
                      <Link
                        to={`/psa/${c.id}/csp`}
                        className="button secondary small"
                        aria-label={`Customers — ${c.name}`}
                      >
                        Customers
                      </Link>
                      {c.lastRun && (
                        <Link
                          to={`/runs/${c.lastRun.id}`}
                          className="button secondary small"
                          aria-label={`Last run — ${c.name}`}
                        >
                          Last run
                        </Link>
                      )}
                      <Link
                        to={`/runs?connectionId=${c.id}`}
                        className="button secondary small"
                        aria-label={`History — ${c.name}`}
                      >
                        History
                      </Link>
                    </div>
                  </article>
                ))}
              </div>
            )}
          </section>
        </>
      )}
    </>
  );
}
