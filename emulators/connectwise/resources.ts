/**
 * Field tables of the emulated ConnectWise resources (docs/connectwise.md §8 paths, §9 schemas). One table
 * drives input validation, reference expansion, the `conditions`/`orderBy`/`fields` field resolver and JSON
 * output.
 */

export type TableName =
  | "companies"
  | "contacts"
  | "agreementTypes"
  | "billingCycles"
  | "billingTerms"
  | "agreements"
  | "additions"
  | "catalogItems"
  | "productTypes"
  | "productSubcategories";

export const TABLE_NAMES: readonly TableName[] = [
  "companies",
  "contacts",
  "agreementTypes",
  "billingCycles",
  "billingTerms",
  "agreements",
  "additions",
  "catalogItems",
  "productTypes",
  "productSubcategories",
];

export type FieldSpec = {
  type:
    | "int"
    | "decimal"
    | "string"
    | "boolean"
    | "datetime"
    | "enum"
    | "ref"
    | "literalRef"
    | "customFields"
    | "stringArray";
  values?: readonly string[];
  /** ref: the table the reference resolves into. */
  target?: TableName;
  /** ref: the keys shown next to `id` when the reference is expanded (docs/connectwise.md §9.1). */
  refKeys?: readonly ("identifier" | "name")[];
  required?: boolean;
  /** A PUT without it fails (docs/connectwise.md §9.2 "Required On Updates"). */
  requiredOnUpdate?: boolean;
  /** Computed or server-maintained: ignored on input. */
  readOnly?: boolean;
  maxLength?: number;
};

export type ResourceDef = {
  table: TableName;
  /** Path under `/apis/3.0`; additions are nested under their agreement. */
  path: string;
  /** Name used in 404 messages ("Addition recordId 5 not found."). */
  entityName: string;
  /** `resource` in validation errors and the "<x> object is invalid" message (docs/connectwise.md §7.2). */
  objectName: string;
  /** Name shown in references to rows of this table. */
  displayName: (row: Record<string, unknown>) => string | null;
  fields: Record<string, FieldSpec>;
};

const int = (extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: "int", ...extra });
const dec = (extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: "decimal", ...extra });
const str = (maxLength?: number, extra: Partial<FieldSpec> = {}): FieldSpec =>
  maxLength === undefined ? { type: "string", ...extra } : { type: "string", maxLength, ...extra };
const bool = (extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: "boolean", ...extra });
const dateTime = (extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: "datetime", ...extra });
const oneOf = (values: readonly string[], extra: Partial<FieldSpec> = {}): FieldSpec => ({
  type: "enum",
  values,
  ...extra,
});
const ref = (
  target: TableName,
  refKeys: FieldSpec["refKeys"],
  extra: Partial<FieldSpec> = {},
): FieldSpec => ({
  type: "ref",
  target,
  refKeys: refKeys ?? [],
  ...extra,
});
const literalRef = (extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: "literalRef", ...extra });
const customFields = (): FieldSpec => ({ type: "customFields" });

export const BILLABLE_OPTIONS = ["Billable", "DoNotBill", "NoCharge", "NoDefault"] as const;
export const BILL_CUSTOMER_OPTIONS = ["Billable", "DoNotBill", "NoCharge"] as const;
export const BILLING_OPTIONS = [
  "BiMonthly",
  "BiWeekly",
  "Monthly",
  "NotRecurring",
  "Quarterly",
  "SemiAnnual",
  "Weekly",
  "Yearly",
] as const;
export const AGREEMENT_STATUSES = ["Active", "Cancelled", "Expired", "Inactive"] as const;
const APPLICATION_UNITS = ["Amount", "Hours", "Incidents"] as const;
const APPLICATION_CYCLES = [
  "Contract2Weeks",
  "Contract4Weeks",
  "ContractYear",
  "CalendarMonth",
  "CalendarQuarter",
  "CalendarWeek",
  "ContractQuarter",
  "CalendarYear",
] as const;
const INVOICING_CYCLES = ["ContractYear", "CalendarYear"] as const;
const EMPLOYEE_COMP_RATES = ["Actual", "Hourly"] as const;
const EMPLOYEE_COMP_NOT_EXCEED = ["Billing", "Amount", "Percent"] as const;
export const PRODUCT_CLASSES = ["Agreement", "Bundle", "Inventory", "NonInventory", "Service"] as const;

