/**
 * What kind of failure an error is, whatever layer raised it. Interfaces translate the kind once: the HTTP API
 * maps it to a status and error code in one table (src/http/errors.ts), the CLI prints the message. A layer
 * below says what went wrong (a value is invalid, a thing is missing, another run is active), never how an
 * interface answers it.
 */
export const ERROR_KINDS = [
  /** The input is not acceptable (a field, a setting); `field` names it where one is at fault. */
  "validation",
  /** The request itself is malformed or incomplete as a whole (answered 400 rather than 422 over HTTP). */
  "bad_request",
  "not_found",
  /** The current state forbids it: something exists already, another run holds the lock. */
  "conflict",
  /** Stored credentials cannot be decrypted with this process's key. */
  "credentials_unreadable",
  "unauthorized",
  "forbidden",
  "rate_limited",
  /** The PSA failed or refused (its own words are on the error). */
  "psa",
  /** A bug or an environment failure nobody can act on from the request. */
  "internal",
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export type AppErrorOptions = {
  /** The input at fault ("settings.productType", "CSPSYNC_PORT"), where one is. */
  field?: string | undefined;
  cause?: unknown;
};

/** The base of cspsync's own errors: a message for people, a kind for interfaces, optionally the field at fault. */
export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly field: string | undefined;

  constructor(kind: ErrorKind, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.field = options.field;
  }
}

/** The kind of any thrown value: its own for cspsync's errors, `internal` for anything else. */
export function errorKind(error: unknown): ErrorKind {
  return error instanceof AppError ? error.kind : "internal";
}
