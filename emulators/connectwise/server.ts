import type { EmulatorContext, EmulatorReply, EmulatorRoute, EmulatorServer, FaultRule } from "../kit.ts";
import { createEmulatorServer, loadJsonIfExists, persistJsonAtomically } from "../kit.ts";
import type { EvaluationOptions } from "./conditions.ts";
import {
  buildFilter,
  forwardOnlyPage,
  navigablePage,
  parseFields,
  parseOrderBy,
  project,
  sortViews,
} from "./query.ts";
import type { View } from "./query.ts";
import { fieldResolver, toView, toWire } from "./records.ts";
import type { ResourceDef, TableName } from "./resources.ts";
import { RESOURCES } from "./resources.ts";
import {
  badRequest,
  conflict,
  CwReplyError,
  forbidden,
  methodNotAllowed,
  notFound,
  RATE_LIMIT_BODY,
  unauthorized,
  unknownPath,
} from "./replies.ts";
import type { CwSwitches } from "./rules.ts";
import { DEFAULT_SWITCHES, derivedFields, inUseReason } from "./rules.ts";
import type { SeedName } from "./seed.ts";
import { seedData } from "./seed.ts";
import type { CwEmulatorData, Row } from "./state.ts";
import { allocateId, findRow, parseEmulatorData } from "./state.ts";
import type { WriteEnv } from "./writes.ts";
import { createRow, patchRow, replaceRow } from "./writes.ts";

/**
 * A ConnectWise Manage emulator for development and contract tests, following docs/connectwise.md (§11 is its
 * checklist): real paths under any codebase, companyinfo discovery, Basic auth plus clientId, the conditions
 * language, paging, field shapes, error bodies, billing business rules and injectable faults.
 */

export type ConnectWiseCredentials = { companyId: string; publicKey: string; privateKey: string };

/** Denies the API member a permission: requests whose API path contains `path` (and match `method`) get 403. */
export type ForbiddenRule = { path: string; method?: string };

export type ConnectWiseEmulatorOptions = {
  port?: number;
  host?: string;
  /** Ignored when `dataFile` exists: the saved state wins. Default "demo". */
  seed?: SeedName;
  latencyMs?: number;
  /** State is loaded from here at start and saved after each write, so it survives a restart. */
  dataFile?: string;
  faults?: FaultRule[];
  /** Seed for probability faults. */
  faultSeed?: number;
  switches?: Partial<CwSwitches>;
  credentials?: ConnectWiseCredentials;
  /**
   * What companyinfo reports as `Codebase` for a fresh state (docs/connectwise.md §2). Default "v2025_1/".
   */
  codebase?: string;
  /** Echoed as `api-current-version` (docs/connectwise.md §3). */
  apiVersion?: string;
  /** `_info.updatedBy` on records written through the API. */
  memberIdentifier?: string;
  forbidden?: ForbiddenRule[];
  /** Clock for derived statuses, defaults and `_info.lastUpdated`; tests pin it. */
  now?: () => Date;
};

export type ConnectWiseEmulator = {
  url: string;
  port: number;
  credentials: ConnectWiseCredentials;
  /** The live state; tests may read and change it directly. */
  data(): CwEmulatorData;
  /** Live switches; change them between requests. */
  switches: CwSwitches;
  /** Simulates a cloud upgrade: companyinfo reports the new codebase from now on. */
  setCodebase(codebase: string): void;
  setForbidden(rules: ForbiddenRule[]): void;
  /** Faults, latency, request log and stats from the shared emulator kit. */
  server: EmulatorServer;
  /** Reseeds (and persists, with a dataFile), clears faults and the request log. */
  reset(): Promise<void>;
  close(): Promise<void>;
};

export const DEFAULT_CREDENTIALS: ConnectWiseCredentials = {
  companyId: "cspsyncdemo",
  publicKey: "demo-public-key",
  privateKey: "demo-private-key",
};

