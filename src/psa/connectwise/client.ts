import { z } from "zod";
import { canonicalDecimal, isDecimalText } from "../../core/money.ts";
import { PsaError, PsaNetworkError, PsaNotFoundError } from "../shared/errors.ts";
import { jsonNumber } from "../shared/json.ts";
import { PsaTransport } from "../shared/transport.ts";
import type { HttpMethod, PsaResponse, TransportOptions, TransportStats } from "../shared/transport.ts";
import type { Condition } from "./conditions.ts";
import * as where from "./conditions.ts";
import { toCwDateTime } from "./dates.ts";
import {
  classifyConnectWiseResponse,
  ConnectWiseAuthError,
  ConnectWiseConfigurationError,
  ConnectWiseResponseShapeError,
} from "./errors.ts";
import { firstLink, nextLink } from "./paging.ts";
import type {
  Addition,
  Agreement,
  AgreementType,
  BillingCycle,
  CatalogItem,
  Company,
  CompanyInfo,
  NamedRecord,
  SystemInfo,
} from "./schemas.ts";
import {
  additionSchema,
  agreementSchema,
  agreementTypeSchema,
  BILL_CUSTOMER_VALUES,
  billingCycleSchema,
  catalogItemSchema,
  companyInfoSchema,
  companySchema,
  countSchema,
  namedRecordSchema,
  systemInfoSchema,
} from "./schemas.ts";

/**
 * ConnectWise Manage REST client (docs/connectwise.md): codebase discovery, Basic auth plus clientId, a
 * pinned model version, typed conditions, Link and forward-only paging, JSON-Patch updates and typed errors,
 * on top of the shared PsaTransport (retries, 429 Retry-After, concurrency cap, secret redaction).
 */

/** Models are pinned so a server upgrade cannot change the shapes cspsync reads (docs/connectwise.md §3). */
export const DEFAULT_API_VERSION = "2025.8";
export const DEFAULT_MAX_CONCURRENT = 4;
/**
 * Under ConnectWise's "more than ~1000 requests/minute will likely be throttled" (docs/connectwise.md §7.3).
 */
export const DEFAULT_REQUESTS_PER_MINUTE = 900;
/** The largest page the server serves (docs/connectwise.md §5.2); fewer round trips for the same data. */
export const DEFAULT_PAGE_SIZE = 1000;

/**
 * The addition field that carries cspsync's deterministic idempotency key: `serialNumber`.
 * - It is a plain string field of the Addition schema (docs/connectwise.md §9.3, ≤50 characters), so
 *   `conditions=serialNumber="…"` finds it (docs/connectwise.md §5.1) without any tenant setup, unlike a
 *   custom field, which an administrator must create first.
 * - It is not one of the addition's invoice texts: invoices print `description`/`invoiceDescription`
 *   (docs/connectwise.md §9.3). Whether an invoice template can be set to show addition serial numbers is not
 *   documented [inferred].
 * - `Addition` has no `internalNotes` or `vendorSku` field (those belong to Agreement / CatalogItem and ProductItem).
 */
export const ADDITION_SYNC_KEY_FIELD = "serialNumber";
/** Keys are plain tokens, so they need no escaping in conditions and fit the 50-character field. */
export const SYNC_KEY_PATTERN = /^[A-Za-z0-9:._-]{1,50}$/;

export type ConnectWiseClientOptions = {
  /**
   * e.g. https://na.myconnectwise.net (mapped to its api- host, docs/connectwise.md §2), an api- host, or an
   * emulator URL.
   */
  siteUrl: string;
  /** The company id used at login. */
  companyId: string;
  publicKey: string;
  privateKey: string;
  /** The integration's clientId GUID from developer.connectwise.com (docs/connectwise.md §3). */
  clientId: string;
  apiVersion?: string;
  /** Skip companyinfo discovery with a known codebase such as "v2025_1/" or "v4_6_release/". */
  codebase?: string;
  maxConcurrent?: number;
  /**
   * Client-side pacing in requests per minute (false: none). ConnectWise publishes no limit but says more than
   * ~1000 requests/minute will likely be throttled (docs/connectwise.md §7.3); the default stays safely
   * below.
   */
  requestsPerMinute?: number | false;
  pageSize?: number;
  /**
   * Refuses a URL before anything is sent to it (throws), e.g. the host allow-list. Checked on every attempt,
   * redirect targets included.
   */
  checkUrl?: (url: string) => void;
  transport?: Partial<
    Pick<
      TransportOptions,
      | "maxAttempts"
      | "baseDelayMs"
      | "maxDelayMs"
      | "timeoutMs"
      | "logger"
      | "fetchImpl"
      | "sleep"
      | "random"
      | "now"
      | "budget"
    >
  >;
};