const name = (row: Record<string, unknown>): string | null =>
  typeof row.name === "string" ? row.name : null;

/** docs/connectwise.md §9.8 */
const companies: ResourceDef = {
  table: "companies",
  path: "/company/companies",
  entityName: "Company",
  objectName: "company",
  displayName: name,
  fields: {
    identifier: str(25, { required: true }),
    name: str(50, { required: true }),
    status: literalRef(),
    addressLine1: str(50),
    addressLine2: str(50),
    city: str(50),
    state: str(50),
    zip: str(12),
    country: literalRef(),
    phoneNumber: str(30),
    faxNumber: str(30),
    website: str(255),
    territory: literalRef(),
    market: literalRef(),
    accountNumber: str(30),
    defaultContact: ref("contacts", ["name"]),
    dateAcquired: dateTime(),
    annualRevenue: dec(),
    numberOfEmployees: int(),
    leadFlag: bool(),
    unsubscribeFlag: bool(),
    vendorIdentifier: str(30),
    taxIdentifier: str(30),
    taxCode: literalRef(),
    billingTerms: ref("billingTerms", ["name"]),
    deletedFlag: bool(),
    dateDeleted: dateTime(),
    deletedBy: str(),
    isVendorFlag: bool(),
    site: literalRef(),
    integratorTags: { type: "stringArray" },
    customFields: customFields(),
  },
};

/** Contacts are only needed as the agreement's required `contact` reference (docs/connectwise.md §9.2). */
const contacts: ResourceDef = {
  table: "contacts",
  path: "/company/contacts",
  entityName: "Contact",
  objectName: "contact",
  displayName: (row) =>
    [row.firstName, row.lastName].filter((part) => typeof part === "string").join(" ") || null,
  fields: {
    firstName: str(30, { required: true }),
    lastName: str(30),
    company: ref("companies", ["identifier", "name"]),
    title: str(100),
    inactiveFlag: bool(),
    customFields: customFields(),
  },
};

/** docs/connectwise.md §9.5 */
const billingCycles: ResourceDef = {
  table: "billingCycles",
  path: "/finance/billingCycles",
  entityName: "BillingCycle",
  objectName: "billingCycle",
  displayName: name,
  fields: {
    identifier: str(5, { required: true }),
    name: str(50, { required: true }),
    defaultFlag: bool(),
    billingOptions: oneOf(BILLING_OPTIONS, { required: true }),
  },
};

const billingTerms: ResourceDef = {
  table: "billingTerms",
  path: "/finance/billingTerms",
  entityName: "BillingTerm",
  objectName: "billingTerm",
  displayName: name,
  fields: { name: str(50, { required: true }), defaultFlag: bool() },
};

/** docs/connectwise.md §9.4 */
const agreementTypes: ResourceDef = {
  table: "agreementTypes",
  path: "/finance/agreements/types",
  entityName: "AgreementType",
  objectName: "agreementType",
  displayName: name,
  fields: {
    name: str(50, { required: true }),
    prefixSuffixOption: oneOf(["Prefix", "Suffix"]),
    defaultFlag: bool(),
    inactiveFlag: bool(),
    prePaymentFlag: bool(),
    invoicePreSuffix: str(5),
    location: literalRef(),
    department: literalRef(),
    applicationUnits: oneOf(APPLICATION_UNITS),
    applicationLimit: dec(),
    applicationCycle: oneOf(APPLICATION_CYCLES),
    applicationUnlimitedFlag: bool(),
    oneTimeFlag: bool(),
    coverAgreementTimeFlag: bool(),
    coverAgreementProductFlag: bool(),
    coverAgreementExpenseFlag: bool(),
    coverSalesTaxFlag: bool(),
    carryOverUnusedFlag: bool(),
    allowOverrunsFlag: bool(),
    expiredDays: int(),
    limit: int(),
    expireWhenZero: bool(),
    chargeToFirmFlag: bool(),
    employeeCompRate: oneOf(EMPLOYEE_COMP_RATES),
    employeeCompNotExceed: oneOf(EMPLOYEE_COMP_NOT_EXCEED),
    compHourlyRate: dec(),
    compLimitAmount: dec(),
    billingCycle: ref("billingCycles", ["name"]),
    billOneTimeFlag: bool(),
    billingTerms: ref("billingTerms", ["name"]),
    invoicingCycle: oneOf(INVOICING_CYCLES),
    billAmount: dec(),
    taxableFlag: bool(),
    billTime: oneOf(BILLABLE_OPTIONS),
    billExpenses: oneOf(BILLABLE_OPTIONS),
    billProducts: oneOf(BILLABLE_OPTIONS),
    invoiceDescription: str(4000),
    integrationXRef: str(50),
    prorateFlag: bool(),
    autoInvoiceFlag: bool(),
    invoiceProratedAdditionsFlag: bool(),
  },
};

