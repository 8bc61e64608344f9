import {
  createCompany,
  createContract,
  createContractCharge,
  createContractService,
  createProduct,
  createService,
  createServiceAdjustment,
} from "./rules.ts";
import type { WriteContext } from "./rules.ts";
import {
  BILLING_CODE_TYPES,
  BILLING_CODE_USE_TYPES,
  CHARGE_TYPES,
  CONTRACT_STATUS,
  CONTRACT_TYPES,
  PERIOD_TYPES,
} from "./schema.ts";
import type { AutotaskStore, NewRow } from "./store.ts";

/**
 * Seeds for the emulator (docs/autotask.md §12 "State"). Everything goes through the same write rules as API
 * calls, so seeded data obeys them; ids are deterministic because inserts happen in a fixed order. Contract
 * dates are relative to the emulator's clock year so "current" and "expired" stay true over time.
 */
export type SeedName = "demo" | "empty";

export const API_USER_RESOURCE_ID = 29682885;

const RESOURCES = [
  { id: API_USER_RESOURCE_ID, name: "cspsync API User", isActive: true },
  { id: 29682886, name: "Alex Morgan", isActive: true },
  { id: 29682887, name: "Jamie Chen", isActive: true },
  { id: 29682888, name: "Former Technician", isActive: false },
];

type BillingCodeSeed = {
  name: string;
  useType: number;
  billingCodeType?: number;
  isActive?: boolean;
  unitPrice?: string | null;
  unitCost?: string | null;
  externalNumber?: string;
};

const BILLING_CODES: BillingCodeSeed[] = [
  { name: "Recurring Contract Services", useType: BILLING_CODE_USE_TYPES.recurringContractService },
  {
    name: "Microsoft CSP Licensing",
    useType: BILLING_CODE_USE_TYPES.recurringContractService,
    externalNumber: "4010",
  },
  {
    name: "Azure Consumption",
    useType: BILLING_CODE_USE_TYPES.recurringContractService,
    externalNumber: "4020",
  },
  { name: "Legacy Hosting", useType: BILLING_CODE_USE_TYPES.recurringContractService, isActive: false },
  { name: "Software Licences", useType: BILLING_CODE_USE_TYPES.generalBillingCode, externalNumber: "4100" },
  { name: "Hardware", useType: BILLING_CODE_USE_TYPES.generalBillingCode, externalNumber: "4200" },
  { name: "Remote Support", useType: BILLING_CODE_USE_TYPES.workType, unitPrice: "150", unitCost: "55" },
  { name: "Onsite Support", useType: BILLING_CODE_USE_TYPES.workType, unitPrice: "175", unitCost: "60" },
  { name: "Internal Administration", useType: BILLING_CODE_USE_TYPES.internalTime, billingCodeType: 2 },
  { name: "Travel Expenses", useType: BILLING_CODE_USE_TYPES.expenseCategory },
  { name: "Project Milestone", useType: BILLING_CODE_USE_TYPES.milestone },
  {
    name: "Block Hour Purchase",
    useType: BILLING_CODE_USE_TYPES.generalBillingCode,
    billingCodeType: BILLING_CODE_TYPES.system,
  },
  {
    name: "Retainer Purchase",
    useType: BILLING_CODE_USE_TYPES.generalBillingCode,
    billingCodeType: BILLING_CODE_TYPES.system,
  },
  {
    name: "Incident Purchase",
    useType: BILLING_CODE_USE_TYPES.generalBillingCode,
    billingCodeType: BILLING_CODE_TYPES.system,
  },
];

const CUSTOMERS = [
  { name: "Harborview Dental Group", city: "Seattle", state: "WA", employees: 42 },
  { name: "Bluewater Logistics Ltd", city: "Tacoma", state: "WA", employees: 118 },
  { name: "Summit Ridge Accounting", city: "Boise", state: "ID", employees: 27 },
  { name: "Maple Lane Veterinary Clinic", city: "Portland", state: "OR", employees: 19 },
  { name: "Ironclad Engineering", city: "Spokane", state: "WA", employees: 64 },
  { name: "Cedar & Pine Legal LLP", city: "Eugene", state: "OR", employees: 35 },
  { name: "Brightpath Learning Academy", city: "Salem", state: "OR", employees: 88 },
  { name: "Northgate Property Management", city: "Bellevue", state: "WA", employees: 23 },
  { name: "Silverline Architects", city: "Vancouver", state: "WA", employees: 31 },
  { name: "Oakridge Family Medicine", city: "Olympia", state: "WA", employees: 56 },
  { name: "Redwood Manufacturing Co.", city: "Medford", state: "OR", employees: 204 },
  { name: "Lakeside Hospitality Group", city: "Coeur d'Alene", state: "ID", employees: 147 },
];

