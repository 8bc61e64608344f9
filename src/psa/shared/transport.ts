import {
  extractServerMessages,
  httpErrorForStatus,
  PsaError,
  PsaNetworkError,
  PsaOutcomeUnknownError,
  PsaRedirectError,
  PsaTimedOutError,
  redactSecrets,
} from "./errors.ts";
import type { Vendor } from "./errors.ts";
import { parseJson, stringifyJson } from "./json.ts";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export type PsaRequest = {
  method: HttpMethod;
  /** Absolute URL. */
  url: string;
  headers?: Record<string, string>;
  /** Serialized with stringifyJson and sent as application/json. */
  body?: unknown;
  /** Default: GET/PUT/DELETE true, POST/PATCH false. Decides whether an ambiguous failure may be retried. */
  idempotent?: boolean;
  /** Requests with the same key share the concurrency cap (Autotask: the entity endpoint); default "*". */
  concurrencyKey?: string;
};

export type PsaResponse = {
  status: number;
  headers: Headers;
  /** parseJson of the body; null when empty; the raw text when it is not JSON. */
  body: unknown;
  url: string;
};

/**
 * A vendor hook's verdict on a response: "retry" (only when the server certainly did not apply the request,
 * e.g. an Autotask thread-limit refusal), a PsaError to fail with, or undefined for the default handling.
 */
export type ResponseVerdict = "retry" | PsaError | undefined;

type LogBase = { vendor: Vendor; method: HttpMethod; url: string; attempt: number };
/** Structured events. URLs and messages are redacted; headers are never logged. */
export type TransportLogEvent =
  | (LogBase & { type: "request"; status: number; durationMs: number })
  | (LogBase & { type: "retry"; delayMs: number; reason: string })
  | (LogBase & { type: "error"; errorName: string; message: string });

export type TransportOptions = {
  vendor: Vendor;
  /** Autotask allows 3 concurrent requests per endpoint (docs/autotask.md §10). */
  maxConcurrentPerKey: number;
  /** Total attempts including the first; default 5. */
  maxAttempts?: number;
  /** Capped exponential backoff with full jitter; defaults 250 ms and 30 s (docs/connectwise.md §7.3). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per attempt, including reading the body; default 30 s. */
  timeoutMs?: number;
  /** Values that must never appear in errors or logs; read at use time so rotated secrets are covered. */
  secrets: () => string[];
  /**
   * Called with the URL before every attempt (retries, redirect hops and paging URLs the PSA hands back
   * included); throws to refuse it, e.g. a host outside the allow-list. The error is passed on unchanged
   * and nothing is sent. Also decides how a redirect to another host is described.
   */
  checkUrl?: (url: string) => void;
  logger?: (event: TransportLogEvent) => void;
  classifyResponse?: (response: PsaResponse, request: PsaRequest) => ResponseVerdict;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Clock for Retry-After HTTP dates and pacing. */
  now?: () => number;
  /**
   * Client-side pacing: at most this many attempts per minute on average, after an initial burst of
   * `burst` (default a tenth of it). Keeps a sync under a PSA's throttling threshold instead of relying on 429s.
   */
  pacing?: { perMinute: number; burst?: number };
  /**
   * Where the concurrency slots and the pacing bucket live. Clients of one PSA connection in one process share
   * one (see RequestBudgets), so however many syncs of that connection run at once they stay inside one cap and
   * one rate; without it the transport has a budget of its own.
   */
  budget?: RequestBudget;
};

export type TransportStats = {
  /** Calls to request(). */
  requests: number;
  /** HTTP attempts (requests plus retries). */
  attempts: number;
  retries: number;
  /** Attempts per method. */
  byMethod: Record<string, number>;
  /** Responses per status; attempts that got no response count as "network". */
  byStatus: Record<string, number>;
};

/** Connection errors raised before any byte of the request left this machine. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);
const AMBIGUOUS_GATEWAY_STATUSES = new Set([502, 503, 504]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Same-origin hops a GET may take; a PSA API has no reason to chain redirects. */
const MAX_REDIRECTS = 3;

type AttemptResult =
  | { kind: "response"; response: PsaResponse }
  | { kind: "failure"; sent: boolean; reason: string; timedOut?: boolean };

type Decision =
  | { kind: "done"; response: PsaResponse }
  | { kind: "redirect"; response: PsaResponse }
  | { kind: "retry"; error: PsaError; delayMs?: number }
  | { kind: "fail"; error: PsaError };

export class PsaTransport {
  readonly #options: TransportOptions;
  readonly #budget: RequestBudget;
  #stats: TransportStats = emptyStats();

