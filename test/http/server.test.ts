import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer } from "../../src/http/server.ts";
import { createTestApp } from "../support/app.ts";
import { CONTRACT_ROUTES, multipartBody, startHarness, type Harness } from "./helpers.ts";

type ErrorReply = { error: { code: string; message: string; field?: string } };
const errorOf = (body: unknown) => (body as ErrorReply).error;

describe("HTTP server: OpenAPI, docs, web app, headers and limits", () => {
  let h: Harness;
  let webRoot: string;

  before(async () => {
    webRoot = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-web-"));
    fs.writeFileSync(path.join(webRoot, "index.html"), "<!doctype html><title>cspsync app</title>");
    fs.mkdirSync(path.join(webRoot, "assets"));
    fs.writeFileSync(path.join(webRoot, "assets", "app-1a2b3c.js"), "console.log('app')");
    h = await startHarness("sqlite", { server: { webRoot, trustProxy: 1, maxUploadBytes: 1024 } });
    await h.client().setup();
  });
  after(async () => {
    await h.cleanup();
    fs.rmSync(webRoot, { recursive: true, force: true });
  });

  it("the OpenAPI document lists exactly the contract's routes, each with its schemas", async () => {
    const reply = await h.client().get("/api/openapi.json");
    assert.equal(reply.status, 200);
    const doc = reply.body as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;
    };
    assert.match(doc.openapi, /^3\./);
    const listed = Object.entries(doc.paths).flatMap(([route, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`),
    );
    assert.deepEqual(listed.sort(), CONTRACT_ROUTES.map(([method, route]) => `${method} ${route}`).sort());
    for (const [route, methods] of Object.entries(doc.paths))
      for (const [method, operation] of Object.entries(methods)) {
        assert.ok(operation.responses["4XX"], `${method} ${route} documents its errors`);
        if (["post", "put", "patch"].includes(method) && !route.endsWith("/test") && !route.endsWith("/sync"))
          assert.ok(operation.requestBody, `${method} ${route} documents its body`);
      }
    const upload = doc.paths["/api/imports"]!.post!.requestBody as { content: Record<string, unknown> };
    assert.deepEqual(Object.keys(upload.content), ["multipart/form-data"]);
  });

  it("serves the docs page publicly", async () => {
    const anonymous = h.client();
    let reply = await anonymous.get("/api/docs");
    if (reply.status === 302) reply = await anonymous.get(String(reply.headers.location));
    assert.equal(reply.status, 200);
    assert.match(reply.text, /swagger-ui/i);
  });

  it("health says ok with the version", async () => {
    const version = JSON.parse(
      fs.readFileSync(path.resolve(import.meta.dirname, "../../package.json"), "utf8"),
    ).version;
    assert.deepEqual((await h.client().get("/api/health")).body, { ok: true, version });
  });

  it("serves the web app with an index.html fallback, never over /api", async () => {
    const client = h.client();
    const page = await client.get("/connections/abc/customers");
    assert.equal(page.status, 200);
    assert.match(page.text, /cspsync app/);
    assert.match(String(page.headers["content-type"]), /text\/html/);
    const asset = await client.get("/assets/app-1a2b3c.js");
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers["cache-control"]), /immutable/);
    assert.equal((await client.get("/assets/missing.js")).status, 404);
    const api = await h.client().get("/api/no-such-thing");
    assert.equal(api.status, 401, "unknown API paths are still API paths");
    const admin = h.client();
    await admin.login("admin@example.com", "correct horse battery");
    const unknown = await admin.get("/api/no-such-thing");
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown.body).code, "not_found");
  });

  it("sends the security headers on API answers, errors and pages", async () => {
    for (const url of ["/api/health", "/api/connections", "/", "/api/docs"]) {
      const reply = await h.client().get(url);
      const csp = String(reply.headers["content-security-policy"]);
      assert.match(csp, /default-src 'self'/, url);
      assert.match(csp, /frame-ancestors 'none'/, url);
      assert.equal(reply.headers["x-content-type-options"], "nosniff", url);
      assert.equal(reply.headers["referrer-policy"], "no-referrer", url);
    }
    assert.equal((await h.client().get("/api/health")).headers["cache-control"], "no-store");
  });

  it("behind an https proxy the session cookie is Secure and HSTS is sent", async () => {
    const reply = await h
      .client()
      .post(
        "/api/session",
        { email: "admin@example.com", password: "correct horse battery" },
        { headers: { "x-forwarded-proto": "https" } },
      );
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers["set-cookie"]), /; Secure/);
    assert.match(String(reply.headers["strict-transport-security"]), /max-age=/);
  });

  it("refuses an upload over the size limit with 413, naming the file, and keeps nothing", async () => {
    const admin = h.client();
    await admin.login("admin@example.com", "correct horse battery");
    const { payload, headers } = multipartBody([{ name: "big.csv", content: "x".repeat(4096) }]);
    const reply = await admin.request("POST", "/api/imports", payload, { headers });
    assert.equal(reply.status, 413);
    assert.deepEqual([errorOf(reply.body).code, errorOf(reply.body).field], ["validation", "file"]);
    assert.match(errorOf(reply.body).message, /big\.csv/);
    const uploads = path.join(h.app.config.dataDir, "uploads");
    assert.deepEqual(fs.existsSync(uploads) ? fs.readdirSync(uploads) : [], []);
    assert.deepEqual(((await admin.get("/api/imports")).body as { imports: unknown[] }).imports, []);
  });

  it("rejects JSON bodies over 1 MiB", async () => {
    const admin = h.client();
    await admin.login("admin@example.com", "correct horse battery");
    const reply = await admin.post("/api/tokens", { name: "x".repeat(2 * 1024 * 1024), role: "viewer" });
    assert.equal(reply.status, 413);
    assert.equal(errorOf(reply.body).code, "validation");
  });
});

describe("startServer", () => {
  it("creates the admin from CSPSYNC_ADMIN_EMAIL / CSPSYNC_ADMIN_PASSWORD and listens", async () => {
    const { app, cleanup } = await createTestApp("sqlite", []);
    const env = { CSPSYNC_ADMIN_EMAIL: "ops@example.com", CSPSYNC_ADMIN_PASSWORD: "from the environment" };
    const running = await startServer(app, { port: 0, env, log: false, auth: { passwordCost: 1024 } });
    try {
      assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const setup = (await (await fetch(`${running.url}/api/setup`)).json()) as { needsSetup: boolean };
      assert.equal(setup.needsSetup, false);
      const login = await fetch(`${running.url}/api/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "ops@example.com", password: "from the environment" }),
      });
      assert.equal(login.status, 200);
    } finally {
      await running.close();
    }
    // A second start with other values keeps the existing admin.
    const again = await startServer(app, {
      port: 0,
      env: { CSPSYNC_ADMIN_EMAIL: "other@example.com", CSPSYNC_ADMIN_PASSWORD: "something else entirely" },
      log: false,
    });
    await again.close();
    const users = await app.store.db.selectFrom("users").select("email").execute();
    assert.deepEqual(
      users.map((u) => u.email),
      ["ops@example.com"],
    );
    await cleanup();
  });

  it("refuses to start with an unusable configured admin password, without echoing it", async () => {
    const { app, cleanup } = await createTestApp("sqlite", []);
    try {
      const env = { CSPSYNC_ADMIN_EMAIL: "ops@example.com", CSPSYNC_ADMIN_PASSWORD: "tiny12" };
      await assert.rejects(
        startServer(app, { port: 0, env, log: false }),
        (error: Error) => /CSPSYNC_ADMIN_PASSWORD/.test(error.message) && !error.message.includes("tiny12"),
      );
      const halfConfigured = { CSPSYNC_ADMIN_EMAIL: "ops@example.com" };
      await assert.rejects(startServer(app, { port: 0, env: halfConfigured, log: false }), /set together/);
    } finally {
      await cleanup();
    }
  });
});
