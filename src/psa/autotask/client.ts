import { z } from "zod";
import {
  extractServerMessages,
  PsaAuthError,
  PsaError,
  PsaNotFoundError,
  PsaRateLimitedError,
  PsaValidationError,
  redactSecrets,
} from "../shared/errors.ts";
import { jsonNumber, stringifyJson } from "../shared/json.ts";
import { PsaTransport } from "../shared/transport.ts";
import type {
  HttpMethod,
  PsaRequest,
  PsaResponse,
  ResponseVerdict,
  TransportOptions,
  TransportStats,
} from "../shared/transport.ts";
import { filterBuilder, queryModel } from "./filter.ts";
import type { AutotaskFilter, FilterBuilder, QueryModelBody, QueryOptions } from "./filter.ts";
import { assertValidIdempotencyKey, CHARGE_IDEMPOTENCY_FIELD } from "./idempotency.ts";
import {
  billingCodeSchema,
  companySchema,
  contractChargeSchema,
  contractSchema,
  contractServiceSchema,
  contractServiceUnitSchema,
  countSchema,
  entityInformationSchema,
  fieldsResponseSchema,
  itemIdSchema,
  itemSchema,
  MONEY_INPUT_KEYS,
  pageSchema,
  productSchema,
  serviceSchema,
  thresholdInformationSchema,
  udfResponseSchema,
  zoneInformationSchema,
} from "./models.ts";
import type {
  BillingCode,
  BillingCodeField,
  Company,
  CompanyField,
  Contract,
  ContractCharge,
  ContractChargeCreate,
  ContractChargeField,
  ContractChargeUpdate,
  ContractCreate,
  ContractField,
  ContractService,
  ContractServiceAdjustmentCreate,
  ContractServiceCreate,
  ContractServiceField,
  ContractServiceUnit,
  ContractServiceUnitField,
  ContractServiceUpdate,
  ContractUpdate,
  EntityInformation,
  FieldInformation,
  Product,
  ProductCreate,
  ProductField,
  ProductUpdate,
  QueryPage,
  Service,
  ServiceCreate,
  ServiceField,
  ServiceUpdate,
  ThresholdInformation,
  UserDefinedFieldInformation,
  ZoneInformation,
} from "./models.ts";
import { PicklistResolver } from "./picklists.ts";
import { QuotaTracker } from "./quota.ts";
import type { QuotaPolicy, QuotaStatus } from "./quota.ts";
import { connectionMemory, type ConnectionMemory } from "./connection-memory.ts";

/**
 * cspsync's Autotask REST client (docs/autotask.md): zone discovery (§2), the three auth headers (§3), the
 * query language with nextPageUrl paging (§5), writes on the right URLs including contract children (§4.1,
 * §4.2, §6), metadata-driven picklists (§7), and the hourly threshold and thread limits (§10). Built on the
 * shared PsaTransport: 3 concurrent requests per entity endpoint, retries, redaction.
 */

export const DEFAULT_DISCOVERY_BASE_URL = "https://webservices.autotask.net/atservicesrest/v1.0/";
/** docs/autotask.md §10: integrations created after 2023.1 get 3 concurrent requests per endpoint. */
export const MAX_CONCURRENT_PER_ENDPOINT = 3;
/** docs/autotask.md §5.2: GET URLs should stay under about 2048 characters; longer queries go by POST. */
const MAX_GET_URL_LENGTH = 2000;

export type AutotaskCredentials = {
  /** The API-only user's login (e-mail style). */
  userName: string;
  secret: string;
  /** The integration's tracking identifier (ApiIntegrationCode). */
  integrationCode: string;
  /** Optional: attribute writes to this resource (docs/autotask.md §3). */
  impersonationResourceId?: number;
};