export type Paging = "navigable" | "forward-only";

export type ListOptions = {
  conditions?: Condition | string;
  customFieldConditions?: Condition | string;
  childConditions?: string;
  /** e.g. "name asc"; not allowed with forward-only paging (docs/connectwise.md §5.3). */
  orderBy?: string;
  pageSize?: number;
  /** Default navigable (Link header with rel="next"); forward-only pages by id (docs/connectwise.md §5.3). */
  paging?: Paging;
  /**
   * Only these fields come back (`fields`, docs/connectwise.md §5.2); the caller's schema must allow the
   * others to be missing.
   */
  fields?: readonly string[];
};

export type PatchOperation = { op: "add" | "replace" | "remove"; path: string; value?: unknown };

export type ConnectionCheck = { name: string; ok: boolean; status?: number; message: string };
export type ConnectionTestResult = {
  ok: boolean;
  companyInfo?: CompanyInfo;
  systemInfo?: SystemInfo;
  checks: ConnectionCheck[];
};

// ---------------------------------------------------------------------------------------------- inputs

const decimalInput = z
  .string()
  .refine((value) => isDecimalText(value) && !/[eE]/.test(value), "expected a decimal string such as 12.50")
  .transform((value) => jsonNumber(canonicalDecimal(value)));

const dateInput = z.union([z.date(), z.string()]).transform((value, ctx) => {
  try {
    return toCwDateTime(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});

const idReference = z.object({ id: z.number().int().positive() });

export const newAdditionSchema = z.object({
  /** By id, or by catalog identifier (resolution by identifier is [inferred], docs/connectwise.md §4). */
  product: z.union([idReference, z.object({ identifier: z.string().min(1) })]),
  billCustomer: z.enum(BILL_CUSTOMER_VALUES),
  quantity: decimalInput,
  lessIncluded: decimalInput.optional(),
  unitPrice: decimalInput.optional(),
  unitCost: decimalInput.optional(),
  effectiveDate: dateInput,
  cancelledDate: dateInput.nullable().optional(),
  taxableFlag: z.boolean().optional(),
  description: z.string().optional(),
  invoiceDescription: z.string().max(6000).optional(),
  /** Stored in `serialNumber` (see ADDITION_SYNC_KEY_FIELD). */
  syncKey: z.string().regex(SYNC_KEY_PATTERN).optional(),
});
export type NewAddition = z.input<typeof newAdditionSchema>;

export const additionChangesSchema = z.object({
  quantity: decimalInput.optional(),
  lessIncluded: decimalInput.optional(),
  unitPrice: decimalInput.optional(),
  unitCost: decimalInput.optional(),
  effectiveDate: dateInput.optional(),
  /** null clears the cancel date. */
  cancelledDate: dateInput.nullable().optional(),
  billCustomer: z.enum(BILL_CUSTOMER_VALUES).optional(),
  taxableFlag: z.boolean().optional(),
  description: z.string().optional(),
  invoiceDescription: z.string().max(6000).optional(),
  syncKey: z.string().regex(SYNC_KEY_PATTERN).optional(),
});
export type AdditionChanges = z.input<typeof additionChangesSchema>;

export const newCatalogItemSchema = z.object({
  identifier: z.string().min(1).max(60),
  description: z.string().min(1).max(60),
  customerDescription: z.string().min(1).max(6000),
  subcategory: idReference,
  type: idReference,
  productClass: z.enum(["Agreement", "Bundle", "Inventory", "NonInventory", "Service"]).optional(),
  price: decimalInput.optional(),
  cost: decimalInput.optional(),
  vendorSku: z.string().max(50).optional(),
  manufacturerPartNumber: z.string().max(50).optional(),
  vendor: idReference.optional(),
  unitOfMeasure: idReference.optional(),
  taxableFlag: z.boolean().optional(),
  inactiveFlag: z.boolean().optional(),
  recurringFlag: z.boolean().optional(),
});
export type NewCatalogItem = z.input<typeof newCatalogItemSchema>;

export const catalogItemChangesSchema = z.object({
  description: z.string().min(1).max(60).optional(),
  customerDescription: z.string().min(1).max(6000).optional(),
  price: decimalInput.optional(),
  cost: decimalInput.optional(),
  vendorSku: z.string().max(50).optional(),
  manufacturerPartNumber: z.string().max(50).optional(),
  taxableFlag: z.boolean().optional(),
  inactiveFlag: z.boolean().optional(),
});
export type CatalogItemChanges = z.input<typeof catalogItemChangesSchema>;

// ---------------------------------------------------------------------------------------------- hosts

/** Cloud tenants must call the `api-` host (docs/connectwise.md §2). */
const UI_TO_API_HOSTS: Record<string, string> = {
  "na.myconnectwise.net": "api-na.myconnectwise.net",
  "eu.myconnectwise.net": "api-eu.myconnectwise.net",
  "au.myconnectwise.net": "api-au.myconnectwise.net",
  "aus.myconnectwise.net": "api-aus.myconnectwise.net",
  "za.myconnectwise.net": "api-za.myconnectwise.net",
  "staging.connectwisedev.com": "api-staging.connectwisedev.com",
};

/** The origin API calls go to: a scheme is added when missing, and a known UI host becomes its api- host. */
export function resolveApiOrigin(siteUrl: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(siteUrl) ? siteUrl : `https://${siteUrl}`;
  const url = new URL(withScheme);
  const apiHost = UI_TO_API_HOSTS[url.hostname.toLowerCase()];
  if (apiHost) url.hostname = apiHost;
  return url.origin;
}

/**
 * Query values are encoded strictly, including `'`, `*`, `(` and `)` as the guide asks
 * (docs/connectwise.md §5.1).
 */
function encodeQuery(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${strictEncode(String(value))}`);
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

function strictEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

// ---------------------------------------------------------------------------------------------- client

type SendOptions = { body?: unknown; headers?: Record<string, string> };

export class ConnectWiseClient {
  readonly #options: ConnectWiseClientOptions;
  readonly #origin: string;
  readonly #authorization: string;
  readonly #transport: PsaTransport;
  #codebase: Promise<string> | undefined;
  readonly #codebasePinned: boolean;

  constructor(options: ConnectWiseClientOptions) {
    this.#options = options;
    this.#origin = resolveApiOrigin(options.siteUrl);
    const token = Buffer.from(`${options.companyId}+${options.publicKey}:${options.privateKey}`).toString(
      "base64",
    );
    this.#authorization = `Basic ${token}`;
    this.#codebasePinned = options.codebase !== undefined;
    if (options.codebase !== undefined) this.#codebase = Promise.resolve(normaliseCodebase(options.codebase));
    const secrets = (): string[] => [options.privateKey, token];
    this.#transport = new PsaTransport({
      ...options.transport,
      vendor: "connectwise",
      maxConcurrentPerKey: options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
      ...(options.requestsPerMinute === false
        ? {}
        : { pacing: { perMinute: options.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE } }),
      secrets,
      ...(options.checkUrl ? { checkUrl: options.checkUrl } : {}),
      classifyResponse: classifyConnectWiseResponse(secrets),
    });
  }

  // ------------------------------------------------------------------------------------------ discovery

  /**
   * `GET /login/companyinfo/{companyId}` (docs/connectwise.md §2, no auth): the tenant's codebase, cached for
   * later calls.
   */
  async discoverCodebase(): Promise<CompanyInfo> {
    const url = `${this.#origin}/login/companyinfo/${encodeURIComponent(this.#options.companyId)}`;
    // companyinfo needs no credentials (docs/connectwise.md §2), so none are sent.
    const { authorization: _unused, ...headers } = this.#headers();
    const response = await this.#transport.request({ method: "GET", url, headers });
    if (response.body === null) {
      throw new ConnectWiseConfigurationError({
        vendor: "connectwise",
        method: "GET",
        url,
        status: response.status,
        reason: `ConnectWise does not know the company id "${this.#options.companyId}"`,
      });
    }
    const info = this.#parse(companyInfoSchema, response, "company info");
    this.#codebase = Promise.resolve(info.codebase);
    return info;
  }

  /** `GET /system/info`: a cheap authenticated call (docs/connectwise.md §9.9). */
  async getSystemInfo(): Promise<SystemInfo> {
    return this.#parse(systemInfoSchema, await this.#send("GET", "/system/info"), "system info");
  }

  /**
   * Checks discovery, credentials and read access to everything the sync uses, reporting each problem in plain
   * words instead of throwing. Write rights cannot be checked without writing.
   */
  async testConnection(): Promise<ConnectionTestResult> {
    const checks: ConnectionCheck[] = [];
    let companyInfo: CompanyInfo;
    try {
      companyInfo = await this.discoverCodebase();
      checks.push({ name: "company info", ok: true, message: `codebase ${companyInfo.codebase}` });
    } catch (error) {
      checks.push(failedCheck("company info", error, this.#origin));
      return { ok: false, checks };
    }
    let systemInfo: SystemInfo;
    try {
      systemInfo = await this.getSystemInfo();
      checks.push({
        name: "credentials",
        ok: true,
        message: `ConnectWise ${systemInfo.version ?? "(version unknown)"}`,
      });
    } catch (error) {
      checks.push(failedCheck("credentials", error, this.#origin));
      return { ok: false, companyInfo, checks };
    }
    for (const [name, path] of READ_CHECKS) {
      try {
        await this.#send("GET", `${path}${encodeQuery({ pageSize: 1, fields: "id" })}`);
        checks.push({ name, ok: true, message: "readable" });
      } catch (error) {
        checks.push(failedCheck(name, error, this.#origin));
      }
    }
    return { ok: checks.every((check) => check.ok), companyInfo, systemInfo, checks };
  }

  // ------------------------------------------------------------------------------------------ companies

  listCompanies(options: ListOptions = {}): Promise<Company[]> {
    return collect(this.iterateCompanies(options));
  }

  iterateCompanies(options: ListOptions = {}): AsyncGenerator<Company> {
    return this.#iterate("/company/companies", companySchema, options);
  }

  /** Companies by name; `contains` and `startsWith` treat the text literally. Deleted companies are left out. */
  searchCompaniesByName(
    name: string,
    match: "exact" | "startsWith" | "contains" = "contains",
  ): Promise<Company[]> {
    const byName =
      match === "exact"
        ? where.eq("name", name)
        : match === "startsWith"
          ? where.startsWith("name", name)
          : where.contains("name", name);
    return this.listCompanies({
      conditions: where.and(byName, where.ne("deletedFlag", true)),
      orderBy: "name asc",
    });
  }

  async getCompany(id: number): Promise<Company> {
    return this.#parse(
      companySchema,
      await this.#send("GET", `/company/companies/${positiveId(id)}`),
      "company",
    );
  }

  // ------------------------------------------------------------------------------------------ agreements

  listAgreements(options: ListOptions = {}): Promise<Agreement[]> {
    return collect(this.#iterate("/finance/agreements", agreementSchema, options));
  }

  /**
   * A company's agreements. With `activeOn`, only those running that day: not cancelled, started, and either
   * open-ended or ending on or after it (expired and cancelled agreements are left out).
   */
  listAgreementsForCompany(
    companyId: number,
    options: { activeOn?: Date | string } = {},
  ): Promise<Agreement[]> {
    const byCompany = where.eq("company/id", positiveId(companyId));
    if (options.activeOn === undefined)
      return this.listAgreements({ conditions: byCompany, orderBy: "id asc" });
    const day = where.dateTime(options.activeOn);
    const running = where.and(
      byCompany,
      where.eq("cancelledFlag", false),
      where.le("startDate", day),
      where.or(where.eq("noEndingDateFlag", true), where.isNull("endDate"), where.ge("endDate", day)),
    );
    return this.listAgreements({ conditions: running, orderBy: "id asc" });
  }

  async getAgreement(id: number): Promise<Agreement> {
    return this.#parse(
      agreementSchema,
      await this.#send("GET", `/finance/agreements/${positiveId(id)}`),
      "agreement",
    );
  }

  listAgreementTypes(options: ListOptions = {}): Promise<AgreementType[]> {
    return collect(this.#iterate("/finance/agreements/types", agreementTypeSchema, options));
  }

  async getAgreementType(id: number): Promise<AgreementType> {
    const response = await this.#send("GET", `/finance/agreements/types/${positiveId(id)}`);
    return this.#parse(agreementTypeSchema, response, "agreement type");
  }

  // ------------------------------------------------------------------------------------------ billing cycles

  listBillingCycles(options: ListOptions = {}): Promise<BillingCycle[]> {
    return collect(this.#iterate("/finance/billingCycles", billingCycleSchema, options));
  }

  async getBillingCycle(id: number): Promise<BillingCycle> {
    const response = await this.#send("GET", `/finance/billingCycles/${positiveId(id)}`);
    return this.#parse(billingCycleSchema, response, "billing cycle");
  }

  /**
   * The tenant's one-time cycle, found by `billingOptions = "NotRecurring"` since ids vary by tenant
   * (docs/connectwise.md §9.5).
   */
  async findOneTimeBillingCycle(): Promise<BillingCycle | undefined> {
    const cycles = await this.listBillingCycles({ orderBy: "id asc" });
    return cycles.find(isOneTimeBillingCycle);
  }

  // ------------------------------------------------------------------------------------------ additions

  listAdditions(agreementId: number, options: ListOptions = {}): Promise<Addition[]> {
    return collect(this.iterateAdditions(agreementId, options));
  }

  iterateAdditions(agreementId: number, options: ListOptions = {}): AsyncGenerator<Addition> {
    return this.#iterate(`/finance/agreements/${positiveId(agreementId)}/additions`, additionSchema, options);
  }

  async countAdditions(agreementId: number, conditions?: Condition | string): Promise<number> {
    const query = encodeQuery({
      conditions: conditions === undefined ? undefined : where.conditionsText(conditions),
    });
    const response = await this.#send(
      "GET",
      `/finance/agreements/${positiveId(agreementId)}/additions/count${query}`,
    );
    return this.#parse(countSchema, response, "count").count;
  }

  async getAddition(agreementId: number, additionId: number): Promise<Addition> {
    const path = `/finance/agreements/${positiveId(agreementId)}/additions/${positiveId(additionId)}`;
    return this.#parse(additionSchema, await this.#send("GET", path), "addition");
  }

  /**
   * POST an addition (docs/connectwise.md §6, 201). A PsaOutcomeUnknownError means it may have been created:
   * look it up with `findAdditionsBySyncKey` before writing again; the syncs send it through
   * `sendLookingBeforeRetrying` (shared/write-once.ts), which does exactly that.
   */
  async createAddition(agreementId: number, input: NewAddition): Promise<Addition> {
    const { syncKey, ...fields } = newAdditionSchema.parse(input);
    const body = withoutUndefined({ ...fields, [ADDITION_SYNC_KEY_FIELD]: syncKey });
    const response = await this.#send("POST", `/finance/agreements/${positiveId(agreementId)}/additions`, {
      body,
    });
    return this.#parse(additionSchema, response, "addition");
  }

  /** Additions whose `serialNumber` equals the sync key (see ADDITION_SYNC_KEY_FIELD). */
  findAdditionsBySyncKey(agreementId: number, syncKey: string): Promise<Addition[]> {
    if (!SYNC_KEY_PATTERN.test(syncKey))
      throw new TypeError(`not a valid sync key: ${JSON.stringify(syncKey)}`);
    return this.listAdditions(agreementId, { conditions: where.eq(ADDITION_SYNC_KEY_FIELD, syncKey) });
  }

  /** JSON-Patch style update (docs/connectwise.md §6); the server answers with the full record. */
  async patchAddition(
    agreementId: number,
    additionId: number,
    operations: PatchOperation[],
  ): Promise<Addition> {
    const path = `/finance/agreements/${positiveId(agreementId)}/additions/${positiveId(additionId)}`;
    const response = await this.#send("PATCH", path, { body: checkOperations(operations) });
    return this.#parse(additionSchema, response, "addition");
  }

  /**
   * Typed changes as `replace` operations, e.g. a new quantity or a cancel date at period end
   * (docs/connectwise.md §6).
   */
  updateAddition(agreementId: number, additionId: number, changes: AdditionChanges): Promise<Addition> {
    const { syncKey, ...fields } = additionChangesSchema.parse(changes);
    return this.patchAddition(
      agreementId,
      additionId,
      replaceOperations({ ...fields, [ADDITION_SYNC_KEY_FIELD]: syncKey }),
    );
  }

  /**
   * `DELETE` an addition (docs/connectwise.md §6, 204). ConnectWise keeps no trace of it afterwards, so
   * callers decide first.
   */
  async deleteAddition(agreementId: number, additionId: number): Promise<void> {
    const path = `/finance/agreements/${positiveId(agreementId)}/additions/${positiveId(additionId)}`;
    await this.#send("DELETE", path);
  }

  // ------------------------------------------------------------------------------------------ catalog

  listCatalogItems(options: ListOptions = {}): Promise<CatalogItem[]> {
    return collect(this.iterateCatalogItems(options));
  }

  iterateCatalogItems(options: ListOptions = {}): AsyncGenerator<CatalogItem> {
    return this.#iterate("/procurement/catalog", catalogItemSchema, options);
  }

  findCatalogItemsByIdentifier(identifier: string): Promise<CatalogItem[]> {
    return this.listCatalogItems({ conditions: where.eq("identifier", identifier) });
  }

  /** The distributor/Microsoft SKU is kept in `vendorSku` (docs/sync-behaviour.md §4.2). */
  findCatalogItemsByVendorSku(vendorSku: string): Promise<CatalogItem[]> {
    return this.listCatalogItems({ conditions: where.eq("vendorSku", vendorSku) });
  }

  async getCatalogItem(id: number): Promise<CatalogItem> {
    const response = await this.#send("GET", `/procurement/catalog/${positiveId(id)}`);
    return this.#parse(catalogItemSchema, response, "catalog item");
  }

  async createCatalogItem(input: NewCatalogItem): Promise<CatalogItem> {
    const body = withoutUndefined(newCatalogItemSchema.parse(input));
    return this.#parse(
      catalogItemSchema,
      await this.#send("POST", "/procurement/catalog", { body }),
      "catalog item",
    );
  }

  async patchCatalogItem(id: number, operations: PatchOperation[]): Promise<CatalogItem> {
    const response = await this.#send("PATCH", `/procurement/catalog/${positiveId(id)}`, {
      body: checkOperations(operations),
    });
    return this.#parse(catalogItemSchema, response, "catalog item");
  }

  updateCatalogItem(id: number, changes: CatalogItemChanges): Promise<CatalogItem> {
    return this.patchCatalogItem(id, replaceOperations(catalogItemChangesSchema.parse(changes)));
  }

  /** Product types and subcategories, needed to create catalog items (paths [inferred]). */
  listProductTypes(options: ListOptions = {}): Promise<NamedRecord[]> {
    return collect(this.#iterate("/procurement/types", namedRecordSchema, options));
  }

  listProductSubcategories(options: ListOptions = {}): Promise<NamedRecord[]> {
    return collect(this.#iterate("/procurement/subcategories", namedRecordSchema, options));
  }

  // ------------------------------------------------------------------------------------------ plumbing

  transportStats(): TransportStats {
    return this.#transport.stats();
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      authorization: this.#authorization,
      clientid: this.#options.clientId,
      accept: `application/vnd.connectwise.com+json; version=${this.#options.apiVersion ?? DEFAULT_API_VERSION}`,
      ...extra,
    };
  }

  async #apiBase(): Promise<string> {
    this.#codebase ??= this.discoverCodebase().then((info) => info.codebase);
    try {
      return `${this.#origin}/${await this.#codebase}apis/3.0`;
    } catch (error) {
      this.#codebase = undefined;
      throw error;
    }
  }

  /** `pathAndQuery` is relative to `/apis/3.0`, e.g. "/company/companies?page=2". */
  async #send(method: HttpMethod, pathAndQuery: string, options: SendOptions = {}): Promise<PsaResponse> {
    const attempt = async (): Promise<PsaResponse> =>
      this.#transport.request({
        method,
        url: `${await this.#apiBase()}${pathAndQuery}`,
        headers: this.#headers(options.headers),
        ...(options.body === undefined ? {} : { body: options.body }),
      });
    try {
      return await attempt();
    } catch (error) {
      // A cloud upgrade moves the codebase; re-read companyinfo once and retry if it changed
      // (docs/connectwise.md §2). A 404 means the request was not applied, so repeating a write is safe.
      if (!(error instanceof PsaNotFoundError) || this.#codebasePinned) throw error;
      const before = await this.#codebase;
      const after = (await this.discoverCodebase()).codebase;
      if (after === before) throw error;
      return attempt();
    }
  }

  async *#iterate<T>(path: string, schema: z.ZodType<T>, options: ListOptions): AsyncGenerator<T> {
    const forwardOnly = options.paging === "forward-only";
    if (forwardOnly && options.orderBy)
      throw new TypeError("orderBy is not allowed with forward-only paging (docs/connectwise.md §5.3)");
    const pageSize = options.pageSize ?? this.#options.pageSize ?? DEFAULT_PAGE_SIZE;
    const text = (value: Condition | string | undefined): string | undefined =>
      value === undefined ? undefined : where.conditionsText(value);
    let next: string | undefined = `${path}${encodeQuery({
      conditions: text(options.conditions),
      customFieldConditions: text(options.customFieldConditions),
      childConditions: options.childConditions,
      fields: options.fields?.join(","),
      orderBy: options.orderBy,
      pageSize,
      page: forwardOnly ? undefined : 1,
    })}`;
    const headers: Record<string, string> = forwardOnly ? { "pagination-type": "forward-only" } : {};
    const visited = new Set<string>();
    while (next !== undefined) {
      if (visited.has(next))
        throw this.#shapeError("GET", next, "the Link header points back to a page already read");
      visited.add(next);
      const response = await this.#send("GET", next, { headers });
      const items = this.#parse(z.array(schema), response, `${path} page`);
      yield* items;
      const link = forwardOnly
        ? firstLink(response.headers.get("link"))
        : nextLink(response.headers.get("link"));
      next = items.length === 0 || link === undefined ? undefined : this.#apiRelative(link);
    }
  }

  /** A Link URL relative to `/apis/3.0`; the host and codebase are ours, so credentials never go elsewhere. */
  #apiRelative(link: string): string {
    const url = new URL(link, this.#origin);
    const marker = url.pathname.indexOf("/apis/3.0/");
    if (marker < 0) throw this.#shapeError("GET", link, "the Link header does not point into the API");
    return `${url.pathname.slice(marker + "/apis/3.0".length)}${url.search}`;
  }

  #parse<T>(schema: z.ZodType<T>, response: PsaResponse, what: string): T {
    const parsed = schema.safeParse(response.body);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const problem = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
    throw this.#shapeError("GET", response.url, `unexpected ${what} response (${problem})`, response.status);
  }

  #shapeError(method: string, url: string, reason: string, status?: number): ConnectWiseResponseShapeError {
    return new ConnectWiseResponseShapeError({
      vendor: "connectwise",
      method,
      url: url.replace(/([?&](?:conditions|customFieldConditions)=)[^&]*/g, "$1…"),
      reason,
      ...(status === undefined ? {} : { status }),
    });
  }
}

