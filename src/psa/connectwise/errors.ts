import type { PsaErrorInit } from "../shared/errors.ts";
import {
  PsaAuthError,
  PsaError,
  PsaHttpError,
  PsaNotFoundError,
  PsaValidationError,
  redactSecrets,
} from "../shared/errors.ts";
import type { PsaRequest, PsaResponse, ResponseVerdict } from "../shared/transport.ts";
import { errorResponseSchema } from "./schemas.ts";

/** One `errors[]` entry of a ConnectWise error body (docs/connectwise.md §7.2). */
export type CwFieldError = {
  code: string | null;
  message: string | null;
  resource: string | null;
  field: string | null;
};

/** The server's `ErrorResponseMessage`, kept whole on every ConnectWise HTTP error. */
export type CwServerError = { code: string | null; message: string | null; errors: CwFieldError[] };

type CwErrorInit = PsaErrorInit & { server: CwServerError };

/** 400: the server rejected the data, e.g. `InvalidObject` with `MissingRequiredField` entries. */
export class ConnectWiseValidationError extends PsaValidationError {
  readonly server: CwServerError;
  constructor(init: CwErrorInit) {
    super(init);
    this.server = init.server;
  }
}

export class ConnectWiseNotFoundError extends PsaNotFoundError {
  readonly server: CwServerError;
  constructor(init: CwErrorInit) {
    super(init);
    this.server = init.server;
  }
}

/** 401 (credentials, or a missing clientId) and 403 (the API member's security role). */
export class ConnectWiseAuthError extends PsaAuthError {
  readonly server: CwServerError;
  constructor(init: CwErrorInit) {
    super(init);
    this.server = init.server;
  }
}

/** Any other non-retryable 4xx (405, 409, 415...). */
export class ConnectWiseHttpError extends PsaHttpError {
  readonly server: CwServerError;
  constructor(init: CwErrorInit) {
    super(init);
    this.server = init.server;
  }
}

/**
 * A setup problem found before any API call could work, e.g. an unknown company id at companyinfo
 * (docs/connectwise.md §2).
 */
export class ConnectWiseConfigurationError extends PsaError {}

/** The server's error body and field errors, when the error came from a ConnectWise response. */
export function serverErrorOf(error: unknown): CwServerError | undefined {
  if (
    error instanceof ConnectWiseValidationError ||
    error instanceof ConnectWiseNotFoundError ||
    error instanceof ConnectWiseAuthError ||
    error instanceof ConnectWiseHttpError
  ) {
    return error.server;
  }
  return undefined;
}

/**
 * The transport's classifyResponse hook: 4xx answers (except 429, which the transport retries) become typed
 * errors carrying the server's code, message and errors[] (docs/connectwise.md §7.1, §7.2). 5xx and 2xx keep
 * the default handling.
 */
export function classifyConnectWiseResponse(secrets: () => string[]) {
  return (response: PsaResponse, request: PsaRequest): ResponseVerdict => {
    const { status } = response;
    if (status < 400 || status >= 500 || status === 429) return undefined;
    const redact = (value: string): string => redactSecrets(value, secrets());
    const server = readServerError(response.body, redact);
    const details = [
      ...(server.message ? [server.message] : []),
      ...server.errors.map((entry) => [entry.field, entry.message ?? entry.code].filter(Boolean).join(": ")),
    ];
    const init: CwErrorInit = {
      vendor: "connectwise",
      method: request.method,
      url: redact(request.url),
      status,
      details,
      server,
      ...(server.code ? { code: server.code } : {}),
    };
    if (status === 400 || status === 422) return new ConnectWiseValidationError(init);
    if (status === 404) return new ConnectWiseNotFoundError(init);
    if (status === 401 || status === 403) return new ConnectWiseAuthError(init);
    return new ConnectWiseHttpError(init);
  };
}

function readServerError(body: unknown, redact: (value: string) => string): CwServerError {
  const parsed = errorResponseSchema.safeParse(body);
  if (!parsed.success) {
    const message = typeof body === "string" && body.trim() !== "" ? redact(body.trim().slice(0, 500)) : null;
    return { code: null, message, errors: [] };
  }
  const clean = (value: string | null | undefined): string | null => (value ? redact(value) : null);
  return {
    code: clean(parsed.data.code ?? parsed.data.error),
    message: clean(parsed.data.message),
    errors: (parsed.data.errors ?? []).map((entry) => ({
      code: clean(entry.code),
      message: clean(entry.message),
      resource: clean(entry.resource),
      field: clean(entry.field),
    })),
  };
}

/** A 2xx response whose body is not the shape the reference documents; nothing cspsync can safely use. */
export class ConnectWiseResponseShapeError extends PsaError {}
