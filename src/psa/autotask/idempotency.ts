/**
 * Autotask has no idempotency keys: a retried POST creates a duplicate (docs/autotask.md §3, §6.5). cspsync
 * therefore stamps a deterministic key into each contract charge it creates and looks it up before writing
 * again, and after a create whose outcome is unknown.
 *
 * The key lives in ContractCharges.`internalPurchaseOrderNumber` (string(50), docs/autotask.md §8.3) because:
 * - it is an ordinary writable, queryable string field, so `eq` finds the charge again;
 * - it is the MSP's *internal* PO reference, not customer-facing: the customer's PO goes in
 *   `purchaseOrderNumber`, which invoices commonly print and which MSPs fill in for real customers, and
 *   `description` is the invoice line text (charges have no separate invoiceDescription, §8.3);
 * - `notes` (2000 chars) would also stay off the invoice, but it is free text people edit, and a long-text
 *   field is a poor lookup key.
 * Its 50-character limit is why the key is a fixed-length hash rather than the raw natural key: the one write
 * key format, made by `writeKey` in core/write-keys.ts.
 */
export const CHARGE_IDEMPOTENCY_FIELD = "internalPurchaseOrderNumber";
export const CHARGE_IDEMPOTENCY_FIELD_MAX_LENGTH = 50;
export function assertValidIdempotencyKey(key: string): void {
  if (key.trim() === "" || key.length > CHARGE_IDEMPOTENCY_FIELD_MAX_LENGTH) {
    throw new RangeError(
      `an Autotask charge idempotency key must be 1-${CHARGE_IDEMPOTENCY_FIELD_MAX_LENGTH} characters`,
    );
  }
}
