import type { IsoDate, IsoInstant } from "./dates.ts";
import type { DecimalString } from "./money.ts";

/** The three ways an MSP bills CSP charges; each maps to its own kind of PSA agreement/contract. */
export const BILLING_MOTIONS = ["seat-monthly", "azure", "seat-annual"] as const;
export type BillingMotion = (typeof BILLING_MOTIONS)[number];

export const MOTION_LABELS: Record<BillingMotion, string> = {
  "seat-monthly": "Seat-based Monthly",
  azure: "Azure Plan",
  "seat-annual": "Seat-based Annual",
};

/** NCE charge types (docs/billing-data.md §4), in their canonical spelling. */
export const CHARGE_TYPES = [
  "new",
  "renew",
  "cycleCharge",
  "addQuantity",
  "removeQuantity",
  "cancelImmediate",
  "convert",
  "moveQuantity",
  "changeBillingPlan",
  "customerCredit",
] as const;
export type KnownChargeType = (typeof CHARGE_TYPES)[number];
/** A charge type cspsync does not know is kept verbatim and treated as a standalone charge. */
export type ChargeType = KnownChargeType | `other:${string}`;

const CHARGE_TYPE_BY_LOWER = new Map<string, KnownChargeType>(CHARGE_TYPES.map((t) => [t.toLowerCase(), t]));
// Spellings from older documentation and marketplace rows that mean the same event.
CHARGE_TYPE_BY_LOWER.set("cancel", "cancelImmediate");

export function canonicalChargeType(raw: string): ChargeType {
  const known = CHARGE_TYPE_BY_LOWER.get(raw.trim().toLowerCase());
  return known ?? `other:${raw.trim()}`;
}

/**
 * Charge types whose lines come as a credit + charge pair linked by ReferenceId (docs/billing-data.md §4,
 * §8.2).
 */
export const PAIRED_CHARGE_TYPES: ReadonlySet<ChargeType> = new Set<ChargeType>([
  "addQuantity",
  "removeQuantity",
  "convert",
  "moveQuantity",
]);

/**
 * One reconciliation line after parsing: its typed fields. The row's fields as read are kept beside it (the
 * stored source record; see src/sources/reconciliation/read-lines.ts), not in it.
 */
export type ChargeLine = {
  sourceRow: number;
  partnerId: string;
  customerTenantId: string;
  customerName: string;
  customerDomain: string | null;
  customerCountry: string | null;
  invoiceNumber: string;
  orderId: string | null;
  orderDate: IsoInstant | null;
  productId: string;
  skuId: string;
  availabilityId: string | null;
  productName: string;
  skuName: string | null;
  chargeType: ChargeType;
  unitPrice: DecimalString;
  quantity: DecimalString | null;
  subtotal: DecimalString;
  taxTotal: DecimalString;
  total: DecimalString;
  currency: string;
  publisherName: string | null;
  subscriptionDescription: string | null;
  subscriptionId: string;
  chargeStart: IsoDate;
  chargeEnd: IsoDate | null;
  termAndBillingCycle: string | null;
  effectiveUnitPrice: DecimalString;
  unitType: string | null;
  billableQuantity: DecimalString;
  billingFrequency: string | null;
  meterDescription: string | null;
  reservationOrderId: string | null;
  subscriptionStart: IsoDate | null;
  subscriptionEnd: IsoDate | null;
  referenceId: string | null;
  productQualifiers: string[];
  promotionId: string | null;
};

export type Classification = { motion: BillingMotion; billable: boolean; reason: string };
