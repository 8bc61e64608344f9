import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DIALECTS } from "../support/stores.ts";
import type { Client } from "./helpers.ts";
import {
  ADMIN,
  concreteUrl,
  CONTRACT_ROUTES,
  PUBLIC_ROUTES,
  SELF_SERVICE_ROUTES,
  startHarness,
  type Harness,
} from "./helpers.ts";

const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };

type ErrorReply = { error: { code: string; message: string; field?: string } };
const errorOf = (body: unknown) => (body as ErrorReply).error;

for (const dialect of DIALECTS) {
  describe(`HTTP API authentication and authorization (${dialect})`, () => {
    let h: Harness;
    let admin: Client;

    before(async () => {
      h = await startHarness(dialect);
      admin = h.client();
    });
    after(async () => h.cleanup());

    it("first-run setup: validates the input, creates the admin once, and logs them in", async () => {
      assert.deepEqual((await admin.get("/api/setup")).body, { needsSetup: true });
      const badEmail = await admin.post("/api/setup", { email: "not-an-address", password: ADMIN.password });
      assert.equal(badEmail.status, 400);
      assert.equal(errorOf(badEmail.body).code, "validation");
      assert.equal(errorOf(badEmail.body).field, "email");
      const shortPassword = await admin.post("/api/setup", { email: ADMIN.email, password: "short" });
      assert.equal(errorOf(shortPassword.body).field, "password");

      const setup = await admin.setup();
      assert.equal(setup.status, 200);
      const body = setup.body as { user: { id: string; email: string; role: string }; csrfToken: string };
      assert.deepEqual([body.user.email, body.user.role], [ADMIN.email, "admin"]);
      const cookie = String(setup.headers["set-cookie"]);
      assert.match(cookie, /^cspsync_session=[A-Za-z0-9_-]{43};/);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.match(cookie, /Path=\//);
      assert.doesNotMatch(cookie, /Secure/, "plain http: no Secure flag");

      assert.deepEqual((await admin.get("/api/setup")).body, { needsSetup: false });
      const again = await h
        .client()
        .post("/api/setup", { email: "intruder@example.com", password: "another password" });
      assert.equal(again.status, 409);
      assert.equal(errorOf(again.body).code, "conflict");
      const session = await admin.get("/api/session");
      assert.equal(session.status, 200);
      assert.deepEqual(session.body, {
        user: { id: body.user.id, email: ADMIN.email, role: "admin" },
        csrfToken: body.csrfToken,
      });
    });

    it("anonymous callers get 401 on every route except health, setup, session, OpenAPI and docs", async () => {
      const anonymous = h.client();
      for (const [method, route] of CONTRACT_ROUTES) {
        const reply = await anonymous.request(
          method as "GET",
          concreteUrl(route),
          method === "GET" ? undefined : {},
        );
        if (PUBLIC_ROUTES.has(`${method} ${route}`)) {
          assert.notEqual(reply.status, 403, `${method} ${route}`);
          continue;
        }
        assert.equal(reply.status, 401, `${method} ${route}`);
        assert.equal(errorOf(reply.body).code, "unauthorized", `${method} ${route}`);
      }
      for (const disguised of [
        "/%61pi/connections",
        "/api/%63onnections",
        "/api/docs/../connections",
        "/api/nope",
      ])
        assert.equal((await anonymous.get(disguised)).status, 401, disguised);
      assert.equal((await anonymous.get("/api/health")).status, 200);
      assert.equal((await anonymous.get("/api/openapi.json")).status, 200);
      assert.equal((await anonymous.get("/api/session")).status, 401);
      assert.ok([200, 302].includes((await anonymous.get("/api/docs")).status));
    });

    it("a cookie-authenticated write needs the session's CSRF token; a bearer token does not", async () => {
      const missing = await admin.post("/api/tokens", { name: "ci", role: "viewer" }, { csrf: false });
      assert.equal(missing.status, 403);
      assert.equal(errorOf(missing.body).code, "csrf");
      const wrong = await admin.post("/api/tokens", { name: "ci", role: "viewer" }, { csrf: "x".repeat(43) });
      assert.equal(wrong.status, 403);
      assert.equal(errorOf(wrong.body).code, "csrf");
      assert.deepEqual((await admin.get("/api/tokens")).body, [], "nothing was created");

      const created = await admin.post("/api/tokens", { name: "automation", role: "admin" });
      assert.equal(created.status, 201);
      const robot = h.client();
      robot.bearer = (created.body as { token: string }).token;
      const put = await robot.put("/api/settings", { dailySyncTime: "05:45", timeZone: "Europe/Amsterdam" });
      assert.equal(put.status, 200, put.text);
    });

    it("API tokens: created once with their value, listed without it, used, and revoked", async () => {
      const created = await admin.post("/api/tokens", { name: "dashboard screen", role: "viewer" });
      assert.equal(created.status, 201);
      const token = created.body as { id: string; name: string; role: string; token: string };
      assert.deepEqual([token.name, token.role], ["dashboard screen", "viewer"]);
      assert.match(token.token, /^csps_[A-Za-z0-9_-]{43}$/);

      const reader = h.client();
      reader.bearer = token.token;
      const settings = await reader.get("/api/settings");
      assert.equal(settings.status, 200);
      assert.deepEqual(settings.body, { dailySyncTime: "05:45", timeZone: "Europe/Amsterdam" });
      const write = await reader.put("/api/settings", { dailySyncTime: "07:00", timeZone: "UTC" });
      assert.equal(write.status, 403);
      assert.equal(errorOf(write.body).code, "forbidden");

      const list = await admin.get("/api/tokens");
      assert.ok(!list.text.includes(token.token), "the token value is never listed");
      const listed = (list.body as { id: string; lastUsedAt: string | null; role: string }[]).find(
        (t) => t.id === token.id,
      );
      assert.equal(listed?.role, "viewer");
      assert.equal(listed?.lastUsedAt, h.clock.now.toISOString());

      const withBadBearer = h.client();
      withBadBearer.cookie = admin.cookie;
      withBadBearer.bearer = "csps_not-a-real-token";
      assert.equal(
        (await withBadBearer.get("/api/settings")).status,
        401,
        "a bad bearer token never falls back to the cookie",
      );

      assert.equal((await admin.delete(`/api/tokens/${token.id}`)).status, 204);
      const revoked = await reader.get("/api/settings");
      assert.equal(revoked.status, 401);
      assert.equal((await admin.delete(`/api/tokens/${token.id}`)).status, 404);
    });

    it("users: admins manage them; a viewer may read but every write is forbidden", async () => {
      const created = await admin.post("/api/users", { ...VIEWER, role: "viewer" });
      assert.equal(created.status, 201);
      const viewerId = (created.body as { user: { id: string } }).user.id;
      const duplicate = await admin.post("/api/users", {
        ...VIEWER,
        email: "Viewer@Example.com",
        role: "admin",
      });
      assert.equal(duplicate.status, 409);
      const badRole = await admin.post("/api/users", {
        email: "x@example.com",
        password: "long enough!",
        role: "owner",
      });
      assert.equal(errorOf(badRole.body).field, "role");

      const viewer = h.client();
      assert.equal((await viewer.login(VIEWER.email, VIEWER.password)).status, 200);
      assert.equal((await viewer.get("/api/connections")).status, 200);
      assert.equal((await viewer.get("/api/tokens")).status, 200);
      assert.equal((await viewer.get("/api/users")).status, 403);
      for (const [method, route] of CONTRACT_ROUTES) {
        const key = `${method} ${route}`;
        if (method === "GET" || PUBLIC_ROUTES.has(key) || SELF_SERVICE_ROUTES.has(key)) continue;
        const reply = await viewer.request(method as "POST", concreteUrl(route), {});
        assert.equal(reply.status, 403, `${method} ${route}`);
        assert.equal(errorOf(reply.body).code, "forbidden", `${method} ${route}`);
      }

      const users = (await admin.get("/api/users")).body as { users: { email: string; role: string }[] };
      assert.deepEqual(
        users.users.map((u) => [u.email, u.role]),
        [
          [ADMIN.email, "admin"],
          [VIEWER.email, "viewer"],
        ],
      );
      const adminId = (await admin.get("/api/session")).body as { user: { id: string } };
      const lastAdmin = await admin.delete(`/api/users/${adminId.user.id}`);
      assert.equal(lastAdmin.status, 409);
      assert.equal((await admin.delete(`/api/users/${viewerId}`)).status, 204);
      assert.equal((await viewer.get("/api/connections")).status, 401, "a deleted user's session ends");
    });

    it("logout needs the CSRF token, ends the session and clears the cookie", async () => {
      const browser = h.client();
      await browser.login(ADMIN.email, ADMIN.password);
      const forged = await browser.delete("/api/session", { csrf: false });
      assert.equal(errorOf(forged.body).code, "csrf");
      const oldCookie = browser.cookie;
      const out = await browser.delete("/api/session");
      assert.equal(out.status, 204);
      assert.match(String(out.headers["set-cookie"]), /cspsync_session=;/);
      const stale = h.client();
      stale.cookie = oldCookie;
      assert.equal((await stale.get("/api/session")).status, 401);
    });

    it("sessions end after 12 hours idle", async () => {
      const browser = h.client();
      await browser.login(ADMIN.email, ADMIN.password);
      const start = h.clock.now;
      try {
        h.clock.now = new Date(start.getTime() + 11 * 3_600_000);
        assert.equal((await browser.get("/api/session")).status, 200);
        h.clock.now = new Date(h.clock.now.getTime() + 12 * 3_600_000 + 1000);
        assert.equal((await browser.get("/api/session")).status, 401);
      } finally {
        h.clock.now = start;
      }
    });

    it("login brute force: after 5 failures per e-mail and address, 429 with an exponentially growing Retry-After", async () => {
      const attacker = h.client();
      attacker.remoteAddress = "203.0.113.7";
      for (let i = 1; i <= 5; i++) {
        const wrong = await attacker.login(ADMIN.email, `wrong password ${i}`);
        assert.equal(wrong.status, 401, `attempt ${i}`);
        assert.equal(errorOf(wrong.body).code, "unauthorized");
      }
      const locked = await attacker.login(ADMIN.email, ADMIN.password);
      assert.equal(locked.status, 429, "locked even with the right password");
      assert.equal(errorOf(locked.body).code, "rate_limited");
      assert.equal(locked.headers["retry-after"], "60");

      const elsewhere = h.client();
      elsewhere.remoteAddress = "198.51.100.20";
      assert.equal(
        (await elsewhere.login(ADMIN.email, ADMIN.password)).status,
        200,
        "another address is not locked",
      );

      const start = h.clock.now;
      try {
        h.clock.now = new Date(start.getTime() + 61_000);
        assert.equal((await attacker.login(ADMIN.email, "wrong again")).status, 401);
        const longer = await attacker.login(ADMIN.email, ADMIN.password);
        assert.equal(longer.status, 429);
        assert.equal(longer.headers["retry-after"], "120");
        h.clock.now = new Date(h.clock.now.getTime() + 121_000);
        assert.equal((await attacker.login(ADMIN.email, ADMIN.password)).status, 200);
        assert.equal(
          (await attacker.login(ADMIN.email, "one more wrong")).status,
          401,
          "success reset the counter",
        );
        assert.equal((await attacker.login(ADMIN.email, ADMIN.password)).status, 200);
      } finally {
        h.clock.now = start;
      }
      const unknown = await h.client().login("nobody@example.com", "whatever password");
      assert.equal(unknown.status, 401);
      assert.equal(errorOf(unknown.body).message, "wrong e-mail or password");
    });

    it("stores passwords as salted scrypt hashes, and session ids and API tokens only as SHA-256 hashes", async () => {
      const db = h.app.store.db;
      const users = await db.selectFrom("users").select(["email", "password_hash"]).execute();
      assert.ok(users.length > 0);
      for (const user of users) {
        assert.match(user.password_hash, /^scrypt\$\d+\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
        assert.ok(!user.password_hash.includes(ADMIN.password));
      }
      assert.equal(
        new Set(users.map((u) => u.password_hash.split("$")[4])).size,
        users.length,
        "one salt per user",
      );
      const sessionId = admin.cookie!.split("=")[1]!;
      const sessions = await db.selectFrom("sessions").select("id_hash").execute();
      assert.ok(sessions.every((s) => s.id_hash !== sessionId));
      assert.ok(sessions.some((s) => s.id_hash === createHash("sha256").update(sessionId).digest("hex")));
      const created = await admin.post("/api/tokens", { name: "hash check", role: "viewer" });
      const token = (created.body as { id: string; token: string }).token;
      const row = await db
        .selectFrom("api_tokens")
        .selectAll()
        .where("name", "=", "hash check")
        .executeTakeFirstOrThrow();
      assert.equal(row.token_hash, createHash("sha256").update(token).digest("hex"));
      assert.equal(row.organization_id, h.app.organizationId);
    });

    it("never logs passwords, session ids, CSRF tokens or API tokens", async () => {
      const joined = h.logs.join("\n");
      assert.ok(h.logs.length > 10, "the server logged its requests");
      for (const secret of [
        ADMIN.password,
        VIEWER.password,
        admin.csrfToken!,
        admin.cookie!.split("=")[1]!,
      ]) {
        assert.ok(!joined.includes(secret), "a secret reached the log");
      }
    });
  });
}
