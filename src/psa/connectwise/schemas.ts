import { z } from "zod";
import { decimalString } from "../shared/json.ts";

/**
 * Response shapes cspsync reads from ConnectWise (docs/connectwise.md §9). Only the fields cspsync uses are
 * kept (zod strips the rest); unset values may arrive as null or be missing (docs/connectwise.md §4), so
 * almost everything is nullish. Money and quantities are canonical decimal strings, never floats.
 */

const money = decimalString.nullish().transform((value) => value ?? null);
const text = z
  .string()
  .nullish()
  .transform((value) => value ?? null);
const flag = z
  .boolean()
  .nullish()
  .transform((value) => value ?? null);

/** `_info` is a read-only map of strings (docs/connectwise.md §4). */
const info = z
  .record(z.string(), z.string().nullable())
  .nullish()
  .transform((value) => value ?? null);

/** A reference as returned: `{id, name?, identifier?, _info?}` (docs/connectwise.md §9.1). */
export const referenceSchema = z.object({
  id: z.number().int(),
  name: text.optional(),
  identifier: text.optional(),
});
export type CwReference = z.output<typeof referenceSchema>;
const reference = referenceSchema.nullish().transform((value) => value ?? null);

export const companySchema = z.object({
  id: z.number().int(),
  identifier: z.string(),
  name: z.string(),
  status: reference,
  addressLine1: text,
  city: text,
  state: text,
  zip: text,
  deletedFlag: flag,
  isVendorFlag: flag,
  _info: info,
});
export type Company = z.output<typeof companySchema>;

/** docs/connectwise.md §9.2 */
export const agreementSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  type: reference,
  company: reference,
  contact: reference,
  startDate: text,
  endDate: text,
  noEndingDateFlag: flag,
  cancelledFlag: flag,
  dateCancelled: text,
  billingCycle: reference,
  billOneTimeFlag: flag,
  billStartDate: text,
  prorateFlag: flag,
  nextInvoiceDate: text,
  invoicingCycle: text,
  billAmount: money,
  taxable: flag,
  agreementStatus: text,
  _info: info,
});
export type Agreement = z.output<typeof agreementSchema>;

/** docs/connectwise.md §9.4 */
export const agreementTypeSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  defaultFlag: flag,
  inactiveFlag: flag,
  billingCycle: reference,
  billOneTimeFlag: flag,
  prorateFlag: flag,
  _info: info,
});
export type AgreementType = z.output<typeof agreementTypeSchema>;

/**
 * docs/connectwise.md §9.5: `billingOptions` is the only reliable way to tell cycles apart; ids and names
 * vary by tenant.
 */
export const billingCycleSchema = z.object({
  id: z.number().int(),
  identifier: text,
  name: z.string(),
  defaultFlag: flag,
  billingOptions: text,
  _info: info,
});
export type BillingCycle = z.output<typeof billingCycleSchema>;

export const BILL_CUSTOMER_VALUES = ["Billable", "DoNotBill", "NoCharge"] as const;
export type BillCustomer = (typeof BILL_CUSTOMER_VALUES)[number];

/** docs/connectwise.md §9.3 */
export const additionSchema = z.object({
  id: z.number().int(),
  agreementId: z
    .number()
    .int()
    .nullish()
    .transform((value) => value ?? null),
  product: reference,
  quantity: money,
  lessIncluded: money,
  unitPrice: money,
  unitCost: money,
  billCustomer: text,
  effectiveDate: text,
  cancelledDate: text,
  taxableFlag: flag,
  serialNumber: text,
  description: text,
  invoiceDescription: text,
  billedQuantity: money,
  extPrice: money,
  extCost: money,
  margin: money,
  sequenceNumber: money,
  uom: text,
  agreementStatus: text,
  _info: info,
});
export type Addition = z.output<typeof additionSchema>;

/** docs/connectwise.md §9.6 */
export const catalogItemSchema = z.object({
  id: z.number().int(),
  identifier: z.string(),
  description: text,
  customerDescription: text,
  inactiveFlag: flag,
  subcategory: reference,
  type: reference,
  productClass: text,
  unitOfMeasure: reference,
  price: money,
  cost: money,
  taxableFlag: flag,
  vendor: reference,
  vendorSku: text,
  manufacturerPartNumber: text,
  recurringFlag: flag,
  _info: info,
});
export type CatalogItem = z.output<typeof catalogItemSchema>;

/** Product types and subcategories, which a new catalog item must reference (docs/connectwise.md §9.6). */
export const namedRecordSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  inactiveFlag: flag,
});
export type NamedRecord = z.output<typeof namedRecordSchema>;

/** docs/connectwise.md §9.9 `Info` from `/system/info`. */
export const systemInfoSchema = z.object({
  version: text,
  isCloud: flag,
  serverTimeZone: text,
  cloudRegion: text,
});
export type SystemInfo = z.output<typeof systemInfoSchema>;

/**
 * docs/connectwise.md §2: PascalCase keys and `IsCloud` as a string; an unknown company id yields JSON
 * `null`.
 */
export const companyInfoSchema = z
  .object({
    CompanyName: z.string().nullish(),
    Codebase: z.string().regex(/^[A-Za-z0-9_]+\/$/, "expected a codebase such as v2025_1/"),
    VersionCode: z.string().nullish(),
    CompanyID: z.string().nullish(),
    IsCloud: z.union([z.string(), z.boolean()]).nullish(),
  })
  .transform((raw) => ({
    companyName: raw.CompanyName ?? null,
    codebase: raw.Codebase,
    versionCode: raw.VersionCode ?? null,
    companyId: raw.CompanyID ?? null,
    isCloud: raw.IsCloud === true || String(raw.IsCloud).toLowerCase() === "true",
  }));
export type CompanyInfo = z.output<typeof companyInfoSchema>;

export const countSchema = z.object({ count: z.number().int().nonnegative() });

/** docs/connectwise.md §7.2 `ErrorResponseMessage`; the 429 body uses `error` instead of `code` (§7.3). */
export const errorResponseSchema = z.object({
  code: z.string().nullish(),
  error: z.string().nullish(),
  message: z.string().nullish(),
  errors: z
    .array(
      z.object({
        code: z.string().nullish(),
        message: z.string().nullish(),
        resource: z.string().nullish(),
        field: z.string().nullish(),
        details: z.string().nullish(),
      }),
    )
    .nullish(),
});
