import { z } from "zod";
import { decimalString } from "../shared/json.ts";
import type { DecimalString } from "../../core/money.ts";

/**
 * Response schemas and write inputs for the Autotask entities cspsync uses (docs/autotask.md §8). Every
 * optional field allows null: the API returns null freely (docs/autotask.md §3). Money and quantities are
 * canonical decimal strings, read exactly from the JSON numbers (see shared/json.ts).
 */

const int = z.number().int();
const optionalInt = int.nullable().optional();
const optionalString = z.string().nullable().optional();
const optionalBool = z.boolean().nullable().optional();
const optionalMoney = decimalString.nullable().optional();

export const userDefinedFieldSchema = z.object({ name: z.string(), value: z.string().nullable() });
export type UserDefinedField = z.infer<typeof userDefinedFieldSchema>;
const udfs = z.array(userDefinedFieldSchema).nullable().optional();

/** docs/autotask.md §8.1 */
export const companySchema = z.object({
  id: int,
  companyName: z.string(),
  companyNumber: optionalString,
  companyType: optionalInt,
  phone: optionalString,
  isActive: optionalBool,
  parentCompanyID: optionalInt,
  ownerResourceID: optionalInt,
  address1: optionalString,
  address2: optionalString,
  city: optionalString,
  state: optionalString,
  postalCode: optionalString,
  countryID: optionalInt,
  webAddress: optionalString,
  taxID: optionalString,
  isTaxExempt: optionalBool,
  currencyID: optionalInt,
  createDate: optionalString,
  lastActivityDate: optionalString,
  userDefinedFields: udfs,
});
export type Company = z.infer<typeof companySchema>;

/** docs/autotask.md §8.2 */
export const contractSchema = z.object({
  id: int,
  companyID: int,
  contractName: z.string(),
  contractType: int,
  status: int,
  startDate: z.string(),
  endDate: z.string(),
  timeReportingRequiresStartAndStopTimes: optionalInt,
  contractPeriodType: optionalInt,
  contractCategory: optionalInt,
  contractNumber: optionalString,
  description: optionalString,
  billingPreference: optionalInt,
  billToCompanyID: optionalInt,
  billToCompanyContactID: optionalInt,
  contactID: optionalInt,
  contactName: optionalString,
  isDefaultContract: optionalBool,
  estimatedCost: optionalMoney,
  estimatedHours: optionalMoney,
  estimatedRevenue: optionalMoney,
  setupFee: optionalMoney,
  setupFeeBillingCodeID: optionalInt,
  overageBillingRate: optionalMoney,
  opportunityID: optionalInt,
  renewedContractID: optionalInt,
  serviceLevelAgreementID: optionalInt,
  purchaseOrderNumber: optionalString,
  organizationalLevelAssociationID: optionalInt,
  lastModifiedDateTime: optionalString,
  userDefinedFields: udfs,
});
export type Contract = z.infer<typeof contractSchema>;

/** docs/autotask.md §8.3 */
export const contractChargeSchema = z.object({
  id: int,
  contractID: int,
  name: z.string(),
  datePurchased: z.string(),
  chargeType: optionalInt,
  unitQuantity: decimalString,
  unitPrice: optionalMoney,
  unitCost: optionalMoney,
  description: optionalString,
  notes: optionalString,
  productID: optionalInt,
  billingCodeID: optionalInt,
  isBillableToCompany: optionalBool,
  isBilled: optionalBool,
  billableAmount: optionalMoney,
  extendedCost: optionalMoney,
  internalCurrencyBillableAmount: optionalMoney,
  internalCurrencyUnitPrice: optionalMoney,
  status: optionalInt,
  statusLastModifiedBy: optionalInt,
  statusLastModifiedDate: optionalString,
  purchaseOrderNumber: optionalString,
  internalPurchaseOrderNumber: optionalString,
  contractServiceID: optionalInt,
  contractServiceBundleID: optionalInt,
  organizationalLevelAssociationID: optionalInt,
  createDate: optionalString,
  creatorResourceID: optionalInt,
});
export type ContractCharge = z.infer<typeof contractChargeSchema>;

