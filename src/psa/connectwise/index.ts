/** The ConnectWise Manage client cspsync's sync engine uses (docs/connectwise.md). */
export * from "./client.ts";
export * as conditions from "./conditions.ts";
export type { Condition } from "./conditions.ts";
export * from "./errors.ts";
export type {
  Addition,
  Agreement,
  AgreementType,
  BillCustomer,
  BillingCycle,
  CatalogItem,
  Company,
  CompanyInfo,
  CwReference,
  NamedRecord,
  SystemInfo,
} from "./schemas.ts";
