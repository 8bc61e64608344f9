import { z } from "zod";
import {
  DEFAULT_TOKEN_DAYS,
  emailSchema,
  enteredPasswordSchema,
  MAX_TOKEN_DAYS,
  passwordSchema,
  type NewSession,
} from "../../services/auth.ts";
import { clearSessionCookie, requirePrincipal, setSessionCookie } from "../auth.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES, forbidden, unauthorized } from "../errors.ts";
import { loginThrottle } from "../login-throttle.ts";
import {
  idParams,
  newTokenSchema,
  noContent,
  roleSchema,
  sessionSchema,
  tokenSchema,
  userSchema,
} from "../schemas.ts";

/** Health, first-run setup, login sessions, users and API tokens. */
export function registerAuthRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { auth } = ctx;
  const credentials = z.object({ email: z.string().max(254), password: enteredPasswordSchema });
  const throttleLogin = loginThrottle(fastify, ctx.loginThrottle);
  const sessionBody = (session: NewSession) => ({
    user: { id: session.user.id, email: session.user.email, role: session.user.role },
    csrfToken: session.csrfToken,
  });

  fastify.get(
    "/api/health",
    {
      config: { access: "public" },
      schema: {
        security: [],
        tags: ["system"],
        summary: "Liveness and version",
        response: { 200: z.object({ ok: z.literal(true), version: z.string() }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ ok: true as const, version: ctx.version }),
  );

  fastify.get(
    "/api/setup",
    {
      config: { access: "public" },
      schema: {
        security: [],
        tags: ["auth"],
        summary: "Whether the first admin still has to be created",
        response: { 200: z.object({ needsSetup: z.boolean() }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ needsSetup: await auth.needsSetup() }),
  );

  fastify.post(
    "/api/setup",
    {
      config: { access: "public", csrf: false },
      schema: {
        security: [],
        tags: ["auth"],
        summary: "Create the first admin (only while no user exists) and log in",
        body: z.object({ email: emailSchema, password: passwordSchema }),
        response: { 200: sessionSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const user = await auth.setup(request.body);
      const session = await auth.openSession(user);
      setSessionCookie(reply, request, session.sessionId, session.expiresAt);
      return sessionBody(session);
    },
  );

  fastify.post(
    "/api/session",
    {
      config: { access: "public", csrf: false },
      schema: {
        security: [],
        tags: ["auth"],
        summary: "Log in; sets the session cookie",
        description:
          "After 5 failed logins for one e-mail from one address, further attempts get 429 with Retry-After. " +
          "Logins for one e-mail from all addresses together, and all logins to this server, are throttled too.",
        body: credentials,
        response: { 200: sessionSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await throttleLogin(request);
      const session = await auth.login(request.body.email, request.body.password, request.ip);
      setSessionCookie(reply, request, session.sessionId, session.expiresAt);
      return sessionBody(session);
    },
  );

  fastify.get(
    "/api/session",
    {
      config: { access: "public" },
      schema: {
        security: [],
        tags: ["auth"],
        summary: "The logged-in user and the session's CSRF token",
        response: { 200: sessionSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (principal?.kind !== "session") throw unauthorized("not logged in");
      const { id, email, role } = principal.user;
      return { user: { id, email, role }, csrfToken: principal.csrfToken };
    },
  );

  fastify.delete(
    "/api/session",
    {
      config: { access: "public" },
      schema: {
        security: [],
        tags: ["auth"],
        summary: "Log out",
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      if (request.principal?.kind === "session") await auth.endSession(request.principal.sessionId);
      clearSessionCookie(reply, request);
      return reply.status(204).send();
    },
  );

  fastify.get(
    "/api/users",
    {
      config: { access: "admin" },
      schema: {
        tags: ["auth"],
        summary: "List users (admin)",
        response: { 200: z.object({ users: z.array(userSchema) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ users: await auth.listUsers() }),
  );

  fastify.post(
    "/api/users",
    {
      config: { access: "admin" },
      schema: {
        tags: ["auth"],
        summary: "Create a user (admin)",
        body: z.object({ email: emailSchema, password: passwordSchema, role: roleSchema }),
        response: { 201: z.object({ user: userSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => reply.status(201).send({ user: await auth.createUser(request.body) }),
  );

  fastify.delete(
    "/api/users/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["auth"],
        summary: "Delete a user and end their sessions (admin; not the last admin)",
        params: idParams,
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await auth.deleteUser(request.params.id);
      return reply.status(204).send();
    },
  );

  fastify.patch(
    "/api/users/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["auth"],
        summary: "Change a user's role (admin; not the last admin's)",
        description: "A demoted user's admin API tokens stop working at once.",
        params: idParams,
        body: z.object({ role: roleSchema }),
        response: { 200: z.object({ user: userSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ user: await auth.setRole(request.params.id, request.body.role) }),
  );

  fastify.put(
    "/api/users/:id/password",
    {
      config: { access: "admin" },
      schema: {
        tags: ["auth"],
        summary: "Set another user's password (admin); all of their sessions end",
        params: idParams,
        body: z.object({ password: passwordSchema }),
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await auth.resetPassword(request.params.id, request.body.password);
      return reply.status(204).send();
    },
  );

  fastify.put(
    "/api/session/password",
    {
      config: { access: "viewer" },
      schema: {
        tags: ["auth"],
        summary: "Change your own password (logged-in users); your other sessions end",
        body: z.object({ currentPassword: enteredPasswordSchema, newPassword: passwordSchema }),
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      if (principal.kind !== "session") throw forbidden("an API token cannot change a password; log in");
      await auth.changeOwnPassword(principal.user.id, request.body, principal.sessionId);
      return reply.status(204).send();
    },
  );

  fastify.get(
    "/api/tokens",
    {
      schema: {
        tags: ["auth"],
        summary: "List API tokens (never their values)",
        response: { 200: z.array(tokenSchema), ...ERROR_RESPONSES },
      },
    },
    async () => auth.listTokens(),
  );

  fastify.post(
    "/api/tokens",
    {
      config: { access: "admin" },
      schema: {
        tags: ["auth"],
        summary: "Create an API token (admin); the token is shown once",
        description:
          `The token acts for the user who creates it (a token made with a token acts for that token's user) ` +
          `and stops working when that user is deleted or loses the token's role. It expires after ` +
          `expiresInDays (default ${DEFAULT_TOKEN_DAYS}), or never with "never".`,
        body: z.object({
          name: z.string().trim().min(1).max(100),
          role: roleSchema,
          expiresInDays: z
            .union([z.number().int().min(1).max(MAX_TOKEN_DAYS), z.literal("never")])
            .optional(),
        }),
        response: { 201: newTokenSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const token = await auth.createToken(request.body, principal.user);
      const { id, name, role, expiresAt } = token;
      return reply.status(201).send({ id, name, role, expiresAt, token: token.token });
    },
  );

  fastify.delete(
    "/api/tokens/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["auth"],
        summary: "Revoke an API token (admin)",
        params: idParams,
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await auth.revokeToken(request.params.id);
      return reply.status(204).send();
    },
  );
}