/** docs/autotask.md §8.4: reads carry internalCurrency* prices, never `adjustedPrice`. */
export const contractServiceSchema = z.object({
  id: int,
  contractID: int,
  serviceID: int,
  unitPrice: optionalMoney,
  unitCost: optionalMoney,
  internalCurrencyUnitPrice: optionalMoney,
  internalCurrencyAdjustedPrice: optionalMoney,
  invoiceDescription: optionalString,
  internalDescription: optionalString,
  quoteItemID: optionalInt,
  userDefinedFields: udfs,
});
export type ContractService = z.infer<typeof contractServiceSchema>;

/** docs/autotask.md §8.6 */
export const contractServiceUnitSchema = z.object({
  id: int,
  contractID: int,
  contractServiceID: int,
  serviceID: optionalInt,
  startDate: z.string(),
  endDate: z.string(),
  units: int,
  price: optionalMoney,
  cost: optionalMoney,
  internalCurrencyPrice: optionalMoney,
  approveAndPostDate: optionalString,
  vendorCompanyID: optionalInt,
  organizationalLevelAssociationID: optionalInt,
});
export type ContractServiceUnit = z.infer<typeof contractServiceUnitSchema>;

/** docs/autotask.md §8.7 */
export const serviceSchema = z.object({
  id: int,
  name: z.string(),
  billingCodeID: optionalInt,
  periodType: optionalInt,
  unitPrice: optionalMoney,
  unitCost: optionalMoney,
  description: optionalString,
  invoiceDescription: optionalString,
  isActive: optionalBool,
  vendorCompanyID: optionalInt,
  serviceLevelAgreementID: optionalInt,
  markupRate: optionalMoney,
  sku: optionalString,
  createDate: optionalString,
  lastModifiedDate: optionalString,
  userDefinedFields: udfs,
});
export type Service = z.infer<typeof serviceSchema>;

/** docs/autotask.md §8.9 */
export const productSchema = z.object({
  id: int,
  name: z.string(),
  description: optionalString,
  sku: optionalString,
  productBillingCodeID: optionalInt,
  chargeBillingCodeID: optionalInt,
  isActive: optionalBool,
  isSerialized: optionalBool,
  periodType: optionalInt,
  unitPrice: optionalMoney,
  unitCost: optionalMoney,
  msrp: optionalMoney,
  markupRate: optionalMoney,
  productCategory: optionalInt,
  manufacturerName: optionalString,
  manufacturerProductName: optionalString,
  vendorProductNumber: optionalString,
  externalProductID: optionalString,
  internalProductID: optionalString,
  defaultVendorID: optionalInt,
  userDefinedFields: udfs,
});
export type Product = z.infer<typeof productSchema>;

/** docs/autotask.md §8.8 */
export const billingCodeSchema = z.object({
  id: int,
  name: optionalString,
  description: optionalString,
  externalNumber: optionalString,
  billingCodeType: optionalInt,
  useType: optionalInt,
  isActive: optionalBool,
  isExcludedFromNewContracts: optionalBool,
  unitPrice: optionalMoney,
  unitCost: optionalMoney,
  markupRate: optionalMoney,
  department: optionalInt,
  generalLedgerAccount: optionalInt,
  taxCategoryID: optionalInt,
});
export type BillingCode = z.infer<typeof billingCodeSchema>;

// ------------------------------------------------------------------------------ metadata docs/autotask.md §7

export const entityInformationSchema = z.object({
  info: z.object({
    name: z.string(),
    canCreate: z.boolean(),
    canDelete: z.boolean(),
    canQuery: z.boolean(),
    canUpdate: z.boolean(),
    userAccessForCreate: z.string().nullable().optional(),
    userAccessForDelete: z.string().nullable().optional(),
    userAccessForQuery: z.string().nullable().optional(),
    userAccessForUpdate: z.string().nullable().optional(),
    hasUserDefinedFields: z.boolean().nullable().optional(),
    supportsWebhookCallouts: z.boolean().nullable().optional(),
  }),
});
export type EntityInformation = z.infer<typeof entityInformationSchema>["info"];

