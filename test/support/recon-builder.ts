import fs from "node:fs";
import { gzipSync } from "node:zlib";
import { RECON_COLUMN_NAMES, type ReconColumn } from "../../src/sources/reconciliation/columns.ts";

/**
 * Builds reconciliation rows in the documented NCE shape (docs/billing-data.md §3) for tests. Every row
 * starts from realistic defaults (an M365 Business Standard monthly seat line, transcribed from the
 * documented examples) and a test overrides only what it is about.
 */
export type ReconRow = Partial<Record<ReconColumn, string>>;

export const PARTNER_ID = "0e195b37-4574-4539-bc42-0e539b9684c0";
export const CONTOSO = {
  id: "196e2273-9651-43a3-ba7e-7cbcd918fc40",
  name: "Contoso Dental, LLC",
  domain: "contosodental.onmicrosoft.com",
};
export const FABRIKAM = {
  id: "5b5c6bd2-0d5c-4f0c-9b5a-3e4a1b2c3d4e",
  name: 'Fabrikam "Northwind" Logistics',
  domain: "fabrikamlogistics.onmicrosoft.com",
};

export function baseRow(overrides: ReconRow = {}): ReconRow {
  return {
    PartnerId: PARTNER_ID,
    CustomerId: CONTOSO.id,
    CustomerName: CONTOSO.name,
    CustomerDomainName: CONTOSO.domain,
    CustomerCountry: "US",
    InvoiceNumber: "G002297372",
    MpnId: "6034453",
    ResellerMpnId: "0",
    OrderId: "6dc5c039750a",
    OrderDate: "6/18/2024",
    ProductId: "CFQ7TTC0LDPB",
    SkuId: "0001",
    AvailabilityId: "CFQ7TTC0K5RQ",
    SkuName: "Microsoft 365 Business Standard",
    ProductName: "Microsoft 365 Business Standard",
    ChargeType: "new",
    UnitPrice: "12.5",
    Quantity: "10",
    Subtotal: "125",
    TaxTotal: "0",
    Total: "125",
    Currency: "USD",
    PriceAdjustmentDescription:
      '["Price for given billing period","You are getting a discount for being a partner."]',
    PublisherName: "Microsoft Corporation",
    PublisherId: "",
    SubscriptionDescription: "Microsoft 365 Business Standard",
    SubscriptionId: "9d7d1f3d-c8de-461c-db6d-91debd5129f0",
    ChargeStartDate: "6/18/2024",
    ChargeEndDate: "7/17/2024",
    TermAndBillingCycle: "One-Month commitment for monthly billing",
    EffectiveUnitPrice: "12.5",
    UnitType: "",
    AlternateId: "6dc5c039750a",
    BillableQuantity: "10",
    BillingFrequency: "Monthly",
    PricingCurrency: "USD",
    PCToBCExchangeRate: "1",
    PCToBCExchangeRateDate: "6/1/2024",
    MeterDescription: "",
    ReservationOrderId: "",
    CreditReasonCode: "",
    SubscriptionStartDate: "6/18/2024",
    SubscriptionEndDate: "7/17/2024",
    ReferenceId: "",
    ProductQualifiers: "[]",
    PromotionId: "",
    ProductCategory: "OnlineServices",
    ...overrides,
  };
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export type CsvOptions = { columns?: readonly string[]; bom?: boolean; delimiter?: string; eol?: string };

export function toCsv(rows: ReconRow[], options: CsvOptions = {}): string {
  const columns = options.columns ?? RECON_COLUMN_NAMES;
  const delimiter = options.delimiter ?? ",";
  const eol = options.eol ?? "\r\n";
  const lines = [columns.join(delimiter)];
  for (const row of rows) {
    lines.push(
      columns
        .map((c) => csvField((row as Record<string, string | undefined>)[canonical(c)] ?? ""))
        .join(delimiter),
    );
  }
  return (options.bom ? "\uFEFF" : "") + lines.join(eol) + eol;
}

/** Header spellings seen in the wild map back to the canonical column for lookups. */
function canonical(column: string): string {
  const match = RECON_COLUMN_NAMES.find((c) => c.toLowerCase() === column.toLowerCase());
  if (match) return match;
  if (/^tier2mpnid$/i.test(column)) return "ResellerMpnId";
  if (/^totalforcustomer$/i.test(column)) return "Total";
  return column;
}

/** JSON Lines as the Graph export writes them: one object per line, numbers as JSON numbers. */
export function toJsonLines(
  rows: ReconRow[],
  numericColumns: readonly ReconColumn[] = NUMERIC_COLUMNS,
): string {
  return (
    rows
      .map((row) => {
        const parts = RECON_COLUMN_NAMES.map((column) => {
          const value = row[column] ?? "";
          const key = column === "ResellerMpnId" ? "Tier2MpnId" : column;
          const json = numericColumns.includes(column) && value !== "" ? value : JSON.stringify(value);
          return `${JSON.stringify(key)}:${json}`;
        });
        return `{${parts.join(",")}}`;
      })
      .join("\n") + "\n"
  );
}

export const NUMERIC_COLUMNS: readonly ReconColumn[] = [
  "UnitPrice",
  "Quantity",
  "Subtotal",
  "TaxTotal",
  "Total",
  "EffectiveUnitPrice",
  "BillableQuantity",
  "PCToBCExchangeRate",
];

export function writeCsv(file: string, rows: ReconRow[], options?: CsvOptions): string {
  fs.writeFileSync(file, toCsv(rows, options));
  return file;
}

export function writeJsonLinesGz(file: string, rows: ReconRow[]): string {
  fs.writeFileSync(file, gzipSync(toJsonLines(rows)));
  return file;
}
