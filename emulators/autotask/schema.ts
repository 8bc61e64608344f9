/**
 * The emulator's field tables: every entity the sync touches, with the types, lengths, required/read-only
 * flags and picklists from docs/autotask.md §8 and §7.3. Metadata endpoints (docs/autotask.md §7), input
 * coercion, filtering and output shaping are all driven from here, so a field exists everywhere or nowhere.
 */

export type DataType =
  "integer" | "long" | "short" | "string" | "boolean" | "double" | "decimal" | "datetime";

export type PicklistEntry = { value: number; label: string; isActive?: boolean; isDefault?: boolean };

export type FieldDef = {
  name: string;
  dataType: DataType;
  length?: number;
  required?: boolean;
  readOnly?: boolean;
  /** Defaults to true. */
  queryable?: boolean;
  reference?: EntityName;
  picklist?: readonly PicklistEntry[];
  /** Date-like fields come back as "2025-08-31T00:00:00" without a zone (docs/autotask.md §3). */
  dateOnly?: boolean;
  /** Writable on create only; a different value on update is rejected (docs/autotask.md §8.2). */
  immutable?: boolean;
  /**
   * Accepted in write bodies but absent from reads, metadata and filters (ContractServices.adjustedPrice,
   * docs/autotask.md §8.4).
   */
  writeOnly?: boolean;
};

export type UdfDef = { name: string; type: "string" | "integer" | "double" | "datetime"; length: number };

export const ENTITY_NAMES = [
  "Companies",
  "Contracts",
  "ContractCharges",
  "ContractServices",
  "ContractServiceAdjustments",
  "ContractServiceUnits",
  "Services",
  "Products",
  "BillingCodes",
] as const;
export type EntityName = (typeof ENTITY_NAMES)[number];

export type EntityDef = {
  name: EntityName;
  /** Singular type name used in Autotask's messages ("... in the Contract Entity"). */
  typeName: string;
  fields: readonly FieldDef[];
  udfs: readonly UdfDef[];
  canQuery: boolean;
  canCreate: boolean;
  canUpdate: boolean;
  canDelete: boolean;
  /** Child entities are written only through `/Contracts/{id}/{sub}` (docs/autotask.md §4.1, §4.2). */
  parent?: { entity: EntityName; sub: string; rootCreate: boolean };
};

