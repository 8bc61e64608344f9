import type { TableName } from "./resources.ts";
import type { CwEmulatorData, Row } from "./state.ts";
import { allocateId, emptyData } from "./state.ts";

/**
 * Deterministic seed data. `empty` holds only reference data (billing cycles, agreement types, terms, product
 * types and subcategories); `demo` adds a dozen MSP customers with CSP agreements and a Microsoft 365 catalog.
 * Ids are assigned in order, so the same seed always yields the same ids.
 */
export type SeedName = "demo" | "empty";

const SEEDED_AT = "2024-01-02T09:00:00Z";
const SEEDED_BY = "admin1";

export function seedData(seed: SeedName, codebase: string): CwEmulatorData {
  const data = emptyData(codebase);
  const insert = (table: TableName, fields: Record<string, unknown>): Row => {
    const row: Row = {
      id: allocateId(data, table),
      ...fields,
      _info: { lastUpdated: SEEDED_AT, updatedBy: SEEDED_BY },
    };
    data.tables[table].push(row);
    return row;
  };
  const reference = seedReferenceData(insert);
  if (seed === "demo") seedDemo(insert, reference);
  return data;
}

type Insert = (table: TableName, fields: Record<string, unknown>) => Row;
type ReferenceIds = {
  monthlyCycle: number;
  oneTimeCycle: number;
  net30: number;
  cspMonthlyType: number;
  cspAnnualType: number;
  managedServicesType: number;
  licensingProductType: number;
  m365Subcategory: number;
  miscSubcategory: number;
};

/**
 * Billing cycles follow the emulator's seed in docs/connectwise.md §9.5; ids vary by tenant, so cspsync must
 * find the one-time cycle by `billingOptions = "NotRecurring"`, never by id.
 */
function seedReferenceData(insert: Insert): ReferenceIds {
  const monthlyCycle = insert("billingCycles", {
    identifier: "M",
    name: "Monthly",
    billingOptions: "Monthly",
    defaultFlag: true,
  }).id;
  insert("billingCycles", {
    identifier: "Q",
    name: "Quarterly",
    billingOptions: "Quarterly",
    defaultFlag: false,
  });
  insert("billingCycles", { identifier: "Y", name: "Annual", billingOptions: "Yearly", defaultFlag: false });
  const oneTimeCycle = insert("billingCycles", {
    identifier: "OT",
    name: "One-Time",
    billingOptions: "NotRecurring",
    defaultFlag: false,
  }).id;

  const net30 = insert("billingTerms", { name: "Net 30", defaultFlag: true }).id;
  insert("billingTerms", { name: "Due on Receipt", defaultFlag: false });

  const typeDefaults = {
    inactiveFlag: false,
    prePaymentFlag: false,
    employeeCompRate: "Actual",
    employeeCompNotExceed: "Billing",
    invoicingCycle: "ContractYear",
    billTime: "Billable",
    billExpenses: "Billable",
    billProducts: "Billable",
    taxableFlag: true,
    billingTerms: { id: net30 },
  };
  const managedServicesType = insert("agreementTypes", {
    ...typeDefaults,
    name: "Managed Services",
    defaultFlag: true,
    billingCycle: { id: monthlyCycle },
    prorateFlag: true,
  }).id;
  const cspMonthlyType = insert("agreementTypes", {
    ...typeDefaults,
    name: "CSP Licensing",
    defaultFlag: false,
    billingCycle: { id: monthlyCycle },
    prorateFlag: true,
  }).id;
  const cspAnnualType = insert("agreementTypes", {
    ...typeDefaults,
    name: "CSP Licensing - Annual",
    defaultFlag: false,
    billingCycle: { id: oneTimeCycle },
    billOneTimeFlag: true,
    prorateFlag: false,
  }).id;
  insert("agreementTypes", { ...typeDefaults, name: "Block Time", defaultFlag: false, prorateFlag: false });

  // The Miscellaneous entries are what catalog syncs default to (docs/sync-behaviour.md §4.1).
  insert("productTypes", { name: "Miscellaneous", inactiveFlag: false });
  const licensingProductType = insert("productTypes", { name: "Software Licensing", inactiveFlag: false }).id;
  insert("productTypes", { name: "Service", inactiveFlag: false });
  const miscSubcategory = insert("productSubcategories", {
    name: "Miscellaneous",
    category: { id: 1, name: "Miscellaneous" },
    inactiveFlag: false,
  }).id;
  const m365Subcategory = insert("productSubcategories", {
    name: "Microsoft 365",
    category: { id: 2, name: "Cloud Services" },
    inactiveFlag: false,
  }).id;
  insert("productSubcategories", {
    name: "Azure",
    category: { id: 2, name: "Cloud Services" },
    inactiveFlag: false,
  });

  return {
    monthlyCycle,
    oneTimeCycle,
    net30,
    cspMonthlyType,
    cspAnnualType,
    managedServicesType,
    licensingProductType,
    m365Subcategory,
    miscSubcategory,
  };
}

