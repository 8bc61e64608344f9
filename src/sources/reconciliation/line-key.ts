import { hash } from "node:crypto";
import type { ChargeLine } from "../../core/billing.ts";
import { canonicalDecimal, isDecimalText } from "../../core/money.ts";
import { parseInstant } from "../../core/dates.ts";
import { RECON_COLUMN_NAMES, type HeaderMapping, type ReconColumn } from "./columns.ts";

/**
 * Reconciliation lines have no id (docs/billing-data.md §8.1), so cspsync derives one from the content:
 * a hash over every column in a normalised form (so the same data as CSV or as JSON Lines, with M/D/YYYY or
 * ISO dates, hashes the same), plus the occurrence index of byte-identical rows within one file, which
 * really occur and must both be kept.
 */
const HASHED_AS_DECIMAL = new Set(["PCToBCExchangeRate"]);
const HASHED_AS_INSTANT = new Set(["PCToBCExchangeRateDate"]);
// Only the reconciliation columns identify a line. Columns a distributor or a v1 response adds
// (`attributes`, a notes column…) are stored but not hashed: a re-export that adds or drops one must still
// be recognised as the same data (docs/billing-data.md §8.1).
const HASHED_COLUMNS: ReadonlySet<string> = new Set(RECON_COLUMN_NAMES);

/**
 * The content hash of a line: its typed fields and its row's hashed untyped fields (`fields`, aligned with
 * `mapping`, as read).
 */
export function contentHash(line: ChargeLine, fields: readonly string[], mapping: HeaderMapping): string {
  const typed = [
    line.customerTenantId,
    line.invoiceNumber,
    // The portal CSV writes OrderDate as a day (`10/3/2020`), the APIs as an instant with time
    // (docs/billing-data.md §3.2): the UTC day is what both forms share.
    line.orderDate?.slice(0, 10) ?? "",
    line.productId,
    line.skuId,
    line.chargeType,
    line.unitPrice,
    line.quantity ?? "",
    line.subtotal,
    line.taxTotal,
    line.total,
    line.currency,
    line.subscriptionId,
    line.chargeStart,
    line.chargeEnd ?? "",
    line.effectiveUnitPrice,
    line.billableQuantity,
    line.subscriptionStart ?? "",
    line.subscriptionEnd ?? "",
    line.referenceId ?? "",
    JSON.stringify(line.productQualifiers),
  ];
  // The row's non-empty hashed untyped columns, sorted by name (as the source record was once read).
  for (const { column, index } of untypedColumnsOf(mapping)) {
    const value = fields[index] ?? "";
    if (value !== "") typed.push(`${column}=${normaliseUntyped(column, value)}`);
  }
  // One-shot hashing: a Hash object per line cost twice the CPU of the digest itself (BENCHMARKS.md, bench:ingest).
  return hash("sha256", typed.join("\u001f"), "hex").slice(0, 40);
}

export function lineKey(hash: string, occurrence: number): string {
  return `${hash}-${occurrence}`;
}

const TYPED_COLUMNS = new Set([
  "CustomerId",
  "InvoiceNumber",
  "OrderDate",
  "ProductId",
  "SkuId",
  "ChargeType",
  "UnitPrice",
  "Quantity",
  "Subtotal",
  "TaxTotal",
  "Total",
  "Currency",
  "SubscriptionId",
  "ChargeStartDate",
  "ChargeEndDate",
  "EffectiveUnitPrice",
  "BillableQuantity",
  "SubscriptionStartDate",
  "SubscriptionEndDate",
  "ReferenceId",
  "ProductQualifiers",
]);

const UNTYPED_SORTED = [...HASHED_COLUMNS].filter((column) => !TYPED_COLUMNS.has(column)).sort();

/** Where the file has each hashed untyped column, in UNTYPED_SORTED order; worked out once per file. */
const untypedColumns = new WeakMap<HeaderMapping, { column: string; index: number }[]>();
function untypedColumnsOf(mapping: HeaderMapping): { column: string; index: number }[] {
  let columns = untypedColumns.get(mapping);
  if (!columns) {
    columns = UNTYPED_SORTED.map((column) => ({
      column,
      index: mapping.indexOf[column as ReconColumn],
    })).filter(({ index }) => index !== -1);
    untypedColumns.set(mapping, columns);
  }
  return columns;
}

function normaliseUntyped(column: string, value: string): string {
  const trimmed = value.trim();
  if (HASHED_AS_DECIMAL.has(column) && isDecimalText(trimmed)) return canonicalDecimal(trimmed);
  if (HASHED_AS_INSTANT.has(column)) return parseInstant(trimmed) ?? trimmed;
  if (trimmed.startsWith("[")) return canonicalJsonArray(trimmed) ?? trimmed;
  return trimmed;
}

/**
 * PriceAdjustmentDescription is a JSON array written as text in CSV and may be a real array in JSON; both
 * forms (and any spacing) hash the same.
 */
function canonicalJsonArray(text: string): string | null {
  // The same few descriptions repeat across a file's lines: their canonical form is worked out once each.
  const known = canonicalArrays.get(text);
  if (known !== undefined) return known;
  if (canonicalArrays.size >= 1000) canonicalArrays.clear();
  const canonical = parseJsonArray(text);
  canonicalArrays.set(text, canonical);
  return canonical;
}
const canonicalArrays = new Map<string, string | null>();

function parseJsonArray(text: string): string | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? JSON.stringify(parsed) : null;
  } catch {
    return null;
  }
}
