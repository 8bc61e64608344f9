import {
  MOTION_LABELS,
  type MotionPlan,
  type PlannedEntry,
  type PlannedHold,
  type RunSummary,
} from "./api.ts";
import { EmptyState, ErrorMessage, OutcomeBadge, RunStatusBadge } from "./components.tsx";
import { formatMoney, formatNumber, plural } from "./format.ts";
import { ActionBadge, lineFacts, LineWarnings, PriceNote, UnitPrice, useFallbackCurrency } from "./lines.tsx";
import { Link } from "./router.tsx";

/** What one motion's Sync now did: the counts and one entry per item, linking to the run. */
export function SyncResult({ result }: { result: RunSummary }) {
  const titleId = `sync-result-${result.runId}`;
  const held = result.items.filter((i) => i.outcome === "held").length;
  return (
    <section className="sync-result" aria-labelledby={titleId} role="status" data-motion={result.motion}>
      <h3 id={titleId}>
        {MOTION_LABELS[result.motion]} sync finished: <RunStatusBadge status={result.status} />
      </h3>
      <ul className="counts">
        <li>
          <strong>{formatNumber(result.written)}</strong> written
        </li>
        <li>
          <strong>{formatNumber(result.unchanged)}</strong> already in the PSA
        </li>
        <li>
          <strong>{formatNumber(result.warnings)}</strong> warnings
        </li>
        {held > 0 && (
          <li>
            <strong>{formatNumber(held)}</strong> held for approval
          </li>
        )}
        <li>
          <strong>{formatNumber(result.errors)}</strong> errors
        </li>
      </ul>
      {result.items.length === 0 && <p className="muted">Nothing new to write.</p>}
      {result.items.length > 0 && (
        <ul className="result-items">
          {result.items.map((item, index) => {
            const facts = lineFacts(item.line);
            return (
              <li key={item.writeKey ?? index} data-outcome={item.outcome}>
                <OutcomeBadge outcome={item.outcome} /> <ActionBadge action={facts.action} />{" "}
                {facts.description ?? item.subscriptionId ?? ""}
                {item.psaRecordId && <span className="muted"> — PSA record {item.psaRecordId}</span>}
                {item.message && item.outcome !== "written" && (
                  <span className={item.outcome === "error" ? "block small text-bad" : "block small"}>
                    {item.message}
                  </span>
                )}
                <PriceNote facts={facts} />
              </li>
            );
          })}
        </ul>
      )}
      <p>
        <Link to={`/runs/${result.runId}`}>Open the run details</Link>
      </p>
    </section>
  );
}

function productNote(entry: PlannedEntry, writeKey: string | undefined): string | null {
  const match = (writeKey && entry.products?.[writeKey]) || entry.product;
  if (!match) return null;
  return match.ok ? `PSA product ${match.label}` : match.reason;
}

const HOLD_NOTES: Record<PlannedHold, string> = {
  "would hold": "Sells below cost: would be held for approval",
  held: "Sells below cost: held, waiting for approval",
  approved: "Sells below cost: approved, will be written",
};

type Holds = Record<string, PlannedHold> | undefined;

function PlannedLines({
  entry,
  currency,
  holds,
}: {
  entry: PlannedEntry;
  currency: string | null;
  holds: Holds;
}) {
  return (
    <table className="table responsive items planned-lines">
      <caption className="visually-hidden">Lines a sync would write for {entry.customerName}</caption>
      <thead>
        <tr>
          <th scope="col">Line</th>
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
          <th scope="col">Notes</th>
        </tr>
      </thead>
      <tbody>
        {entry.plan.lines.map((line, index) => {
          const facts = lineFacts(line);
          const product = productNote(entry, line.writeKey);
          const hold = line.writeKey ? holds?.[line.writeKey] : undefined;
          return (
            <tr key={line.writeKey ?? index} data-write-key={line.writeKey}>
              <td data-label="Line">
                <ActionBadge action={facts.action} />
                <span className="block">{facts.description ?? facts.product ?? "—"}</span>
                {line.subscriptionId && <span className="block small muted mono">{line.subscriptionId}</span>}
              </td>
              <td data-label="Date">{facts.when}</td>
              <td data-label="Qty" className="num">
                {facts.quantity}
              </td>
              <td data-label="Unit cost" className="num">
                {formatMoney(facts.unitCost, facts.currency ?? currency, { unit: true })}
              </td>
              <td data-label="Unit price" className="num">
                <UnitPrice value={facts.unitPrice} currency={facts.currency ?? currency} />
              </td>
              <td data-label="Notes">
                <PriceNote facts={facts} />
                {hold && <span className="block small text-warn">{HOLD_NOTES[hold]}</span>}
                {product && <span className="block small muted">{product}</span>}
                <LineWarnings warnings={facts.warnings} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function PlannedEntryView({
  entry,
  currency,
  holds,
}: {
  entry: PlannedEntry;
  currency: string | null;
  holds: Holds;
}) {
  const skipped = entry.plan.skipped;
  return (
    <div className="planned-entry" data-customer={entry.mapping.customerTenantId}>
      <h4>
        {entry.customerName}{" "}
        <span className="muted small">— {plural(entry.plan.lines.length, "line")} to write</span>
      </h4>
      {entry.problem && <ErrorMessage error={entry.problem} />}
      {entry.plan.lines.length > 0 && <PlannedLines entry={entry} currency={currency} holds={holds} />}
      {skipped.length > 0 && (
        <details className="small">
          <summary>{plural(skipped.length, "charge")} left alone</summary>
          <ul>
            {skipped.map((s, index) => (
              <li key={index}>
                {[s.invoiceNumber, s.month, s.subscriptionId].filter(Boolean).join(" · ")}
                {": "}
                {s.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

/** A dry run: per motion and mapped entry, exactly what a sync would write now. Nothing is written. */
export function DryRunResult({ plans }: { plans: MotionPlan[] }) {
  const needsCurrency = plans.some((p) =>
    p.mappings.some((m) => m.plan.lines.some((l) => !l.currency && !l.segment)),
  );
  const currency = useFallbackCurrency(needsCurrency);
  return (
    <>
      {plans.map((plan) => {
        const titleId = `dry-run-${plan.motion}`;
        const lines = plan.mappings.reduce((n, m) => n + m.plan.lines.length, 0);
        return (
          <section
            key={plan.motion}
            className="sync-result"
            aria-labelledby={titleId}
            data-motion={plan.motion}
          >
            <h3 id={titleId}>
              {MOTION_LABELS[plan.motion]} dry run: {plural(lines, "line")} would be written
            </h3>
            {plan.mappings.length === 0 && <EmptyState title="No enabled entry to sync." />}
            {plan.mappings.map((entry) => (
              <PlannedEntryView
                key={entry.mapping.customerTenantId}
                entry={entry}
                currency={currency}
                holds={plan.holds}
              />
            ))}
          </section>
        );
      })}
    </>
  );
}