const API_PREFIX = "/:codebase/apis/3.0";
const ON_PREMISE_CODEBASE = "v4_6_release";
/** Agreement types come before agreements so `/finance/agreements/types` is not taken for an agreement id. */
const ROUTE_ORDER: readonly TableName[] = [
  "companies",
  "contacts",
  "agreementTypes",
  "billingCycles",
  "billingTerms",
  "additions",
  "agreements",
  "catalogItems",
  "productTypes",
  "productSubcategories",
];

export async function startConnectWiseEmulator(
  options: ConnectWiseEmulatorOptions = {},
): Promise<ConnectWiseEmulator> {
  const credentials = options.credentials ?? DEFAULT_CREDENTIALS;
  const seed = options.seed ?? "demo";
  const initialCodebase = options.codebase ?? "v2025_1/";
  const switches: CwSwitches = { ...DEFAULT_SWITCHES, ...options.switches };
  const now = options.now ?? (() => new Date());
  let forbiddenRules = options.forbidden ?? [];
  let data = loadData(options.dataFile) ?? seedData(seed, initialCodebase);
  const persist = (): void => {
    if (options.dataFile) persistJsonAtomically(options.dataFile, data);
  };

  const apiVersion = options.apiVersion ?? "2025.8";
  const decorate = commonHeaders(apiVersion);
  const api = new ApiHandlers({
    data: () => data,
    switches,
    now,
    memberIdentifier: options.memberIdentifier ?? "APIMember",
    decorate,
  });

  const server = createEmulatorServer({
    name: "connectwise",
    routes: [
      companyInfoRoute(credentials, () => data, decorate),
      systemInfoRoute(apiVersion, decorate),
      ...ROUTE_ORDER.flatMap((table) => api.routes(RESOURCES[table])),
    ],
    authenticate: (ctx) =>
      authenticate(ctx, {
        credentials,
        switches,
        data: () => data,
        forbidden: () => forbiddenRules,
        decorate,
      }),
    notFound: (ctx) => decorate(ctx, methodOrPathError(ctx)),
    ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(options.faultSeed === undefined ? {} : { seed: options.faultSeed }),
    rateLimitBody: RATE_LIMIT_BODY,
    onReset: () => {
      data = seedData(seed, initialCodebase);
      persist();
    },
    dumpState: () => data,
    persist,
  });
  const { url, port } = await server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  if (options.dataFile) persist();

  return {
    url,
    port,
    credentials,
    data: () => data,
    switches,
    setCodebase: (codebase) => {
      data.codebase = codebase.endsWith("/") ? codebase : `${codebase}/`;
      persist();
    },
    setForbidden: (rules) => {
      forbiddenRules = rules;
    },
    server,
    reset: () => server.reset(),
    close: () => server.close(),
  };
}

function loadData(dataFile: string | undefined): CwEmulatorData | undefined {
  if (!dataFile) return undefined;
  const saved = loadJsonIfExists(dataFile);
  return saved === undefined ? undefined : parseEmulatorData(saved);
}

// ---------------------------------------------------------------------------------------------- auth

type AuthEnv = {
  credentials: ConnectWiseCredentials;
  switches: CwSwitches;
  data: () => CwEmulatorData;
  forbidden: () => ForbiddenRule[];
  decorate: Decorate;
};

/**
 * docs/connectwise.md §2 codebase, §3 Basic `company+public:private` and a required clientId header, §7.1 403
 * for denied rights.
 */
function authenticate(ctx: EmulatorContext, env: AuthEnv): EmulatorReply | undefined {
  const { decorate } = env;
  if (ctx.path.startsWith("/login/")) return undefined;
  const codebaseProblem = checkCodebase(ctx.path, env);
  if (codebaseProblem) return decorate(ctx, codebaseProblem);
  const clientId = headerValue(ctx, "clientid");
  if (!clientId) {
    return decorate(ctx, unauthorized(env.switches.authErrorStyle, "A clientId header is required."));
  }
  if (!credentialsMatch(headerValue(ctx, "authorization"), env.credentials)) {
    return decorate(ctx, unauthorized(env.switches.authErrorStyle, "The credentials are not valid."));
  }
  const apiPath = ctx.path.replace(/^\/[^/]+\/apis\/3\.0/, "");
  const denied = env
    .forbidden()
    .some(
      (rule) =>
        apiPath.includes(rule.path) &&
        (rule.method === undefined || rule.method.toUpperCase() === ctx.method),
    );
  return denied ? decorate(ctx, forbidden(ctx.method, apiPath)) : undefined;
}

