import type { BillingMotion, ChargeType } from "../core/billing.ts";
import type { ChargeEvent, EventKind, EventLine } from "../core/events.ts";
import type { ChargeEventsTable, ChargeLinesTable } from "./schema.ts";

/** Conversions between stored rows and domain values, kept in one place so both directions agree. */

/**
 * A stored line's source record as {column: value}, its non-empty fields only: `source` is the row's fields
 * named by its import's `source_fields`, or, for lines stored before those existed, the record itself.
 */
export function sourceRecordOf(source: string, sourceFields: string | null): Record<string, string> {
  const parsed = JSON.parse(source) as string[] | Record<string, string>;
  if (!Array.isArray(parsed)) return parsed;
  const names = JSON.parse(sourceFields ?? "[]") as string[];
  const record: Record<string, string> = {};
  parsed.forEach((value, i) => {
    const name = names[i];
    if (name && value !== "") record[name] = value;
  });
  return record;
}

export function lineRowToEventLine(row: ChargeLinesTable): EventLine {
  return {
    lineKey: row.line_key,
    invoiceNumber: row.invoice_number,
    customerTenantId: row.customer_tenant_id,
    subscriptionId: row.subscription_id,
    motion: row.motion as BillingMotion,
    billable: Number(row.is_billable) === 1,
    chargeType: row.charge_type as ChargeType,
    orderDate: row.order_date,
    chargeStart: row.charge_start,
    chargeEnd: row.charge_end,
    subscriptionStart: row.subscription_start,
    subscriptionEnd: row.subscription_end,
    productId: row.product_id,
    skuId: row.sku_id,
    availabilityId: row.availability_id,
    productName: row.product_name,
    skuName: row.sku_name,
    billingFrequency: row.billing_frequency,
    unitPrice: row.unit_price,
    effectiveUnitPrice: row.effective_unit_price,
    billableQuantity: row.billable_quantity,
    subtotal: row.subtotal,
    total: row.total,
    currency: row.currency,
  };
}

export function eventRow(organizationId: string, event: ChargeEvent): ChargeEventsTable {
  return {
    organization_id: organizationId,
    event_key: event.eventKey,
    invoice_number: event.invoiceNumber,
    customer_tenant_id: event.customerTenantId,
    subscription_id: event.subscriptionId,
    motion: event.motion,
    is_billable: event.billable ? 1 : 0,
    kind: event.kind,
    charge_type: event.chargeType,
    order_date: event.orderDate,
    charge_start: event.chargeStart,
    charge_end: event.chargeEnd,
    term_start: event.termStart,
    term_end: event.termEnd,
    product_id: event.productId,
    sku_id: event.skuId,
    availability_id: event.availabilityId,
    product_name: event.productName,
    sku_name: event.skuName,
    billing_frequency: event.billingFrequency,
    seat_delta: event.seatDelta,
    seats_after: event.seatsAfter,
    effective_unit_price: event.effectiveUnitPrice,
    list_unit_price: event.listUnitPrice,
    amount: event.amount,
    total: event.total,
    currency: event.currency,
    line_count: event.lineCount,
  };
}

export function eventFromRow(row: ChargeEventsTable): ChargeEvent {
  return {
    eventKey: row.event_key,
    invoiceNumber: row.invoice_number,
    customerTenantId: row.customer_tenant_id,
    subscriptionId: row.subscription_id,
    motion: row.motion as BillingMotion,
    billable: Number(row.is_billable) === 1,
    kind: row.kind as EventKind,
    chargeType: row.charge_type as ChargeType,
    orderDate: row.order_date,
    chargeStart: row.charge_start,
    chargeEnd: row.charge_end,
    termStart: row.term_start,
    termEnd: row.term_end,
    productId: row.product_id,
    skuId: row.sku_id,
    availabilityId: row.availability_id,
    productName: row.product_name,
    skuName: row.sku_name,
    billingFrequency: row.billing_frequency,
    seatDelta: row.seat_delta,
    seatsAfter: row.seats_after,
    effectiveUnitPrice: row.effective_unit_price,
    listUnitPrice: row.list_unit_price,
    amount: row.amount,
    total: row.total,
    currency: row.currency,
    lineCount: Number(row.line_count),
  };
}