// ---------------------------------------------------------------------------------------------- helpers

/**
 * The one-time cycle is recognised by its billing option, never its id or name (docs/connectwise.md §9.5).
 */
export function isOneTimeBillingCycle(cycle: Pick<BillingCycle, "billingOptions">): boolean {
  return cycle.billingOptions === "NotRecurring";
}

/**
 * Whether an agreement bills one time: its flag, or its cycle being the one-time cycle
 * (docs/connectwise.md §9.5).
 */
export function agreementBillsOneTime(agreement: Agreement, cycles: readonly BillingCycle[]): boolean {
  if (agreement.billOneTimeFlag === true) return true;
  const cycle = cycles.find((candidate) => candidate.id === agreement.billingCycle?.id);
  return cycle !== undefined && isOneTimeBillingCycle(cycle);
}

/** The sync key an addition carries, if any (see ADDITION_SYNC_KEY_FIELD). */
export function additionSyncKey(addition: Addition): string | null {
  return addition.serialNumber;
}

const READ_CHECKS: ReadonlyArray<[string, string]> = [
  ["companies", "/company/companies"],
  ["agreements", "/finance/agreements"],
  ["agreement types", "/finance/agreements/types"],
  ["billing cycles", "/finance/billingCycles"],
  ["product catalog", "/procurement/catalog"],
];