type ServiceSeed = {
  name: string;
  sku: string;
  price: string;
  cost: string;
  code: string;
  isActive?: boolean;
};
const SERVICES: ServiceSeed[] = [
  {
    name: "Microsoft 365 Business Premium",
    sku: "CFQ7TTC0LCHC:0002",
    price: "34.55",
    cost: "28.19",
    code: "Microsoft CSP Licensing",
  },
  {
    name: "Microsoft 365 Business Basic",
    sku: "CFQ7TTC0LH18:0001",
    price: "8.1",
    cost: "6.0",
    code: "Microsoft CSP Licensing",
  },
  {
    name: "Microsoft 365 E3",
    sku: "CFQ7TTC0LFLX:0002",
    price: "50.4",
    cost: "39.6",
    code: "Microsoft CSP Licensing",
  },
  {
    name: "Exchange Online (Plan 1)",
    sku: "CFQ7TTC0LH16:0001",
    price: "5.4",
    cost: "4.0",
    code: "Microsoft CSP Licensing",
  },
  {
    name: "Microsoft Defender for Business",
    sku: "CFQ7TTC0LCHC:0003",
    price: "4.3",
    cost: "3.0",
    code: "Microsoft CSP Licensing",
  },
  {
    name: "Azure Plan Consumption",
    sku: "DZH318Z0BPS6:0001",
    price: "0",
    cost: "0",
    code: "Azure Consumption",
  },
  {
    name: "Managed Workstation",
    sku: "MSP-WS",
    price: "45",
    cost: "12.5",
    code: "Recurring Contract Services",
  },
  { name: "Managed Server", sku: "MSP-SRV", price: "150", cost: "40", code: "Recurring Contract Services" },
  {
    name: "Legacy Backup (retired)",
    sku: "MSP-BKP-OLD",
    price: "20",
    cost: "9",
    code: "Recurring Contract Services",
    isActive: false,
  },
];

type ProductSeed = {
  name: string;
  sku: string;
  price: string;
  cost: string;
  code: string;
  periodType: number;
};
const PRODUCTS: ProductSeed[] = [
  {
    name: "Microsoft 365 Business Premium (Annual)",
    sku: "CFQ7TTC0LCHC:0002:P1Y",
    price: "414.6",
    cost: "338.28",
    code: "Software Licences",
    periodType: PERIOD_TYPES.yearly,
  },
  {
    name: "Microsoft 365 E3 (Annual)",
    sku: "CFQ7TTC0LFLX:0002:P1Y",
    price: "604.8",
    cost: "475.2",
    code: "Software Licences",
    periodType: PERIOD_TYPES.yearly,
  },
  {
    name: "Microsoft Teams Rooms Pro (Annual)",
    sku: "CFQ7TTC0QW7C:0001:P1Y",
    price: "480",
    cost: "400",
    code: "Software Licences",
    periodType: PERIOD_TYPES.yearly,
  },
  {
    name: "Dell Latitude 5450",
    sku: "DL-5450",
    price: "1399",
    cost: "1120",
    code: "Hardware",
    periodType: PERIOD_TYPES.oneTime,
  },
];

export function seedState(ctx: WriteContext, seed: SeedName): void {
  const store = ctx.store;
  store.clear();
  store.resources = RESOURCES.map((resource) => ({ ...resource }));
  const codes = seedBillingCodes(store);
  if (seed === "empty") return;
  seedDemo(ctx, codes);
}