// docs/autotask.md §7.3: picklists with the confidence noted there; tenants can differ, which is why the
// client reads them from metadata instead of hard-coding these numbers.
export const CONTRACT_TYPES = {
  timeAndMaterials: 1,
  fixedPrice: 3,
  blockHours: 4,
  retainer: 6,
  recurringService: 7,
  perTicket: 8,
} as const;
const contractTypePicklist: PicklistEntry[] = [
  { value: 1, label: "Time & Materials" },
  { value: 3, label: "Fixed Price" },
  { value: 4, label: "Block Hours" },
  { value: 6, label: "Retainer" },
  { value: 7, label: "Recurring Service" },
  { value: 8, label: "Per Ticket" },
];
export const CONTRACT_STATUS = { inactive: 0, active: 1 } as const;
const contractStatusPicklist: PicklistEntry[] = [
  { value: 0, label: "Inactive" },
  { value: 1, label: "Active", isDefault: true },
];
const yesNoPicklist: PicklistEntry[] = [
  { value: 0, label: "No", isDefault: true },
  { value: 1, label: "Yes" },
];
export const PERIOD_TYPES = { oneTime: 1, monthly: 2, quarterly: 3, semiAnnual: 4, yearly: 5 } as const;
const recurringPeriodPicklist: PicklistEntry[] = [
  { value: 2, label: "Monthly", isDefault: true },
  { value: 3, label: "Quarterly" },
  { value: 4, label: "Semi-Annual" },
  { value: 5, label: "Yearly" },
];
// [?] One-Time exists for products only (docs/autotask.md §7.3).
const productPeriodPicklist: PicklistEntry[] = [{ value: 1, label: "One-Time" }, ...recurringPeriodPicklist];
const billingPreferencePicklist: PicklistEntry[] = [
  { value: 1, label: "Manual" },
  { value: 2, label: "Immediate" },
  { value: 3, label: "Timesheet" },
];
const contractCategoryPicklist: PicklistEntry[] = [
  { value: 15, label: "Managed Services" },
  { value: 16, label: "Cloud Licensing" },
  { value: 17, label: "Legacy", isActive: false },
];
export const BILLING_CODE_TYPES = { normal: 0, system: 1, nonBillable: 2 } as const;
const billingCodeTypePicklist: PicklistEntry[] = [
  { value: 0, label: "Normal" },
  { value: 1, label: "System" },
  { value: 2, label: "Non-Billable" },
];
// [?] docs/autotask.md §8.8: the six allocation-code kinds; only "2 = General Billing Code" is seen in a
// fixture, the other numbers are this emulator's choice. Clients must resolve them by label from
// /entityInformation/fields.
export const BILLING_CODE_USE_TYPES = {
  workType: 1,
  generalBillingCode: 2,
  internalTime: 3,
  expenseCategory: 4,
  milestone: 5,
  recurringContractService: 6,
} as const;
const useTypePicklist: PicklistEntry[] = [
  { value: 1, label: "Work Type" },
  { value: 2, label: "General Billing Code" },
  { value: 3, label: "Internal Time" },
  { value: 4, label: "Expense Category" },
  { value: 5, label: "Milestone" },
  { value: 6, label: "Recurring Contract Service" },
];
const companyTypePicklist: PicklistEntry[] = [
  { value: 1, label: "Customer", isDefault: true },
  { value: 2, label: "Lead" },
  { value: 3, label: "Prospect" },
  { value: 4, label: "Dead" },
  { value: 6, label: "Cancellation" },
  { value: 7, label: "Vendor" },
  { value: 8, label: "Partner" },
];
// [?] docs/autotask.md §7.3: tenant picklists; the labels are the UI's (Operational/Capitalized), the numbers
// are ours.
export const CHARGE_TYPES = { operational: 1, capitalized: 2 } as const;
const chargeTypePicklist: PicklistEntry[] = [
  { value: 1, label: "Operational", isDefault: true },
  { value: 2, label: "Capitalized" },
];
const chargeStatusPicklist: PicklistEntry[] = [
  { value: 1, label: "Pending", isDefault: true },
  { value: 2, label: "Delivered" },
];
const productCategoryPicklist: PicklistEntry[] = [
  { value: 1, label: "Software" },
  { value: 2, label: "Hardware" },
  { value: 3, label: "Cloud Subscriptions" },
];

type FieldOptions = Omit<FieldDef, "name" | "dataType">;
const id = (): FieldDef => ({ name: "id", dataType: "long", readOnly: true });
const int = (name: string, options: FieldOptions = {}): FieldDef => ({
  name,
  dataType: "integer",
  ...options,
});
const long = (name: string, options: FieldOptions = {}): FieldDef => ({ name, dataType: "long", ...options });
const str = (name: string, length: number, options: FieldOptions = {}): FieldDef => ({
  name,
  dataType: "string",
  length,
  ...options,
});
const bool = (name: string, options: FieldOptions = {}): FieldDef => ({
  name,
  dataType: "boolean",
  ...options,
});
const money = (name: string, options: FieldOptions = {}): FieldDef => ({
  name,
  dataType: "double",
  ...options,
});
const date = (name: string, options: FieldOptions = {}): FieldDef => ({
  name,
  dataType: "datetime",
  dateOnly: true,
  ...options,
});
const instant = (name: string, options: FieldOptions = {}): FieldDef => ({
  name,
  dataType: "datetime",
  ...options,
});
const picklist = (name: string, values: readonly PicklistEntry[], options: FieldOptions = {}): FieldDef => ({
  name,
  dataType: "integer",
  picklist: values,
  ...options,
});

