import type { BillingMotion } from "../core/billing.ts";
import type { PlannedLine } from "../core/annual-plan.ts";
import type { AzureMonthLine } from "../core/azure-plan.ts";
import type { MonthlyMapping, MonthlyTimelines } from "../core/monthly-plan.ts";
import type { PriceChanges, ProductPlanItem, PsaCatalogRecord } from "../core/product-plan.ts";
import type { MatchedRecord } from "../core/product-words.ts";
import type { AutotaskCatalogSettings } from "./autotask/catalog-settings.ts";
import type { ConnectWiseCatalogSettings } from "./connectwise/catalog-settings.ts";
import type { RequestBudget } from "./shared/transport.ts";
import { AppError } from "../core/errors.ts";

/**
 * The PSA port: everything cspsync's services need from a PSA, whichever vendor it is, declared here and
 * implemented by the vendor adapters (connectwise/, autotask/) on top of their clients. The services never see
 * vendor payloads and never import a vendor module; the one factory (factory.ts) builds a PsaConnection per
 * stored connection, whose targets all share one client, so one connection has one rate and concurrency budget.
 */
export type PsaVendor = "connectwise" | "autotask";

export type PsaCompany = { id: string; name: string; identifier?: string };

export type TargetValidity = { ok: true } | { ok: false; reason: string };

export type PsaAgreement = {
  id: string;
  name: string;
  companyId: string;
  /** Vendor words for the kind of agreement/contract, e.g. "One-Time billing cycle" or "Fixed Price". */
  type: string;
  billingCycle: string | null;
  startDate: string | null;
  endDate: string | null;
  status: string;
  validFor: Record<BillingMotion, TargetValidity>;
};

export type ConnectionTest = {
  ok: boolean;
  message: string;
  /** A failed test's technical account (request, status, the PSA's own text), apart from the message. */
  detail?: string;
  checks: { name: string; ok: boolean; message: string }[];
};

export type ProductMatch =
  | {
      ok: true;
      productRef: string;
      label: string;
      /**
       * The matched product record and its own name, to check against the charge's product name (see
       * core/product-words.ts); absent when the match is no product (an Autotask billing code).
       */
      record?: MatchedRecord;
    }
  | { ok: false; reason: string };

export type WrittenRecord = { recordId: string };

/** A record in the PSA that carries a cspsync write key (see KeyedRecordSource). */
export type KeyedRecord = {
  writeKey: string;
  recordId: string;
  /** Whether the customer has been invoiced for it; null when the PSA cannot say. */
  billed: boolean | null;
  /** When the PSA created it, as the PSA wrote it; null when the PSA does not say. */
  createdAt: string | null;
  description: string;
};

/**
 * Any record on an agreement/contract as the reconciliation report reads it back (docs/reports.md §3): with
 * cspsync's write key when it carries one, null when someone else added it. Amounts as the PSA holds them now.
 */
export type AgreementRecord = {
  recordId: string;
  writeKey: string | null;
  /** The PSA product it bills (catalog item / product / billing code id); null when it names none. */
  productRef: string | null;
  productLabel: string | null;
  description: string;
  quantity: string | null;
  unitPrice: string | null;
  unitCost: string | null;
  /** When it starts billing and (ConnectWise) when it was cancelled; YYYY-MM-DD or null. */
  effectiveDate: string | null;
  endDate: string | null;
};

/** Reads, without changing anything, every record on one agreement/contract (issue: reconciliation report). */
export interface AgreementRecordReader {
  listAgreementRecords(targetId: string): Promise<AgreementRecord[]>;
}

/** "removed": the record is no longer in the PSA; otherwise it is still there, and why. */
export type RemoveOutcome = "removed" | { kept: string };

/** How the run history names what a source lists, e.g. agreement / additions. */
export type KeyedRecordNames = { target: string; records: string };

/**
 * Reads back every record cspsync stamped with a write key on one agreement/contract, so records that carry
 * the same key more than once (double billing) can be found, and removes a later copy where the PSA allows
 * it and nobody has been invoiced for it yet.
 */