function seedBillingCodes(store: AutotaskStore): Map<string, number> {
  const ids = new Map<string, number>();
  for (const code of BILLING_CODES) {
    const row: NewRow = {
      name: code.name,
      description: `${code.name} (demo)`,
      externalNumber: code.externalNumber ?? null,
      billingCodeType: code.billingCodeType ?? BILLING_CODE_TYPES.normal,
      useType: code.useType,
      isActive: code.isActive ?? true,
      isExcludedFromNewContracts: false,
      unitPrice: code.unitPrice ?? null,
      unitCost: code.unitCost ?? null,
      markupRate: null,
      department: null,
      generalLedgerAccount: null,
      taxCategoryID: null,
      afterHoursWorkType: null,
      userDefinedFields: [],
    };
    ids.set(code.name, store.insert("BillingCodes", row).id);
  }
  return ids;
}

function codeId(codes: Map<string, number>, name: string): number {
  const id = codes.get(name);
  if (id === undefined) throw new Error(`seed: unknown billing code ${name}`);
  return id;
}

/** A deterministic GUID-shaped tenant id per company (a UDF the sync can map on). */
function tenantIdFor(index: number): string {
  const hex = (index + 1).toString(16).padStart(12, "0");
  return `7d3a9c10-4b2e-4f61-9a0c-${hex}`;
}

function seedDemo(ctx: WriteContext, codes: Map<string, number>): void {
  const year = ctx.now().getUTCFullYear();
  const current = { startDate: `${year - 1}-01-01`, endDate: `${year + 1}-12-31` };
  const expired = { startDate: `${year - 3}-01-01`, endDate: `${year - 2}-12-31` };

  const microsoftId = createCompany(ctx, {
    companyName: "Microsoft Corporation",
    companyType: 7,
    phone: "+1 425 882 8080",
    ownerResourceID: API_USER_RESOURCE_ID,
    city: "Redmond",
    state: "WA",
  });
  const serviceIds = SERVICES.map((service) =>
    createService(ctx, {
      name: service.name,
      sku: service.sku,
      description: `${service.name} (per user, per month)`,
      unitPrice: service.price,
      unitCost: service.cost,
      periodType: PERIOD_TYPES.monthly,
      billingCodeID: codeId(codes, service.code),
      isActive: service.isActive ?? true,
      vendorCompanyID: service.code === "Recurring Contract Services" ? null : microsoftId,
    }),
  );
  const productIds = PRODUCTS.map((product) =>
    createProduct(ctx, {
      name: product.name,
      sku: product.sku,
      unitPrice: product.price,
      unitCost: product.cost,
      productBillingCodeID: codeId(codes, product.code),
      periodType: product.periodType,
      isActive: true,
      isSerialized: product.periodType === PERIOD_TYPES.oneTime,
      productCategory: product.periodType === PERIOD_TYPES.oneTime ? 2 : 3,
      manufacturerName: product.code === "Hardware" ? "Dell" : "Microsoft",
    }),
  );

  CUSTOMERS.forEach((customer, index) => {
    const companyId = createCompany(ctx, {
      companyName: customer.name,
      companyNumber: `C${String(index + 1).padStart(4, "0")}`,
      companyType: 1,
      phone: `+1 555 01${String(index + 10).padStart(2, "0")}`,
      ownerResourceID: index % 2 === 0 ? 29682886 : 29682887,
      isActive: true,
      city: customer.city,
      state: customer.state,
      userDefinedFields: [
        { name: "Number of Employees", value: String(customer.employees) },
        { name: "Microsoft Tenant ID", value: tenantIdFor(index) },
      ],
    });
    seedCustomerContracts(ctx, { companyId, index, current, expired, serviceIds, productIds, codes });
  });

  createCompany(ctx, {
    companyName: "Old Mill Bakery",
    companyType: 6,
    phone: "+1 555 0199",
    ownerResourceID: 29682886,
    isActive: false,
  });
  createCompany(ctx, {
    companyName: "Greenfield Solar",
    companyType: 3,
    phone: "+1 555 0198",
    ownerResourceID: 29682887,
  });
}

type CustomerSeed = {
  companyId: number;
  index: number;
  current: { startDate: string; endDate: string };
  expired: { startDate: string; endDate: string };
  serviceIds: number[];
  productIds: number[];
  codes: Map<string, number>;
};

function serviceAt(ids: number[], index: number): number {
  const id = ids[index % ids.length];
  if (id === undefined) throw new Error("seed: no services");
  return id;
}