function checkCodebase(path: string, env: AuthEnv): EmulatorReply | undefined {
  const match = /^\/([^/]+)\/apis\/3\.0(\/|$)/.exec(path);
  if (!match) return undefined;
  const codebase = match[1] ?? "";
  if (codebase === ON_PREMISE_CODEBASE) return undefined;
  if (!/^v\d{4}_\d+$/.test(codebase)) return unknownPath(path);
  const stale = `${codebase}/` !== env.data().codebase;
  return env.switches.rejectStaleCodebase && stale ? unknownPath(path) : undefined;
}

function credentialsMatch(header: string | undefined, expected: ConnectWiseCredentials): boolean {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!match?.[1]) return false;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const privateKey = colon < 0 ? "" : decoded.slice(colon + 1);
  const plus = user.indexOf("+");
  if (plus < 0) return false;
  const company = user.slice(0, plus);
  const publicKey = user.slice(plus + 1);
  // Company ids are matched without case, as at login; keys exactly.
  return (
    company.toLowerCase() === expected.companyId.toLowerCase() &&
    publicKey === expected.publicKey &&
    privateKey === expected.privateKey
  );
}

function headerValue(ctx: EmulatorContext, name: string): string | undefined {
  const value = ctx.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text.trim() === "" ? undefined : text;
}

/** Adds the headers every reply carries. */
type Decorate = (ctx: EmulatorContext, reply: EmulatorReply) => EmulatorReply;

/**
 * Response headers seen on real responses (docs/connectwise.md §3); `x-cw-request-id` is derived from the
 * request number.
 */
function commonHeaders(apiVersion: string): Decorate {
  return (ctx, reply) => ({
    ...reply,
    headers: {
      "api-current-version": apiVersion,
      "x-cw-request-id": `00000000-0000-4000-8000-${String(ctx.requestId).padStart(12, "0")}`,
      "x-server-name": "cspsync-emulator",
      "cache-control": "no-cache",
      pragma: "no-cache",
      ...reply.headers,
    },
  });
}

// ---------------------------------------------------------------------------------------------- fixed routes

/**
 * docs/connectwise.md §2: no auth; PascalCase keys, `IsCloud` as a string; an unknown company gets a 200 with
 * body `null`.
 */
function companyInfoRoute(
  credentials: ConnectWiseCredentials,
  data: () => CwEmulatorData,
  decorate: Decorate,
): EmulatorRoute {
  return {
    method: "GET",
    pattern: "/login/companyinfo/:companyId",
    handler: (ctx) => {
      if (ctx.params.companyId?.toLowerCase() !== credentials.companyId.toLowerCase()) {
        return decorate(ctx, { status: 200, body: null });
      }
      const codebase = data().codebase;
      const version = codebase.replace(/\/$/, "").replace(/^v(\d{4})_(\d+)$/, "v$1.$2");
      return decorate(ctx, {
        status: 200,
        body: {
          CompanyName: "cspsync Demo MSP",
          Codebase: codebase,
          VersionCode: version,
          VersionNumber: "v4.6.99999",
          CompanyID: credentials.companyId,
          IsCloud: "True",
        },
      });
    },
  };
}

/** docs/connectwise.md §9.9 `Info`. */
function systemInfoRoute(apiVersion: string, decorate: Decorate): EmulatorRoute {
  return {
    method: "GET",
    pattern: `${API_PREFIX}/system/info`,
    handler: (ctx) =>
      decorate(ctx, {
        status: 200,
        body: {
          version: `v${apiVersion}.10000`,
          isCloud: true,
          serverTimeZone: "Eastern Standard Time",
          licenseBits: [{ name: "Agreements", activeFlag: true }],
          cloudRegion: "NA",
          maxWorkFlowRecordsAllowed: 10000,
        },
      }),
  };
}

// ---------------------------------------------------------------------------------------------- collections

