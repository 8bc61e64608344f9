import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { z } from "zod";
import { parseJson, stringifyJson } from "../src/psa/shared/json.ts";

/**
 * A generic PSA emulator: routes, a request log, and injectable faults (rate limits, server errors,
 * dropped connections, lost responses) so cspsync's clients can be tested against real HTTP.
 */

export type EmulatorContext = {
  requestId: number;
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** parseJson(rawBody); undefined when the body is empty or not JSON (see bodyError). */
  body: unknown;
  /** Set when rawBody is not valid JSON, so the vendor can answer with its own parse error. */
  bodyError?: string;
  baseUrl: string;
};

export type EmulatorReply = {
  status: number;
  /** Written with stringifyJson. */
  body?: unknown;
  /** Written verbatim instead of `body` (text/plain unless headers say otherwise). */
  text?: string;
  headers?: Record<string, string>;
};

export type EmulatorRoute = {
  method: string;
  /** e.g. "/v4_6_release/apis/3.0/finance/agreements/:id" */
  pattern: string;
  handler: (ctx: EmulatorContext) => EmulatorReply | Promise<EmulatorReply>;
  /** The handler changes state: persist after a 2xx reply. */
  write?: boolean;
};

export type FaultKind =
  "latency" | "rate-limit" | "server-error" | "drop-connection" | "lose-response" | "thread-limit";

const faultRuleSchema = z.object({
  id: z.string().optional(),
  kind: z.enum(["latency", "rate-limit", "server-error", "drop-connection", "lose-response", "thread-limit"]),
  method: z.string().optional(),
  path: z.string().optional(),
  nth: z.array(z.number().int().positive()).optional(),
  every: z.number().int().positive().optional(),
  times: z.number().int().nonnegative().optional(),
  probability: z.number().min(0).max(1).optional(),
  latencyMs: z.number().nonnegative().optional(),
  retryAfterSeconds: z.number().nonnegative().optional(),
  status: z.number().int().min(100).max(599).optional(),
  body: z.unknown().optional(),
});

/**
 * Selectors combine: nth, every and probability must all pass; times then limits how often the rule fires.
 * A rule with no selector fires on every matching request.
 */
export type FaultRule = z.infer<typeof faultRuleSchema>;

/** A rule as listed by the admin API, with its counters. */
export type ActiveFault = FaultRule & { id: string; matched: number; fired: number; remaining?: number };

export type RequestLogEntry = {
  id: number;
  at: string;
  method: string;
  /** Path with query string. */
  path: string;
  /** The route pattern that handled it, if any. */
  route?: string;
  status: number | "dropped" | "lost";
  fault?: FaultKind;
  durationMs: number;
  /** A write route whose effect was committed. */
  write: boolean;
};

export type EmulatorStats = {
  total: number;
  byMethod: Record<string, number>;
  /** "GET /pattern" → count; unrouted requests count under "GET (no route)". */
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  writes: number;
};

export type EmulatorOptions = {
  name: string;
  routes: EmulatorRoute[];
  /** Returns a reply to reject the request, undefined to let it through. Runs after faults, before the handler. */
  authenticate?: (ctx: EmulatorContext) => EmulatorReply | undefined;
  notFound?: (ctx: EmulatorContext) => EmulatorReply;
  latencyMs?: number;
  faults?: FaultRule[];
  /** Seeds the RNG for probability faults, so runs are reproducible. Default 1. */
  seed?: number;
  /** Vendor body for "rate-limit" faults. */
  rateLimitBody?: unknown;
  /** Vendor body for "thread-limit" faults (default: rateLimitBody). */
  threadLimitBody?: unknown;
  /** Autotask matches paths case-insensitively. */
  caseInsensitivePaths?: boolean;
  /** POST /__emulator/reset: reseed vendor state. */
  onReset?: () => void | Promise<void>;
  /** GET /__emulator/state. */
  dumpState?: () => unknown;
  /** Called after each committed write. */
  persist?: () => void;
};

