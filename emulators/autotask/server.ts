import { createEmulatorServer, loadJsonIfExists, persistJsonAtomically } from "../kit.ts";
import type { ActiveFault, EmulatorContext, EmulatorReply, EmulatorServer, FaultRule } from "../kit.ts";
import { EmulatorApiError, validationError } from "./api-error.ts";
import { DEFAULT_LIMITS, RequestThreshold, ThreadCounter } from "./limits.ts";
import type { AutotaskEmulatorLimits } from "./limits.ts";
import { buildRoutes, notFoundReply } from "./routes.ts";
import type { ApiHandler, ApiUser, RouteEnvironment } from "./routes.ts";
import { DEFAULT_SWITCHES } from "./rules.ts";
import type { AutotaskEmulatorSwitches, WriteContext } from "./rules.ts";
import { API_USER_RESOURCE_ID, markChargeBilled, seedState } from "./seed.ts";
import type { SeedName } from "./seed.ts";
import type { EntityName } from "./schema.ts";
import { AutotaskStore } from "./store.ts";
import type { Row } from "./store.ts";

export type AutotaskEmulatorOptions = {
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default "demo". Ignored when `dataFile` already holds state. */
  seed?: SeedName;
  /** Server processing time per API request, inside the thread-limit window. Default 0. */
  latencyMs?: number;
  /** State is loaded from here at start (if present) and saved after every committed write. */
  dataFile?: string;
  faults?: FaultRule[];
  /** Seed for probability faults, so a fault schedule is reproducible. Default 1. */
  faultSeed?: number;
  switches?: Partial<AutotaskEmulatorSwitches>;
  limits?: Partial<AutotaskEmulatorLimits>;
  /** API users; default one full-access user (DEMO_API_USER). */
  users?: ApiUser[];
  /** Clock for dates, expiry and the threshold window. */
  now?: () => Date;
};

/** The default credentials of a started emulator; fake values, safe to print. */
export const DEMO_API_USER: ApiUser = {
  userName: "api-user@cspsync-demo.example",
  secret: "emulator-secret",
  integrationCode: "CSPSYNC-EMULATOR",
  resourceId: API_USER_RESOURCE_ID,
  access: "full",
};

export type AutotaskEmulatorState = {
  readonly store: AutotaskStore;
  list(entity: EntityName): Row[];
  get(entity: EntityName, id: number): Row | undefined;
  /** Invoicing is not an API operation; tests flip `isBilled` here (docs/autotask.md §8.3). */
  markChargeBilled(chargeId: number): void;
  /** Requests counted in the current threshold window (docs/autotask.md §10). */
  thresholdCount(): number;
  /** Current and peak concurrent requests per (integration code, endpoint) (docs/autotask.md §10). */
  inFlight(endpoint: EntityName | "ThresholdInformation", integrationCode?: string): number;
  maxInFlight(endpoint: EntityName | "ThresholdInformation", integrationCode?: string): number;
  /** Holds every API request inside its thread-limit window until the returned function is called. */
  holdRequests(): () => void;
  reseed(seed: SeedName): void;
  save(): void;
};

export type AutotaskEmulator = {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  /** `${url}/atservicesrest/v1.0/`: both the zone-discovery base and the API base. */
  apiBaseUrl: string;
  users: ApiUser[];
  state: AutotaskEmulatorState;
  /** The kit server: request log, stats, faults, latency. */
  server: EmulatorServer;
  /**
   * Adds faults; thread-limit rules default to the Autotask status and message (docs/autotask.md §9, §10).
   */
  addFaults(rules: FaultRule | FaultRule[]): ActiveFault[];
  close(): Promise<void>;
};