export interface KeyedRecordSource {
  readonly keyedRecordNames?: KeyedRecordNames;
  /** Every record on the agreement/contract that carries a cspsync write key, in as few requests as the PSA allows. */
  listKeyedRecords(targetId: string): Promise<KeyedRecord[]>;
  /**
   * Deletes a record cspsync created (it must carry a write key) when the PSA allows it and it has not been
   * invoiced; anything else is kept, with the reason.
   */
  removeRecord(targetId: string, recordId: string): Promise<RemoveOutcome>;
}

/**
 * The PSA lists the settings pick from instead of asking for raw ids: Autotask billing codes (allocation
 * codes), products and vendors (companies of type Vendor); ConnectWise product subcategories and types.
 */
export const PSA_OPTION_KINDS = {
  autotask: ["billing-codes", "products", "vendors"],
  connectwise: ["subcategories", "product-types"],
} as const;
export type PsaOptionKind = (typeof PSA_OPTION_KINDS)[keyof typeof PSA_OPTION_KINDS][number];
/** One choice: its id as stored in the settings, its name, and a detail that tells similar names apart. */
export type PsaOption = { id: string; name: string; detail?: string };

/** A pick list holds at most this many choices; a search narrows a longer one. */
export const MAX_OPTIONS = 200;

/** A list the connection's vendor does not have (subcategories on Autotask, vendors on ConnectWise). */
export class PsaOptionKindError extends Error {
  readonly kind: string;
  constructor(kind: string, vendor: "connectwise" | "autotask") {
    const names = PSA_OPTION_KINDS[vendor].join(", ");
    super(`${vendor === "autotask" ? "Autotask" : "ConnectWise"} has no ${kind} list here; it has ${names}`);
    this.name = "PsaOptionKindError";
    this.kind = kind;
  }
}

export interface PsaAdapter extends KeyedRecordSource, Partial<AgreementRecordReader> {
  readonly vendor: "connectwise" | "autotask";
  /** How many writes may be in flight at once without tripping the PSA's limits. */
  readonly writeConcurrency: number;
  /** How many entries a run may plan (check) at once; 1 when absent. */
  readonly planConcurrency?: number;
  testConnection(): Promise<ConnectionTest>;
  searchCompanies(name: string): Promise<PsaCompany[]>;
  getCompany(id: string): Promise<PsaCompany | null>;
  listAgreements(companyId: string): Promise<PsaAgreement[]>;
  /** Active records of one kind this vendor has (see PSA_OPTION_KINDS) whose name contains `search`, by name. */
  listOptions(kind: PsaOptionKind, search: string): Promise<PsaOption[]>;
  /** Re-reads the agreement/contract and says whether annual charges may be written to it, and how to fix it if not. */
  checkAnnualTarget(
    companyId: string,
    agreementId: string,
  ): Promise<{ ok: true; agreement: PsaAgreement } | { ok: false; reason: string }>;
  /** Finds the PSA product a planned line is billed as (catalog item, product or billing code). */
  matchProduct(
    line: Pick<PlannedLine, "productId" | "skuId">,
    spellings?: (productId: string, skuId: string) => string[],
  ): Promise<ProductMatch>;
  /** Looks a write up by its idempotency key, as stamped into the PSA record. */
  findAnnualLine(agreementId: string, writeKey: string): Promise<WrittenRecord | null>;
  /** Creates the addition / contract charge, stamping `line.writeKey` into it. */
  writeAnnualLine(
    agreementId: string,
    line: PlannedLine,
    product: Extract<ProductMatch, { ok: true }>,
  ): Promise<WrittenRecord>;
  /** HTTP requests sent so far (benchmarks and run records). */
  requestCount(): number;
}

// ------------------------------------------------------------------------------------------ connection

/** How the ConnectWise adapter finds a product's catalog item, and the item used when none matches. */
export type ConnectWiseAdapterSettings = {
  catalogMatch: "identifier" | "vendor-sku" | "either";
  fallbackCatalogItem?: string;
};