export type EmulatorServer = {
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  addFaults(rules: FaultRule | FaultRule[]): ActiveFault[];
  clearFaults(): void;
  faults(): ActiveFault[];
  setLatency(ms: number): void;
  requestLog(): RequestLogEntry[];
  clearRequestLog(): void;
  stats(): EmulatorStats;
  /** Same as POST /__emulator/reset. */
  reset(): Promise<void>;
};

export const ADMIN_PREFIX = "/__emulator/";

type CompiledRoute = { route: EmulatorRoute; regex: RegExp; paramNames: string[] };

export function createEmulatorServer(options: EmulatorOptions): EmulatorServer {
  const routes = options.routes.map((route) => compileRoute(route, options.caseInsensitivePaths ?? false));
  let faults: ActiveFault[] = [];
  let nextFaultId = 1;
  let latencyMs = options.latencyMs ?? 0;
  let random = seededRandom(options.seed ?? 1);
  let log: RequestLogEntry[] = [];
  let stats = emptyStats();
  let nextRequestId = 1;
  let baseUrl = "";

  function addFaults(input: FaultRule | FaultRule[]): ActiveFault[] {
    const rules = (Array.isArray(input) ? input : [input]).map((rule) => faultRuleSchema.parse(rule));
    const added = rules.map((rule): ActiveFault => {
      const state: ActiveFault = { ...rule, id: rule.id ?? `fault-${nextFaultId++}`, matched: 0, fired: 0 };
      if (rule.times !== undefined) state.remaining = rule.times;
      return state;
    });
    faults.push(...added);
    return structuredClone(added);
  }

  function restoreInitialSettings(): void {
    faults = [];
    nextFaultId = 1;
    if (options.faults) addFaults(options.faults);
    latencyMs = options.latencyMs ?? 0;
    random = seededRandom(options.seed ?? 1);
  }
  restoreInitialSettings();

  async function reset(): Promise<void> {
    await options.onReset?.();
    log = [];
    stats = emptyStats();
    restoreInitialSettings();
  }

  /** Every matching rule counts the request; latencies add up; the first other rule that fires acts. */
  function selectFaults(method: string, path: string): { extraLatencyMs: number; action?: ActiveFault } {
    let extraLatencyMs = 0;
    let action: ActiveFault | undefined;
    for (const fault of faults) {
      if (!faultMatches(fault, method, path)) continue;
      fault.matched += 1;
      if (fault.kind !== "latency" && action) continue;
      if (!faultFires(fault, random)) continue;
      fault.fired += 1;
      if (fault.remaining !== undefined) fault.remaining -= 1;
      if (fault.kind === "latency") extraLatencyMs += fault.latencyMs ?? 0;
      else action = fault;
    }
    return action ? { extraLatencyMs, action } : { extraLatencyMs };
  }

  function record(entry: Omit<RequestLogEntry, "id" | "at" | "durationMs">, id: number, startedAt: number) {
    const full: RequestLogEntry = {
      id,
      at: new Date().toISOString(),
      ...entry,
      durationMs: Math.round(performance.now() - startedAt),
    };
    log.push(full);
    stats.total += 1;
    increment(stats.byMethod, entry.method);
    increment(stats.byRoute, `${entry.method} ${entry.route ?? "(no route)"}`);
    increment(stats.byStatus, String(entry.status));
    if (entry.write) stats.writes += 1;
  }

  async function handleEmulated(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const requestId = nextRequestId++;
    const startedAt = performance.now();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    const matched = matchRoute(routes, method, url.pathname);
    const ctx = buildContext(requestId, method, url, req.headers, rawBody, matched?.params ?? {}, baseUrl);
    const logBase = {
      method,
      path: `${url.pathname}${url.search}`,
      ...(matched ? { route: matched.route.pattern } : {}),
    };
    const { extraLatencyMs, action } = selectFaults(method, url.pathname);
    const fault = action?.kind ?? (extraLatencyMs > 0 ? "latency" : undefined);
    const finish = (status: RequestLogEntry["status"], write = false) =>
      record({ ...logBase, status, write, ...(fault ? { fault } : {}) }, requestId, startedAt);

    if (latencyMs + extraLatencyMs > 0) await delay(latencyMs + extraLatencyMs);

    if (action?.kind === "drop-connection") {
      req.socket.destroy();
      return finish("dropped");
    }
    if (action?.kind === "rate-limit" || action?.kind === "thread-limit" || action?.kind === "server-error") {
      const reply = faultReply(action, options);
      send(res, reply);
      return finish(reply.status);
    }

    const reply = await produceReply(ctx, matched?.route);
    const committed = (matched?.route.write ?? false) && reply.status >= 200 && reply.status < 300;
    if (committed) options.persist?.();
    if (action?.kind === "lose-response") {
      // The effect is committed; the client only sees the connection die, as after a real network fault.
      req.socket.destroy();
      return finish("lost", committed);
    }
    send(res, reply);
    finish(reply.status, committed);
  }

  async function produceReply(
    ctx: EmulatorContext,
    route: EmulatorRoute | undefined,
  ): Promise<EmulatorReply> {
    try {
      const rejection = options.authenticate?.(ctx);
      if (rejection) return rejection;
      if (!route)
        return options.notFound?.(ctx) ?? { status: 404, body: { message: `No route for ${ctx.path}` } };
      return await route.handler(ctx);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { status: 500, body: { message: `${options.name} emulator error: ${message}` } };
    }
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    const action = `${method} ${url.pathname.slice(ADMIN_PREFIX.length).replace(/\/$/, "")}`;
    // Control bodies carry no money: plain JSON, so a fault's `probability: 0.5` stays a number (the
    // decimal-preserving reader used for emulated API bodies would keep it as a decimal string).
    let body: unknown;
    try {
      body = rawBody.trim() === "" ? undefined : JSON.parse(rawBody);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return send(res, { status: 400, body: { message: `the body is not JSON: ${message}` } });
    }
    switch (action) {
      case "GET health":
        return send(res, { status: 200, body: { ok: true, name: options.name } });
      case "GET requests": {
        const since = Number(url.searchParams.get("since") ?? 0);
        return send(res, { status: 200, body: log.filter((entry) => entry.id > since) });
      }
      case "DELETE requests":
        log = [];
        return send(res, { status: 204 });
      case "GET stats":
        return send(res, { status: 200, body: stats });
      case "DELETE stats":
        stats = emptyStats();
        return send(res, { status: 204 });
      case "GET faults":
        return send(res, { status: 200, body: faults });
      case "POST faults":
        return send(res, { status: 201, body: addFaults(body as FaultRule | FaultRule[]) });
      case "DELETE faults":
        faults = [];
        return send(res, { status: 204 });
      case "PUT latency":
        latencyMs = z.object({ ms: z.number().nonnegative() }).parse(body).ms;
        return send(res, { status: 200, body: { ms: latencyMs } });
      case "POST reset":
        await reset();
        return send(res, { status: 204 });
      case "GET state":
        if (!options.dumpState) return send(res, { status: 404, body: { message: "no state dump" } });
        return send(res, { status: 200, body: options.dumpState() });
      default:
        return send(res, { status: 404, body: { message: `unknown admin endpoint ${action}` } });
    }
  }

  const server = createServer((req, res) => {
    readBody(req)
      .then((rawBody) =>
        req.url?.startsWith(ADMIN_PREFIX)
          ? handleAdmin(req, res, rawBody)
          : handleEmulated(req, res, rawBody),
      )
      .catch((error: unknown) => {
        if (res.headersSent || res.destroyed) return;
        // Invalid admin input is the caller's fault; anything else is a bug in the emulator.
        if (error instanceof z.ZodError)
          send(res, { status: 400, body: { message: z.prettifyError(error) } });
        else
          send(res, { status: 500, body: { message: `${options.name} emulator error: ${String(error)}` } });
      });
  });

  return {
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          baseUrl = `http://${host}:${address.port}`;
          resolve({ url: baseUrl, port: address.port });
        });
      });
    },
    close() {
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
    addFaults,
    clearFaults: () => {
      faults = [];
    },
    faults: () => structuredClone(faults),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    requestLog: () => structuredClone(log),
    clearRequestLog: () => {
      log = [];
    },
    stats: () => structuredClone(stats),
    reset,
  };
}