/** `value` is a string in metadata although the entity field is an integer (docs/autotask.md §7.1). */
export const picklistValueSchema = z.object({
  value: z.union([z.string(), z.number()]).transform(String),
  label: z.string(),
  isDefaultValue: z.boolean().nullable().optional(),
  sortOrder: z.number().nullable().optional(),
  parentValue: z.string().nullable().optional(),
  isActive: z.boolean().nullable().optional(),
  isSystem: z.boolean().nullable().optional(),
});
export type PicklistValue = z.infer<typeof picklistValueSchema>;

export const fieldInformationSchema = z.object({
  name: z.string(),
  dataType: z.string(),
  length: z.number().nullable().optional(),
  isRequired: z.boolean().nullable().optional(),
  isReadOnly: z.boolean().nullable().optional(),
  isQueryable: z.boolean().nullable().optional(),
  isReference: z.boolean().nullable().optional(),
  referenceEntityType: z.string().nullable().optional(),
  isPickList: z.boolean().nullable().optional(),
  picklistValues: z.array(picklistValueSchema).nullable().optional(),
  picklistParentValueField: z.string().nullable().optional(),
  isSupportedWebhookField: z.boolean().nullable().optional(),
});
export type FieldInformation = z.infer<typeof fieldInformationSchema>;
export const fieldsResponseSchema = z.object({ fields: z.array(fieldInformationSchema) });

export const userDefinedFieldInformationSchema = z.object({
  name: z.string(),
  label: z.string().nullable().optional(),
  type: z.string().nullable().optional(),
  length: z.number().nullable().optional(),
  description: z.string().nullable().optional(),
  isRequired: z.boolean().nullable().optional(),
  isReadOnly: z.boolean().nullable().optional(),
  isQueryable: z.boolean().nullable().optional(),
  isPickList: z.boolean().nullable().optional(),
  picklistValues: z.array(picklistValueSchema).nullable().optional(),
  defaultValue: z.string().nullable().optional(),
});
export type UserDefinedFieldInformation = z.infer<typeof userDefinedFieldInformationSchema>;
export const udfResponseSchema = z.object({ fields: z.array(userDefinedFieldInformationSchema) });

// --------------------------------------------------------------------- envelopes docs/autotask.md §4.1, §5.3

export const zoneInformationSchema = z.object({
  zoneName: z.string().nullable().optional(),
  url: z.string().min(1),
  webUrl: z.string().nullable().optional(),
  ci: z.number().nullable().optional(),
});
export type ZoneInformation = z.infer<typeof zoneInformationSchema>;

/** docs/autotask.md §10 */
export const thresholdInformationSchema = z.object({
  externalRequestThreshold: int,
  requestThresholdTimeframe: int,
  currentTimeframeRequestCount: int,
});
export type ThresholdInformation = z.infer<typeof thresholdInformationSchema>;

export const pageDetailsSchema = z.object({
  count: int,
  requestCount: int.nullable().optional(),
  prevPageUrl: z.string().nullable().optional(),
  nextPageUrl: z.string().nullable().optional(),
});
export type PageDetails = z.infer<typeof pageDetailsSchema>;

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), pageDetails: pageDetailsSchema });
}
export type QueryPage<T> = { items: T[]; pageDetails: PageDetails };

export function itemSchema<T extends z.ZodType>(item: T) {
  return z.object({ item: item.nullable() });
}
export const itemIdSchema = z.object({ itemId: int });
export const countSchema = z.object({ queryCount: int });

// ------------------------------------------------------------------------------------------- write inputs

/**
 * A calendar day `YYYY-MM-DD` (accepted for startDate/endDate/effectiveDate/datePurchased,
 * docs/autotask.md §3) or ISO datetime.
 */
export type AutotaskDate = string;

/** docs/autotask.md §8.2: `contractType` and `companyID` cannot change after create. */
export type ContractCreate = {
  companyID: number;
  contractName: string;
  contractType: number;
  status: number;
  startDate: AutotaskDate;
  endDate: AutotaskDate;
  timeReportingRequiresStartAndStopTimes: number;
  contractPeriodType?: number;
  contractCategory?: number;
  contractNumber?: string;
  description?: string;
  billingPreference?: number;
  purchaseOrderNumber?: string;
  organizationalLevelAssociationID?: number;
  setupFee?: DecimalString;
  userDefinedFields?: UserDefinedField[];
};
export type ContractUpdate = Partial<Omit<ContractCreate, "companyID" | "contractType">>;

