import { useState } from "react";
import { api, query, type FeedStatus, type FeedToken, type LedgerEntry, type RenewalsView } from "../api.ts";
import { ErrorMessage, Loading, Notice, PageHeader } from "../components.tsx";
import { formatDate, formatInstant, formatMoney, formatNumber, UNIT_MONEY_TITLE } from "../format.ts";
import { useAction, useApiQuery, useDocumentTitle, useSession } from "../hooks.ts";
import { navigate, useLocation } from "../router.tsx";

/**
 * NCE renewals (docs/reports.md §2, §4): what renews in the next 30, 60 or 90 days with its seats and the
 * value of the next term, per customer and overall; the change windows (168 hours after a purchase, renewal
 * or seat add) that close soon; the CSV; and, for admins, the calendar feed's URL. Auto-renew is not in the
 * billing data and is shown as unknown.
 */

const SPANS = [30, 60, 90] as const;

const TERM_LABELS: Record<string, string> = {
  P1M: "Monthly (P1M)",
  P1Y: "1 year (P1Y)",
  P3Y: "3 years (P3Y)",
};
const PLAN_LABELS: Record<string, string> = {
  monthly: "Monthly",
  annual: "Annual",
  upfront: "Paid up front",
};
const BASIS_LABELS: Record<string, string> = {
  purchase: "the purchase",
  renewal: "the renewal",
  "seat add": "a seat add",
};

