import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, startHarness, type Client, type Harness, type Reply } from "../http/helpers.ts";
import { createTestApp } from "../support/app.ts";
import { runCli } from "../support/cli.ts";
import { DIALECTS } from "../support/stores.ts";
import { AuthService } from "../../src/services/auth.ts";
import { parseTrustProxy } from "../../src/http/trust-proxy.ts";
import { passwordProblem } from "../../src/security/password-policy.ts";

/**
 * Attacks on logins, sessions and API tokens, each reproduced against a real server on both databases:
 * parallel guessing past the lockout, password spraying, a client choosing its address through
 * X-Forwarded-For, tokens outliving their user, and weak passwords.
 */
type ErrorReply = { error: { code: string; message: string; field?: string } };
const errorOf = (reply: Reply) => (reply.body as ErrorReply).error;
const statuses = (replies: Reply[]) =>
  replies.reduce<Record<number, number>>(
    (counts, r) => ({ ...counts, [r.status]: (counts[r.status] ?? 0) + 1 }),
    {},
  );
/** The spraying throttles are out of the way where a test is about the per-address lockout. */
const NO_THROTTLE = {
  perAccount: { max: 10_000, windowMs: 60_000 },
  overall: { max: 10_000, windowMs: 60_000 },
};
const SECOND_ADMIN = { email: "second-admin@example.com", password: "a second admin's long phrase" };

async function loggedIn(h: Harness, email: string, password: string): Promise<Client> {
  const client = h.client();
  const reply = await client.login(email, password);
  assert.equal(reply.status, 200, `login of ${email}: ${reply.text}`);
  return client;
}

