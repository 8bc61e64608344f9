import type { FastifyInstance, FastifyRequest } from "fastify";
import { ApiError } from "./errors.ts";

/**
 * Throttles on top of the per-address lockout (AuthService.login), against password spraying from many
 * addresses: logins for one e-mail from all addresses together, and all logins to this server. Counted in
 * memory by @fastify/rate-limit, per server process: with several `serve` processes each allows this much.
 */
export type LoginThrottleOptions = {
  /** Login attempts for one e-mail, from any address, per window (default 20 per 10 minutes). */
  perAccount?: { max: number; windowMs: number };
  /** Login attempts to this server, whoever and from wherever (default 120 per minute). */
  overall?: { max: number; windowMs: number };
};

export const DEFAULT_LOGIN_THROTTLE = {
  perAccount: { max: 20, windowMs: 10 * 60_000 },
  overall: { max: 120, windowMs: 60_000 },
} as const;

type Limiter = (
  request: FastifyRequest,
) => Promise<{ isAllowed: true } | { isAllowed: false; isExceeded: boolean; ttlInSeconds: number }>;

/** A check to await in the login handler, once the body (and so the e-mail) has been read. */
export function loginThrottle(
  fastify: FastifyInstance,
  options: LoginThrottleOptions = {},
): (request: FastifyRequest) => Promise<void> {
  const perAccount = options.perAccount ?? DEFAULT_LOGIN_THROTTLE.perAccount;
  const overall = options.overall ?? DEFAULT_LOGIN_THROTTLE.overall;
  const limiters: Array<[Limiter, string]> = [
    [
      fastify.createRateLimit({
        max: overall.max,
        timeWindow: overall.windowMs,
        keyGenerator: () => "login:all",
      }),
      "this server is receiving too many logins",
    ],
    [
      fastify.createRateLimit({
        max: perAccount.max,
        timeWindow: perAccount.windowMs,
        keyGenerator: (request) => `login:${accountOf(request)}`,
      }),
      "too many logins for this e-mail address",
    ],
  ];
  return async (request) => {
    for (const [limit, why] of limiters) {
      const result = await limit(request);
      if (result.isAllowed || !result.isExceeded) continue;
      const seconds = Math.max(1, result.ttlInSeconds);
      throw new ApiError(429, "rate_limited", `${why}; try again in ${seconds} seconds`, undefined, {
        "retry-after": String(seconds),
      });
    }
  };
}

function accountOf(request: FastifyRequest): string {
  const email = (request.body as { email?: unknown } | undefined)?.email;
  return typeof email === "string" ? email.trim().toLowerCase() : "";
}