  constructor(options: TransportOptions) {
    if (!(options.maxConcurrentPerKey >= 1)) throw new RangeError("maxConcurrentPerKey must be at least 1");
    this.#options = options;
    this.#budget = options.budget ?? new RequestBudget();
  }

  /** Resolves only for 2xx responses; otherwise rejects with a PsaError subclass. */
  async request(request: PsaRequest): Promise<PsaResponse> {
    this.#stats.requests += 1;
    let bodyText = request.body === undefined ? undefined : stringifyJson(request.body);
    const maxAttempts = this.#options.maxAttempts ?? 5;
    let current = request;
    let redirects = 0;
    for (let attempt = 1; ; attempt += 1) {
      this.#check(current, attempt);
      const result = await this.#withSlot(current.concurrencyKey ?? "*", () =>
        this.#attempt(current, bodyText, attempt),
      );
      const decision = this.#decide(current, result);
      if (decision.kind === "done") return decision.response;
      if (decision.kind === "redirect") {
        const next = this.#followRedirect(current, decision.response, redirects);
        if (next instanceof PsaError) {
          this.#log({ ...this.#logBase(current, attempt), type: "error", ...describeError(next) });
          throw next;
        }
        current = next;
        bodyText = undefined;
        redirects += 1;
        continue;
      }
      if (decision.kind === "fail" || attempt >= maxAttempts) {
        this.#log({ ...this.#logBase(current, attempt), type: "error", ...describeError(decision.error) });
        throw decision.error;
      }
      const delayMs = this.#retryDelay(attempt, decision.delayMs);
      this.#stats.retries += 1;
      this.#log({
        ...this.#logBase(current, attempt),
        type: "retry",
        delayMs,
        reason: decision.error.message,
      });
      await (this.#options.sleep ?? defaultSleep)(delayMs);
    }
  }

  stats(): TransportStats {
    return structuredClone(this.#stats);
  }

  /** The caller's URL policy, before anything is sent; its error goes out unchanged (and says nothing was sent). */
  #check(request: PsaRequest, attempt: number): void {
    try {
      this.#options.checkUrl?.(request.url);
    } catch (error) {
      const described =
        error instanceof Error
          ? { errorName: error.name, message: this.#redact(error.message) }
          : { errorName: "Error", message: this.#redact(String(error)) };
      this.#log({ ...this.#logBase(request, attempt), type: "error", ...described });
      throw error;
    }
  }

  /**
   * Redirects are never followed by fetch itself, because it would send the credential headers (and, on a
   * 307/308, the body) to wherever the PSA points. cspsync's rules:
   * - Another origin (scheme, host or port) is never followed, even an allow-listed one: credentials never
   *   cross hosts, so nothing is sent there. The operator changes the connection's address if the PSA moved.
   * - A GET may follow up to MAX_REDIRECTS same-origin hops: it changes nothing, and the credentials stay on
   *   the host they were meant for.
   * - A write (POST, PUT, PATCH, DELETE) is never re-sent. A 301/302/307/308 means the server did not apply
   *   it at this URL, so it fails as refused; a 303 is the one redirect that can follow an applied write, so
   *   its outcome is reported as unknown and the caller looks the record up before writing again.
   */
  #followRedirect(request: PsaRequest, response: PsaResponse, hops: number): PsaRequest | PsaError {
    const init = {
      vendor: this.#options.vendor,
      method: request.method,
      url: this.#redact(request.url),
      status: response.status,
    };
    const location = response.headers.get("location");
    let target: URL | undefined;
    try {
      if (location) target = new URL(location, request.url);
    } catch {
      target = undefined;
    }
    if (!target || (target.protocol !== "https:" && target.protocol !== "http:")) {
      return new PsaRedirectError({
        ...init,
        reason: "the PSA answered with a redirect without a usable Location; not followed",
      });
    }
    const crossOrigin = target.origin !== new URL(request.url).origin;
    let said = `the PSA answered with a redirect to ${this.#describeTarget(target)}`;
    if (crossOrigin) {
      said += this.#allows(target.href)
        ? ", which is another host; cspsync does not forward credentials across hosts, so nothing was sent there"
        : ", which is not an allowed host; nothing was sent there";
    }
    if (request.method !== "GET") {
      if (response.status === 303) {
        return new PsaOutcomeUnknownError({
          ...init,
          reason: `${said}; a 303 answer to a ${request.method} can mean the PSA applied it, so it was not repeated`,
        });
      }
      return new PsaRedirectError({
        ...init,
        reason: `${said}; cspsync does not re-send a ${request.method} to a redirect, and a redirect means the PSA did not apply it`,
      });
    }
    if (crossOrigin) return new PsaRedirectError({ ...init, reason: said });
    if (hops >= MAX_REDIRECTS) {
      return new PsaRedirectError({
        ...init,
        reason: `${said}; more than ${MAX_REDIRECTS} redirects, not followed`,
      });
    }
    const { body: _none, ...get } = request;
    return { ...get, url: target.href };
  }

  #allows(url: string): boolean {
    try {
      this.#options.checkUrl?.(url);
      return true;
    } catch {
      return false;
    }
  }

  /** Origin and path, redacted; a query string (which may carry anything) is shown as "?…". */
  #describeTarget(target: URL): string {
    return this.#redact(`${target.origin}${target.pathname}${target.search ? "?…" : ""}`);
  }

  resetStats(): void {
    this.#stats = emptyStats();
  }

  async #withSlot<T>(key: string, run: () => Promise<T>): Promise<T> {
    const semaphore = this.#budget.semaphore(key, this.#options.maxConcurrentPerKey);
    await semaphore.acquire();
    try {
      const pacing = this.#options.pacing;
      if (pacing)
        await this.#budget.pace(pacing, this.#options.now ?? Date.now, this.#options.sleep ?? defaultSleep);
      return await run();
    } finally {
      semaphore.release();
    }
  }

  async #attempt(request: PsaRequest, bodyText: string | undefined, attempt: number): Promise<AttemptResult> {
    this.#stats.attempts += 1;
    increment(this.#stats.byMethod, request.method);
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const startedAt = performance.now();
    const headers: Record<string, string> = { accept: "application/json", ...request.headers };
    if (bodyText !== undefined) headers["content-type"] = "application/json";
    try {
      const fetchImpl = this.#options.fetchImpl ?? fetch;
      // fetch must not follow redirects itself: see #followRedirect.
      const init: RequestInit = {
        method: request.method,
        headers,
        signal: controller.signal,
        redirect: "manual",
      };
      if (bodyText !== undefined) init.body = bodyText;
      const raw = await fetchImpl(request.url, init);
      const text = await raw.text();
      const response = { status: raw.status, headers: raw.headers, body: parseBody(text), url: request.url };
      increment(this.#stats.byStatus, String(raw.status));
      const durationMs = Math.round(performance.now() - startedAt);
      this.#log({ ...this.#logBase(request, attempt), type: "request", status: raw.status, durationMs });
      return { kind: "response", response };
    } catch (error) {
      increment(this.#stats.byStatus, "network");
      if (controller.signal.aborted)
        return { kind: "failure", sent: true, reason: `timed out after ${timeoutMs} ms`, timedOut: true };
      const code = errorCode(error);
      const reason = [code, innermostMessage(error)].filter(Boolean).join(" ");
      return { kind: "failure", sent: code === undefined || !NOT_SENT_CODES.has(code), reason };
    } finally {
      clearTimeout(timer);
    }
  }

  #decide(request: PsaRequest, result: AttemptResult): Decision {
    const idempotent = request.idempotent ?? !(request.method === "POST" || request.method === "PATCH");
    const base = { vendor: this.#options.vendor, method: request.method, url: this.#redact(request.url) };
    if (result.kind === "failure") {
      const reason = this.#redact(result.reason);
      if (!result.sent) return { kind: "retry", error: new PsaNetworkError({ ...base, reason }) };
      if (idempotent) return { kind: "retry", error: new PsaNetworkError({ ...base, reason }) };
      const unknown = { ...base, reason: `${reason}; the request may have been applied` };
      return {
        kind: "fail",
        error: result.timedOut ? new PsaTimedOutError(unknown) : new PsaOutcomeUnknownError(unknown),
      };
    }

    const { response } = result;
    if (REDIRECT_STATUSES.has(response.status)) return { kind: "redirect", response };
    const verdict = this.#options.classifyResponse?.(response, request);
    if (verdict instanceof PsaError) return { kind: "fail", error: verdict };
    const isSuccess = response.status >= 200 && response.status < 300;
    if (verdict === undefined && isSuccess) return { kind: "done", response };

    const server = extractServerMessages(response.body);
    const init = {
      ...base,
      status: response.status,
      details: server.details.map((detail) => this.#redact(detail)),
      ...(server.code === undefined ? {} : { code: this.#redact(server.code) }),
    };
    const error = httpErrorForStatus(init);
    const delayMs = this.#retryAfterMs(response.headers);
    // A 429 (or a vendor "retry") means the server refused the request, so even a POST is safe to resend.
    if (verdict === "retry" || response.status === 429) return { kind: "retry", error, delayMs };
    if (response.status >= 500 && idempotent) return { kind: "retry", error, delayMs };
    if (AMBIGUOUS_GATEWAY_STATUSES.has(response.status)) {
      return {
        kind: "fail",
        error: new PsaOutcomeUnknownError({
          ...init,
          reason: "gateway error; the request may have been applied",
        }),
      };
    }
    return { kind: "fail", error };
  }

  /** Retry-After (seconds or HTTP date) when present, else capped exponential backoff with full jitter. */
  #retryDelay(attempt: number, retryAfterMs: number | undefined): number {
    const maxDelayMs = this.#options.maxDelayMs ?? 30_000;
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, maxDelayMs);
    const ceiling = Math.min(maxDelayMs, (this.#options.baseDelayMs ?? 250) * 2 ** (attempt - 1));
    return Math.floor(ceiling * (this.#options.random ?? Math.random)());
  }

  #retryAfterMs(headers: Headers): number | undefined {
    const value = headers.get("retry-after")?.trim();
    if (!value) return undefined;
    if (/^\d+$/.test(value)) return Number(value) * 1000;
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    return Math.max(0, at - (this.#options.now ?? Date.now)());
  }

  #redact(text: string): string {
    return redactSecrets(text, this.#options.secrets());
  }

  #logBase(request: PsaRequest, attempt: number): LogBase {
    return { vendor: this.#options.vendor, method: request.method, url: this.#redact(request.url), attempt };
  }

  #log(event: TransportLogEvent): void {
    this.#options.logger?.(event);
  }
}

function describeError(error: PsaError): { errorName: string; message: string } {
  return { errorName: error.name, message: error.message };
}

function parseBody(text: string): unknown {
  if (text.trim() === "") return null;
  try {
    return parseJson(text);
  } catch {
    return text; // Autotask sometimes answers errors in plain text (docs/autotask.md §9).
  }
}

/** fetch wraps socket errors (sometimes in an AggregateError); the code sits somewhere in the cause chain. */
function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === "string") return code;
    if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0]);
    current = cause;
  }
  return undefined;
}

function innermostMessage(error: unknown): string {
  let current = error as { message?: unknown; cause?: unknown } | undefined;
  let message = "";
  for (let depth = 0; current && depth < 5; depth += 1) {
    if (typeof current.message === "string" && current.message !== "") message = current.message;
    current = current.cause as typeof current;
  }
  return message;
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function emptyStats(): TransportStats {
  return { requests: 0, attempts: 0, retries: 0, byMethod: {}, byStatus: {} };
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One PSA connection's request budget: a concurrency cap per key and a token bucket for pacing. Shared by every
 * transport built with it, so the cap and the rate hold for the connection as a whole, not per client.
 */
export class RequestBudget {
  readonly #semaphores = new Map<string, Semaphore>();
  #tokens: number | undefined;
  #tokensAt = 0;

  /** The key's semaphore; the first client to ask sets its capacity (the vendor's cap, the same for all). */
  semaphore(key: string, capacity: number): Semaphore {
    let semaphore = this.#semaphores.get(key);
    if (!semaphore) {
      semaphore = new Semaphore(capacity);
      this.#semaphores.set(key, semaphore);
    }
    return semaphore;
  }

  /** Token bucket: a full bucket allows a burst; afterwards attempts start at the configured rate. */
  async pace(
    pacing: { perMinute: number; burst?: number },
    clock: () => number,
    sleep: (ms: number) => Promise<void>,
  ): Promise<void> {
    const now = clock();
    const perMs = pacing.perMinute / 60_000;
    const capacity = Math.max(1, pacing.burst ?? Math.ceil(pacing.perMinute / 10));
    const tokens = Math.min(capacity, (this.#tokens ?? capacity) + (now - this.#tokensAt) * perMs);
    this.#tokensAt = now;
    this.#tokens = tokens - 1;
    if (tokens < 1) await sleep(Math.ceil((1 - tokens) / perMs));
  }
}

/**
 * The request budgets of one process, one per PSA connection: every client built for a connection in this
 * process (a billing sync, a product sync, a lookup from the web app) draws on the same one.
 */
export class RequestBudgets {
  readonly #budgets = new Map<string, RequestBudget>();

  for(connectionId: string): RequestBudget {
    let budget = this.#budgets.get(connectionId);
    if (!budget) {
      budget = new RequestBudget();
      this.#budgets.set(connectionId, budget);
    }
    return budget;
  }
}

/** FIFO counting semaphore: requests beyond the cap wait their turn instead of tripping server limits. */
class Semaphore {
  readonly #capacity: number;
  #inUse = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  async acquire(): Promise<void> {
    if (this.#inUse < this.#capacity) {
      this.#inUse += 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** Hands the slot straight to the next waiter so a newcomer cannot jump the queue. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#inUse -= 1;
  }
}
