import type { InvoiceSummary, MonthlyAction, PlannedLineDetails, PricedBy, PriceSource } from "./api.ts";
import { Badge } from "./components.tsx";
import { formatDate, formatMoney, formatNumber } from "./format.ts";
import { useApiQuery } from "./hooks.ts";

/**
 * How a planned PSA line reads on screen, whichever motion planned it. Seat-based Monthly lines keep their
 * product, seats and prices in their segment and say what they do to the PSA (a new addition, a correction,
 * a unit adjustment); annual and Azure Plan lines carry them directly.
 */
export const MONTHLY_ACTION_LABELS: Record<MonthlyAction, string> = {
  "create-addition": "New addition",
  "update-addition": "Addition corrected",
  "adjust-units": "Unit adjustment",
};

export type LineFacts = {
  product: string | null;
  description: string | null;
  /** What a monthly line does in the PSA; null for the other motions. */
  action: string | null;
  /** The day the line bills from, or its period. */
  when: string;
  quantity: string;
  unitCost: string | null;
  /** undefined: not known; null: the PSA keeps its own price (cost-only pricing). */
  unitPrice: string | null | undefined;
  currency: string | null;
  pricedBy: PricedBy | null;
  /** Where the sell price came from (docs/price-lists.md); undefined for lines planned before price lists. */
  priceSource: PriceSource | undefined;
  /** A charge sold for no more than its cost: shown, never silent. */
  atOrBelowCost: boolean;
  warnings: readonly string[];
};

function period(start: string | null | undefined, end: string | null | undefined): string {
  if (!start) return "—";
  return end ? `${formatDate(start)} – ${formatDate(end)}` : `from ${formatDate(start)}`;
}

function signed(value: number): string {
  return value > 0 ? `+${formatNumber(value)}` : formatNumber(value);
}

export function lineFacts(line: PlannedLineDetails | undefined): LineFacts {
  const d = line ?? {};
  const segment = d.segment ?? null;
  const action = d.action ? (MONTHLY_ACTION_LABELS[d.action as MonthlyAction] ?? d.action) : null;
  let quantity = formatNumber(segment?.quantity ?? d.quantity);
  if (d.unitChange !== undefined && d.unitsAfter !== undefined)
    quantity = `${signed(d.unitChange)} → ${formatNumber(d.unitsAfter)}`;
  let when = formatDate(d.effectiveDate);
  if (d.periodStart) when = period(d.periodStart, d.periodEnd);
  else if (segment)
    when = d.action === "adjust-units" ? formatDate(d.effectiveDate) : period(segment.start, segment.end);
  return {
    product: segment?.productName ?? d.productName ?? null,
    description: d.description ?? null,
    action,
    when,
    quantity,
    unitCost: segment?.unitCost ?? d.unitCost ?? null,
    unitPrice: segment ? segment.unitPrice : d.unitPrice,
    currency: segment?.currency ?? d.currency ?? null,
    pricedBy: segment?.pricedBy ?? d.pricedBy ?? null,
    priceSource: segment?.priceSource ?? d.priceSource,
    atOrBelowCost: segment?.atOrBelowCost ?? d.atOrBelowCost ?? false,
    warnings: d.warnings ?? [],
  };
}

/** "Priced by rule …": the rule's name, and what it does when the name does not say it already. */
export function PricedByNote({ pricedBy }: { pricedBy: PricedBy | null }) {
  if (!pricedBy) return null;
  const extra = pricedBy.ruleName.includes(pricedBy.description) ? "" : ` (${pricedBy.description})`;
  return (
    <span className="block small priced-by">
      Priced by rule {pricedBy.ruleName}
      {extra}
    </span>
  );
}

export const PRICE_SOURCE_LABELS: Record<PriceSource, string> = {
  "price-list": "Price list (ERP)",
  "fallback-markup": "Fallback markup",
  "microsoft-list": "Billing data list price",
  "price-rule": "Price rule",
  markup: "Markup",
  "cost-only": "PSA price",
};

/** How a line's price was set: the rule that priced it, and a flag when it sells for no more than its cost. */
export function PriceNote({
  facts,
}: {
  facts: Pick<LineFacts, "pricedBy" | "priceSource" | "atOrBelowCost">;
}) {
  return (
    <>
      <PricedByNote pricedBy={facts.pricedBy} />
      {facts.atOrBelowCost && (
        <span className="block small">
          <Badge tone="warn">At or below cost</Badge>
          {facts.priceSource && facts.priceSource !== "price-rule" && (
            <span className="muted"> {PRICE_SOURCE_LABELS[facts.priceSource]}</span>
          )}
        </span>
      )}
    </>
  );
}

export function ActionBadge({ action }: { action: string | null }) {
  return action ? <Badge tone="info">{action}</Badge> : null;
}

export function LineWarnings({ warnings }: { warnings: readonly string[] }) {
  if (warnings.length === 0) return null;
  return (
    <ul className="line-warnings">
      {warnings.map((warning) => (
        <li key={warning}>{warning}</li>
      ))}
    </ul>
  );
}

/** A unit price, or "PSA price" where the PSA keeps its own (cost-only pricing). */
export function UnitPrice({
  value,
  currency,
}: {
  value: string | null | undefined;
  currency: string | null;
}) {
  if (value === null) return <span className="muted">PSA price</span>;
  return <>{formatMoney(value, currency, { unit: true })}</>;
}

/**
 * The data's currency for lines that do not carry one (annual lines): the one currency of the imported
 * invoices, asked for only when some line needs it.
 */
export function useFallbackCurrency(needed: boolean): string | null {
  const invoices = useApiQuery<{ invoices: InvoiceSummary[] }>(needed ? "/api/invoices" : null);
  const currencies = new Set(invoices.data?.invoices.map((i) => i.currency));
  return currencies.size === 1 ? [...currencies][0]! : null;
}
