import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance, InjectOptions } from "fastify";
import type { App } from "../../src/app.ts";
import { buildServer, type BuildServerOptions } from "../../src/http/server.ts";
import type { Dialect } from "../../src/store/db.ts";
import { createTestApp } from "../support/app.ts";

/** Every route of api-contract.md, as OpenAPI writes paths. */
export const CONTRACT_ROUTES: readonly (readonly [string, string])[] = [
  ["GET", "/api/health"],
  ["GET", "/api/setup"],
  ["POST", "/api/setup"],
  ["POST", "/api/session"],
  ["GET", "/api/session"],
  ["DELETE", "/api/session"],
  ["GET", "/api/users"],
  ["POST", "/api/users"],
  ["DELETE", "/api/users/{id}"],
  ["PATCH", "/api/users/{id}"],
  ["PUT", "/api/users/{id}/password"],
  ["PUT", "/api/session/password"],
  ["GET", "/api/tokens"],
  ["POST", "/api/tokens"],
  ["DELETE", "/api/tokens/{id}"],
  ["GET", "/api/dashboard"],
  ["GET", "/api/invoices"],
  ["GET", "/api/imports"],
  ["POST", "/api/imports"],
  ["GET", "/api/connections"],
  ["POST", "/api/connections"],
  ["GET", "/api/connections/{id}"],
  ["PATCH", "/api/connections/{id}"],
  ["DELETE", "/api/connections/{id}"],
  ["POST", "/api/connections/{id}/test"],
  ["GET", "/api/connections/{id}/psa/companies"],
  ["GET", "/api/connections/{id}/psa/companies/{companyId}/agreements"],
  ["GET", "/api/connections/{id}/psa/options/{kind}"],
  ["GET", "/api/connections/{id}/customers"],
  ["GET", "/api/customers"],
  ["PUT", "/api/connections/{id}/customers/{tenantId}/mappings/{motion}"],
  ["POST", "/api/connections/{id}/sync"],
  ["GET", "/api/connections/{id}/price-rules"],
  ["POST", "/api/connections/{id}/price-rules"],
  ["PUT", "/api/connections/{id}/price-rules/{ruleId}"],
  ["DELETE", "/api/connections/{id}/price-rules/{ruleId}"],
  ["GET", "/api/connections/{id}/pricing"],
  ["PUT", "/api/connections/{id}/pricing"],
  ["GET", "/api/connections/{id}/holds"],
  ["GET", "/api/price-lists"],
  ["POST", "/api/price-lists"],
  ["DELETE", "/api/price-lists/{id}"],
  ["GET", "/api/price-lists/entries"],
  ["GET", "/api/billing-products"],
  ["POST", "/api/connections/{id}/holds/approve"],
  ["GET", "/api/connections/{id}/products/preview"],
  ["POST", "/api/connections/{id}/products/sync"],
  ["GET", "/api/connections/{id}/products/runs"],
  ["GET", "/api/connections/{id}/products/runs/{runId}"],
  ["GET", "/api/runs"],
  ["GET", "/api/runs/{id}"],
  ["GET", "/api/settings"],
  ["PUT", "/api/settings"],
  ["GET", "/api/openapi.json"],
  ["GET", "/api/reports/reconciliation"],
  ["GET", "/api/reports/reconciliation/lines"],
  ["GET", "/api/reports/reconciliation/export"],
  ["GET", "/api/reports/trend"],
  ["GET", "/api/renewals/ledger"],
  ["GET", "/api/renewals"],
  ["GET", "/api/renewals/export"],
  ["GET", "/api/renewals/feed-token"],
  ["POST", "/api/renewals/feed-token"],
  ["GET", "/api/renewals/feed/{file}"],
  ["GET", "/api/sources"],
  ["POST", "/api/sources"],
  ["DELETE", "/api/sources/{id}"],
  ["PATCH", "/api/sources/{id}"],
  ["POST", "/api/sources/{id}/test"],
  ["POST", "/api/sources/{id}/fetch"],
  ["GET", "/api/sources/{id}/fetch-runs"],
  ["GET", "/api/sources/{id}/unbilled"],
  ["GET", "/api/notifications/channels"],
  ["POST", "/api/notifications/channels"],
  ["PATCH", "/api/notifications/channels/{id}"],
  ["DELETE", "/api/notifications/channels/{id}"],
  ["POST", "/api/notifications/channels/{id}/test"],
  ["GET", "/api/notifications/deliveries"],
  ["GET", "/api/notifications/settings"],
  ["PUT", "/api/notifications/settings"],
  ["GET", "/api/health/subjects"],
];

/** Writes any logged-in user may make about themselves (a viewer changing their own password). */
export const SELF_SERVICE_ROUTES = new Set(["PUT /api/session/password"]);