type DemoCompany = {
  identifier: string;
  name: string;
  city: string;
  state: string;
  zip: string;
  contact: string;
};

const DEMO_COMPANIES: readonly DemoCompany[] = [
  {
    identifier: "ContosoDental",
    name: "Contoso Dental Group",
    city: "Tampa",
    state: "FL",
    zip: "33602",
    contact: "Maria Lopez",
  },
  {
    identifier: "FabrikamLogistics",
    name: "Fabrikam Logistics",
    city: "Memphis",
    state: "TN",
    zip: "38103",
    contact: "Derek Holt",
  },
  {
    identifier: "NorthwindTraders",
    name: "Northwind Traders",
    city: "Seattle",
    state: "WA",
    zip: "98101",
    contact: "Nancy Davolio",
  },
  {
    identifier: "AdventureWorks",
    name: "Adventure Works Cycles",
    city: "Bothell",
    state: "WA",
    zip: "98011",
    contact: "Rob Walters",
  },
  {
    identifier: "TailspinToys",
    name: "Tailspin Toys",
    city: "Austin",
    state: "TX",
    zip: "78701",
    contact: "Priya Raman",
  },
  {
    identifier: "WoodgroveCPA",
    name: "Woodgrove Accounting & Tax",
    city: "Columbus",
    state: "OH",
    zip: "43215",
    contact: "Ellen Park",
  },
  {
    identifier: "LitwareLegal",
    name: "Litware Legal LLP",
    city: "Hartford",
    state: "CT",
    zip: "06103",
    contact: "James O'Neil",
  },
  {
    identifier: "ProsewareEng",
    name: "Proseware Engineering",
    city: "Denver",
    state: "CO",
    zip: "80202",
    contact: "Tom Becker",
  },
  {
    identifier: "AlpineSkiHouse",
    name: "Alpine Ski House",
    city: "Park City",
    state: "UT",
    zip: "84060",
    contact: "Anna Lind",
  },
  {
    identifier: "BlueYonderVet",
    name: "Blue Yonder Veterinary Clinic",
    city: "Raleigh",
    state: "NC",
    zip: "27601",
    contact: "Sam Patel",
  },
  {
    identifier: "CohoWinery",
    name: "Coho Winery",
    city: "Napa",
    state: "CA",
    zip: "94559",
    contact: "Lucia Ortiz",
  },
  {
    identifier: "LucernePublishing",
    name: "Lucerne Publishing",
    city: "Boston",
    state: "MA",
    zip: "02108",
    contact: "Grace Kim",
  },
];