export type AutotaskClientOptions = {
  credentials: AutotaskCredentials;
  /** Where zone discovery is asked (docs/autotask.md §2); tests point it at the emulator. */
  discoveryBaseUrl?: string;
  /** Skip discovery and use this zone URL (the `url` ZoneInformation returns, e.g. ".../ATServicesRest/"). */
  zoneUrl?: string;
  /**
   * Refuses a URL before anything is sent to it (throws), e.g. the host allow-list. Checked on every attempt:
   * discovery, the zone the PSA names, nextPageUrl and redirect targets.
   */
  checkUrl?: (url: string) => void;
  transport?: Pick<
    TransportOptions,
    | "maxAttempts"
    | "baseDelayMs"
    | "maxDelayMs"
    | "timeoutMs"
    | "logger"
    | "fetchImpl"
    | "sleep"
    | "random"
    | "budget"
  >;
  /** Clock (epoch ms) for caches and the quota. */
  now?: () => number;
  /** Picklist cache lifetime; default 24 h (docs/autotask.md §7.2). */
  picklistTtlMs?: number;
  /** Hourly-threshold policy (docs/autotask.md §10); `false` turns the guard off. */
  quota?: Partial<QuotaPolicy> | false;
  /** Safety stop for runaway paging. Default 10,000 pages. */
  maxPages?: number;
};

export type ClientQueryOptions = Omit<QueryOptions, "includeFields"> & {
  /**
   * POST (default) or GET `?search=` (docs/autotask.md §4.1); a GET too long for a URL falls back to POST.
   */
  via?: "POST" | "GET";
};

export type ReadApi<T extends { id: number }, Field extends string> = {
  /** `GET /{Entity}/{id}`; null when missing (200 `{"item":null}` or 404, docs/autotask.md §9). */
  get(id: number): Promise<T | null>;
  /** The first page only. */
  query(filters: readonly AutotaskFilter[], options?: ClientQueryOptions): Promise<QueryPage<T>>;
  /** Every page, following nextPageUrl with the same method and body (docs/autotask.md §5.3). */
  pages(filters: readonly AutotaskFilter[], options?: ClientQueryOptions): AsyncGenerator<QueryPage<T>>;
  queryAll(filters: readonly AutotaskFilter[], options?: ClientQueryOptions): Promise<T[]>;
  /**
   * Every page with only the named fields (`IncludeFields`, docs/autotask.md §5.1): cheaper for large reads.
   */
  select<K extends Field & keyof T>(
    filters: readonly AutotaskFilter[],
    fields: readonly K[],
    options?: ClientQueryOptions,
  ): Promise<Array<Pick<T, K | "id">>>;
  /** `POST /{Entity}/query/count` (docs/autotask.md §5.3). */
  count(filters: readonly AutotaskFilter[]): Promise<number>;
  /** A filter builder that knows this entity's field names. */
  where: FilterBuilder<Field>;
};

export type EntityPermission = {
  entity: string;
  needs: Array<"query" | "create" | "update" | "delete">;
  missing: string[];
};

export type ConnectionTestResult = {
  ok: boolean;
  zone?: { name: string | null | undefined; url: string };
  threshold?: ThresholdInformation;
  /** Human-readable, secret-free problems, most fundamental first. */
  problems: string[];
  permissions: EntityPermission[];
};

type SendRequest = {
  method: HttpMethod;
  url: string;
  body?: unknown;
  /** Thread-limit endpoint (docs/autotask.md §10): the entity, also for child URLs. */
  endpoint: string;
  idempotent?: boolean;
  /** Zone discovery and ThresholdInformation itself bypass the quota guard. */
  skipQuota?: boolean;
  /** Sent without the credential headers (zone discovery). */
  anonymous?: boolean;
};

/** What cspsync needs from each entity (docs/autotask.md §4.2), checked by testConnection. */
const REQUIRED_ACCESS: ReadonlyArray<{ entity: string; needs: EntityPermission["needs"] }> = [
  { entity: "Companies", needs: ["query"] },
  { entity: "Contracts", needs: ["query", "create", "update"] },
  { entity: "ContractCharges", needs: ["query", "create", "update", "delete"] },
  { entity: "ContractServices", needs: ["query", "create", "update"] },
  { entity: "ContractServiceAdjustments", needs: ["create"] },
  { entity: "Services", needs: ["query", "create", "update"] },
  { entity: "Products", needs: ["query"] },
  { entity: "BillingCodes", needs: ["query"] },
];