/** docs/autotask.md §8.1 */
const companies: EntityDef = {
  name: "Companies",
  typeName: "Company",
  canQuery: true,
  canCreate: true,
  canUpdate: true,
  canDelete: false,
  udfs: [
    { name: "Number of Employees", type: "integer", length: 0 },
    { name: "Microsoft Tenant ID", type: "string", length: 100 },
  ],
  fields: [
    id(),
    str("companyName", 100, { required: true }),
    str("companyNumber", 50),
    picklist("companyType", companyTypePicklist, { required: true }),
    str("phone", 25, { required: true }),
    int("ownerResourceID", { required: true }),
    bool("isActive"),
    int("parentCompanyID", { reference: "Companies" }),
    str("address1", 150),
    str("address2", 150),
    str("city", 50),
    str("state", 25),
    str("postalCode", 20),
    int("countryID"),
    str("webAddress", 255),
    str("taxID", 50),
    bool("isTaxExempt"),
    int("currencyID"),
    instant("createDate", { readOnly: true }),
    int("createdByResourceID", { readOnly: true }),
    instant("lastActivityDate", { readOnly: true }),
    instant("lastTrackedModifiedDateTime", { readOnly: true }),
  ],
};

/** docs/autotask.md §8.2 */
const contracts: EntityDef = {
  name: "Contracts",
  typeName: "Contract",
  canQuery: true,
  canCreate: true,
  canUpdate: true,
  canDelete: false,
  udfs: [{ name: "Billing Notes", type: "string", length: 255 }],
  fields: [
    id(),
    int("companyID", { required: true, reference: "Companies", immutable: true }),
    str("contractName", 100, { required: true }),
    picklist("contractType", contractTypePicklist, { required: true, immutable: true }),
    picklist("status", contractStatusPicklist, { required: true }),
    date("startDate", { required: true }),
    date("endDate", { required: true }),
    picklist("timeReportingRequiresStartAndStopTimes", yesNoPicklist, { required: true }),
    picklist("contractPeriodType", recurringPeriodPicklist),
    picklist("contractCategory", contractCategoryPicklist),
    str("contractNumber", 50),
    str("description", 2000),
    picklist("billingPreference", billingPreferencePicklist),
    int("billToCompanyID", { reference: "Companies" }),
    int("billToCompanyContactID"),
    int("contactID"),
    str("contactName", 250),
    int("contractExclusionSetID"),
    long("exclusionContractID", { readOnly: true }),
    bool("isDefaultContract"),
    bool("isCompliant"),
    money("estimatedCost"),
    money("estimatedHours"),
    money("estimatedRevenue"),
    money("setupFee"),
    long("setupFeeBillingCodeID", { reference: "BillingCodes" }),
    money("internalCurrencySetupFee", { readOnly: true }),
    money("internalCurrencyOverageBillingRate", { readOnly: true }),
    money("overageBillingRate"),
    int("opportunityID"),
    long("renewedContractID", { reference: "Contracts" }),
    int("serviceLevelAgreementID"),
    str("purchaseOrderNumber", 50),
    int("organizationalLevelAssociationID"),
    instant("lastModifiedDateTime", { readOnly: true }),
  ],
};

/** docs/autotask.md §8.3 */
const contractCharges: EntityDef = {
  name: "ContractCharges",
  typeName: "ContractCharge",
  canQuery: true,
  canCreate: true,
  canUpdate: true,
  canDelete: true,
  parent: { entity: "Contracts", sub: "Charges", rootCreate: false },
  udfs: [],
  fields: [
    id(),
    long("contractID", { required: true, reference: "Contracts", immutable: true }),
    str("name", 100, { required: true }),
    date("datePurchased", { required: true }),
    picklist("chargeType", chargeTypePicklist, { required: true }),
    money("unitQuantity", { required: true }),
    money("unitPrice"),
    money("unitCost"),
    str("description", 2000),
    str("notes", 2000),
    long("productID", { reference: "Products" }),
    long("billingCodeID", { reference: "BillingCodes" }),
    bool("isBillableToCompany"),
    bool("isBilled", { readOnly: true }),
    money("billableAmount", { readOnly: true }),
    money("extendedCost", { readOnly: true }),
    money("internalCurrencyBillableAmount", { readOnly: true }),
    money("internalCurrencyUnitPrice", { readOnly: true }),
    { ...picklist("status", chargeStatusPicklist), dataType: "long" },
    long("statusLastModifiedBy", { readOnly: true }),
    instant("statusLastModifiedDate", { readOnly: true }),
    str("purchaseOrderNumber", 50),
    // Carries cspsync's idempotency key: see src/psa/autotask/idempotency.ts for why this field.
    str("internalPurchaseOrderNumber", 50),
    long("contractServiceID", { reference: "ContractServices" }),
    long("contractServiceBundleID"),
    int("organizationalLevelAssociationID"),
    instant("createDate", { readOnly: true }),
    long("creatorResourceID", { readOnly: true }),
  ],
};