/** Illustrative prices; vendor SKUs use Microsoft's `ProductId:SkuId` form (docs/billing-data.md §3.2). */
const DEMO_CATALOG: ReadonlyArray<{
  identifier: string;
  description: string;
  vendorSku: string;
  price: string;
  cost: string;
}> = [
  {
    identifier: "M365-BASIC",
    description: "Microsoft 365 Business Basic",
    vendorSku: "CFQ7TTC0LH18:0001",
    price: "7.2",
    cost: "6",
  },
  {
    identifier: "M365-STD",
    description: "Microsoft 365 Business Standard",
    vendorSku: "CFQ7TTC0LDPB:0001",
    price: "15",
    cost: "12.5",
  },
  {
    identifier: "M365-PREM",
    description: "Microsoft 365 Business Premium",
    vendorSku: "CFQ7TTC0LCHC:0002",
    price: "26.4",
    cost: "22",
  },
  {
    identifier: "M365-E3",
    description: "Microsoft 365 E3",
    vendorSku: "CFQ7TTC0LFLX:0002",
    price: "43.2",
    cost: "36",
  },
  {
    identifier: "M365-E5",
    description: "Microsoft 365 E5",
    vendorSku: "CFQ7TTC0LFLZ:0002",
    price: "68.4",
    cost: "57",
  },
  {
    identifier: "O365-E1",
    description: "Office 365 E1",
    vendorSku: "CFQ7TTC0LF8Q:0001",
    price: "12",
    cost: "10",
  },
  {
    identifier: "O365-E3",
    description: "Office 365 E3",
    vendorSku: "CFQ7TTC0LF8R:0001",
    price: "27.6",
    cost: "23",
  },
  {
    identifier: "EXO-P1",
    description: "Exchange Online (Plan 1)",
    vendorSku: "CFQ7TTC0LH16:0001",
    price: "4.8",
    cost: "4",
  },
  {
    identifier: "PBI-PRO",
    description: "Power BI Pro",
    vendorSku: "CFQ7TTC0L3PB:0001",
    price: "16.8",
    cost: "14",
  },
  {
    identifier: "M365-PREM-ANNUAL",
    description: "Microsoft 365 Business Premium (annual)",
    vendorSku: "P1Y:A:CFQ7TTC0LCHC:0002",
    price: "316.8",
    cost: "264",
  },
  {
    identifier: "M365-STD-ANNUAL",
    description: "Microsoft 365 Business Standard (annual)",
    vendorSku: "P1Y:A:CFQ7TTC0LDPB:0001",
    price: "180",
    cost: "150",
  },
  {
    identifier: "M365-E3-ANNUAL",
    description: "Microsoft 365 E3 (annual)",
    vendorSku: "P1Y:A:CFQ7TTC0LFLX:0002",
    price: "518.4",
    cost: "432",
  },
];

const CANCELLED_AGREEMENT_COMPANIES = new Set(["TailspinToys", "CohoWinery"]);
const EXPIRED_AGREEMENT_COMPANIES = new Set(["NorthwindTraders", "LitwareLegal"]);

function seedDemo(insert: Insert, ids: ReferenceIds): void {
  const microsoft = insert("companies", {
    identifier: "Microsoft",
    name: "Microsoft Corporation",
    addressLine1: "One Microsoft Way",
    city: "Redmond",
    state: "WA",
    zip: "98052",
    isVendorFlag: true,
    deletedFlag: false,
    status: { id: 1, name: "Active" },
    customFields: [],
  }).id;

  for (const item of DEMO_CATALOG) {
    insert("catalogItems", {
      identifier: item.identifier,
      description: item.description,
      customerDescription: item.description,
      inactiveFlag: false,
      subcategory: { id: ids.m365Subcategory },
      type: { id: ids.licensingProductType },
      productClass: "NonInventory",
      unitOfMeasure: { id: 1, name: "Each" },
      price: item.price,
      cost: item.cost,
      taxableFlag: false,
      vendor: { id: microsoft },
      vendorSku: item.vendorSku,
      manufacturerPartNumber: item.vendorSku.replace(/^P1Y:A:/, ""),
      recurringFlag: true,
      dateEntered: SEEDED_AT,
      billableOption: "Billable",
      customFields: [],
    });
  }
  // A bundle, which cannot be used as an addition (docs/connectwise.md §9.6), to exercise that rule.
  insert("catalogItems", {
    identifier: "MSP-BUNDLE",
    description: "Managed workstation bundle",
    customerDescription: "Managed workstation bundle",
    inactiveFlag: false,
    subcategory: { id: ids.miscSubcategory },
    type: { id: ids.licensingProductType },
    productClass: "Bundle",
    price: "99",
    cost: "40",
    taxableFlag: true,
    dateEntered: SEEDED_AT,
    customFields: [],
  });

  DEMO_COMPANIES.forEach((company, index) => seedDemoCompany(insert, ids, company, index));
}