function seedCustomerContracts(ctx: WriteContext, seed: CustomerSeed): void {
  const { companyId, index, current, expired } = seed;
  const number = String(index + 1).padStart(4, "0");
  const recurringId = createContract(ctx, {
    companyID: companyId,
    contractName: "Managed Services & Microsoft Cloud",
    contractNumber: `CSP-RS-${number}`,
    contractType: CONTRACT_TYPES.recurringService,
    status: CONTRACT_STATUS.active,
    contractPeriodType: PERIOD_TYPES.monthly,
    contractCategory: 15,
    billingPreference: 2,
    timeReportingRequiresStartAndStopTimes: 0,
    ...current,
  });
  // Two seat-based services per recurring contract, with units set by an adjustment at the contract start.
  [0, 1].forEach((offset) => {
    const serviceId = serviceAt(seed.serviceIds, index + offset * 2);
    createContractService(ctx, recurringId, { contractID: recurringId, serviceID: serviceId });
    createServiceAdjustment(ctx, recurringId, {
      serviceID: serviceId,
      unitChange: 5 + ((index * 7 + offset * 3) % 40),
      effectiveDate: current.startDate,
    });
  });

  const fixedId = createContract(ctx, {
    companyID: companyId,
    contractName: "Microsoft Annual Subscriptions",
    contractNumber: `CSP-FP-${number}`,
    contractType: CONTRACT_TYPES.fixedPrice,
    status: CONTRACT_STATUS.active,
    contractCategory: 16,
    timeReportingRequiresStartAndStopTimes: 0,
    setupFee: "0",
    ...current,
  });
  if (index < 4) {
    const productId = seed.productIds[index % 3];
    const product = PRODUCTS[index % 3];
    const chargeId = createContractCharge(ctx, fixedId, {
      name: "Annual subscription renewal",
      description: "Microsoft annual subscription (12 months)",
      datePurchased: `${current.startDate.slice(0, 4)}-03-01`,
      chargeType: CHARGE_TYPES.operational,
      unitQuantity: String(3 + index),
      productID: productId,
      unitCost: product?.cost ?? null,
      isBillableToCompany: true,
    });
    // The first two customers' charges are already invoiced, to exercise the "billed" rules
    // (docs/autotask.md §8.3).
    if (index < 2) markChargeBilled(ctx.store, chargeId);
  }

  if (index < 3) {
    createContract(ctx, {
      companyID: companyId,
      contractName: "Managed Services (previous term)",
      contractNumber: `CSP-RS-${number}-OLD`,
      contractType: CONTRACT_TYPES.recurringService,
      status: CONTRACT_STATUS.active,
      contractPeriodType: PERIOD_TYPES.monthly,
      timeReportingRequiresStartAndStopTimes: 0,
      ...expired,
    });
  } else if (index < 5) {
    createContract(ctx, {
      companyID: companyId,
      contractName: "Microsoft Cloud (cancelled)",
      contractNumber: `CSP-RS-${number}-X`,
      contractType: CONTRACT_TYPES.recurringService,
      status: CONTRACT_STATUS.inactive,
      contractPeriodType: PERIOD_TYPES.monthly,
      timeReportingRequiresStartAndStopTimes: 0,
      ...current,
    });
  } else if (index === 5) {
    createContract(ctx, {
      companyID: companyId,
      contractName: "Block Hours 2024",
      contractType: CONTRACT_TYPES.blockHours,
      status: CONTRACT_STATUS.active,
      timeReportingRequiresStartAndStopTimes: 1,
      ...current,
    });
  } else if (index === 6) {
    createContract(ctx, {
      companyID: companyId,
      contractName: "Time & Materials",
      contractType: CONTRACT_TYPES.timeAndMaterials,
      status: CONTRACT_STATUS.active,
      timeReportingRequiresStartAndStopTimes: 0,
      ...current,
    });
  }
}

/** Invoicing is outside the API; tests and the seed flip the flag directly. */
export function markChargeBilled(store: AutotaskStore, chargeId: number): void {
  const charge = store.get("ContractCharges", chargeId);
  if (!charge) throw new Error(`no contract charge ${chargeId}`);
  store.put("ContractCharges", { ...charge, isBilled: true });
}
