import type { FastifyInstance } from "fastify";

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

export function installSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook("onSend", async (request, reply, payload) => {
    reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("x-frame-options", "DENY");
    reply.header("cross-origin-opener-policy", "same-origin");
    reply.header("cross-origin-resource-policy", "same-origin");
    reply.header("permissions-policy", "camera=(), microphone=(), geolocation=()");
    if (request.protocol === "https") reply.header("strict-transport-security", "max-age=31536000");
    // API answers may hold billing data: no cache (browser or proxy) keeps them.
    if (request.url.startsWith("/api/") && !request.url.startsWith("/api/docs/static"))
      reply.header("cache-control", "no-store");
    return payload;
  });
}