/** The Autotask product (or else billing code) annual contract charges use, and the Azure service. */
export type AutotaskAdapterSettings = { chargeProductId?: number; chargeBillingCodeId?: number };
export type AutotaskAzureSettings = AutotaskAdapterSettings & { azureServiceId?: number };

/**
 * What the factory needs of a stored connection (the connection service's decoded details satisfy it): where
 * the PSA is, the credentials, and the settings the adapters read.
 */
export type PsaConnectionDetails =
  | {
      vendor: "connectwise";
      config: { site: string; companyId: string; publicKey: string; clientId: string };
      secrets: { privateKey: string };
      settings: ConnectWiseAdapterSettings;
    }
  | {
      vendor: "autotask";
      config: { username: string; discoveryUrl?: string };
      secrets: { secret: string; integrationCode: string };
      settings: AutotaskAzureSettings;
    };

export type AdapterOptions = {
  allowedHosts: readonly string[];
  /**
   * Overrides for tests and benchmarks (retry timing; production uses the clients' defaults), and the
   * connection's request budget: one per connection per process, so every client of it shares one
   * concurrency cap and one rate (src/psa/shared/transport.ts, RequestBudgets).
   */
  transport?: {
    maxAttempts?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
    timeoutMs?: number;
    budget?: RequestBudget;
  };
};

/** The product catalog settings of one vendor (parsed from the connection's settings by the product sync). */
export type CatalogSettings =
  | { vendor: "connectwise"; catalog: ConnectWiseCatalogSettings }
  | { vendor: "autotask"; catalog: AutotaskCatalogSettings };

/**
 * One stored PSA connection: a target per billing motion and the product catalog, all on ONE client, so every
 * request of the connection goes through one rate limit and one concurrency cap, whatever the motion.
 */
export interface PsaConnection {
  readonly vendor: PsaVendor;
  /** Connection-level reads (companies, agreements, pick lists, the connection test) and the annual motion. */
  readonly annual: PsaAdapter;
  readonly monthly: MonthlyPsaTarget<MonthlyLine>;
  readonly azure: AzurePsaTarget;
  /** The product catalog sync's side, with its settings; built on the same client. */
  catalog(settings: CatalogSettings): CatalogTarget;
  /** HTTP requests the connection's client has sent so far, all motions together. */
  requestCount(): number;
}

// ------------------------------------------------------------------------------------------ Azure Plan motion

/** What the Azure sync needs from a PSA; each vendor implements it next to its adapter. */
export interface AzurePsaTarget {
  readonly vendor: PsaVendor;
  readonly writeConcurrency: number;
  /** How many entries a run may plan (check) at once; 1 when absent. */
  readonly planConcurrency?: number;
  /** Whether the mapped agreement/contract can take monthly Azure lines now, and how to fix it if not. */
  checkAzureTarget(
    companyId: string,
    agreementId: string,
  ): Promise<{ ok: true; agreement: PsaAgreement } | { ok: false; reason: string }>;
  /** The PSA product every Azure month is billed as (catalog item or service). */
  matchAzureProduct(): Promise<ProductMatch>;
  /** The month's PSA record, found by the line's write key, once everything it needs is in place. */
  findAzureMonth(agreementId: string, line: AzureMonthLine): Promise<WrittenRecord | null>;
  /** Writes the month, stamping `line.writeKey` into the PSA record. */
  writeAzureMonth(
    agreementId: string,
    line: AzureMonthLine,
    product: Extract<ProductMatch, { ok: true }>,
  ): Promise<WrittenRecord>;
  listKeyedRecords?: KeyedRecordSource["listKeyedRecords"];
  removeRecord?: KeyedRecordSource["removeRecord"];
  requestCount(): number;
}

// ------------------------------------------------------------------------------------------ Seat-based Monthly motion

