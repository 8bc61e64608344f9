import type { ChargeLine } from "../../core/billing.ts";
import { canonicalChargeType } from "../../core/billing.ts";
import { parseDate, parseInstant } from "../../core/dates.ts";
import { canonicalDecimal, Dec, isDecimalText } from "../../core/money.ts";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import { maxFieldChars, sourceFieldNames, type HeaderMapping, type ReconColumn } from "./columns.ts";
import { ReconFileError } from "./errors.ts";

/** Reads the fields of one data row by canonical column name and turns them into a typed ChargeLine. */
export function toChargeLine(
  fields: readonly string[],
  mapping: HeaderMapping,
  file: string,
  row: number,
): ChargeLine {
  checkFieldLengths(fields, mapping, file, row);
  const read = new FieldReader(fields, mapping, file, row);
  const subtotal = read.decimal("Subtotal");
  const taxTotal = read.optionalDecimal("TaxTotal") ?? "0";
  return {
    sourceRow: row,
    partnerId: read.text("PartnerId") ?? "",
    customerTenantId: read.required("CustomerId").replace(/^org:/i, "").toLowerCase(),
    customerName: read.text("CustomerName") ?? read.required("CustomerId"),
    customerDomain: read.text("CustomerDomainName"),
    customerCountry: read.text("CustomerCountry")?.toUpperCase() ?? null,
    invoiceNumber: read.required("InvoiceNumber"),
    orderId: read.text("OrderId"),
    orderDate: read.optionalInstant("OrderDate"),
    productId: read.required("ProductId"),
    skuId: read.required("SkuId"),
    availabilityId: read.text("AvailabilityId"),
    productName: read.text("ProductName") ?? read.text("SkuName") ?? read.required("ProductId"),
    skuName: read.text("SkuName"),
    chargeType: canonicalChargeType(read.required("ChargeType")),
    unitPrice: read.decimal("UnitPrice"),
    quantity: read.optionalDecimal("Quantity"),
    subtotal,
    taxTotal,
    total: read.optionalDecimal("Total") ?? new Dec(subtotal).plus(taxTotal).toFixed(),
    currency: read.required("Currency").toUpperCase(),
    publisherName: read.text("PublisherName"),
    subscriptionDescription: read.text("SubscriptionDescription"),
    subscriptionId: read.required("SubscriptionId").toLowerCase(),
    chargeStart: read.date("ChargeStartDate"),
    chargeEnd: read.optionalDate("ChargeEndDate"),
    termAndBillingCycle: read.text("TermAndBillingCycle"),
    effectiveUnitPrice: read.decimal("EffectiveUnitPrice"),
    unitType: read.text("UnitType"),
    billableQuantity: read.decimal("BillableQuantity"),
    billingFrequency: read.text("BillingFrequency"),
    meterDescription: read.text("MeterDescription"),
    reservationOrderId: read.text("ReservationOrderId"),
    subscriptionStart: read.optionalDate("SubscriptionStartDate"),
    subscriptionEnd: read.optionalDate("SubscriptionEndDate"),
    referenceId: read.text("ReferenceId")?.toLowerCase() ?? null,
    productQualifiers: parseQualifiers(read.text("ProductQualifiers")),
    promotionId: read.text("PromotionId"),
  };
}

/**
 * Refuses a field longer than its column allows (names and descriptions 1,000 characters, ids and codes 200;
 * see maxFieldChars), naming its row and column. Every field is checked, as every field is stored.
 */
function checkFieldLengths(
  fields: readonly string[],
  mapping: HeaderMapping,
  file: string,
  row: number,
): void {
  for (let index = 0; index < fields.length; index += 1) {
    const length = fields[index]!.length;
    // Nearly every field is shorter than the smallest limit; the column is looked up only for longer ones.
    if (length <= MAX_ID_CHARS) continue;
    const column = sourceFieldNames(mapping)[index] || `#${index + 1}`;
    const max = maxFieldChars(column);
    if (length > max)
      throw new ReconFileError(file, `is ${length} characters long; at most ${max} are accepted`, {
        row,
        column,
      });
  }
}

class FieldReader {
  private readonly fields: readonly string[];
  private readonly mapping: HeaderMapping;
  private readonly file: string;
  private readonly row: number;

  constructor(fields: readonly string[], mapping: HeaderMapping, file: string, row: number) {
    this.fields = fields;
    this.mapping = mapping;
    this.file = file;
    this.row = row;
  }

  raw(column: ReconColumn): string {
    const index = this.mapping.indexOf[column];
    return index === -1 ? "" : (this.fields[index] ?? "");
  }

  text(column: ReconColumn): string | null {
    const value = this.raw(column).trim();
    return value === "" ? null : value;
  }

  required(column: ReconColumn): string {
    return this.text(column) ?? this.fail(column, "is empty but a value is required");
  }

  decimal(column: ReconColumn): string {
    return this.optionalDecimal(column) ?? this.fail(column, "is empty but a number is required");
  }

  optionalDecimal(column: ReconColumn): string | null {
    const value = this.text(column);
    if (value === null) return null;
    if (!isDecimalText(value)) this.fail(column, `${JSON.stringify(value)} is not a number`);
    return canonicalDecimal(value);
  }

  date(column: ReconColumn): string {
    return this.optionalDate(column) ?? this.fail(column, "is empty but a date is required");
  }

  optionalDate(column: ReconColumn): string | null {
    const value = this.text(column);
    if (value === null) return null;
    return (
      parseDate(value) ??
      this.fail(column, `${JSON.stringify(value)} is not a date (expected M/D/YYYY or ISO 8601)`)
    );
  }

  optionalInstant(column: ReconColumn): string | null {
    const value = this.text(column);
    if (value === null) return null;
    return parseInstant(value) ?? this.fail(column, `${JSON.stringify(value)} is not a date or time`);
  }

  private fail(column: ReconColumn, reason: string): never {
    throw new ReconFileError(this.file, reason, { row: this.row, column });
  }
}

/** ProductQualifiers is a JSON array in the APIs and its text in CSV (`["AddOn","Trial"]`); tolerate plain lists. */
export function parseQualifiers(text: string | null): string[] {
  if (!text) return [];
  if (text.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.map((v) => String(v).trim()).filter(Boolean);
    } catch {
      // fall through to the plain-list reading
    }
  }
  return text
    .replace(/^\[|\]$/g, "")
    .split(/[,;]/)
    .map((v) => v.replace(/^\s*"|"\s*$/g, "").trim())
    .filter(Boolean);
}