type ApiEnv = {
  data: () => CwEmulatorData;
  switches: CwSwitches;
  now: () => Date;
  memberIdentifier: string;
  decorate: Decorate;
};

class ApiHandlers {
  readonly #env: ApiEnv;

  constructor(env: ApiEnv) {
    this.#env = env;
  }

  /**
   * docs/connectwise.md §8: list, count, create, get, replace, patch and delete on every collection (§11).
   */
  routes(def: ResourceDef): EmulatorRoute[] {
    const base = `${API_PREFIX}${def.path}`;
    const route = (
      method: string,
      pattern: string,
      handler: (ctx: EmulatorContext) => EmulatorReply,
    ): EmulatorRoute => ({
      method,
      pattern,
      write: method !== "GET",
      handler: (ctx) => this.#guard(ctx, handler),
    });
    return [
      route("GET", `${base}/count`, (ctx) => this.#count(def, ctx)),
      route("GET", base, (ctx) => this.#list(def, ctx)),
      route("POST", base, (ctx) => this.#create(def, ctx)),
      route("GET", `${base}/:id`, (ctx) => this.#get(def, ctx)),
      route("PUT", `${base}/:id`, (ctx) => this.#replace(def, ctx)),
      route("PATCH", `${base}/:id`, (ctx) => this.#patch(def, ctx)),
      route("DELETE", `${base}/:id`, (ctx) => this.#delete(def, ctx)),
    ];
  }

  #guard(ctx: EmulatorContext, handler: (ctx: EmulatorContext) => EmulatorReply): EmulatorReply {
    try {
      return this.#env.decorate(ctx, handler(ctx));
    } catch (error) {
      if (error instanceof CwReplyError) return this.#env.decorate(ctx, error.reply);
      throw error;
    }
  }

  get #evaluation(): EvaluationOptions {
    return { caseInsensitive: this.#env.switches.caseInsensitiveStrings };
  }

  #list(def: ResourceDef, ctx: EmulatorContext): EmulatorReply {
    const resolver = fieldResolver(def);
    const matched = this.#matchingViews(def, ctx);
    const fields = parseFields(ctx.query.get("fields"), resolver);
    const requestUrl = new URL(`${ctx.path}?${ctx.query.toString()}`, ctx.baseUrl);
    const paging = { capPageSize: this.#env.switches.capPageSize };
    const forwardOnly = headerValue(ctx, "pagination-type")?.toLowerCase() === "forward-only";
    const page = forwardOnly
      ? forwardOnlyPage(matched, ctx.query, requestUrl, paging)
      : navigablePage(
          sortViews(matched, parseOrderBy(ctx.query.get("orderBy"), resolver), this.#evaluation),
          ctx.query,
          requestUrl,
          paging,
        );
    return {
      status: 200,
      body: page.items.map((view) => toWire(def, project(view, fields))),
      headers: { link: page.link },
    };
  }

  #count(def: ResourceDef, ctx: EmulatorContext): EmulatorReply {
    return { status: 200, body: { count: this.#matchingViews(def, ctx).length } };
  }

  #matchingViews(def: ResourceDef, ctx: EmulatorContext): View[] {
    const filter = buildFilter(ctx.query, fieldResolver(def), this.#evaluation);
    return this.#rowsOf(def, ctx)
      .map((row) => this.#view(def, row, ctx))
      .filter(filter);
  }

  #get(def: ResourceDef, ctx: EmulatorContext): EmulatorReply {
    const row = this.#existing(def, ctx);
    const fields = parseFields(ctx.query.get("fields"), fieldResolver(def));
    return { status: 200, body: toWire(def, project(this.#view(def, row, ctx), fields)) };
  }

  #create(def: ResourceDef, ctx: EmulatorContext): EmulatorReply {
    const parentId = this.#parentId(def, ctx);
    const data = this.#env.data();
    const row = createRow(def, this.#body(ctx), this.#writeEnv(), data.nextIds[def.table], parentId);
    allocateId(data, def.table);
    data.tables[def.table].push(row);
    return { status: 201, body: toWire(def, this.#view(def, row, ctx)) };
  }

  #replace(def: ResourceDef, ctx: EmulatorContext): EmulatorReply {
    const previous = this.#existing(def, ctx);
    return this.#store(def, ctx, replaceRow(def, this.#body(ctx), previous, this.#writeEnv()));
  }

  #patch(def: ResourceDef, ctx: EmulatorContext): EmulatorReply {
    const previous = this.#existing(def, ctx);
    return this.#store(def, ctx, patchRow(def, this.#body(ctx), previous, this.#writeEnv()));
  }

  #store(def: ResourceDef, ctx: EmulatorContext, row: Row): EmulatorReply {
    const rows = this.#env.data().tables[def.table];
    rows[rows.findIndex((candidate) => candidate.id === row.id)] = row;
    // PATCH and PUT answer with the full updated record (docs/connectwise.md §6).
    return { status: 200, body: toWire(def, this.#view(def, row, ctx)) };
  }

  #delete(def: ResourceDef, ctx: EmulatorContext): EmulatorReply {
    const row = this.#existing(def, ctx);
    const data = this.#env.data();
    const reason = inUseReason(def.table, row, data);
    if (reason) throw conflict(reason);
    data.tables[def.table] = data.tables[def.table].filter((candidate) => candidate.id !== row.id);
    return { status: 204 };
  }

  #view(def: ResourceDef, row: Row, ctx: EmulatorContext): View {
    const apiBase = `${ctx.baseUrl}/${ctx.params.codebase ?? ON_PREMISE_CODEBASE}/apis/3.0`;
    const data = this.#env.data();
    const view = toView(def, row, { data, apiBase });
    return {
      ...view,
      ...derivedFields(def.table, row, { data, switches: this.#env.switches, now: this.#env.now() }),
    };
  }

  /** Rows of the collection; additions only those of the agreement in the path. */
  #rowsOf(def: ResourceDef, ctx: EmulatorContext): Row[] {
    const rows = this.#env.data().tables[def.table];
    const parentId = this.#parentId(def, ctx);
    return parentId === undefined ? rows : rows.filter((row) => row.agreementId === parentId);
  }

  #parentId(def: ResourceDef, ctx: EmulatorContext): number | undefined {
    if (def.table !== "additions") return undefined;
    const parentId = recordId(ctx.params.parentId, "Agreement");
    if (!findRow(this.#env.data(), "agreements", parentId)) throw notFound("Agreement", parentId);
    return parentId;
  }

  #existing(def: ResourceDef, ctx: EmulatorContext): Row {
    const id = recordId(ctx.params.id, def.entityName);
    const row = this.#rowsOf(def, ctx).find((candidate) => candidate.id === id);
    if (!row) throw notFound(def.entityName, id);
    return row;
  }

  #body(ctx: EmulatorContext): unknown {
    if (ctx.bodyError !== undefined) throw badRequest("The request body is not valid JSON.");
    return ctx.body;
  }

  #writeEnv(): WriteEnv {
    return {
      data: this.#env.data(),
      switches: this.#env.switches,
      now: this.#env.now(),
      memberIdentifier: this.#env.memberIdentifier,
    };
  }
}

function recordId(text: string | undefined, entityName: string): number {
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw notFound(entityName, text ?? "");
  }
  return Number(text);
}

// ---------------------------------------------------------------------------------------------- 404 / 405

const KNOWN_PATHS: RegExp[] = [
  /^\/[^/]+\/apis\/3\.0\/system\/info\/?$/,
  ...ROUTE_ORDER.flatMap((table) => {
    const path = RESOURCES[table].path.replace(/:parentId/, "[^/]+");
    return [new RegExp(`^/[^/]+/apis/3\\.0${path}/?$`), new RegExp(`^/[^/]+/apis/3\\.0${path}/[^/]+/?$`)];
  }),
];

/** A known path with an unsupported method is 405 (docs/connectwise.md §7.1); anything else is 404. */
function methodOrPathError(ctx: EmulatorContext): EmulatorReply {
  if (KNOWN_PATHS.some((pattern) => pattern.test(ctx.path))) return methodNotAllowed().reply;
  return unknownPath(ctx.path);
}