for (const dialect of DIALECTS) {
  describe(`login lockout under parallel guessing (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness(dialect, { server: { loginThrottle: NO_THROTTLE } });
      assert.equal((await h.client().setup()).status, 200);
    });
    after(async () => h.cleanup());

    it("100 parallel wrong guesses from one address: exactly 5 are checked, the other 95 get 429", async () => {
      const attacker = h.client();
      attacker.remoteAddress = "203.0.113.50";
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => attacker.login(ADMIN.email, `wrong guess number ${i}`)),
      );
      assert.deepEqual(statuses(replies), { 401: 5, 429: 95 });
      for (const locked of replies.filter((r) => r.status === 429)) {
        assert.equal(errorOf(locked).code, "rate_limited");
        assert.ok(Number(locked.headers["retry-after"]) >= 1);
      }
      const right = await attacker.login(ADMIN.email, ADMIN.password);
      assert.equal(right.status, 429, "still locked for the right password");
    });

    it("39 wrong guesses and the right one in one burst: 5 checks in all, and the lockout is not reset", async () => {
      const attacker = h.client();
      attacker.remoteAddress = "203.0.113.51";
      const guesses = [...Array.from({ length: 39 }, (_, i) => `wrong burst guess ${i}`), ADMIN.password];
      const replies = await Promise.all(guesses.map((password) => attacker.login(ADMIN.email, password)));
      const rightReply = replies.at(-1)!;
      const counts = statuses(replies);
      assert.equal((counts[401] ?? 0) + (counts[200] ?? 0), 5, `checked: ${JSON.stringify(counts)}`);
      assert.equal(counts[429], 35);
      if (rightReply.status === 429) {
        // The right guess came after the fifth: the lockout runs, and nothing reset it.
        assert.equal((await attacker.login(ADMIN.email, ADMIN.password)).status, 429);
      } else {
        // The right guess was among the five checked: that is the same as five guesses one after the other.
        assert.equal(rightReply.status, 200);
      }
    });
  });

  describe(`password spraying from many addresses (${dialect})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness(dialect, {
        server: {
          loginThrottle: {
            perAccount: { max: 8, windowMs: 600_000 },
            overall: { max: 30, windowMs: 60_000 },
          },
        },
      });
      assert.equal((await h.client().setup()).status, 200);
    });
    after(async () => h.cleanup());

    it("one account from 12 addresses: the 9th attempt on, 429 for that e-mail, other accounts unaffected", async () => {
      const replies: Reply[] = [];
      for (let i = 0; i < 12; i++) {
        const sprayer = h.client();
        sprayer.remoteAddress = `198.51.100.${i + 1}`;
        replies.push(await sprayer.login(ADMIN.email, `spray password ${i}`));
      }
      assert.deepEqual(
        replies.map((r) => r.status),
        [...Array(8).fill(401), ...Array(4).fill(429)],
      );
      assert.match(errorOf(replies[8]!).message, /too many logins for this e-mail address/);
      assert.ok(Number(replies[8]!.headers["retry-after"]) > 0);
      assert.equal((await h.client().login("someone-else@example.com", "any guess at all")).status, 401);
    });

    it("many accounts from many addresses: the server-wide throttle answers 429", async () => {
      const replies: Reply[] = [];
      for (let i = 0; i < 30; i++) {
        const sprayer = h.client();
        sprayer.remoteAddress = `192.0.2.${i + 1}`;
        replies.push(await sprayer.login(`user${i}@example.com`, `spray password ${i}`));
      }
      assert.ok(replies.some((r) => r.status === 429));
      const last = replies.at(-1)!;
      assert.equal(last.status, 429);
      assert.match(errorOf(last).message, /this server is receiving too many logins/);
    });
  });

  describe(`client address behind a reverse proxy (${dialect})`, () => {
    const PROXY = "10.0.0.2";
    const ATTACKER = "203.0.113.77";

    async function rotatingAttack(trustProxy: false | number | string[]): Promise<number[]> {
      const h = await startHarness(dialect, { server: { trustProxy, loginThrottle: NO_THROTTLE } });
      try {
        assert.equal((await h.client().setup()).status, 200);
        const codes: number[] = [];
        for (let i = 0; i < 8; i++) {
          const attacker = h.client();
          attacker.remoteAddress = PROXY;
          // The attacker writes a fresh address each time; the proxy appends the one it saw.
          const forwarded = `198.18.${i}.${i + 1}, ${ATTACKER}`;
          const reply = await attacker.post(
            "/api/session",
            { email: ADMIN.email, password: `rotating guess ${i}` },
            { headers: { "x-forwarded-for": forwarded } },
          );
          codes.push(reply.status);
        }
        return codes;
      } finally {
        await h.cleanup();
      }
    }

    it("one trusted hop: a rotated X-Forwarded-For does not change the address; the lockout holds", async () => {
      assert.deepEqual(await rotatingAttack(1), [401, 401, 401, 401, 401, 429, 429, 429]);
    });

    it("trusted proxy addresses: the same", async () => {
      assert.deepEqual(await rotatingAttack(["10.0.0.0/8"]), [401, 401, 401, 401, 401, 429, 429, 429]);
    });

    it("a peer that is not a trusted proxy cannot set its address at all", async () => {
      assert.deepEqual(await rotatingAttack(["192.168.1.1"]), [401, 401, 401, 401, 401, 429, 429, 429]);
    });

    it("with proxies trusted, users behind the proxy are told apart, so an attacker cannot lock them out", async () => {
      const h = await startHarness(dialect, { server: { trustProxy: 1, loginThrottle: NO_THROTTLE } });
      try {
        assert.equal((await h.client().setup()).status, 200);
        const viaProxy = (client: Client, from: string, password: string) => {
          client.remoteAddress = PROXY;
          return client.post(
            "/api/session",
            { email: ADMIN.email, password },
            { headers: { "x-forwarded-for": from } },
          );
        };
        for (let i = 0; i < 6; i++) await viaProxy(h.client(), ATTACKER, `attacker guess ${i}`);
        const admin = h.client();
        assert.equal((await viaProxy(admin, "198.51.100.200", ADMIN.password)).status, 200);
      } finally {
        await h.cleanup();
      }
    });
  });

  describe(`API tokens belong to their user (${dialect})`, () => {
    let h: Harness;
    let first: Client;
    before(async () => {
      h = await startHarness(dialect, { server: { loginThrottle: NO_THROTTLE } });
      first = h.client();
      assert.equal((await first.setup()).status, 200);
    });
    after(async () => h.cleanup());

    async function tokenFor(
      owner: Client,
      body: Record<string, unknown>,
    ): Promise<{ id: string; token: string; expiresAt: string | null }> {
      const reply = await owner.post("/api/tokens", body);
      assert.equal(reply.status, 201, reply.text);
      return reply.body as { id: string; token: string; expiresAt: string | null };
    }
    function bearer(token: string): Client {
      const client = h.client();
      client.bearer = token;
      return client;
    }

    it("a deleted admin's token stops working at once and cannot create an admin", async () => {
      assert.equal((await first.post("/api/users", { ...SECOND_ADMIN, role: "admin" })).status, 201);
      const second = await loggedIn(h, SECOND_ADMIN.email, SECOND_ADMIN.password);
      const token = await tokenFor(second, { name: "second's automation", role: "admin" });
      assert.equal((await bearer(token.token).get("/api/users")).status, 200, "works while its user exists");

      const users = (await first.get("/api/users")).body as { users: Array<{ id: string; email: string }> };
      const secondId = users.users.find((u) => u.email === SECOND_ADMIN.email)!.id;
      assert.equal((await first.delete(`/api/users/${secondId}`)).status, 204);

      const attempt = await bearer(token.token).post("/api/users", {
        email: "backdoor@example.com",
        password: "a backdoor admin phrase",
        role: "admin",
      });
      assert.equal(attempt.status, 401);
      assert.match(errorOf(attempt).message, /user deleted/);
      const listed = (
        (await first.get("/api/tokens")).body as Array<{ id: string; status: string; owner: unknown }>
      ).find((t) => t.id === token.id);
      assert.deepEqual([listed?.status, listed?.owner], ["owner-deleted", null]);
      const all = (await first.get("/api/users")).body as { users: Array<{ email: string }> };
      assert.ok(!all.users.some((u) => u.email === "backdoor@example.com"));
    });

    it("a demoted admin's admin tokens stop working; a token never carries more than its user's role", async () => {
      const demoted = { email: "demoted@example.com", password: "soon to be a viewer only" };
      const created = await first.post("/api/users", { ...demoted, role: "admin" });
      const userId = (created.body as { user: { id: string } }).user.id;
      const admin = await loggedIn(h, demoted.email, demoted.password);
      const adminToken = await tokenFor(admin, { name: "admin-level", role: "admin" });
      const viewerToken = await tokenFor(admin, { name: "viewer-level", role: "viewer" });

      const patched = await first.patch(`/api/users/${userId}`, { role: "viewer" });
      assert.equal(patched.status, 200, patched.text);
      assert.equal((await bearer(adminToken.token).get("/api/connections")).status, 401);
      assert.equal((await bearer(viewerToken.token).get("/api/connections")).status, 200);
      assert.equal((await bearer(viewerToken.token).post("/api/users", {})).status, 403);
      assert.equal(
        (await admin.post("/api/tokens", { name: "x", role: "admin" })).status,
        403,
        "sessions see the demotion",
      );
      const statusOf = async (id: string) =>
        ((await first.get("/api/tokens")).body as Array<{ id: string; status: string }>).find(
          (t) => t.id === id,
        )?.status;
      assert.equal(await statusOf(adminToken.id), "owner-demoted");
      assert.equal(await statusOf(viewerToken.id), "active");

      // A token made with a token belongs to the same user, and cannot outrank it.
      const own = await tokenFor(first, { name: "creator", role: "admin" });
      const child = await tokenFor(bearer(own.token), { name: "child", role: "viewer" });
      const listed = (
        (await first.get("/api/tokens")).body as Array<{ id: string; owner: { email: string } }>
      ).find((t) => t.id === child.id);
      assert.equal(listed?.owner.email, ADMIN.email);
    });

    it("the last admin cannot be demoted", async () => {
      const users = (await first.get("/api/users")).body as {
        users: Array<{ id: string; email: string; role: string }>;
      };
      const me = users.users.find((u) => u.email === ADMIN.email)!;
      const reply = await first.patch(`/api/users/${me.id}`, { role: "viewer" });
      assert.equal(reply.status, 409);
      assert.match(errorOf(reply).message, /last admin/);
    });

    it("tokens expire after 90 days by default, or when chosen; 'never' must be asked for", async () => {
      const standard = await tokenFor(first, { name: "default lifetime", role: "viewer" });
      const week = await tokenFor(first, { name: "a week", role: "viewer", expiresInDays: 7 });
      const forever = await tokenFor(first, { name: "forever", role: "viewer", expiresInDays: "never" });
      const now = h.clock.now.getTime();
      assert.equal(standard.expiresAt, new Date(now + 90 * 86_400_000).toISOString());
      assert.equal(week.expiresAt, new Date(now + 7 * 86_400_000).toISOString());
      assert.equal(forever.expiresAt, null);
      const bad = await first.post("/api/tokens", { name: "bad", role: "viewer", expiresInDays: 0 });
      assert.equal(bad.status, 400);
      assert.equal(errorOf(bad).field, "expiresInDays");

      const start = h.clock.now;
      try {
        h.clock.now = new Date(now + 8 * 86_400_000);
        assert.equal((await bearer(week.token).get("/api/connections")).status, 401);
        assert.equal((await bearer(standard.token).get("/api/connections")).status, 200);
        h.clock.now = new Date(now + 91 * 86_400_000);
        assert.equal((await bearer(standard.token).get("/api/connections")).status, 401);
        h.clock.now = new Date(now + 3650 * 86_400_000);
        assert.equal((await bearer(forever.token).get("/api/connections")).status, 200);
        // (the admin's session has long ended; the token that never expires may still read the list)
        const statusOf = (await bearer(forever.token).get("/api/tokens")).body as Array<{
          id: string;
          status: string;
        }>;
        assert.equal(statusOf.find((t) => t.id === standard.id)?.status, "expired");
      } finally {
        h.clock.now = start;
      }
    });
  });

  describe(`passwords: policy, own change, admin reset (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    before(async () => {
      h = await startHarness(dialect, { server: { loginThrottle: NO_THROTTLE } });
      admin = h.client();
    });
    after(async () => h.cleanup());

    it("setup and new users refuse short and common passwords, naming the field and the reason", async () => {
      for (const [password, reason] of [
        ["elevenchars", /at least 12 characters/],
        ["Password123!", /variation of a commonly used password/],
        ["letmein12345", /commonly used password/],
        ["123456789012", /too easy to guess/],
      ] as const) {
        const reply = await admin.post("/api/setup", { email: ADMIN.email, password });
        assert.equal(reply.status, 400, password);
        assert.equal(errorOf(reply).field, "password");
        assert.match(errorOf(reply).message, reason);
      }
      const ownEmail = await admin.post("/api/setup", {
        email: "firstname@example.com",
        password: "firstname@example.com",
      });
      assert.match(errorOf(ownEmail).message, /e-mail address/);
      assert.equal((await admin.setup()).status, 200);
      const weakUser = await admin.post("/api/users", {
        email: "weak@example.com",
        password: "qwertyuiop12",
        role: "viewer",
      });
      assert.equal(weakUser.status, 400);
      assert.equal(errorOf(weakUser).field, "password");
    });

    it("a user changes their own password: the current one is required, their other sessions end", async () => {
      const user = { email: "changer@example.com", password: "my first long passphrase" };
      assert.equal((await admin.post("/api/users", { ...user, role: "viewer" })).status, 201);
      const here = await loggedIn(h, user.email, user.password);
      const elsewhere = await loggedIn(h, user.email, user.password);

      const wrong = await here.put("/api/session/password", {
        currentPassword: "not my password at all",
        newPassword: "my second long passphrase",
      });
      assert.equal(wrong.status, 422);
      assert.equal(errorOf(wrong).field, "currentPassword");
      const weak = await here.put("/api/session/password", {
        currentPassword: user.password,
        newPassword: "Password123!",
      });
      assert.equal(weak.status, 400);
      assert.equal(errorOf(weak).field, "newPassword");

      const changed = await here.put("/api/session/password", {
        currentPassword: user.password,
        newPassword: "my second long passphrase",
      });
      assert.equal(changed.status, 204, changed.text);
      assert.equal((await here.get("/api/connections")).status, 200, "this session stays");
      assert.equal((await elsewhere.get("/api/connections")).status, 401, "the other session ended");
      assert.equal((await h.client().login(user.email, user.password)).status, 401);
      assert.equal((await h.client().login(user.email, "my second long passphrase")).status, 200);
    });

    it("an admin resets another user's password; all of that user's sessions end; a viewer cannot", async () => {
      const user = { email: "forgetful@example.com", password: "a phrase soon forgotten" };
      const created = await admin.post("/api/users", { ...user, role: "viewer" });
      const userId = (created.body as { user: { id: string } }).user.id;
      const session = await loggedIn(h, user.email, user.password);
      assert.equal(
        (await session.put(`/api/users/${userId}/password`, { password: "the viewer sets it" })).status,
        403,
      );

      const weak = await admin.put(`/api/users/${userId}/password`, { password: "short" });
      assert.equal(weak.status, 400);
      const reset = await admin.put(`/api/users/${userId}/password`, {
        password: "a phrase the admin chose",
      });
      assert.equal(reset.status, 204, reset.text);
      assert.equal((await session.get("/api/connections")).status, 401);
      assert.equal((await h.client().login(user.email, "a phrase the admin chose")).status, 200);
      const missing = await admin.put("/api/users/no-such-user/password", {
        password: "a phrase the admin chose",
      });
      assert.equal(missing.status, 404);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`operator recovery from the command line (${dialect})`, () => {
    it("user reset-password sets a new password from an environment variable; a weak one is refused", async () => {
      const { app, env, databaseUrl, cleanup } = await createTestApp(dialect, []);
      try {
        const auth = new AuthService(app.store, app.organizationId, { passwordCost: 1024 });
        await auth.setup({ email: ADMIN.email, password: ADMIN.password });
        const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
          runCli(["user", ...args, "--db", databaseUrl], { env: { ...env, ...extra } });

        const weak = await cli(["reset-password", ADMIN.email, "--password-env", "NEW_PASSWORD"], {
          NEW_PASSWORD: "Password123!",
        });
        assert.equal(weak.code, 2, weak.stderr);
        assert.match(weak.stderr, /too easy to guess/);
        const reset = await cli(["reset-password", ADMIN.email, "--password-env", "NEW_PASSWORD"], {
          NEW_PASSWORD: "recovered by the operator",
        });
        assert.equal(reset.code, 0, reset.stderr);
        assert.ok(!reset.stdout.includes("recovered by the operator"), "the password is never printed");
        await assert.rejects(
          auth.login(ADMIN.email, ADMIN.password, "127.0.0.1"),
          /wrong e-mail or password/,
        );
        assert.equal(
          (await auth.login(ADMIN.email, "recovered by the operator", "127.0.0.1")).user.email,
          ADMIN.email,
        );

        const demote = await cli(["role", ADMIN.email, "viewer"]);
        assert.equal(demote.code, 1);
        assert.match(demote.stderr, /last admin cannot be demoted/);
        const listed = await cli(["list", "--json"]);
        assert.deepEqual(
          (JSON.parse(listed.stdout) as Array<{ email: string; role: string }>).map((u) => [u.email, u.role]),
          [[ADMIN.email, "admin"]],
        );
      } finally {
        await cleanup();
      }
    });
  });
}

describe("trust-proxy setting", () => {
  it("takes a number of hops or proxy addresses, and refuses 'trust everything'", () => {
    assert.equal(parseTrustProxy(undefined), false);
    assert.equal(parseTrustProxy("0"), false);
    assert.equal(parseTrustProxy("1"), 1);
    assert.deepEqual(parseTrustProxy("10.0.0.1, 192.168.0.0/16,loopback"), [
      "10.0.0.1",
      "192.168.0.0/16",
      "loopback",
    ]);
    assert.deepEqual(parseTrustProxy("::1,fd00::/8"), ["::1", "fd00::/8"]);
    assert.throws(() => parseTrustProxy("true"), /pick its own address/);
    assert.throws(() => parseTrustProxy("10.0.0.1/40"), /"10.0.0.1\/40" is neither/);
    assert.throws(() => parseTrustProxy("proxy.example.com"), /is neither a number of proxy hops/);
  });
});

describe("password policy", () => {
  it("accepts long phrases and refuses short, common and e-mail-based passwords", () => {
    assert.equal(passwordProblem("correct horse battery"), undefined);
    assert.equal(passwordProblem("a".repeat(257)), "password must have at most 256 characters");
    assert.match(passwordProblem("iloveyou1234")!, /commonly used/);
    assert.match(passwordProblem("jane.doe@example.com", "jane.doe@example.com")!, /e-mail address/);
  });
});
