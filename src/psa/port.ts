import type { BillingMotion } from "../core/billing.ts";
import type { PlannedLine } from "../core/annual-plan.ts";
import type { MatchedRecord } from "../core/product-words.ts";

/**
 * What the sync engine needs from a PSA, whichever vendor it is. Each vendor adapter implements it on top
 * of its client; the engine never sees vendor payloads.
 */
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

export interface PsaAdapter extends KeyedRecordSource {
  readonly vendor: "connectwise" | "autotask";
  /** How many writes may be in flight at once without tripping the PSA's limits. */
  readonly writeConcurrency: number;
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