function failedCheck(name: string, error: unknown, origin: string): ConnectionCheck {
  const status = error instanceof PsaError ? error.status : undefined;
  const base = { name, ok: false, ...(status === undefined ? {} : { status }) };
  if (error instanceof ConnectWiseAuthError && error.status === 401) {
    return {
      ...base,
      message:
        "ConnectWise rejected the credentials (401). Check the company id, the public/private API key pair, that the API member is active, and the clientId.",
    };
  }
  if (error instanceof ConnectWiseAuthError && error.status === 403) {
    return {
      ...base,
      message: `The API member's security role does not allow reading ${name} (403). Grant inquire rights for it in ConnectWise.`,
    };
  }
  if (error instanceof ConnectWiseConfigurationError) return { ...base, message: error.message };
  if (error instanceof PsaNetworkError)
    return { ...base, message: `Could not reach ${origin}: ${error.message}` };
  if (error instanceof PsaNotFoundError) {
    return {
      ...base,
      message: `Not found (404): check the site URL; on cloud this can also mean a wrong codebase.`,
    };
  }
  return { ...base, message: error instanceof Error ? error.message : String(error) };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

function positiveId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`not a ConnectWise record id: ${id}`);
  return id;
}

function normaliseCodebase(codebase: string): string {
  const withSlash = codebase.endsWith("/") ? codebase : `${codebase}/`;
  if (!/^[A-Za-z0-9_]+\/$/.test(withSlash)) throw new RangeError(`not a ConnectWise codebase: ${codebase}`);
  return withSlash;
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined));
}

function replaceOperations(changes: Record<string, unknown>): PatchOperation[] {
  const operations = Object.entries(withoutUndefined(changes)).map(([path, value]): PatchOperation => ({
    op: "replace",
    path,
    value,
  }));
  if (operations.length === 0) throw new RangeError("no changes given");
  return operations;
}

/**
 * Paths are top-level field names without a slash (docs/connectwise.md §6); a nested path would "succeed"
 * without effect.
 */
function checkOperations(operations: PatchOperation[]): PatchOperation[] {
  if (operations.length === 0) throw new RangeError("no patch operations given");
  for (const operation of operations) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(operation.path)) {
      throw new RangeError(
        `patch path must be a top-level field name, got ${JSON.stringify(operation.path)}`,
      );
    }
  }
  return operations;
}