/** docs/autotask.md §8.4 */
const contractServices: EntityDef = {
  name: "ContractServices",
  typeName: "ContractService",
  canQuery: true,
  canCreate: true,
  canUpdate: true,
  canDelete: false,
  parent: { entity: "Contracts", sub: "Services", rootCreate: false },
  udfs: [],
  fields: [
    id(),
    int("contractID", { required: true, reference: "Contracts", immutable: true }),
    int("serviceID", { required: true, reference: "Services", immutable: true }),
    money("unitPrice", { readOnly: true }),
    money("unitCost"),
    money("internalCurrencyUnitPrice", { readOnly: true }),
    money("internalCurrencyAdjustedPrice", { readOnly: true }),
    money("adjustedPrice", { writeOnly: true }),
    str("invoiceDescription", 1000),
    str("internalDescription", 100),
    long("quoteItemID", { readOnly: true }),
  ],
};

/** docs/autotask.md §8.5: create-only. */
const contractServiceAdjustments: EntityDef = {
  name: "ContractServiceAdjustments",
  typeName: "ContractServiceAdjustment",
  canQuery: false,
  canCreate: true,
  canUpdate: false,
  canDelete: false,
  parent: { entity: "Contracts", sub: "ServiceAdjustments", rootCreate: true },
  udfs: [],
  fields: [
    id(),
    int("contractID", { reference: "Contracts" }),
    int("serviceID", { reference: "Services" }),
    int("contractServiceID", { reference: "ContractServices" }),
    date("effectiveDate", { required: true }),
    int("unitChange"),
    money("adjustedUnitPrice"),
    money("adjustedUnitCost"),
    bool("allowRepeatService"),
    int("quoteItemID"),
  ],
};

/** docs/autotask.md §8.6: read-only, rebuilt from adjustments. */
const contractServiceUnits: EntityDef = {
  name: "ContractServiceUnits",
  typeName: "ContractServiceUnit",
  canQuery: true,
  canCreate: false,
  canUpdate: false,
  canDelete: false,
  parent: { entity: "Contracts", sub: "ServiceUnits", rootCreate: false },
  udfs: [],
  fields: [
    id(),
    int("contractID", { readOnly: true }),
    int("contractServiceID", { readOnly: true }),
    int("serviceID", { readOnly: true }),
    date("startDate", { readOnly: true }),
    date("endDate", { readOnly: true }),
    int("units", { readOnly: true }),
    money("price", { readOnly: true }),
    money("cost", { readOnly: true }),
    money("internalCurrencyPrice", { readOnly: true }),
    instant("approveAndPostDate", { readOnly: true }),
    int("vendorCompanyID", { readOnly: true }),
    int("organizationalLevelAssociationID", { readOnly: true }),
  ],
};