function compileRoute(route: EmulatorRoute, caseInsensitive: boolean): CompiledRoute {
  const paramNames: string[] = [];
  const source = route.pattern
    .replace(/\/$/, "")
    .split("/")
    .map((segment) => {
      if (!segment.startsWith(":")) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      paramNames.push(segment.slice(1));
      return "([^/]+)";
    })
    .join("/");
  // A trailing slash is tolerated, as real servers do.
  return { route, paramNames, regex: new RegExp(`^${source}/?$`, caseInsensitive ? "i" : "") };
}

function matchRoute(routes: CompiledRoute[], method: string, path: string) {
  for (const compiled of routes) {
    if (compiled.route.method.toUpperCase() !== method) continue;
    const match = compiled.regex.exec(path);
    if (!match) continue;
    const params: Record<string, string> = {};
    compiled.paramNames.forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1] ?? "");
    });
    return { route: compiled.route, params };
  }
  return undefined;
}

function buildContext(
  requestId: number,
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
  rawBody: string,
  params: Record<string, string>,
  baseUrl: string,
): EmulatorContext {
  const ctx: EmulatorContext = {
    requestId,
    method,
    path: url.pathname,
    params,
    query: url.searchParams,
    headers,
    rawBody,
    body: undefined,
    baseUrl,
  };
  if (rawBody.trim() === "") return ctx;
  try {
    ctx.body = parseJson(rawBody);
  } catch (error) {
    ctx.bodyError = error instanceof Error ? error.message : String(error);
  }
  return ctx;
}

