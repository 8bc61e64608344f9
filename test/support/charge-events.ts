import type { ChargeEvent } from "../../src/core/events.ts";

/**
 * A Seat-based Annual purchase as the planners see it: 5 seats of Microsoft 365 Business Premium for the
 * term 2024-06-05 to 2025-06-04, at cost 240 and list 264 a seat. Tests override what they are about.
 */
export function annualChargeEvent(overrides: Partial<ChargeEvent> = {}): ChargeEvent {
  return {
    eventKey: "line:a-0",
    invoiceNumber: "G1",
    customerTenantId: "tenant",
    subscriptionId: "sub-1",
    motion: "seat-annual",
    billable: true,
    kind: "purchase",
    chargeType: "new",
    orderDate: null,
    chargeStart: "2024-06-05",
    chargeEnd: "2025-06-04",
    termStart: "2024-06-05",
    termEnd: "2025-06-04",
    productId: "CFQ7TTC0LCHC",
    skuId: "0002",
    availabilityId: null,
    productName: "Microsoft 365 Business Premium",
    skuName: "Microsoft 365 Business Premium",
    billingFrequency: null,
    seatDelta: "5",
    seatsAfter: "5",
    effectiveUnitPrice: "240",
    listUnitPrice: "264",
    amount: "1200",
    total: "1200",
    currency: "USD",
    lineCount: 1,
    ...overrides,
  };
}