function seedDemoCompany(insert: Insert, ids: ReferenceIds, company: DemoCompany, index: number): void {
  const companyId = insert("companies", {
    identifier: company.identifier,
    name: company.name,
    addressLine1: `${100 + index * 7} Main Street`,
    city: company.city,
    state: company.state,
    zip: company.zip,
    country: { id: 1, name: "United States" },
    phoneNumber: `555-01${String(index).padStart(2, "0")}`,
    status: { id: 1, name: "Active" },
    deletedFlag: false,
    isVendorFlag: false,
    customFields: [],
  }).id;
  const [firstName, ...rest] = company.contact.split(" ");
  const contactId = insert("contacts", {
    firstName,
    lastName: rest.join(" "),
    company: { id: companyId },
    inactiveFlag: false,
    customFields: [],
  }).id;

  const common = {
    company: { id: companyId },
    contact: { id: contactId },
    location: { id: 2, name: "Main" },
    department: { id: 10, identifier: "Services", name: "Services" },
    noEndingDateFlag: true,
    endDate: null,
    cancelledFlag: false,
    dateCancelled: null,
    reasonCancelled: null,
    billingTerms: { id: ids.net30 },
    invoicingCycle: "ContractYear",
    employeeCompRate: "Actual",
    employeeCompNotExceed: "Billing",
    billTime: "Billable",
    billExpenses: "Billable",
    billProducts: "Billable",
    billAmount: "0",
    taxable: false,
    periodType: "Current",
    customFields: [],
  };
  insert("agreements", {
    ...common,
    name: `Microsoft CSP - ${company.name}`,
    type: { id: ids.cspMonthlyType },
    startDate: "2024-01-01T00:00:00Z",
    billStartDate: "2024-01-01T00:00:00Z",
    billingCycle: { id: ids.monthlyCycle },
    billOneTimeFlag: false,
    prorateFlag: true,
    nextInvoiceDate: "2024-02-01",
  });
  insert("agreements", {
    ...common,
    name: `Microsoft CSP Annual - ${company.name}`,
    type: { id: ids.cspAnnualType },
    startDate: "2024-01-01T00:00:00Z",
    billStartDate: "2024-01-01T00:00:00Z",
    billingCycle: { id: ids.oneTimeCycle },
    billOneTimeFlag: true,
    prorateFlag: true,
    nextInvoiceDate: null,
  });
  if (EXPIRED_AGREEMENT_COMPANIES.has(company.identifier)) {
    insert("agreements", {
      ...common,
      name: `Microsoft CSP (legacy) - ${company.name}`,
      type: { id: ids.cspMonthlyType },
      startDate: "2022-01-01T00:00:00Z",
      billStartDate: "2022-01-01T00:00:00Z",
      endDate: "2023-12-31T00:00:00Z",
      noEndingDateFlag: false,
      billingCycle: { id: ids.monthlyCycle },
      prorateFlag: true,
      nextInvoiceDate: null,
    });
  }
  if (CANCELLED_AGREEMENT_COMPANIES.has(company.identifier)) {
    insert("agreements", {
      ...common,
      name: `Managed Services - ${company.name}`,
      type: { id: ids.managedServicesType },
      startDate: "2023-06-01T00:00:00Z",
      billStartDate: "2023-06-01T00:00:00Z",
      cancelledFlag: true,
      dateCancelled: "2024-06-30T00:00:00Z",
      reasonCancelled: "Customer moved to another provider",
      billingCycle: { id: ids.monthlyCycle },
      prorateFlag: true,
      nextInvoiceDate: null,
    });
  }
}