/** One write of the monthly motion; each vendor's lines add what they need to be sent. */
export type MonthlyLine = {
  customerTenantId: string;
  eventKey: string;
  writeKey: string;
  subscriptionId: string;
  description: string;
  action: string;
  warnings: readonly string[];
  /** Said in the item's message without making it a warning (e.g. sold at cost: flagged, not warned). */
  notes?: readonly string[];
  /** Written before, but its record is gone from the PSA (deleted by someone): written again, with a warning. */
  rewrite?: boolean;
};

/** What a monthly write needs first, when it can be written. */
export type MonthlyPrepared = { ok: true };

/** What the monthly sync needs from a PSA; each vendor implements it next to its adapter. */
export interface MonthlyPsaTarget<L extends MonthlyLine, P extends MonthlyPrepared = MonthlyPrepared> {
  readonly vendor: PsaVendor;
  readonly writeConcurrency: number;
  /** How many entries a run may plan (read and compare) at once; 1 when absent. */
  readonly planConcurrency?: number;
  /**
   * Each write of a subscription builds on the ones before it (Autotask: one contract service, unit deltas),
   * so once one fails in a run the later ones of that subscription wait for the next run.
   */
  readonly dependentLines: boolean;
  /**
   * The plan reads each record cspsync wrote back by its key, so a confirmed write planned again means its
   * record was deleted in the PSA, and writing it again is the only way the PSA bills what the data billed.
   */
  readonly readsBackByKey: boolean;
  checkMonthlyTarget(
    companyId: string,
    agreementId: string,
  ): Promise<{ ok: true; agreement: PsaAgreement } | { ok: false; reason: string }>;
  /** Reads what cspsync wrote to the agreement/contract and plans the writes that make it equal the data. */
  planMonthly(mapping: MonthlyMapping, agreementId: string | null, timelines: MonthlyTimelines): Promise<L[]>;
  /** What a write needs first (its PSA product), or why it cannot be written. */
  prepareMonthly(line: L): Promise<P | { ok: false; reason: string }>;
  /** The write's PSA record if it is already in place (looked up before any retry). */
  findMonthly(agreementId: string, line: L): Promise<{ recordId: string } | null>;
  writeMonthly(agreementId: string, line: L, prepared: P): Promise<{ recordId: string }>;
  listKeyedRecords?: KeyedRecordSource["listKeyedRecords"];
  removeRecord?: KeyedRecordSource["removeRecord"];
  requestCount(): number;
}

// ------------------------------------------------------------------------------------------ product catalog

/** The connection's product settings do not fit the PSA (a missing or unusable default); nothing was written. */
export class ProductSyncSetupError extends AppError {
  constructor(message: string) {
    // The message starts with the setting at fault ("productSyncMode: …", "settings.productType: …").
    super("validation", message, { field: /^([\w.]+):/.exec(message)?.[1] });
  }
}

export type CreatedRecord = { recordId: string; label: string; notes: string[] };

/** The records of one kind a PSA holds, and how to write them. */
export interface RecordWriter {
  read(): Promise<PsaCatalogRecord[]>;
  create(item: ProductPlanItem): Promise<CreatedRecord>;
  updatePrices(recordId: string, changes: PriceChanges): Promise<void>;
}

/** Autotask Products that contract charges reference; `canCreate` is known once prepare() has run. */
export interface ChargeProductWriter extends RecordWriter {
  canCreate(): boolean;
}

/** One PSA's catalog, as the product sync needs it. */
export interface CatalogTarget {
  readonly vendor: PsaVendor;
  readonly recordWord: string;
  /** Checks the configured defaults against the PSA (read-only); throws ProductSyncSetupError. */
  prepare(): Promise<void>;
  read(): Promise<PsaCatalogRecord[]>;
  create(item: ProductPlanItem): Promise<CreatedRecord>;
  updatePrices(recordId: string, changes: PriceChanges): Promise<void>;
  /** Autotask: Products for the contract charges of the Seat-based Annual sync. */
  readonly chargeProducts?: ChargeProductWriter;
  requestCount(): number;
}
