import { MAX_ID_CHARS, MAX_TEXT_CHARS } from "../../core/limits.ts";

/**
 * The 47 columns of the NCE invoice reconciliation file, in Microsoft's documented order
 * (docs/billing-data.md §3.1). Header names are matched case-insensitively and ignoring spaces and
 * underscores; `aliases` lists the other names the same column goes by in CSV, v1 JSON and v2 JSON Lines.
 * `required` columns must be present in the header: without them a line cannot be billed or classified.
 */
export type ColumnSpec = { name: string; required: boolean; aliases?: readonly string[] };

export const RECON_COLUMNS = [
  { name: "PartnerId", required: false },
  { name: "CustomerId", required: true },
  { name: "CustomerName", required: true },
  { name: "CustomerDomainName", required: false },
  { name: "CustomerCountry", required: false },
  { name: "InvoiceNumber", required: true },
  { name: "MpnId", required: false },
  { name: "ResellerMpnId", required: false, aliases: ["Tier2MpnId"] },
  { name: "OrderId", required: false },
  { name: "OrderDate", required: false },
  { name: "ProductId", required: true },
  { name: "SkuId", required: true },
  { name: "AvailabilityId", required: false },
  { name: "SkuName", required: false },
  { name: "ProductName", required: true },
  { name: "ChargeType", required: true },
  { name: "UnitPrice", required: true },
  { name: "Quantity", required: false },
  { name: "Subtotal", required: true },
  { name: "TaxTotal", required: false },
  { name: "Total", required: false, aliases: ["TotalForCustomer"] },
  { name: "Currency", required: true },
  { name: "PriceAdjustmentDescription", required: false },
  { name: "PublisherName", required: false },
  { name: "PublisherId", required: false },
  { name: "SubscriptionDescription", required: false },
  { name: "SubscriptionId", required: true },
  { name: "ChargeStartDate", required: true },
  { name: "ChargeEndDate", required: true },
  { name: "TermAndBillingCycle", required: false },
  { name: "EffectiveUnitPrice", required: true },
  { name: "UnitType", required: false },
  { name: "AlternateId", required: false },
  { name: "BillableQuantity", required: true },
  { name: "BillingFrequency", required: true },
  { name: "PricingCurrency", required: false },
  { name: "PCToBCExchangeRate", required: false },
  { name: "PCToBCExchangeRateDate", required: false },
  { name: "MeterDescription", required: false },
  { name: "ReservationOrderId", required: false },
  { name: "CreditReasonCode", required: false },
  { name: "SubscriptionStartDate", required: true },
  { name: "SubscriptionEndDate", required: true },
  { name: "ReferenceId", required: false },
  { name: "ProductQualifiers", required: false },
  { name: "PromotionId", required: false },
  { name: "ProductCategory", required: false },
] as const satisfies readonly ColumnSpec[];

export type ReconColumn = (typeof RECON_COLUMNS)[number]["name"];
export const RECON_COLUMN_NAMES: readonly ReconColumn[] = RECON_COLUMNS.map((c) => c.name);

export function normalizeHeader(name: string): string {
  return name
    .replace(/^\uFEFF/, "")
    .replace(/[\s_-]/g, "")
    .toLowerCase();
}

const COLUMN_BY_NORMALIZED = new Map<string, ReconColumn>();
for (const column of RECON_COLUMNS as readonly ColumnSpec[]) {
  COLUMN_BY_NORMALIZED.set(normalizeHeader(column.name), column.name as ReconColumn);
  for (const alias of column.aliases ?? [])
    COLUMN_BY_NORMALIZED.set(normalizeHeader(alias), column.name as ReconColumn);
}

export function columnForHeader(header: string): ReconColumn | undefined {
  return COLUMN_BY_NORMALIZED.get(normalizeHeader(header));
}

export type HeaderMapping = {
  /** For each canonical column, the index of the field that holds it, or -1 when the file lacks it. */
  indexOf: Record<ReconColumn, number>;
  /** Header names that are not reconciliation columns; kept in the stored source, never interpreted. */
  extras: { index: number; name: string }[];
  missingRequired: ReconColumn[];
  recognized: number;
  duplicates: string[];
};

export function mapHeader(headers: readonly string[]): HeaderMapping {
  const indexOf = Object.fromEntries(RECON_COLUMN_NAMES.map((name) => [name, -1])) as Record<
    ReconColumn,
    number
  >;
  const extras: { index: number; name: string }[] = [];
  const duplicates: string[] = [];
  let recognized = 0;
  headers.forEach((header, index) => {
    const column = columnForHeader(header);
    if (!column) {
      if (header.trim() !== "") extras.push({ index, name: header.trim() });
      return;
    }
    if (indexOf[column] !== -1) {
      duplicates.push(header);
      return;
    }
    indexOf[column] = index;
    recognized += 1;
  });
  const missingRequired = RECON_COLUMNS.filter((c) => c.required && indexOf[c.name] === -1).map(
    (c) => c.name,
  );
  return { indexOf, extras, missingRequired, recognized, duplicates };
}

/**
 * The name each field of a row is stored under (see the `source` column of charge_lines): the canonical
 * column name for a reconciliation column, a header's own name for any other column, "" for a column that
 * is ignored (a duplicate or blank header). For JSON Lines, read after the last row: extras are added as met.
 */
export function sourceFieldNames(mapping: HeaderMapping): string[] {
  const names: string[] = [];
  for (const name of RECON_COLUMN_NAMES) {
    const index = mapping.indexOf[name];
    if (index !== -1) names[index] = name;
  }
  for (const extra of mapping.extras) names[extra.index] = extra.name;
  return Array.from(names, (name) => name ?? "");
}

/** Columns of names and descriptions; every other reconciliation column holds an id, code, date or amount. */
const TEXT_COLUMNS: ReadonlySet<string> = new Set<ReconColumn>([
  "CustomerName",
  "CustomerDomainName",
  "SkuName",
  "ProductName",
  "PriceAdjustmentDescription",
  "PublisherName",
  "SubscriptionDescription",
  "TermAndBillingCycle",
  "UnitType",
  "MeterDescription",
  "CreditReasonCode",
  "ProductQualifiers",
  "ProductCategory",
]);
const ID_COLUMNS: ReadonlySet<string> = new Set(RECON_COLUMN_NAMES.filter((name) => !TEXT_COLUMNS.has(name)));

/**
 * The longest value a field may hold (see core/limits.ts): names and descriptions MAX_TEXT_CHARS, ids, codes,
 * dates and amounts MAX_ID_CHARS; a column that is not a reconciliation column MAX_TEXT_CHARS.
 */
export function maxFieldChars(column: string): number {
  return ID_COLUMNS.has(column) ? MAX_ID_CHARS : MAX_TEXT_CHARS;
}
