import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError, type ErrorKind } from "../core/errors.ts";
import { PsaError } from "../psa/shared/errors.ts";
import { psaSentence } from "../psa/shared/error-sentences.ts";

/** Every error response has this one shape (api-contract.md, "Errors"). */
export const ERROR_CODES = [
  "validation",
  "unauthorized",
  "forbidden",
  "csrf",
  "not_found",
  "conflict",
  "credentials_unreadable",
  "rate_limited",
  "psa_error",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      field: z.string().optional(),
      detail: z.string().optional().meta({
        description:
          "The technical account behind the message (request, status, the server's own text), for a Details disclosure and support",
      }),
    }),
  })
  .meta({ id: "ErrorBody" });
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Error responses every route may give; spread into each route's `response`. */
export const ERROR_RESPONSES = { "4xx": errorBodySchema, "5xx": errorBodySchema } as const;

export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;
  /** Technical detail kept apart from the message meant for people. */
  detail: string | undefined;
  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    field?: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.headers = headers;
  }
}

export const notFound = (message: string) => new ApiError(404, "not_found", message);
export const unauthorized = (message = "log in first, or send an API token") =>
  new ApiError(401, "unauthorized", message);
export const forbidden = (message = "this needs the admin role") => new ApiError(403, "forbidden", message);

function validationField(error: { validation: { instancePath: string }[] }): string | undefined {
  const path = error.validation[0]?.instancePath.replace(/^\//, "").split("/").filter(Boolean).join(".");
  return path || undefined;
}

/**
 * How each kind of error (src/core/errors.ts) is answered: status and code, and whether the body names the
 * field at fault. The one place an error's kind becomes HTTP.
 */
const KIND_TO_HTTP: Record<ErrorKind, { status: number; code: ErrorCode; withField: boolean }> = {
  validation: { status: 422, code: "validation", withField: true },
  bad_request: { status: 400, code: "validation", withField: true },
  // A missing thing is named in the message; the field that held its id is not at fault.
  not_found: { status: 404, code: "not_found", withField: false },
  conflict: { status: 409, code: "conflict", withField: false },
  credentials_unreadable: { status: 409, code: "credentials_unreadable", withField: true },
  unauthorized: { status: 401, code: "unauthorized", withField: false },
  forbidden: { status: 403, code: "forbidden", withField: false },
  rate_limited: { status: 429, code: "rate_limited", withField: false },
  psa: { status: 502, code: "psa_error", withField: false },
  internal: { status: 500, code: "internal", withField: false },
};

const INTERNAL_MESSAGE = "an unexpected error occurred; see the server log";

/** The API error for one of cspsync's own errors, by its kind. */
function fromAppError(error: AppError): ApiError {
  const { status, code, withField } = KIND_TO_HTTP[error.kind];
  if (error.kind === "internal") return new ApiError(status, code, INTERNAL_MESSAGE);
  const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  const headers: Record<string, string> =
    typeof retryAfter === "number" ? { "retry-after": String(retryAfter) } : {};
  if (error instanceof PsaError) {
    // The PSA's failure as a sentence for people; the request, status and server text as the detail.
    const { message, detail } = psaSentence(error);
    const apiError = new ApiError(status, code, message, undefined, headers);
    apiError.detail = detail;
    return apiError;
  }
  return new ApiError(status, code, error.message, withField ? error.field : undefined, headers);
}

/** Translates anything a handler throws into the API's error shape; unexpected errors become `internal`. */
export function toApiError(error: unknown, request?: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const field = validationField(error);
    const issue = error.validation[0]?.message ?? "invalid value";
    const where = field ?? (error as FastifyError).validationContext ?? "request";
    return new ApiError(400, "validation", `${where}: ${issue}`, field);
  }
  if (error instanceof AppError) return fromAppError(error);
  // Fastify's own errors (a malformed body, an unknown route, the rate limit) carry their status.
  const status = (error as FastifyError | undefined)?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const message = (error as Error).message;
    if (status === 404)
      return notFound(request ? `no route ${request.method} ${request.url.split("?")[0]}` : message);
    if (status === 401) return unauthorized(message);
    if (status === 403) return forbidden(message);
    if (status === 429) return new ApiError(429, "rate_limited", message);
    // Malformed JSON, an unsupported content type, a body over the limit: the request itself is wrong.
    return new ApiError(status, "validation", message);
  }
  return new ApiError(500, "internal", INTERNAL_MESSAGE);
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  const body: ErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.field ? { field: error.field } : {}),
      ...(error.detail ? { detail: error.detail } : {}),
    },
  };
  return reply.status(error.status).headers(error.headers).send(body);
}

export function installErrorHandling(fastify: FastifyInstance): void {
  fastify.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, request);
    if (apiError.status >= 500 && apiError.code === "internal") {
      // The error itself (message and stack) may be needed to fix the bug; request bodies never are.
      request.log.error({ err: error }, "request failed");
    } else {
      request.log.info({ status: apiError.status, code: apiError.code }, apiError.message);
    }
    return sendError(reply, apiError);
  });
}
