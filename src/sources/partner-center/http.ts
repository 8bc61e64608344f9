import { AppError } from "../../core/errors.ts";

/**
 * The one way cspsync talks to Microsoft (docs/partner-center.md §4): only to Microsoft's sign-in, Graph,
 * Partner Center and blob-storage hosts over HTTPS, or to hosts the operator allow-listed in
 * CSPSYNC_MICROSOFT_ALLOWED_HOSTS (plain HTTP allowed only for those, e.g. the emulator). Every request has a
 * timeout; redirects are followed only on the same origin, so a token or SAS never leaves for another host.
 */
export const MICROSOFT_HOSTS = [
  "login.microsoftonline.com",
  "graph.microsoft.com",
  "api.partnercenter.microsoft.com",
] as const;
const BLOB_SUFFIX = ".blob.core.windows.net";

/** Why a Microsoft request failed, as data the fetch run stores and notifications can act on. */
export type SourceErrorKind =
  | "host-not-allowed"
  | "wrong-tenant"
  | "bad-credentials"
  | "secret-expired"
  | "consent-missing"
  | "permission-missing"
  | "throttled"
  | "unavailable"
  | "timeout"
  | "operation-failed"
  | "operation-timeout"
  | "sas-expired"
  | "corrupt-blob"
  | "incomplete"
  | "rejected"
  | "not-found"
  | "protocol";

/** A Microsoft source failed; `reason` says how (a token request, a permission, a throttle, a broken blob). */
export class SourceError extends AppError {
  readonly reason: SourceErrorKind;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    reason: SourceErrorKind,
    message: string,
    details: { status?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    // Microsoft's failure, like a PSA's: the upstream service refused or broke (src/core/errors.ts).
    super(reason === "host-not-allowed" ? "validation" : "psa", message, { cause: details.cause });
    this.reason = reason;
    this.status = details.status;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }

  /** Worth trying again later: throttling, Microsoft being down or slow, a blob cut short. */
  get transient(): boolean {
    return [
      "throttled",
      "unavailable",
      "timeout",
      "operation-timeout",
      "sas-expired",
      "corrupt-blob",
    ].includes(this.reason);
  }
}

export function assertMicrosoftHost(url: string, allowed: readonly string[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SourceError("host-not-allowed", "not a valid address (nothing was sent)");
  }
  const host = parsed.hostname.toLowerCase();
  const hostWithPort = parsed.port ? `${host}:${parsed.port}` : host;
  if (allowed.includes(host) || allowed.includes(hostWithPort)) return parsed;
  const isPublic =
    parsed.protocol === "https:" &&
    ((MICROSOFT_HOSTS as readonly string[]).includes(host) || host.endsWith(BLOB_SUFFIX));
  if (!isPublic)
    throw new SourceError(
      "host-not-allowed",
      `${parsed.origin} is not a Microsoft host; add it to CSPSYNC_MICROSOFT_ALLOWED_HOSTS to allow it (nothing was sent)`,
    );
  return parsed;
}

export type MicrosoftHttpOptions = {
  /** Extra hosts (`host` or `host:port`, lower case) beyond Microsoft's own. */
  allowedHosts: readonly string[];
  /** Most milliseconds one request (headers and body) may take. Default 60 s. */
  timeoutMs?: number;
};

const MAX_REDIRECTS = 3;

/**
 * fetch() limited to the allowed hosts, with a timeout and same-origin redirects only. The caller reads the
 * body (as a stream where it is large); the timeout's signal stays on the response so a stalled body aborts too.
 */
export async function microsoftFetch(
  url: string,
  init: RequestInit,
  options: MicrosoftHttpOptions,
): Promise<Response> {
  let current = assertMicrosoftHost(url, options.allowedHosts);
  const signal = AbortSignal.timeout(options.timeoutMs ?? 60_000);
  for (let hop = 0; ; hop += 1) {
    let response: Response;
    try {
      response = await fetch(current, { ...init, redirect: "manual", signal });
    } catch (error) {
      throw networkError(current, error);
    }
    if (response.status < 300 || response.status >= 400 || response.status === 304) return response;
    const location = response.headers.get("location");
    await response.body?.cancel();
    if (!location || hop >= MAX_REDIRECTS)
      throw new SourceError(
        "protocol",
        `${current.origin} answered ${response.status} without a usable redirect`,
      );
    const next = new URL(location, current);
    if (next.origin !== current.origin)
      throw new SourceError(
        "protocol",
        `${current.origin} redirected to another host (${next.origin}); not followed, nothing was sent there`,
      );
    current = assertMicrosoftHost(next.toString(), options.allowedHosts);
  }
}

export function networkError(url: URL, error: unknown): SourceError {
  const name = error instanceof Error ? error.name : "";
  if (name === "TimeoutError" || name === "AbortError")
    return new SourceError("timeout", `${url.origin} did not answer in time`, { cause: error });
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
  return new SourceError("unavailable", `${url.origin} could not be reached: ${cause}`, { cause: error });
}

/** Seconds from a Retry-After header (seconds or an HTTP date), if any. */
export function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get("retry-after");
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/** The error for an unsuccessful answer: throttled, unavailable, not found, or refused (with Microsoft's words). */
export async function responseError(response: Response, what: string): Promise<SourceError> {
  const text = await response.text().catch(() => "");
  const said = microsoftMessage(text);
  const status = response.status;
  const retryAfter = retryAfterSeconds(response);
  const details = { status, ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }) };
  if (status === 429)
    return new SourceError("throttled", `${what}: throttled by Microsoft (429)${said}`, details);
  if (status >= 500 || status === 408)
    return new SourceError("unavailable", `${what}: Microsoft answered ${status}${said}`, details);
  if (status === 404) return new SourceError("not-found", `${what}: not found (404)${said}`, details);
  if (status === 401 || status === 403)
    return new SourceError(
      "permission-missing",
      `${what}: access refused (${status})${said}; check the app's permissions and admin consent (docs/partner-center.md §2)`,
      details,
    );
  return new SourceError("protocol", `${what}: Microsoft answered ${status}${said}`, details);
}

function microsoftMessage(text: string): string {
  if (!text) return "";
  try {
    const body = JSON.parse(text.replace(/^\uFEFF/, "")) as Record<string, unknown>;
    const error = body.error as Record<string, unknown> | string | undefined;
    const message =
      (typeof error === "object" && error ? error.message : undefined) ??
      body.message ??
      body.error_description ??
      error;
    return typeof message === "string" ? `: ${message.slice(0, 300)}` : "";
  } catch {
    return `: ${text.slice(0, 200)}`;
  }
}

/** Retries throttled and unavailable requests: Retry-After when given, else exponential backoff. */
export type RetryPolicy = {
  /** Attempts in all (default 5). */
  attempts?: number;
  /** First backoff delay (default 1000 ms), doubling; Retry-After wins when larger. */
  baseDelayMs?: number;
  /** Longest single wait (default 120 s). */
  maxDelayMs?: number;
};

export async function withRetries<T>(policy: RetryPolicy, run: () => Promise<T>): Promise<T> {
  const attempts = policy.attempts ?? 5;
  const base = policy.baseDelayMs ?? 1000;
  const max = policy.maxDelayMs ?? 120_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (error) {
      const retryable =
        error instanceof SourceError && ["throttled", "unavailable", "timeout"].includes(error.reason);
      if (!retryable || attempt >= attempts) throw error;
      const backoff = base * 2 ** (attempt - 1);
      const asked = error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : 0;
      await sleep(Math.min(max, Math.max(backoff, asked)));
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
