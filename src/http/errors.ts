import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { z } from "zod";
import { PsaError } from "../psa/shared/errors.ts";
import { psaSentence } from "../psa/shared/error-sentences.ts";
import { HostNotAllowedError } from "../security/hosts.ts";
import { AppSettingsError } from "../services/app-settings.ts";
import { RunAlreadyActiveError } from "../services/annual-sync.ts";
import {
  AuthConflictError,
  AuthInputError,
  AuthNotFoundError,
  InvalidCredentialsError,
  LoginLockedError,
} from "../services/auth.ts";
import { ConnectionMoveError } from "../services/connection-moves.ts";
import { ConnectionInputError, CredentialsUnreadableError } from "../services/connections.ts";
import { MappingError } from "../services/mappings.ts";
import { ProductRunActiveError } from "../services/product-runs.ts";
import { ProductSyncSetupError } from "../services/product-sync.ts";

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

/** Translates anything a handler throws into the API's error shape; unexpected errors become `internal`. */
export function toApiError(error: unknown, request?: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const field = validationField(error);
    const issue = error.validation[0]?.message ?? "invalid value";
    const where = field ?? (error as FastifyError).validationContext ?? "request";
    return new ApiError(400, "validation", `${where}: ${issue}`, field);
  }
  if (error instanceof ConnectionMoveError)
    return new ApiError(400, "validation", error.message, error.field);
  if (error instanceof ConnectionInputError) {
    if (error.field === "id") return notFound(error.message);
    return new ApiError(422, "validation", error.message, error.field);
  }
  // The key changed since the credentials were stored: the connection needs them again (or the old key).
  if (error instanceof CredentialsUnreadableError)
    return new ApiError(409, "credentials_unreadable", error.message, "secrets");
  if (error instanceof MappingError) return new ApiError(422, "validation", error.message, error.field);
  if (error instanceof AppSettingsError) return new ApiError(422, "validation", error.message, error.field);
  if (error instanceof AuthInputError) return new ApiError(422, "validation", error.message, error.field);
  if (error instanceof AuthConflictError) return new ApiError(409, "conflict", error.message);
  if (error instanceof AuthNotFoundError) return notFound(error.message);
  if (error instanceof InvalidCredentialsError) return new ApiError(401, "unauthorized", error.message);
  if (error instanceof LoginLockedError)
    return new ApiError(429, "rate_limited", error.message, undefined, {
      "retry-after": String(error.retryAfterSeconds),
    });
  if (error instanceof RunAlreadyActiveError) return new ApiError(409, "conflict", error.message);
  if (error instanceof ProductRunActiveError) return new ApiError(409, "conflict", error.message);
  if (error instanceof ProductSyncSetupError) {
    // Its message starts with the setting at fault ("productSyncMode: …", "settings.productType: …").
    const field = /^([\w.]+):/.exec(error.message)?.[1];
    return new ApiError(422, "validation", error.message, field);
  }
  if (error instanceof HostNotAllowedError) return new ApiError(422, "validation", error.message);
  if (error instanceof PsaError) {
    const { message, detail } = psaSentence(error);
    const apiError = new ApiError(502, "psa_error", message);
    apiError.detail = detail;
    return apiError;
  }
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
  return new ApiError(500, "internal", "an unexpected error occurred; see the server log");
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