const THREAD_LIMIT = /itgenatr005|thread threshold/i;

function hasErrorsArray(body: unknown): boolean {
  return body !== null && typeof body === "object" && Array.isArray((body as { errors?: unknown }).errors);
}

/** Money keys become bare JSON numbers from their decimal strings; undefined keys are left out. */
function wireBody(input: object): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    body[key] = MONEY_INPUT_KEYS.has(key) && typeof value === "string" ? jsonNumber(value) : value;
  }
  return body;
}

function joinUrl(base: string, ...segments: Array<string | number>): string {
  return `${base}${segments.map((segment) => encodeURIComponent(String(segment))).join("/")}`;
}

export class AutotaskClient {
  readonly #options: AutotaskClientOptions;
  readonly #transport: PsaTransport;
  readonly #quota: QuotaTracker | undefined;
  readonly #now: () => number;
  #zone: Promise<ZoneInformation> | undefined;
  /** The connection's memory in this process (zone, threshold reading), when built with its request budget. */
  readonly #memory: ConnectionMemory | undefined;

  readonly picklists: PicklistResolver;
  readonly companies: ReadApi<Company, CompanyField>;
  readonly contracts: ReadApi<Contract, ContractField> & {
    create(input: ContractCreate): Promise<number>;
    update(id: number, changes: ContractUpdate): Promise<number>;
  };
  readonly contractCharges: ReadApi<ContractCharge, ContractChargeField> & {
    /** `POST /Contracts/{contractId}/Charges` (docs/autotask.md §4.2: never the root URL). */
    create(
      contractId: number,
      input: ContractChargeCreate,
      options?: { idempotencyKey?: string },
    ): Promise<number>;
    /**
     * `PATCH /Contracts/{contractId}/Charges` with the id in the body (docs/autotask.md §4.1). Only while
     * unbilled (docs/autotask.md §8.3).
     */
    update(contractId: number, id: number, changes: ContractChargeUpdate): Promise<number>;
    delete(contractId: number, id: number): Promise<number>;
    findByIdempotencyKey(key: string): Promise<ContractCharge | null>;
  };
  readonly contractServices: ReadApi<ContractService, ContractServiceField> & {
    create(contractId: number, input: ContractServiceCreate): Promise<number>;
    update(contractId: number, id: number, changes: ContractServiceUpdate): Promise<number>;
  };
  readonly contractServiceAdjustments: {
    /** `POST /ContractServiceAdjustments` (docs/autotask.md §8.5); create-only, not queryable. */
    create(input: ContractServiceAdjustmentCreate): Promise<number>;
  };
  readonly contractServiceUnits: ReadApi<ContractServiceUnit, ContractServiceUnitField>;
  readonly services: ReadApi<Service, ServiceField> & {
    create(input: ServiceCreate): Promise<number>;
    update(id: number, changes: ServiceUpdate): Promise<number>;
  };
  readonly products: ReadApi<Product, ProductField> & {
    create(input: ProductCreate): Promise<number>;
    update(id: number, changes: ProductUpdate): Promise<number>;
  };
  readonly billingCodes: ReadApi<BillingCode, BillingCodeField>;