/**
 * docs/autotask.md §8.3. `internalPurchaseOrderNumber` is absent on purpose: it carries cspsync's idempotency
 * key (idempotency.ts) and is written only by `contractCharges.create`, from its `idempotencyKey` option.
 */
export type ContractChargeCreate = {
  name: string;
  datePurchased: AutotaskDate;
  chargeType: number;
  unitQuantity: DecimalString;
  unitPrice?: DecimalString;
  unitCost?: DecimalString;
  description?: string;
  notes?: string;
  productID?: number;
  billingCodeID?: number;
  isBillableToCompany?: boolean;
  status?: number;
  purchaseOrderNumber?: string;
  contractServiceID?: number;
  organizationalLevelAssociationID?: number;
};
export type ContractChargeUpdate = Partial<ContractChargeCreate>;

/** docs/autotask.md §8.4: `adjustedPrice` is the per-unit sell price on this contract (write-only). */
export type ContractServiceCreate = {
  serviceID: number;
  adjustedPrice?: DecimalString;
  unitCost?: DecimalString;
  invoiceDescription?: string;
  internalDescription?: string;
};
/** docs/autotask.md §8.4: only these two can change after create. */
export type ContractServiceUpdate = { adjustedPrice?: DecimalString; invoiceDescription?: string };

/**
 * docs/autotask.md §8.5: `unitChange` is a signed delta; a price-only change is `unitChange: 0` with
 * `adjustedUnitPrice`.
 */
export type ContractServiceAdjustmentCreate = {
  contractID: number;
  effectiveDate: AutotaskDate;
  unitChange: number;
  serviceID?: number;
  contractServiceID?: number;
  adjustedUnitPrice?: DecimalString;
  adjustedUnitCost?: DecimalString;
  allowRepeatService?: boolean;
};

/** docs/autotask.md §8.7 */
export type ServiceCreate = {
  name: string;
  billingCodeID: number;
  periodType: number;
  unitPrice: DecimalString;
  unitCost?: DecimalString;
  description?: string;
  invoiceDescription?: string;
  isActive?: boolean;
  vendorCompanyID?: number;
  serviceLevelAgreementID?: number;
  sku?: string;
  userDefinedFields?: UserDefinedField[];
};
export type ServiceUpdate = Partial<ServiceCreate>;

/** docs/autotask.md §8.9 */
export type ProductCreate = {
  name: string;
  productBillingCodeID: number;
  isActive: boolean;
  isSerialized: boolean;
  description?: string;
  sku?: string;
  chargeBillingCodeID?: number;
  periodType?: number;
  unitPrice?: DecimalString;
  unitCost?: DecimalString;
  msrp?: DecimalString;
  productCategory?: number;
  manufacturerName?: string;
  manufacturerProductName?: string;
  vendorProductNumber?: string;
  externalProductID?: string;
  internalProductID?: string;
  defaultVendorID?: number;
  userDefinedFields?: UserDefinedField[];
};
export type ProductUpdate = Partial<ProductCreate>;

/** Input keys that are money or quantities: written as bare JSON numbers, never floats. */
export const MONEY_INPUT_KEYS = new Set([
  "setupFee",
  "unitQuantity",
  "unitPrice",
  "unitCost",
  "adjustedPrice",
  "adjustedUnitPrice",
  "adjustedUnitCost",
  "msrp",
]);

/** Field names per entity, for typed filter builders (filter.ts `filterBuilder<CompanyField>()`). */
export type CompanyField = keyof Company & string;
export type ContractField = keyof Contract & string;
export type ContractChargeField = keyof ContractCharge & string;
export type ContractServiceField = keyof ContractService & string;
export type ContractServiceUnitField = keyof ContractServiceUnit & string;
export type ServiceField = keyof Service & string;
export type ProductField = keyof Product & string;
export type BillingCodeField = keyof BillingCode & string;