/** Routes anyone may call (api-contract.md: health, setup, session, OpenAPI and docs). */
export const PUBLIC_ROUTES = new Set([
  "GET /api/health",
  "GET /api/setup",
  "POST /api/setup",
  "POST /api/session",
  "GET /api/session",
  "DELETE /api/session",
  "GET /api/openapi.json",
  "GET /api/renewals/feed/{file}",
]);

/** A concrete URL for an OpenAPI path (the ids need not exist: access is decided before lookup). */
export function concreteUrl(openApiPath: string): string {
  return openApiPath.replace("{motion}", "seat-annual").replace(/\{[^}]+\}/g, "x");
}

export const ADMIN = { email: "admin@example.com", password: "correct horse battery" };

export type Reply = { status: number; body: unknown; headers: Record<string, unknown>; text: string };

/** A caller of the API: keeps the session cookie and CSRF token like a browser would, or sends a bearer token. */
export class Client {
  readonly server: FastifyInstance;
  cookie: string | undefined;
  csrfToken: string | undefined;
  bearer: string | undefined;
  remoteAddress = "127.0.0.1";

  constructor(server: FastifyInstance) {
    this.server = server;
  }

  async request(
    method: InjectOptions["method"],
    url: string,
    payload?: unknown,
    options: { headers?: Record<string, string>; csrf?: string | false } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookie) headers.cookie = this.cookie;
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    const csrf = options.csrf === undefined ? this.csrfToken : options.csrf;
    if (csrf && method !== "GET") headers["x-csrf-token"] = csrf;
    const response = await this.server.inject({
      method,
      url,
      headers,
      remoteAddress: this.remoteAddress,
      ...(payload === undefined ? {} : { payload: payload as InjectOptions["payload"] }),
    });
    const setCookie = response.headers["set-cookie"];
    for (const line of [setCookie].flat()) {
      if (typeof line !== "string" || !line.startsWith("cspsync_session=")) continue;
      const value = line.split(";")[0]!.slice("cspsync_session=".length);
      this.cookie = value ? `cspsync_session=${value}` : undefined;
    }
    const text = response.body;
    let body: unknown = text;
    if (String(response.headers["content-type"] ?? "").includes("json") && text) body = JSON.parse(text);
    return { status: response.statusCode, body, headers: response.headers, text };
  }

  get = (url: string, options?: { headers?: Record<string, string> }) =>
    this.request("GET", url, undefined, options);
  post = (
    url: string,
    payload?: unknown,
    options?: { headers?: Record<string, string>; csrf?: string | false },
  ) => this.request("POST", url, payload, options);
  put = (url: string, payload?: unknown) => this.request("PUT", url, payload);
  patch = (url: string, payload?: unknown) => this.request("PATCH", url, payload);
  delete = (url: string, options?: { csrf?: string | false }) =>
    this.request("DELETE", url, undefined, options);

  async login(email: string, password: string): Promise<Reply> {
    const reply = await this.post("/api/session", { email, password });
    if (reply.status === 200) this.csrfToken = (reply.body as { csrfToken: string }).csrfToken;
    return reply;
  }

  async setup(email = ADMIN.email, password = ADMIN.password): Promise<Reply> {
    const reply = await this.post("/api/setup", { email, password });
    if (reply.status === 200) this.csrfToken = (reply.body as { csrfToken: string }).csrfToken;
    return reply;
  }
}

export type Harness = {
  app: App;
  server: FastifyInstance;
  /** Every line the server logged. */
  logs: string[];
  /** The server's clock; tests move it forward. */
  clock: { now: Date };
  client(): Client;
  cleanup(): Promise<void>;
};

/** A server on a fresh app and database, with a controllable clock and captured logs. */
export async function startHarness(
  dialect: Dialect,
  options: { allowedHosts?: string[]; server?: BuildServerOptions } = {},
): Promise<Harness> {
  const { app, cleanup } = await createTestApp(dialect, options.allowedHosts ?? []);
  const logs: string[] = [];
  const clock = { now: new Date("2024-07-01T08:00:00.000Z") };
  const emptyWebRoot = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-noweb-"));
  const server = await buildServer(app, {
    webRoot: emptyWebRoot,
    now: () => clock.now,
    log: { level: "debug", stream: { write: (line: string) => void logs.push(line) } },
    // Cheap hashes keep the tests fast; production uses the default cost.
    auth: { passwordCost: 1024 },
    ...options.server,
  });
  return {
    app,
    server,
    logs,
    clock,
    client: () => new Client(server),
    async cleanup() {
      await server.close();
      await cleanup();
      fs.rmSync(emptyWebRoot, { recursive: true, force: true });
    },
  };
}

/** A multipart/form-data body with `file` parts, as a browser's FormData upload sends it. */
export function multipartBody(files: { name: string; content: Buffer | string }[], field = "file") {
  const boundary = "----cspsync-test-boundary-7MA4YWxkTrZu0gW";
  const chunks: Buffer[] = [];
  for (const file of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${file.name}"\r\n` +
          "Content-Type: text/csv\r\n\r\n",
      ),
    );
    chunks.push(Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
  };
}