  constructor(options: AutotaskClientOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#memory = options.transport?.budget ? connectionMemory(options.transport.budget) : undefined;
    const fetchImpl = options.transport?.fetchImpl ?? fetch;
    this.#transport = new PsaTransport({
      ...options.transport,
      // Every HTTP attempt counts against the tenant's hourly threshold (docs/autotask.md §10), retries
      // included; zone discovery runs on the global host and is left out.
      fetchImpl: (input, init) => {
        if (!/\/zoneInformation\?/i.test(String(input))) this.#quota?.noteRequest();
        return fetchImpl(input, init);
      },
      vendor: "autotask",
      maxConcurrentPerKey: MAX_CONCURRENT_PER_ENDPOINT,
      ...(options.checkUrl ? { checkUrl: options.checkUrl } : {}),
      secrets: () => [options.credentials.secret, options.credentials.integrationCode],
      classifyResponse: (response, request) => this.#classify(response, request),
    });
    const tracker = () => new QuotaTracker(() => this.#readThreshold(), options.quota || {}, this.#now);
    // The threshold is the tenant's: with the default policy, every client of the connection in this process
    // shares one tracker, so a sync opened after another goes on from its reading instead of asking again.
    this.#quota =
      options.quota === false
        ? undefined
        : options.quota === undefined && this.#memory
          ? this.#memory.quota(options.credentials.userName, tracker)
          : tracker();
    this.picklists = new PicklistResolver({
      loadFields: (entity) => this.entityFields(entity),
      now: this.#now,
      ...(options.picklistTtlMs === undefined ? {} : { ttlMs: options.picklistTtlMs }),
    });

    this.companies = this.#readApi("Companies", companySchema);
    this.contracts = {
      ...this.#readApi("Contracts", contractSchema),
      create: (input) => this.#create("Contracts", ["Contracts"], input),
      update: (id, changes) => this.#update("Contracts", ["Contracts"], id, changes),
    };
    this.contractCharges = {
      ...this.#readApi("ContractCharges", contractChargeSchema),
      create: (contractId, input, createOptions) =>
        this.#createCharge(contractId, input, createOptions?.idempotencyKey),
      update: (contractId, id, changes) =>
        this.#update("ContractCharges", ["Contracts", contractId, "Charges"], id, changes),
      delete: (contractId, id) => this.#deleteCharge(contractId, id),
      findByIdempotencyKey: (key) => this.#findChargeByKey(key),
    };
    this.contractServices = {
      ...this.#readApi("ContractServices", contractServiceSchema),
      create: (contractId, input) =>
        this.#create("ContractServices", ["Contracts", contractId, "Services"], {
          contractID: contractId,
          ...input,
        }),
      update: (contractId, id, changes) =>
        this.#update("ContractServices", ["Contracts", contractId, "Services"], id, changes),
    };
    this.contractServiceAdjustments = {
      create: (input) => this.#create("ContractServiceAdjustments", ["ContractServiceAdjustments"], input),
    };
    this.contractServiceUnits = this.#readApi("ContractServiceUnits", contractServiceUnitSchema);
    this.services = {
      ...this.#readApi("Services", serviceSchema),
      create: (input) => this.#create("Services", ["Services"], input),
      update: (id, changes) => this.#update("Services", ["Services"], id, changes),
    };
    this.products = {
      ...this.#readApi("Products", productSchema),
      create: (input) => this.#create("Products", ["Products"], input),
      update: (id, changes) => this.#update("Products", ["Products"], id, changes),
    };
    this.billingCodes = this.#readApi("BillingCodes", billingCodeSchema);
  }

  // -------------------------------------------------------------------------------- zone docs/autotask.md §2

  /**
   * Discovers (once, then cached) the tenant's zone. Never hard-coded: tenants live on many hosts. A client
   * of a stored connection takes the zone its connection discovered in this process within the last day
   * (connection-memory.ts), so opening a sync costs no request; a 401 forgets it (docs/autotask.md §2: a
   * wrong zone fails authentication).
   */
  zone(): Promise<ZoneInformation> {
    if (this.#options.zoneUrl !== undefined) return Promise.resolve({ url: this.#options.zoneUrl });
    const remembered = this.#memory?.zone(
      this.#discoveryBase(),
      this.#options.credentials.userName,
      this.#now(),
    );
    if (remembered && !this.#zone) this.#zone = Promise.resolve(remembered);
    this.#zone ??= this.#discoverZone().then(
      (zone) => {
        this.#memory?.rememberZone(
          this.#discoveryBase(),
          this.#options.credentials.userName,
          zone,
          this.#now(),
        );
        return zone;
      },
      (error: unknown) => {
        this.#zone = undefined; // a failed discovery is retried on the next call
        throw error;
      },
    );
    return this.#zone;
  }

  #discoveryBase(): string {
    return (this.#options.discoveryBaseUrl ?? DEFAULT_DISCOVERY_BASE_URL).replace(/\/?$/, "/");
  }

  async #discoverZone(): Promise<ZoneInformation> {
    const base = this.#discoveryBase();
    const url = `${base}zoneInformation?user=${encodeURIComponent(this.#options.credentials.userName)}`;
    // ZoneInformation is exempt from thread limiting (docs/autotask.md §10), so it gets its own concurrency
    // key. It answers without credentials, so none are sent: the discovery host only ever learns the user
    // name.
    return this.#send(zoneInformationSchema, {
      method: "GET",
      url,
      endpoint: "ZoneInformation",
      skipQuota: true,
      anonymous: true,
    });
  }

  async #apiBase(): Promise<string> {
    const zone = await this.zone();
    // ZoneInformation.url ends in ".../ATServicesRest/"; requests go to url + "V1.0/" (docs/autotask.md §2).
    return `${zone.url.replace(/\/?$/, "/")}V1.0/`;
  }

  // ------------------------------------------------------------------------- thresholds docs/autotask.md §10

  /** `GET /ThresholdInformation`; also refreshes the quota estimate. Counts as a request itself. */
  async thresholdInformation(): Promise<ThresholdInformation> {
    const info = await this.#readThreshold();
    this.#quota?.observe(info);
    return info;
  }

  async #readThreshold(): Promise<ThresholdInformation> {
    const url = joinUrl(await this.#apiBase(), "ThresholdInformation");
    const info = await this.#send(thresholdInformationSchema, {
      method: "GET",
      url,
      endpoint: "ThresholdInformation",
      skipQuota: true,
    });
    return info;
  }

  /** What the connection's clients remember in this process (connection-memory.ts); none without its budget. */
  connectionMemory(): ConnectionMemory | undefined {
    return this.#memory;
  }

  /** Epoch ms on the client's clock. */
  now(): number {
    return this.#now();
  }

  /** The remaining hourly quota as last estimated; undefined before the first reading or with the guard off. */
  quota(): QuotaStatus | undefined {
    return this.#quota?.status();
  }

  stats(): TransportStats {
    return this.#transport.stats();
  }

  // ---------------------------------------------------------------------------- metadata docs/autotask.md §7

  async entityInformation(entity: string): Promise<EntityInformation> {
    const url = joinUrl(await this.#apiBase(), entity, "entityInformation");
    return (await this.#send(entityInformationSchema, { method: "GET", url, endpoint: entity })).info;
  }

  async entityFields(entity: string): Promise<FieldInformation[]> {
    const url = joinUrl(await this.#apiBase(), entity, "entityInformation", "fields");
    return (await this.#send(fieldsResponseSchema, { method: "GET", url, endpoint: entity })).fields;
  }

  async userDefinedFields(entity: string): Promise<UserDefinedFieldInformation[]> {
    const url = joinUrl(await this.#apiBase(), entity, "entityInformation", "userDefinedFields");
    return (await this.#send(udfResponseSchema, { method: "GET", url, endpoint: entity })).fields;
  }

  // ------------------------------------------------------------------------------------- test connection

  /**
   * Checks discovery, credentials and the security level's access to every entity cspsync writes, and says
   * plainly what is wrong. Never throws for an Autotask-side problem; never includes the secret.
   */
  async testConnection(): Promise<ConnectionTestResult> {
    const result: ConnectionTestResult = { ok: false, problems: [], permissions: [] };
    try {
      const zone = await this.zone();
      result.zone = { name: zone.zoneName, url: zone.url };
    } catch (error) {
      result.problems.push(describeConnectionError("Zone discovery failed", error));
      return result;
    }
    try {
      result.threshold = await this.thresholdInformation();
    } catch (error) {
      const prefix =
        error instanceof PsaAuthError
          ? "Autotask refused the API credentials"
          : "The API credentials could not be checked";
      result.problems.push(describeConnectionError(prefix, error));
      return result;
    }
    for (const requirement of REQUIRED_ACCESS) {
      const permission = await this.#checkAccess(requirement.entity, requirement.needs, result.problems);
      result.permissions.push(permission);
      if (permission.missing.length > 0) {
        result.problems.push(
          `The API user's security level lacks ${permission.missing.join(", ")} access to ${requirement.entity}.`,
        );
      }
    }
    result.ok = result.problems.length === 0;
    return result;
  }

  async #checkAccess(
    entity: string,
    needs: EntityPermission["needs"],
    problems: string[],
  ): Promise<EntityPermission> {
    const permission: EntityPermission = { entity, needs, missing: [] };
    try {
      const info = await this.entityInformation(entity);
      const access: Record<EntityPermission["needs"][number], [boolean, string | null | undefined]> = {
        query: [info.canQuery, info.userAccessForQuery],
        create: [info.canCreate, info.userAccessForCreate],
        update: [info.canUpdate, info.userAccessForUpdate],
        delete: [info.canDelete, info.userAccessForDelete],
      };
      for (const need of needs) {
        const [can, userAccess] = access[need];
        if (!can || (userAccess ?? "").toLowerCase() === "none") permission.missing.push(need);
      }
    } catch (error) {
      problems.push(describeConnectionError(`Could not read ${entity} metadata`, error));
      permission.missing.push(...needs);
    }
    return permission;
  }

  // ------------------------------------------------------------------------------- reads docs/autotask.md §5

  #readApi<Shape extends z.ZodRawShape, Field extends string>(
    entity: string,
    schema: z.ZodObject<Shape>,
  ): ReadApi<z.infer<z.ZodObject<Shape>> & { id: number }, Field> {
    type T = z.infer<z.ZodObject<Shape>> & { id: number };
    const itemSchema = schema as unknown as z.ZodType<T>;
    const pages = (filters: readonly AutotaskFilter[], options: QueryOptions & ClientQueryOptions = {}) =>
      this.#pages<T>(entity, itemSchema, filters, options);
    const collect = async <Item>(source: AsyncGenerator<QueryPage<Item>>): Promise<Item[]> => {
      const items: Item[] = [];
      for await (const page of source) items.push(...page.items);
      return items;
    };
    return {
      get: (id) => this.#getById<T>(entity, itemSchema, id),
      query: async (filters, options) => {
        for await (const page of pages(filters, options)) return page;
        throw new Error("unreachable: a query always yields a first page");
      },
      pages: (filters, options) => pages(filters, options),
      queryAll: (filters, options) => collect(pages(filters, options)),
      select: (filters, fields, options) => {
        type Selected = Pick<T, (typeof fields)[number] | "id">;
        const mask = Object.fromEntries(["id", ...fields].map((field) => [field, true]));
        // Only the included fields come back, so only they are validated.
        const selected = schema.pick(mask as never) as unknown as z.ZodType<Selected>;
        const includeFields = fields.map(String);
        return collect(this.#pages<Selected>(entity, selected, filters, { ...options, includeFields }));
      },
      count: (filters) => this.#count(entity, filters),
      where: filterBuilder<Field>(),
    };
  }

  async #getById<T>(entity: string, schema: z.ZodType<T>, id: number): Promise<T | null> {
    const url = joinUrl(await this.#apiBase(), entity, id);
    try {
      return (await this.#send(itemSchema(schema), { method: "GET", url, endpoint: entity }))
        .item as T | null;
    } catch (error) {
      if (error instanceof PsaNotFoundError) return null;
      throw error;
    }
  }

  async *#pages<T>(
    entity: string,
    schema: z.ZodType<T>,
    filters: readonly AutotaskFilter[],
    options: QueryOptions & ClientQueryOptions,
  ): AsyncGenerator<QueryPage<T>> {
    const body = queryModel(filters, options);
    const base = await this.#apiBase();
    const first = this.#firstQueryRequest(joinUrl(base, entity, "query"), body, options.via);
    const method = first.method;
    let url = first.url;
    const seen = new Set<string>();
    const maxPages = this.#options.maxPages ?? 10_000;
    for (let page = 1; ; page += 1) {
      const request: SendRequest = { method, url, endpoint: entity, idempotent: true };
      // docs/autotask.md §5.3: repeat the original method and body.
      if (method === "POST") request.body = body;
      const result = (await this.#send(pageSchema(schema), request)) as QueryPage<T>;
      yield result;
      const next = result.pageDetails.nextPageUrl;
      if (!next) return;
      this.#assertFollowable(next, base, seen, page >= maxPages);
      seen.add(next);
      url = next;
    }
  }

  #firstQueryRequest(queryUrl: string, body: QueryModelBody, via: "POST" | "GET" = "POST") {
    if (via === "GET") {
      const url = `${queryUrl}?search=${encodeURIComponent(stringifyJson(body))}`;
      if (url.length <= MAX_GET_URL_LENGTH) return { method: "GET" as const, url };
    }
    return { method: "POST" as const, url: queryUrl };
  }

  /** Credentials go only to the zone's own origin, and paging must make progress. */
  #assertFollowable(next: string, base: string, seen: Set<string>, tooMany: boolean): void {
    const fail = (reason: string) =>
      new PsaError({ vendor: "autotask", method: "GET", url: this.#redact(next), reason });
    let origin: string;
    try {
      origin = new URL(next).origin;
    } catch {
      throw fail("nextPageUrl is not an absolute URL");
    }
    if (origin !== new URL(base).origin)
      throw fail("nextPageUrl points outside the Autotask zone; not followed, nothing was sent there");
    if (seen.has(next)) throw fail("nextPageUrl repeats a page already read");
    if (tooMany) throw fail("too many pages; stopping");
  }

  async #count(entity: string, filters: readonly AutotaskFilter[]): Promise<number> {
    const url = joinUrl(await this.#apiBase(), entity, "query", "count");
    const body = queryModel(filters);
    return (await this.#send(countSchema, { method: "POST", url, body, endpoint: entity, idempotent: true }))
      .queryCount;
  }

  // ------------------------------------------------------------------------------ writes docs/autotask.md §6

  async #create(endpoint: string, path: Array<string | number>, input: object): Promise<number> {
    const url = joinUrl(await this.#apiBase(), ...path);
    // A create is never retried blindly: Autotask has no idempotency keys (docs/autotask.md §6.5); the syncs
    // send creates through sendLookingBeforeRetrying (shared/write-once.ts), which looks the key up first.
    return (await this.#send(itemIdSchema, { method: "POST", url, body: wireBody(input), endpoint })).itemId;
  }

  async #update(
    endpoint: string,
    path: Array<string | number>,
    id: number,
    changes: object,
  ): Promise<number> {
    const url = joinUrl(await this.#apiBase(), ...path);
    // PATCH sets absolute values, so resending it after a lost response is harmless.
    const body = { ...wireBody(changes), id };
    return (await this.#send(itemIdSchema, { method: "PATCH", url, body, endpoint, idempotent: true }))
      .itemId;
  }

  async #createCharge(
    contractId: number,
    input: ContractChargeCreate,
    key: string | undefined,
  ): Promise<number> {
    const body: Record<string, unknown> = { contractID: contractId, ...input };
    if (key !== undefined) {
      assertValidIdempotencyKey(key);
      body[CHARGE_IDEMPOTENCY_FIELD] = key;
    }
    return this.#create("ContractCharges", ["Contracts", contractId, "Charges"], body);
  }

  async #deleteCharge(contractId: number, id: number): Promise<number> {
    const url = joinUrl(await this.#apiBase(), "Contracts", contractId, "Charges", id);
    return (await this.#send(itemIdSchema, { method: "DELETE", url, endpoint: "ContractCharges" })).itemId;
  }

  async #findChargeByKey(key: string): Promise<ContractCharge | null> {
    assertValidIdempotencyKey(key);
    const page = await this.contractCharges.query([
      this.contractCharges.where.eq(CHARGE_IDEMPOTENCY_FIELD, key),
    ]);
    const [first, second] = page.items;
    if (second) {
      throw new PsaError({
        vendor: "autotask",
        method: "POST",
        url: "ContractCharges/query",
        reason: `${page.items.length} contract charges carry the idempotency key ${key}; resolve the duplicates by hand`,
      });
    }
    return first ?? null;
  }

  // ------------------------------------------------------------------------------------ request core

  #authHeaders(): Record<string, string> {
    const { credentials } = this.#options;
    const headers: Record<string, string> = {
      UserName: credentials.userName,
      Secret: credentials.secret,
      ApiIntegrationCode: credentials.integrationCode,
    };
    if (credentials.impersonationResourceId !== undefined) {
      headers.ImpersonationResourceId = String(credentials.impersonationResourceId);
    }
    return headers;
  }

  async #send<T>(schema: z.ZodType<T>, request: SendRequest): Promise<T> {
    if (!request.skipQuota) await this.#quotaGate(request);
    const psaRequest: PsaRequest = {
      method: request.method,
      url: request.url,
      headers: request.anonymous ? {} : this.#authHeaders(),
      concurrencyKey: request.endpoint,
    };
    if (request.body !== undefined) psaRequest.body = request.body;
    if (request.idempotent !== undefined) psaRequest.idempotent = request.idempotent;
    const response = await this.#transport.request(psaRequest);
    return this.#parse(schema, response, request);
  }

  async #quotaGate(request: SendRequest): Promise<void> {
    if (!this.#quota) return;
    const decision = await this.#quota.beforeRequest();
    if (decision.action === "delay") {
      await (this.#options.transport?.sleep ?? defaultSleep)(decision.ms);
    } else if (decision.action === "refuse") {
      const { estimatedUsed, threshold, timeframeMinutes } = decision.status;
      throw new PsaRateLimitedError({
        vendor: "autotask",
        method: request.method,
        url: this.#redact(request.url),
        reason:
          `the tenant has used about ${estimatedUsed} of its ${threshold} API requests per ${timeframeMinutes} minutes; ` +
          "cspsync holds back to leave room for the tenant's other integrations",
      });
    }
  }

  #parse<T>(schema: z.ZodType<T>, response: PsaResponse, request: SendRequest): T {
    const parsed = schema.safeParse(response.body);
    if (parsed.success) return parsed.data;
    throw new PsaError({
      vendor: "autotask",
      method: request.method,
      url: this.#redact(request.url),
      status: response.status,
      reason: `unexpected response shape: ${z.prettifyError(parsed.error).slice(0, 500)}`,
    });
  }

  #redact(text: string): string {
    return redactSecrets(text, [this.#options.credentials.secret, this.#options.credentials.integrationCode]);
  }

  /**
   * Autotask-specific error mapping (docs/autotask.md §9): 500 with `{"errors":[...]}` is a
   * validation/business-rule failure (not retryable), except the thread-limit refusal (Itgenatr005), which
   * arrives with various statuses and is safe to retry because nothing was done (docs/autotask.md §9, §10).
   */
  #classify(response: PsaResponse, request: PsaRequest): ResponseVerdict {
    if (response.status < 400) return undefined;
    const server = extractServerMessages(response.body);
    if (server.details.some((detail) => THREAD_LIMIT.test(detail))) return "retry";
    const init = {
      vendor: "autotask" as const,
      method: request.method,
      url: this.#redact(request.url),
      status: response.status,
      details: server.details.map((detail) => this.#redact(detail)),
    };
    if (server.details.some((detail) => /zone information could not be determined/i.test(detail))) {
      return new PsaAuthError({
        ...init,
        reason: "Autotask does not know this API user name (zone discovery)",
      });
    }
    if (server.details.some((detail) => /adequate permissions/i.test(detail))) {
      return new PsaAuthError({ ...init, reason: "the API user's security level does not allow this" });
    }
    if (response.status === 401) {
      // The zone may be another's now (the tenant moved): the next client discovers it again.
      this.#memory?.forgetZone(this.#discoveryBase(), this.#options.credentials.userName);
      return new PsaAuthError({
        ...init,
        reason: "credentials rejected: check UserName, Secret and ApiIntegrationCode (or the zone)",
      });
    }
    if (response.status === 500 && hasErrorsArray(response.body)) return new PsaValidationError(init);
    return undefined;
  }
}

/** PsaError messages are already redacted by the transport and the classifier. */
function describeConnectionError(prefix: string, error: unknown): string {
  return `${prefix}: ${error instanceof Error ? error.message : String(error)}`;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function createAutotaskClient(options: AutotaskClientOptions): AutotaskClient {
  return new AutotaskClient(options);
}