export function RenewalsPage() {
  useDocumentTitle("Renewals");
  const { search } = useLocation();
  const asked = Number(search.get("days"));
  const days = (SPANS as readonly number[]).includes(asked) ? asked : 90;
  const view = useApiQuery<RenewalsView>(`/api/renewals${query({ days })}`);
  const data = view.data;
  return (
    <>
      <PageHeader title="Renewals">
        <a className="button secondary" href={`/api/renewals/export${query({ days })}`} download>
          Export CSV
        </a>
      </PageHeader>
      <p>
        Seat-based subscriptions (NCE) from the imported billing data. Whether a subscription renews by itself
        is not in the billing data: it is shown as unknown.
      </p>
      <div className="filter-bar" role="group" aria-label="Renewing within">
        {SPANS.map((span) => (
          <button
            key={span}
            type="button"
            className={span === days ? "button small primary" : "button small secondary"}
            aria-pressed={span === days}
            onClick={() => navigate(`/renewals${query({ days: span })}`, { replace: true, sameView: true })}
          >
            Next {span} days
          </button>
        ))}
      </div>
      {view.error && <ErrorMessage error={view.error} retry={view.refetch} />}
      {view.loading && <Loading label="Loading renewals" />}
      {data && (
        <>
          <section className="panel" aria-labelledby="renewals-totals">
            <h2 id="renewals-totals">Renewing in the next {days} days</h2>
            {data.totals.length === 0 ? (
              <p>Nothing renews in the next {days} days.</p>
            ) : (
              data.totals.map((t) => (
                <div className="stats" key={t.currency} role="group" aria-label={`Renewals in ${t.currency}`}>
                  <div className="stat">
                    <span className="stat-value">{formatNumber(t.subscriptions)}</span>
                    <span className="stat-label">Subscriptions</span>
                  </div>
                  <div className="stat">
                    <span className="stat-value">{formatNumber(t.seats)}</span>
                    <span className="stat-label">Seats</span>
                  </div>
                  <div className="stat">
                    <span className="stat-value">{formatMoney(t.nextTermValue, t.currency)}</span>
                    <span className="stat-label">Next-term value</span>
                  </div>
                </div>
              ))
            )}
            {data.renewing.length > 0 && <RenewingTable entries={data.renewing} />}
          </section>
          {data.perCustomer.length > 0 && (
            <section className="panel" aria-labelledby="renewals-customers">
              <h2 id="renewals-customers">Per customer</h2>
              <table className="table" aria-label="Renewals per customer">
                <thead>
                  <tr>
                    <th scope="col">Customer</th>
                    <th scope="col">Subscriptions</th>
                    <th scope="col">Next-term value</th>
                  </tr>
                </thead>
                <tbody>
                  {data.perCustomer.map((c) => (
                    <tr key={`${c.customerTenantId}|${c.currency}`}>
                      <td>{c.customerName}</td>
                      <td className="mono">{formatNumber(c.subscriptions)}</td>
                      <td className="mono">{formatMoney(c.nextTermValue, c.currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
          <WindowsClosing entries={data.windowsClosing} />
        </>
      )}
      <CalendarFeed />
    </>
  );
}

function RenewingTable({ entries }: { entries: LedgerEntry[] }) {
  return (
    <table className="table" aria-label="Subscriptions renewing">
      <thead>
        <tr>
          <th scope="col">Renewal date</th>
          <th scope="col">Customer</th>
          <th scope="col">Product</th>
          <th scope="col">Term</th>
          <th scope="col">Billing</th>
          <th scope="col">Seats</th>
          <th scope="col" title={UNIT_MONEY_TITLE}>
            Price per seat
          </th>
          <th scope="col">Next-term value</th>
          <th scope="col">Auto-renew</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.subscriptionId}>
            <td>{formatDate(e.renewalDate)}</td>
            <td>{e.customerName}</td>
            <td>{e.productName}</td>
            <td>{e.term ? TERM_LABELS[e.term] : "Unknown"}</td>
            <td>{e.billingPlan ? PLAN_LABELS[e.billingPlan] : "Unknown"}</td>
            <td className="mono">{formatNumber(e.seats)}</td>
            <td className="mono">{formatMoney(e.pricePerSeat, e.currency, { unit: true })}</td>
            <td className="mono">{formatMoney(e.nextTermValue, e.currency)}</td>
            <td>Unknown</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function WindowsClosing({ entries }: { entries: LedgerEntry[] }) {
  return (
    <section className="panel" aria-labelledby="renewals-windows">
      <h2 id="renewals-windows">Change windows closing soon</h2>
      <p className="muted">
        Seats added in the window can be reduced, or the subscription cancelled, until 168 hours after the
        purchase, renewal or seat add; after that the whole term is owed.
      </p>
      {entries.length === 0 ? (
        <p>No change window is open.</p>
      ) : (
        <table className="table" aria-label="Change windows closing soon">
          <thead>
            <tr>
              <th scope="col">Closes</th>
              <th scope="col">Customer</th>
              <th scope="col">Product</th>
              <th scope="col">Opened by</th>
              <th scope="col">Seats</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.subscriptionId}>
                <td>
                  {formatInstant(e.changeWindow?.closesAt)}
                  {e.changeWindow && !e.changeWindow.exact ? " (from the date only)" : ""}
                </td>
                <td>{e.customerName}</td>
                <td>{e.productName}</td>
                <td>
                  {e.changeWindow ? BASIS_LABELS[e.changeWindow.basis] : "—"}
                  {e.changeWindow ? `, ${formatInstant(e.changeWindow.openedAt)}` : ""}
                </td>
                <td className="mono">{formatNumber(e.seats)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The iCalendar feed's URL (admins): made here, shown once; a new one stops the previous one. */
function CalendarFeed() {
  const { isAdmin } = useSession();
  const [made, setMade] = useState<FeedToken | null>(null);
  const status = useApiQuery<FeedStatus>(isAdmin ? "/api/renewals/feed-token" : null);
  const rotate = useAction(() => api.post<FeedToken>("/api/renewals/feed-token", {}), {
    invalidates: ["/api/renewals/feed-token"],
  });
  if (!isAdmin) return null;
  const url = made ? `${window.location.origin}${made.path}` : null;
  const onRotate = async () => {
    setMade(null);
    const token = await rotate.run();
    if (token) setMade(token);
  };
  return (
    <section className="panel" aria-labelledby="renewals-feed">
      <h2 id="renewals-feed">Calendar feed</h2>
      <p>
        A private address your calendar (Outlook, Google Calendar, Apple Calendar) can subscribe to: every
        renewal date and every change window’s end. Anyone with the address can read it; making a new one
        stops the previous one.
      </p>
      {status.error && <ErrorMessage error={status.error} retry={status.refetch} />}
      {status.data &&
        (status.data.exists && status.data.createdAt ? (
          <p data-testid="feed-status">
            A calendar feed address was made on {formatInstant(status.data.createdAt)}; making a new one
            retires it.{" "}
            {status.data.lastUsedAt
              ? `A calendar last read it ${formatInstant(status.data.lastUsedAt)}.`
              : "No calendar has read it yet."}
          </p>
        ) : (
          <p data-testid="feed-status">No calendar feed address has been made yet.</p>
        ))}
      <button type="button" className="button primary" onClick={onRotate} disabled={rotate.busy}>
        {rotate.busy ? "Making the address…" : "Make a new calendar address"}
      </button>
      {rotate.error && <ErrorMessage error={rotate.error} />}
      {url && made && (
        <Notice kind="success">
          <p>
            Made {formatInstant(made.createdAt)}. Copy it now: it is not shown again (cspsync keeps only a
            hash).
          </p>
          <label htmlFor="renewals-feed-url">Calendar address</label>
          <input id="renewals-feed-url" type="text" readOnly value={url} onFocus={(e) => e.target.select()} />
        </Notice>
      )}
    </section>
  );
}