/** docs/autotask.md §8.7 */
const services: EntityDef = {
  name: "Services",
  typeName: "Service",
  canQuery: true,
  canCreate: true,
  canUpdate: true,
  canDelete: false,
  udfs: [],
  fields: [
    id(),
    // [?] docs/autotask.md §8.7: 100 characters, as learned by a production sync (SOAP metadata says 150);
    // switchable.
    str("name", 100, { required: true }),
    int("billingCodeID", { required: true, reference: "BillingCodes" }),
    picklist("periodType", recurringPeriodPicklist, { required: true }),
    money("unitPrice", { required: true }),
    money("unitCost"),
    str("description", 400),
    str("invoiceDescription", 1000),
    bool("isActive"),
    int("vendorCompanyID", { reference: "Companies" }),
    long("serviceLevelAgreementID"),
    money("markupRate", { readOnly: true }),
    str("sku", 50),
    instant("createDate", { readOnly: true }),
    instant("lastModifiedDate", { readOnly: true }),
    int("creatorResourceID", { readOnly: true }),
    int("updateResourceID", { readOnly: true }),
  ],
};

/** docs/autotask.md §8.9 */
const products: EntityDef = {
  name: "Products",
  typeName: "Product",
  canQuery: true,
  canCreate: true,
  canUpdate: true,
  canDelete: false,
  udfs: [],
  fields: [
    id(),
    str("name", 100, { required: true }),
    str("description", 2000),
    str("sku", 50),
    int("productBillingCodeID", { required: true, reference: "BillingCodes" }),
    int("chargeBillingCodeID", { reference: "BillingCodes" }),
    bool("isActive", { required: true }),
    bool("isSerialized", { required: true }),
    picklist("periodType", productPeriodPicklist),
    money("unitPrice"),
    money("unitCost"),
    money("msrp"),
    money("markupRate", { readOnly: true }),
    picklist("productCategory", productCategoryPicklist),
    str("manufacturerName", 100),
    str("manufacturerProductName", 50),
    str("vendorProductNumber", 50),
    str("externalProductID", 50),
    str("internalProductID", 50),
    int("defaultVendorID", { reference: "Companies" }),
    str("link", 500),
    bool("doesNotRequireProcurement"),
    bool("isEligibleForRma"),
  ],
};

/** docs/autotask.md §8.8: query only. */
const billingCodes: EntityDef = {
  name: "BillingCodes",
  typeName: "BillingCode",
  canQuery: true,
  canCreate: false,
  canUpdate: false,
  canDelete: false,
  udfs: [],
  fields: [
    id(),
    str("name", 200),
    str("description", 500),
    str("externalNumber", 100),
    picklist("billingCodeType", billingCodeTypePicklist),
    picklist("useType", useTypePicklist),
    bool("isActive"),
    bool("isExcludedFromNewContracts"),
    money("unitPrice"),
    money("unitCost"),
    money("markupRate", { readOnly: true }),
    int("department"),
    int("generalLedgerAccount"),
    int("taxCategoryID"),
    int("afterHoursWorkType"),
  ],
};

export const ENTITIES: Record<EntityName, EntityDef> = {
  Companies: companies,
  Contracts: contracts,
  ContractCharges: contractCharges,
  ContractServices: contractServices,
  ContractServiceAdjustments: contractServiceAdjustments,
  ContractServiceUnits: contractServiceUnits,
  Services: services,
  Products: products,
  BillingCodes: billingCodes,
};

const entityByLowerName = new Map(ENTITY_NAMES.map((name) => [name.toLowerCase(), name]));

/** URL entity names are case-insensitive (docs/autotask.md §3). */
export function resolveEntityName(urlName: string): EntityName | undefined {
  return entityByLowerName.get(urlName.toLowerCase());
}

/** Field names are case-insensitive on input (docs/autotask.md §3). */
export function findField(entity: EntityDef, name: string): FieldDef | undefined {
  const lower = name.toLowerCase();
  return entity.fields.find((field) => field.name.toLowerCase() === lower);
}

export function findUdf(entity: EntityDef, name: string): UdfDef | undefined {
  const lower = name.toLowerCase();
  return entity.udfs.find((udf) => udf.name.toLowerCase() === lower);
}

export function readableFields(entity: EntityDef): FieldDef[] {
  return entity.fields.filter((field) => !field.writeOnly);
}

export function isNumericType(type: DataType): boolean {
  return type === "integer" || type === "long" || type === "short" || type === "double" || type === "decimal";
}

export function isIntegerType(type: DataType): boolean {
  return type === "integer" || type === "long" || type === "short";
}