/**
 * path: a substring of the request path, or a regular expression written `re:/…/flags`. (A bare "/a/b" is
 * always a substring: request paths themselves start with a slash.)
 */
function faultMatches(fault: FaultRule, method: string, path: string): boolean {
  if (fault.method && fault.method.toUpperCase() !== method) return false;
  if (!fault.path) return true;
  const regex = /^re:\/(.+)\/([a-z]*)$/.exec(fault.path);
  if (regex) return new RegExp(regex[1] ?? "", regex[2]).test(path);
  return path.includes(fault.path);
}

function faultFires(fault: ActiveFault, random: () => number): boolean {
  if (fault.nth && !fault.nth.includes(fault.matched)) return false;
  if (fault.every && fault.matched % fault.every !== 0) return false;
  if (fault.probability !== undefined && !(random() < fault.probability)) return false;
  return fault.remaining === undefined || fault.remaining > 0;
}

function faultReply(fault: ActiveFault, options: EmulatorOptions): EmulatorReply {
  if (fault.kind === "server-error") {
    return { status: fault.status ?? 503, body: fault.body ?? { message: "Service unavailable (emulated)" } };
  }
  const vendorBody =
    fault.kind === "thread-limit"
      ? (options.threadLimitBody ?? options.rateLimitBody)
      : options.rateLimitBody;
  const reply: EmulatorReply = {
    status: fault.status ?? 429,
    body: fault.body ?? vendorBody ?? { message: "Too many requests (emulated)" },
  };
  if (fault.retryAfterSeconds !== undefined || fault.kind === "rate-limit") {
    reply.headers = { "retry-after": String(fault.retryAfterSeconds ?? 1) };
  }
  return reply;
}

function send(res: ServerResponse, reply: EmulatorReply): void {
  if (res.destroyed) return;
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | undefined;
  if (reply.text !== undefined) {
    payload = reply.text;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else if (reply.body !== undefined) {
    payload = stringifyJson(reply.body);
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** mulberry32: tiny, fast and good enough for reproducible fault injection. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function emptyStats(): EmulatorStats {
  return { total: 0, byMethod: {}, byRoute: {}, byStatus: {}, writes: 0 };
}

/** Writes to a temporary file then renames it, so a crash never leaves half-written state behind. */
export function persistJsonAtomically(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, stringifyJson(value));
  renameSync(temporary, file);
}

/** Parsed contents of `file`, or undefined if it does not exist (pass parseJsonKeepingNumbers to keep numbers bare). */
export function loadJsonIfExists(file: string, parse: (text: string) => unknown = parseJson): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return parse(text);
}