function header(ctx: EmulatorContext, name: string): string | undefined {
  const value = ctx.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * docs/autotask.md §3: UserName, Secret and ApiIntegrationCode on every request; header names are
 * case-insensitive.
 */
function findUser(users: ApiUser[], ctx: EmulatorContext): ApiUser | undefined {
  const userName = header(ctx, "UserName")?.toLowerCase();
  const secret = header(ctx, "Secret");
  const code = header(ctx, "ApiIntegrationCode");
  return users.find(
    (user) =>
      user.userName.toLowerCase() === userName && user.secret === secret && user.integrationCode === code,
  );
}

function isUnauthenticatedPath(path: string, switches: AutotaskEmulatorSwitches): boolean {
  const lower = path.toLowerCase().replace(/\/$/, "");
  if (lower.endsWith("/atservicesrest/versioninformation")) return true;
  return lower.endsWith("/zoneinformation") && !switches.zoneInformationRequiresAuth;
}

function threadLimitBody(endpoint: string, limit: number): unknown {
  return {
    errors: [
      `Thread Threshold Exceeded (Itgenatr005): more than ${limit} concurrent requests for the ${endpoint} endpoint from this API integration.`,
    ],
  };
}

function replyFor(error: EmulatorApiError): EmulatorReply {
  const reply: EmulatorReply = { status: error.status, headers: error.headers };
  if (error.body !== undefined) reply.body = error.body;
  return reply;
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

export async function startAutotaskEmulator(
  options: AutotaskEmulatorOptions = {},
): Promise<AutotaskEmulator> {
  const switches: AutotaskEmulatorSwitches = { ...DEFAULT_SWITCHES, ...options.switches };
  const limits: AutotaskEmulatorLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const users = options.users ?? [DEMO_API_USER];
  const now = options.now ?? (() => new Date());
  const store = new AutotaskStore();
  const threshold = new RequestThreshold(limits, () => now().getTime());
  const threads = new ThreadCounter();
  let gate: Promise<void> | undefined;

  const writeContext = (resourceId: number): WriteContext => ({ store, now, resourceId, switches });
  const seedName = options.seed ?? "demo";
  const save = () => {
    if (options.dataFile) persistJsonAtomically(options.dataFile, store.toJSON());
  };
  const saved = options.dataFile ? loadJsonIfExists(options.dataFile) : undefined;
  if (saved === undefined) {
    seedState(writeContext(API_USER_RESOURCE_ID), seedName);
    save();
  } else {
    store.load(saved);
  }

  /** ImpersonationResourceId must name an active resource (docs/autotask.md §3, §6.4). */
  function actingResource(ctx: EmulatorContext, user: ApiUser): number {
    const header = ctx.headers["impersonationresourceid"];
    const text = Array.isArray(header) ? header[0] : header;
    if (text === undefined || text === "") return user.resourceId;
    const id = Number(text);
    const resource = store.resources.find((candidate) => candidate.id === id && candidate.isActive);
    if (!resource) {
      throw validationError(
        `The logged in Resource does not have the adequate permissions to impersonate resource ${text}.`,
      );
    }
    return resource.id;
  }

  const guard =
    (endpointOf: (ctx: EmulatorContext) => string, handler: ApiHandler) =>
    async (ctx: EmulatorContext): Promise<EmulatorReply> => {
      const user = findUser(users, ctx);
      if (!user) return { status: 401 }; // authenticate() already answered; kept for type narrowing.
      const endpoint = endpointOf(ctx);
      if (threshold.isExhausted()) {
        const seconds = threshold.secondsUntilSlotFrees();
        return {
          status: 429,
          headers: { "retry-after": String(seconds) },
          body: {
            errors: [
              `API request threshold of ${limits.hourlyThreshold} requests per ${limits.timeframeMinutes} minutes exceeded.`,
            ],
          },
        };
      }
      const tierDelay = threshold.usageLatencyMs();
      threshold.record();
      const key = ThreadCounter.key(user.integrationCode, endpoint);
      if (!threads.tryEnter(key, limits.threadsPerEndpoint)) {
        return {
          status: switches.threadLimitStatus,
          body: threadLimitBody(endpoint, limits.threadsPerEndpoint),
        };
      }
      try {
        await gate;
        await delay((options.latencyMs ?? 0) + tierDelay);
        return await handler({ ctx, user, write: writeContext(actingResource(ctx, user)) });
      } catch (error) {
        if (error instanceof EmulatorApiError) return replyFor(error);
        throw error;
      } finally {
        threads.leave(key);
      }
    };

  const env: RouteEnvironment = { store, switches, users, now, guard, thresholdInfo: () => threshold.info() };
  const routes = buildRoutes(env);
  const withAutotaskDefaults = (rule: FaultRule): FaultRule =>
    rule.kind === "thread-limit" && rule.status === undefined
      ? { ...rule, status: switches.threadLimitStatus }
      : rule;

  const server = createEmulatorServer({
    name: "autotask",
    routes,
    caseInsensitivePaths: true,
    authenticate: (ctx) => {
      if (isUnauthenticatedPath(ctx.path, switches) || findUser(users, ctx)) return undefined;
      return switches.authFailureBody === "errors"
        ? {
            status: 401,
            body: { errors: ["Unauthorized: the UserName, Secret or ApiIntegrationCode is invalid."] },
          }
        : { status: 401 };
    },
    notFound: (ctx) => notFoundReply(routes, ctx),
    faults: (options.faults ?? []).map(withAutotaskDefaults),
    ...(options.faultSeed === undefined ? {} : { seed: options.faultSeed }),
    rateLimitBody: { errors: ["API request threshold exceeded. Try again later."] },
    threadLimitBody: threadLimitBody("requested", limits.threadsPerEndpoint),
    onReset: () => {
      seedState(writeContext(API_USER_RESOURCE_ID), seedName);
      threshold.reset();
      threads.reset();
      save();
    },
    dumpState: () => store.toJSON(),
    persist: save,
  });

  const listening = await server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  const defaultCode = users[0]?.integrationCode ?? "";
  const state: AutotaskEmulatorState = {
    store,
    list: (entity) => store.all(entity).sort((a, b) => a.id - b.id),
    get: (entity, id) => store.get(entity, id),
    markChargeBilled: (chargeId) => {
      markChargeBilled(store, chargeId);
      save();
    },
    thresholdCount: () => threshold.count(),
    inFlight: (endpoint, code = defaultCode) => threads.inFlight(ThreadCounter.key(code, endpoint)),
    maxInFlight: (endpoint, code = defaultCode) => threads.maxInFlight(ThreadCounter.key(code, endpoint)),
    holdRequests: () => {
      let release = () => {};
      gate = new Promise<void>((resolve) => {
        release = () => {
          gate = undefined;
          resolve();
        };
      });
      return release;
    },
    reseed: (seed) => {
      seedState(writeContext(API_USER_RESOURCE_ID), seed);
      save();
    },
    save,
  };

  return {
    url: listening.url,
    port: listening.port,
    apiBaseUrl: `${listening.url}/atservicesrest/v1.0/`,
    users,
    state,
    server,
    addFaults: (rules) =>
      server.addFaults((Array.isArray(rules) ? rules : [rules]).map(withAutotaskDefaults)),
    close: () => server.close(),
  };
}
