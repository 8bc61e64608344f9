import { VENDOR_LABELS, type DashboardView } from "../api.ts";
import { Badge, EmptyState, ErrorMessage, Loading, PageHeader, RunStatusBadge } from "../components.tsx";
import { formatInstant, formatNumber, plural } from "../format.ts";
import { useDocumentTitle, useApiQuery, useSession } from "../hooks.ts";
import { Link } from "../router.tsx";
import { SubjectHealthCard } from "./Notifications.tsx";

type Step = { key: string; text: string; to?: string; action?: string };

/**
 * The one or two most useful things to do next, in order: connect a PSA, get billing data, map customers with
 * charges, open runs with errors, approve held lines; with nothing to do, when the daily sync runs next.
 */
export function nextSteps(data: DashboardView, isAdmin: boolean): Step[] {
  const steps: Step[] = [];
  if (data.connections.length === 0)
    steps.push({
      key: "connect",
      text: isAdmin ? "No PSA is connected yet." : "No PSA is connected yet: an admin has to connect one.",
      ...(isAdmin ? { to: "/connections", action: "Add a connection" } : {}),
    });
  if (data.invoices === 0)
    steps.push({
      key: "import",
      text: "There is no billing data yet.",
      ...(isAdmin ? { to: "/import", action: "Import a reconciliation file" } : {}),
    });
  const first = data.connections[0];
  if (data.unmappedCustomers > 0 && first)
    steps.push({
      key: "map",
      text: `${plural(data.unmappedCustomers, "customer")} with charges ${data.unmappedCustomers === 1 ? "is" : "are"} not mapped to the PSA.`,
      to: `/psa/${first.id}/csp`,
      action: "Map customers",
    });
  if (data.erroredRuns > 0)
    steps.push({
      key: "errors",
      text: `${plural(data.erroredRuns, "sync run")} had errors in the last 7 days.`,
      to: "/runs?status=error",
      action: "Open the failed runs",
    });
  const heldOn = data.connections.find((c) => c.heldLines > 0);
  if (data.heldLines > 0 && heldOn)
    steps.push({
      key: "holds",
      text: `${plural(data.heldLines, "line")} ${data.heldLines === 1 ? "is" : "are"} held for approval (sold below cost).`,
      to: `/psa/${heldOn.id}/pricing`,
      action: "Approve held lines",
    });
  if (steps.length === 0)
    steps.push({
      key: "ok",
      text: `All good. The next daily sync runs at ${data.dailySync.dailySyncTime} (${data.dailySync.timeZone}).`,
    });
  return steps.slice(0, 2);
}

function NextSteps({ data, isAdmin }: { data: DashboardView; isAdmin: boolean }) {
  return (
    <section className="panel next-steps" aria-labelledby="next-steps">
      <h2 id="next-steps">Next steps</h2>
      <ol>
        {nextSteps(data, isAdmin).map((step) => (
          <li key={step.key} data-step={step.key}>
            {step.text}{" "}
            {step.to && step.action && (
              <Link to={step.to} className="button secondary small">
                {step.action}
              </Link>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function DashboardPage() {
  useDocumentTitle("Dashboard");
  const { isAdmin } = useSession();
  const dashboard = useApiQuery<DashboardView>("/api/dashboard");
  const data = dashboard.data;
  const heldOn = data?.connections.find((c) => c.heldLines > 0);

  return (
    <>
      <PageHeader title="Dashboard" />
      {dashboard.error && <ErrorMessage error={dashboard.error} retry={dashboard.refetch} />}
      {!data && dashboard.loading && <Loading label="Loading the dashboard…" />}
      {data && (
        <>
          <NextSteps data={data} isAdmin={isAdmin} />
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
            <div className="stat" data-stat="held">
              <span className="stat-value">{formatNumber(data.heldLines)}</span>
              <span className="stat-label">
                {heldOn ? (
                  // The count leads to where the lines are approved, whatever else Next steps puts first.
                  <Link to={`/psa/${heldOn.id}/pricing`}>Held for approval</Link>
                ) : (
                  "Held for approval"
                )}
              </span>
            </div>
            {data.invoices === 0 && (
              <p className="stat-hint">
                No billing data yet. {isAdmin ? <Link to="/import">Import a reconciliation file</Link> : null}
              </p>
            )}
          </section>
          <SubjectHealthCard />
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
                    {c.lastRun?.status === "error" && c.lastRun.message && (
                      <p className="small text-bad">Last sync failed: {c.lastRun.message}</p>
                    )}
                    {c.heldLines > 0 && (
                      <p className="small">
                        <Link to={`/psa/${c.id}/pricing`}>
                          {plural(c.heldLines, "line")} held for approval — approve
                        </Link>
                      </p>
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
          {data.connections.length > 0 && (
            <section aria-labelledby="product-cards">
              <h2 id="product-cards">Products</h2>
              <div className="cards">
                {data.connections.map((c) => (
                  <article key={c.id} className="card" aria-labelledby={`products-${c.id}`}>
                    <header className="card-header">
                      <h3 id={`products-${c.id}`}>{c.name} catalog</h3>
                    </header>
                    <dl className="facts">
                      <dt>Product sync</dt>
                      <dd>
                        {c.productSyncMode === "off"
                          ? "Off"
                          : c.productSyncMode === "all"
                            ? "All products"
                            : "In-use products"}
                      </dd>
                      <dt>Last product run</dt>
                      <dd>
                        {c.lastProductRun ? (
                          <>
                            <RunStatusBadge status={c.lastProductRun.status} />{" "}
                            {formatInstant(c.lastProductRun.startedAt)}
                          </>
                        ) : (
                          "None yet"
                        )}
                      </dd>
                    </dl>
                    {c.lastProductRun && (
                      <ul className="counts" aria-label="Last product run counts">
                        <li>
                          <strong>{formatNumber(c.lastProductRun.written)}</strong> created or updated
                        </li>
                        <li>
                          <strong>{formatNumber(c.lastProductRun.unchanged)}</strong> linked or unchanged
                        </li>
                        <li>
                          <strong>{formatNumber(c.lastProductRun.conflicts)}</strong> conflicts
                        </li>
                      </ul>
                    )}
                    <div className="card-actions">
                      <Link
                        to={`/psa/${c.id}/products`}
                        className="button secondary small"
                        aria-label={`Products — ${c.name}`}
                      >
                        Products
                      </Link>
                    </div>
                  </article>
                ))}
              </div>
            </section>
          )}
        </>
      )}
    </>
  );
}
