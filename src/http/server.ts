import fs from "node:fs";
import path from "node:path";
import fastifyCookie from "@fastify/cookie";
import fastifyMultipart from "@fastify/multipart";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { z } from "zod";
import type { App } from "../app.ts";
import { DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_FILES } from "../config.ts";
import { createAppLogger } from "../log.ts";
import { AppSettingsService, type AppSettings } from "../services/app-settings.ts";
import { AuthService, type AuthOptions } from "../services/auth.ts";
import type { ImportSummary } from "../services/import-recon.ts";
import { installAuthentication, SESSION_COOKIE } from "./auth.ts";
import type { ApiInstance, ServerContext } from "./context.ts";
import { ERROR_RESPONSES, installErrorHandling } from "./errors.ts";
import { registerAuthRoutes } from "./routes/auth.ts";
import { registerConnectionRoutes } from "./routes/connections.ts";
import { registerCustomerRoutes } from "./routes/customers.ts";
import { registerDataRoutes } from "./routes/data.ts";
import { registerImportRoutes, removeStaleUploads } from "./routes/imports.ts";
import { registerNotificationRoutes } from "./routes/notifications.ts";
import { registerPricingRoutes } from "./routes/pricing.ts";
import { registerPriceListRoutes } from "./routes/price-lists.ts";
import { registerProductRoutes } from "./routes/products.ts";
import { registerReportRoutes } from "./routes/reports.ts";
import { registerSourceRoutes } from "./routes/sources.ts";
import type { LoginThrottleOptions } from "./login-throttle.ts";
import { answerClientError, answerFrameworkError, installSecurityHeaders } from "./security-headers.ts";
import { fastifyTrustProxy, type TrustProxy } from "./trust-proxy.ts";
import { DEFAULT_WEB_ROOT, installWebApp } from "./web-app.ts";

export { DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_FILES } from "../config.ts";
const JSON_BODY_LIMIT = 1024 * 1024;

export type BuildServerOptions = {
  /** The built web app; default web/dist of this checkout. Not served when it has no index.html. */
  webRoot?: string;
  /** Which reverse proxies' X-Forwarded-* to believe (client address, https); see trust-proxy.ts. */
  trustProxy?: TrustProxy;
  /** Login throttles against password spraying (defaults in login-throttle.ts). */
  loginThrottle?: LoginThrottleOptions;
  /** Clock for sessions and login lockouts. */
  now?: () => Date;
  /** Largest accepted upload per file, in bytes (default 2 GiB). */
  maxUploadBytes?: number;
  /** Most files in one upload request (default 10). */
  maxUploadFiles?: number;
  /** Largest accepted upload request, all its files together, in bytes (default: maxUploadBytes). */
  maxUploadTotalBytes?: number;
  /** Where uploads are streamed before import (default `<data dir>/uploads`). */
  uploadDir?: string;
  /**
   * Log destination and level; default: the app's own logger (so requests, syncs, PSA requests and jobs log
   * through one pino). `false` silences the server's; a stream gets a logger of its own (tests read it).
   */
  log?: false | { level?: string; stream?: { write(line: string): void } };
  /** Session lifetimes, lockout and password-hash cost (see AuthService). */
  auth?: Omit<AuthOptions, "now">;
  /**
   * Called after an upload with every file's result (e.g. to queue a sync check when annual charges
   * arrived). Its failure is logged; the upload's answer stands.
   */
  afterImport?: (files: ImportSummary[]) => Promise<unknown> | unknown;
  /** Runs after PUT /api/settings stored new values (the sync worker reinstalls its daily check). */
  afterSettingsChange?: (settings: AppSettings) => Promise<unknown> | unknown;
};

export type StartServerOptions = BuildServerOptions & {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1 (this machine only); 0.0.0.0 listens on every interface. */
  host?: string;
  /** Where CSPSYNC_ADMIN_EMAIL / CSPSYNC_ADMIN_PASSWORD are read from (default the app's config). */
  env?: NodeJS.ProcessEnv;
};

export type RunningServer = { server: FastifyInstance; url: string; close(): Promise<void> };

function packageVersion(): string {
  const file = path.resolve(import.meta.dirname, "../../package.json");
  const parsed = z.object({ version: z.string() }).safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
  return parsed.success ? parsed.data.version : "unknown";
}

/**
 * Fastify's logger: the app's pino itself unless the options ask for another level or destination. Either way
 * credentials are redacted (see createAppLogger): default serializers log no headers or bodies, and this keeps
 * them out even if that changes.
 */
function loggerOf(
  app: App,
  log: BuildServerOptions["log"],
): { logger: false } | { loggerInstance: FastifyBaseLogger } {
  if (log === false) return { logger: false };
  if (log === undefined) return { loggerInstance: app.log };
  const { log: own } = createAppLogger({
    level: log.level ?? app.config.logLevel,
    ...(log.stream ? { stream: log.stream } : {}),
    secrets: app.logSecrets,
  });
  return { loggerInstance: own };
}

/**
 * The HTTP API (api-contract.md) and the web app, on one Fastify instance, ready for `inject` or `listen`.
 * Every route has zod schemas for what it accepts and returns; the OpenAPI document is generated from them.
 */