/** docs/connectwise.md §9.2 */
const agreements: ResourceDef = {
  table: "agreements",
  path: "/finance/agreements",
  entityName: "Agreement",
  objectName: "agreement",
  displayName: name,
  fields: {
    name: str(100, { required: true }),
    type: ref("agreementTypes", ["name"], { required: true }),
    company: ref("companies", ["identifier", "name"], { required: true }),
    contact: ref("contacts", ["name"], { required: true }),
    site: literalRef(),
    parentAgreement: literalRef(),
    customerPO: str(50),
    location: literalRef(),
    department: literalRef(),
    restrictLocationFlag: bool(),
    restrictDepartmentFlag: bool(),
    startDate: dateTime(),
    endDate: dateTime(),
    noEndingDateFlag: bool(),
    cancelledFlag: bool(),
    dateCancelled: dateTime(),
    reasonCancelled: str(100),
    sla: literalRef(),
    workOrder: str(20),
    internalNotes: str(),
    applicationUnits: oneOf(APPLICATION_UNITS),
    applicationLimit: dec(),
    applicationCycle: oneOf(APPLICATION_CYCLES),
    applicationUnlimitedFlag: bool(),
    oneTimeFlag: bool(),
    coverAgreementTime: bool(),
    coverAgreementProduct: bool(),
    coverAgreementExpense: bool(),
    coverSalesTax: bool(),
    carryOverUnused: bool(),
    allowOverruns: bool(),
    expireWhenZero: bool(),
    chargeToFirm: bool(),
    expiredDays: int(),
    limit: int(),
    employeeCompRate: oneOf(EMPLOYEE_COMP_RATES, { requiredOnUpdate: true }),
    employeeCompNotExceed: oneOf(EMPLOYEE_COMP_NOT_EXCEED),
    compHourlyRate: dec(),
    compLimitAmount: dec(),
    billingCycle: ref("billingCycles", ["name"]),
    billOneTimeFlag: bool(),
    billingTerms: ref("billingTerms", ["name"]),
    invoicingCycle: oneOf(INVOICING_CYCLES, { requiredOnUpdate: true }),
    billToCompany: ref("companies", ["identifier", "name"]),
    billToContact: ref("contacts", ["name"]),
    billToSite: literalRef(),
    billAmount: dec(),
    taxable: bool(),
    prorateFirstBill: dec(),
    billStartDate: dateTime(),
    taxCode: literalRef(),
    restrictDownPayment: bool(),
    prorateFlag: bool(),
    invoiceProratedAdditionsFlag: bool(),
    invoiceDescription: str(),
    topComment: bool(),
    bottomComment: bool(),
    workRole: literalRef(),
    workType: literalRef(),
    projectType: literalRef(),
    invoiceTemplate: literalRef(),
    billTime: oneOf(BILLABLE_OPTIONS, { requiredOnUpdate: true }),
    billExpenses: oneOf(BILLABLE_OPTIONS, { requiredOnUpdate: true }),
    billProducts: oneOf(BILLABLE_OPTIONS, { requiredOnUpdate: true }),
    billableTimeInvoice: bool(),
    billableExpenseInvoice: bool(),
    billableProductInvoice: bool(),
    currency: literalRef(),
    periodType: oneOf(["Current", "Future", "Both", "Undefined"]),
    autoInvoiceFlag: bool(),
    // A plain date string, not a date-time (docs/connectwise.md §4).
    nextInvoiceDate: str(),
    companyLocation: literalRef(),
    agreementStatus: oneOf(AGREEMENT_STATUSES, { readOnly: true }),
    customFields: customFields(),
  },
};

