import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, sendError, toApiError } from "./errors.ts";

/**
 * Headers every response carries. Scripts, frames and connections are limited to cspsync's own origin;
 * inline styles are allowed because the docs page (and React's style attributes) set them.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Every response's security headers; `cache-control: no-store` on API answers. */
export function securityHeaders(request: { url: string; protocol?: string }): Record<string, string> {
  const headers: Record<string, string> = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
  };
  if (request.protocol === "https") headers["strict-transport-security"] = "max-age=31536000";
  // API answers may hold billing data: no cache (browser or proxy) keeps them.
  if (request.url.startsWith("/api/") && !request.url.startsWith("/api/docs/static"))
    headers["cache-control"] = "no-store";
  return headers;
}

export function installSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook("onSend", async (request, reply, payload) => {
    reply.headers(securityHeaders(request));
    return payload;
  });
}

/**
 * Fastify's `frameworkErrors`: a URL that cannot be decoded (or a too-long path parameter) is answered before
 * any route or hook runs, so the headers are set here, and the answer has the API's error shape.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  reply.headers(securityHeaders({ url: request.raw.url ?? "/", protocol: protocolOf(request) }));
  let apiError: ApiError;
  if (error.code === "FST_ERR_BAD_URL")
    apiError = new ApiError(400, "validation", "the request URL is malformed (invalid percent-encoding)");
  else if (error.code === "FST_ERR_MAX_PARAM_LENGTH")
    apiError = new ApiError(414, "validation", "a part of the request URL is too long");
  else apiError = toApiError(error);
  request.log.info({ status: apiError.status, code: error.code }, apiError.message);
  return sendError(reply, apiError);
}

function protocolOf(request: FastifyRequest): string | undefined {
  try {
    return request.protocol;
  } catch {
    return undefined;
  }
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (malformed, headers too large, too
 * slow) never reaches Fastify; the answer is written to the socket, with the same security headers.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message] =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "the request took too long to arrive"]
      : error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "the request headers are too large"]
        : [400, "the request is not valid HTTP"];
  const body = JSON.stringify({ error: { code: "validation", message } });
  const headers = {
    ...securityHeaders({ url: "/" }),
    "cache-control": "no-store",
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  };
  if (socket.writable) {
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines.join("\r\n")}\r\n\r\n${body}`);
  }
  socket.destroy(error);
}
