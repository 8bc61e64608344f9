import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  constantTimeEqual,
  type AuthService,
  type Role,
  type TokenView,
  type UserView,
} from "../services/auth.ts";
import { ApiError, forbidden, sendError, toApiError, unauthorized } from "./errors.ts";

/**
 * Who is calling, decided before the body is read: a session cookie (browser) or a bearer API token
 * (automation). Every route says who may call it; by default reads need any role and writes need admin.
 */
export const SESSION_COOKIE = "cspsync_session";
export const CSRF_HEADER = "x-csrf-token";

/** public: anyone; viewer: any authenticated caller; admin: the admin role. */
export type Access = "public" | "viewer" | "admin";

export type Principal =
  | { kind: "session"; role: Role; user: UserView; sessionId: string; csrfToken: string }
  /** A token acts for its owner, with the token's role (never above the owner's: see AuthService). */
  | { kind: "token"; role: Role; token: TokenView; user: UserView };

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: Access;
    /** false: a cookie-authenticated write needs no CSRF token (login and setup, which open the session). */
    csrf?: boolean;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function isApiPath(url: string): boolean {
  return url === "/api" || url.startsWith("/api/") || url.startsWith("/api?");
}

/**
 * Decided by the matched route pattern, never by the raw URL (which may be encoded differently from what
 * the router matched). "page": the web app and the docs, which need nobody identified. API routes follow
 * their declared access; by default reads need any role and writes need admin. Unmatched URLs under /api
 * still need a caller, so probing them tells an anonymous caller nothing.
 */
function accessFor(request: FastifyRequest): Access | "page" {
  const route = request.routeOptions.url;
  // Unmatched, or matched by the web app's catch-all: an /api URL is still treated as the API.
  if (route === undefined || !isApiPath(route))
    return isApiPath(request.url) ? defaultAccess(request.method) : "page";
  if (route === "/api/docs" || route.startsWith("/api/docs/")) return "page";
  return request.routeOptions.config?.access ?? defaultAccess(request.method);
}

function defaultAccess(method: string): Access {
  return SAFE_METHODS.has(method) ? "viewer" : "admin";
}

async function authenticate(
  request: FastifyRequest,
  reply: FastifyReply,
  auth: AuthService,
): Promise<Principal | null> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const resolved = match ? await auth.resolveToken(match[1]!) : null;
    if (!resolved)
      throw unauthorized(
        "the API token is not valid (revoked, expired, its user deleted or demoted, mistyped, or not a Bearer token)",
      );
    return { kind: "token", role: resolved.token.role, token: resolved.token, user: resolved.owner };
  }
  const sessionId = request.cookies[SESSION_COOKIE];
  if (!sessionId) return null;
  const session = await auth.resolveSession(sessionId);
  if (!session) {
    // An expired or unknown session: tell the browser to forget the cookie.
    clearSessionCookie(reply, request);
    return null;
  }
  return {
    kind: "session",
    role: session.user.role,
    user: session.user,
    sessionId,
    csrfToken: session.csrfToken,
  };
}

export function installAuthentication(fastify: FastifyInstance, auth: AuthService): void {
  fastify.decorateRequest("principal", null);
  fastify.addHook("onRequest", async (request, reply) => {
    try {
      const access = accessFor(request);
      if (access === "page") return;
      const principal = await authenticate(request, reply, auth);
      request.principal = principal;
      const csrfRequired =
        principal?.kind === "session" &&
        !SAFE_METHODS.has(request.method) &&
        request.routeOptions.config?.csrf !== false;
      if (csrfRequired) {
        const sent = request.headers[CSRF_HEADER];
        if (typeof sent !== "string" || !constantTimeEqual(sent, principal.csrfToken))
          throw new ApiError(
            403,
            "csrf",
            `missing or wrong ${CSRF_HEADER} header (the session's CSRF token)`,
          );
      }
      if (access === "public") return;
      if (!principal) throw unauthorized();
      if (access === "admin" && principal.role !== "admin") throw forbidden();
    } catch (error) {
      // Answer here, before the body is read: a refused upload is never streamed to disk.
      const apiError = toApiError(error, request);
      request.log.info({ status: apiError.status, code: apiError.code }, apiError.message);
      return sendError(reply, apiError);
    }
  });
}

export function requirePrincipal(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

export function setSessionCookie(
  reply: FastifyReply,
  request: FastifyRequest,
  sessionId: string,
  expiresAt: string,
) {
  reply.setCookie(SESSION_COOKIE, sessionId, {
    httpOnly: true,
    sameSite: "strict",
    path: "/",
    secure: request.protocol === "https",
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply, request: FastifyRequest) {
  reply.clearCookie(SESSION_COOKIE, {
    httpOnly: true,
    sameSite: "strict",
    path: "/",
    secure: request.protocol === "https",
  });
}