/** docs/connectwise.md §9.3 */
const additions: ResourceDef = {
  table: "additions",
  path: "/finance/agreements/:parentId/additions",
  entityName: "Addition",
  objectName: "addition",
  displayName: (row) => (typeof row.description === "string" ? row.description : null),
  fields: {
    product: ref("catalogItems", ["identifier"], { required: true }),
    quantity: dec(),
    lessIncluded: dec(),
    unitPrice: dec(),
    unitCost: dec(),
    billCustomer: oneOf(BILL_CUSTOMER_OPTIONS, { required: true }),
    effectiveDate: dateTime(),
    cancelledDate: dateTime(),
    taxableFlag: bool(),
    serialNumber: str(50),
    invoiceDescription: str(6000),
    purchaseItemFlag: bool(),
    specialOrderFlag: bool(),
    agreementId: int({ readOnly: true }),
    description: str(),
    billedQuantity: dec({ readOnly: true }),
    uom: str(),
    extPrice: dec({ readOnly: true }),
    extCost: dec({ readOnly: true }),
    margin: dec({ readOnly: true }),
    sequenceNumber: dec(),
    prorateCost: dec({ readOnly: true }),
    proratePrice: dec({ readOnly: true }),
    extendedProrateCost: dec({ readOnly: true }),
    extendedProratePrice: dec({ readOnly: true }),
    prorateCurrentPeriodFlag: bool(),
    opportunity: literalRef(),
    agreementStatus: oneOf(AGREEMENT_STATUSES, { readOnly: true }),
    invoiceGrouping: literalRef(),
    customFields: customFields(),
  },
};

/** docs/connectwise.md §9.6 */
const catalogItems: ResourceDef = {
  table: "catalogItems",
  path: "/procurement/catalog",
  entityName: "CatalogItem",
  objectName: "catalogItem",
  displayName: (row) => (typeof row.description === "string" ? row.description : null),
  fields: {
    identifier: str(60, { required: true }),
    description: str(60, { required: true }),
    inactiveFlag: bool(),
    subcategory: ref("productSubcategories", ["name"], { required: true }),
    type: ref("productTypes", ["name"], { required: true }),
    productClass: oneOf(PRODUCT_CLASSES),
    serializedFlag: bool(),
    serializedCostFlag: bool(),
    phaseProductFlag: bool(),
    unitOfMeasure: literalRef(),
    minStockLevel: int(),
    price: dec(),
    cost: dec(),
    priceAttribute: oneOf(["FixedFee", "NotToExceed", "OverrideRate", "TimeAndMaterials"]),
    taxableFlag: bool(),
    dropShipFlag: bool(),
    specialOrderFlag: bool(),
    customerDescription: str(6000, { required: true }),
    manufacturer: literalRef(),
    manufacturerPartNumber: str(50),
    vendor: ref("companies", ["identifier", "name"]),
    vendorSku: str(50),
    notes: str(),
    integrationXRef: str(50),
    recurringFlag: bool(),
    recurringOneTimeFlag: bool(),
    recurringRevenue: dec(),
    recurringCost: dec(),
    recurringBillCycle: ref("billingCycles", ["name"]),
    recurringCycleType: oneOf(INVOICING_CYCLES),
    dateEntered: str(undefined, { readOnly: true }),
    category: literalRef(),
    billableOption: oneOf(BILLABLE_OPTIONS),
    customFields: customFields(),
  },
};

/**
 * Product types and subcategories: the references a catalog item requires (docs/connectwise.md §9.6). Paths
 * are [inferred].
 */
const productTypes: ResourceDef = {
  table: "productTypes",
  path: "/procurement/types",
  entityName: "ProductType",
  objectName: "productType",
  displayName: name,
  fields: { name: str(50, { required: true }), inactiveFlag: bool() },
};

const productSubcategories: ResourceDef = {
  table: "productSubcategories",
  path: "/procurement/subcategories",
  entityName: "ProductSubCategory",
  objectName: "productSubCategory",
  displayName: name,
  fields: { name: str(50, { required: true }), category: literalRef(), inactiveFlag: bool() },
};

export const RESOURCES: Record<TableName, ResourceDef> = {
  companies,
  contacts,
  agreementTypes,
  billingCycles,
  billingTerms,
  agreements,
  additions,
  catalogItems,
  productTypes,
  productSubcategories,
};