export async function buildServer(app: App, options: BuildServerOptions = {}): Promise<FastifyInstance> {
  const now = options.now ?? (() => new Date());
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const maxUploadFiles = options.maxUploadFiles ?? DEFAULT_MAX_UPLOAD_FILES;
  const maxUploadTotalBytes = options.maxUploadTotalBytes ?? maxUploadBytes;
  const uploadDir = options.uploadDir ?? path.join(app.config.dataDir, "uploads");
  removeStaleUploads(uploadDir, now());
  const version = packageVersion();
  const fastify = Fastify({
    ...loggerOf(app, options.log),
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
    bodyLimit: JSON_BODY_LIMIT,
    // Answers given before any hook runs (a malformed URL, a request that is not valid HTTP) get the
    // security headers there.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  }).withTypeProvider<ZodTypeProvider>();
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  installErrorHandling(fastify);
  installSecurityHeaders(fastify);

  await fastify.register(fastifyCookie);
  // Limits are applied where they are needed (login), not to every route.
  await fastify.register(fastifyRateLimit, { global: false });
  warnOfUntrustedProxy(fastify, options.trustProxy ?? false);
  await fastify.register(fastifyMultipart, {
    limits: { fileSize: maxUploadBytes, files: maxUploadFiles, fields: 20, fieldSize: 64 * 1024, parts: 100 },
  });
  await fastify.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "cspsync API",
        version,
        description:
          "Microsoft CSP billing into ConnectWise Manage and Autotask. Authenticate with the session cookie " +
          "(plus the X-CSRF-Token header on writes) or an API token as `Authorization: Bearer <token>`.",
      },
      components: {
        securitySchemes: {
          session: { type: "apiKey", in: "cookie", name: SESSION_COOKIE },
          token: { type: "http", scheme: "bearer" },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await fastify.register(fastifySwaggerUi, { routePrefix: "/api/docs" });

  const ctx: ServerContext = {
    app,
    auth: new AuthService(app.store, app.organizationId, { ...options.auth, now }),
    settings: new AppSettingsService(app.store, app.organizationId, now),
    version,
    uploadDir,
    maxUploadBytes,
    maxUploadFiles,
    maxUploadTotalBytes,
    afterImport: options.afterImport ?? (() => undefined),
    afterSettingsChange: options.afterSettingsChange ?? (() => undefined),
    loginThrottle: options.loginThrottle ?? {},
  };
  installAuthentication(fastify, ctx.auth);
  const api = fastify as unknown as ApiInstance;
  registerAuthRoutes(api, ctx);
  registerConnectionRoutes(api, ctx);
  registerCustomerRoutes(api, ctx);
  registerDataRoutes(api, ctx);
  registerImportRoutes(api, ctx);
  registerNotificationRoutes(api, ctx);
  registerPricingRoutes(api, ctx);
  registerPriceListRoutes(api, ctx);
  registerProductRoutes(api, ctx);
  registerReportRoutes(api, ctx);
  registerSourceRoutes(api, ctx);
  api.get(
    "/api/openapi.json",
    {
      config: { access: "public" },
      schema: {
        security: [],
        tags: ["system"],
        summary: "This OpenAPI document",
        response: { 200: z.record(z.string(), z.unknown()), ...ERROR_RESPONSES },
      },
    },
    async () => fastify.swagger() as unknown as Record<string, unknown>,
  );
  await installWebApp(fastify, options.webRoot ?? DEFAULT_WEB_ROOT);
  await fastify.ready();
  return fastify;
}

/**
 * Behind a proxy that cspsync does not trust, every user shares the proxy's address, so one attacker can
 * lock everybody out of an account; said once, in the log, when a forwarded request first arrives.
 */
function warnOfUntrustedProxy(fastify: FastifyInstance, trustProxy: TrustProxy): void {
  if (trustProxy !== false) return;
  let warned = false;
  fastify.addHook("onRequest", async (request) => {
    if (warned || request.headers["x-forwarded-for"] === undefined) return;
    warned = true;
    request.log.warn(
      "a request arrived through a proxy (X-Forwarded-For), but CSPSYNC_TRUST_PROXY is off: every user " +
        "behind it shares one address for the login lockout; set CSPSYNC_TRUST_PROXY to the number of " +
        "proxies in front of cspsync (or their addresses)",
    );
  });
}

/** Creates the configured admin if there is no user yet, builds the server, and listens. */
export async function startServer(app: App, options: StartServerOptions = {}): Promise<RunningServer> {
  const auth = new AuthService(app.store, app.organizationId, {
    ...options.auth,
    ...(options.now ? { now: options.now } : {}),
  });
  const admin = await auth.ensureAdminFromEnv(
    options.env ?? {
      CSPSYNC_ADMIN_EMAIL: app.config.admin?.email,
      CSPSYNC_ADMIN_PASSWORD: app.config.admin?.password,
    },
  );
  const server = await buildServer(app, options);
  if (admin === "created") server.log.info("created the admin user from CSPSYNC_ADMIN_EMAIL");
  try {
    const url = await server.listen({ port: options.port ?? 8080, host: options.host ?? "127.0.0.1" });
    return { server, url, close: () => server.close() };
  } catch (error) {
    await server.close();
    throw error;
  }
}
