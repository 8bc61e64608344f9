import { AppError } from "../../core/errors.ts";

export type Vendor = "connectwise" | "autotask";

export type PsaErrorInit = {
  vendor: Vendor;
  method: string;
  /** Must already be redacted (see `redactSecrets`): errors end up in logs and the UI. */
  url: string;
  status?: number;
  /** Server error code, e.g. ConnectWise "InvalidObject" or Autotask "Itgenatr005". */
  code?: string;
  /** Server messages, most specific first (e.g. each validation error). */
  details?: string[];
  /** Short description of what went wrong when the status alone does not say it. */
  reason?: string;
  cause?: unknown;
};

/** Base of every PSA failure; the message always names vendor, method, redacted URL, status and server text. */
export class PsaError extends AppError {
  readonly vendor: Vendor;
  readonly method: string;
  readonly url: string;
  readonly status?: number;
  readonly code?: string;
  readonly details: string[];
  /** The transport's own words for the failure ("timed out after 30000 ms", "ECONNREFUSED …"), if any. */
  readonly reason?: string;

  constructor(init: PsaErrorInit) {
    super("psa", describe(init), { cause: init.cause });
    this.vendor = init.vendor;
    this.method = init.method;
    this.url = init.url;
    if (init.status !== undefined) this.status = init.status;
    if (init.code !== undefined) this.code = init.code;
    this.details = init.details ?? [];
    if (init.reason !== undefined) this.reason = init.reason;
  }
}

function describe(init: PsaErrorInit): string {
  const parts = [`${init.vendor} ${init.method} ${init.url}`];
  if (init.status !== undefined) parts.push(`HTTP ${init.status}`);
  if (init.reason !== undefined) parts.push(init.reason);
  if (init.code !== undefined) parts.push(init.code);
  const head = parts.join(" ");
  return init.details && init.details.length > 0 ? `${head}: ${init.details.join("; ")}` : head;
}

/** A non-retryable HTTP error response, or the last one once retries are exhausted. */
export class PsaHttpError extends PsaError {}
/** The server rejected the data (ConnectWise 400 InvalidObject errors[], Autotask 500 {"errors":[...]}). */
export class PsaValidationError extends PsaHttpError {}
export class PsaNotFoundError extends PsaHttpError {}
/** 401/403: credentials or the API member's permissions. */
export class PsaAuthError extends PsaHttpError {}
/** 429 still returned after all retries. */
export class PsaRateLimitedError extends PsaHttpError {}
/**
 * The PSA answered with a redirect cspsync does not follow: to another host (credentials never cross hosts,
 * so nothing was sent there), a write (never re-sent), or too many hops. Not retried.
 */
export class PsaRedirectError extends PsaHttpError {}
/** The server could not be reached; nothing was sent, so the request had no effect. */
export class PsaNetworkError extends PsaError {}
/**
 * A non-idempotent request may or may not have been applied (timeout, connection reset after sending,
 * 502-504 on POST/PATCH). The caller must look the record up before writing again, or it may duplicate.
 */
export class PsaOutcomeUnknownError extends PsaError {}
/**
 * A non-idempotent request timed out: the PSA may still be working on it, so a look-up made now can miss a
 * record that lands a moment later. Sending it again before the PSA has settled could write it twice.
 */
export class PsaTimedOutError extends PsaOutcomeUnknownError {}

/** Default mapping of an HTTP error status to its typed error; vendor hooks may refine it. */
export function httpErrorForStatus(init: PsaErrorInit & { status: number }): PsaHttpError {
  const { status } = init;
  if (status === 401 || status === 403) return new PsaAuthError(init);
  if (status === 404) return new PsaNotFoundError(init);
  if (status === 429) return new PsaRateLimitedError(init);
  if (status === 400 || status === 422) return new PsaValidationError(init);
  return new PsaHttpError(init);
}

/**
 * Server code and messages from the error bodies both PSAs use: ConnectWise `{code, message, errors:[{message}]}`
 * (docs/connectwise.md §7.2) and Autotask `{"errors": ["..."]}` or ASP.NET `{"Message": "..."}`
 * (docs/autotask.md §9).
 */
export function extractServerMessages(body: unknown): { code?: string; details: string[] } {
  if (typeof body === "string") return { details: body.trim() === "" ? [] : [body.trim().slice(0, 500)] };
  if (body === null || typeof body !== "object" || Array.isArray(body)) return { details: [] };
  const record = body as Record<string, unknown>;
  const details: string[] = [];
  for (const key of ["message", "Message", "error"]) {
    const value = record[key];
    if (typeof value === "string" && value !== "") details.push(value);
  }
  if (Array.isArray(record.errors)) {
    for (const entry of record.errors) {
      const text = messageOf(entry);
      if (text !== undefined) details.push(text);
    }
  }
  const code = typeof record.code === "string" ? record.code : undefined;
  return code === undefined ? { details } : { code, details };
}

function messageOf(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry;
  if (entry === null || typeof entry !== "object") return undefined;
  const { message, field, code } = entry as Record<string, unknown>;
  const text = typeof message === "string" ? message : typeof code === "string" ? code : undefined;
  if (text === undefined) return undefined;
  return typeof field === "string" && field !== "" ? `${field}: ${text}` : text;
}

/**
 * Replaces every secret value with "***", together with the forms it takes on the wire: URL-encoded
 * (encodeURIComponent and form encoding, upper- or lower-case escapes), base64 and base64url (with and without
 * padding), and the part of its base64 that is fixed when it sits inside a longer base64 value such as a Basic
 * authorization token. Secrets shorter than 4 characters are ignored: redacting them would mangle ordinary
 * text without protecting anything real.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let redacted = text;
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (const form of secretForms(secret)) variants.add(form);
  }
  // Longest first, so a secret containing another is replaced whole.
  for (const variant of [...variants].sort((a, b) => b.length - a.length)) {
    redacted = redacted.split(variant).join("***");
  }
  return redacted;
}

/** Fragments of base64 shorter than this are not redacted: they would match ordinary base64 by chance. */
const MIN_BASE64_FRAGMENT = 8;

function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const uri = encodeURIComponent(secret);
  const form = new URLSearchParams({ s: secret }).toString().slice(2);
  const base64 = bytes.toString("base64");
  const forms = [
    secret,
    uri,
    lowerEscapes(uri),
    form,
    lowerEscapes(form),
    base64,
    base64.replace(/=+$/, ""),
    encodeURIComponent(base64),
    bytes.toString("base64url"),
  ];
  // Inside a longer base64 value the secret's encoding depends on its byte offset modulo 3. At each offset
  // the characters that encode only the secret's bytes are the same whatever surrounds it: the first group
  // (mixed with preceding bytes) and the last partial group (mixed with following bytes) are dropped.
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const fixedEnd = Math.floor((offset + bytes.length) / 3) * 4;
    const core = encoded.slice(offset === 0 ? 0 : 4, fixedEnd);
    if (core.length < MIN_BASE64_FRAGMENT) continue;
    forms.push(core, core.replaceAll("+", "-").replaceAll("/", "_"), encodeURIComponent(core));
  }
  return forms;
}

function lowerEscapes(encoded: string): string {
  return encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
}
