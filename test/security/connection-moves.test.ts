import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { startConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import type { ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { hostOf } from "../support/app.ts";
import { DIALECTS } from "../support/stores.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";

/**
 * Pointing a connection at another host must not take its stored secrets along: the update has to carry them
 * again, or it is refused (400) and nothing is stored.
 */

const PRIVATE_KEY = "Pr1vate-Key-Stays-Home-77";
const AUTOTASK_SECRET = "Aut0task-Secret-Stays-Home";
const INTEGRATION_CODE = "INTEGRATION-CODE-STAYS-HOME";

type ErrorReply = { error: { code: string; message: string; field?: string } };
type ConnectionReply = { connection: { id: string; config: Record<string, unknown> } };
const errorOf = (body: unknown) => (body as ErrorReply).error;

for (const dialect of DIALECTS) {
  describe(`changing a connection's host needs its secrets again (${dialect})`, () => {
    let emulator: ConnectWiseEmulator;
    let collector: http.Server;
    let collectorUrl: string;
    const collected: string[] = [];
    let h: Harness;
    let admin: Client;

    before(async () => {
      emulator = await startConnectWiseEmulator({
        seed: "demo",
        credentials: { companyId: "movetest", publicKey: "move-public", privateKey: PRIVATE_KEY },
      });
      collector = http.createServer((req, res) => {
        collected.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ Codebase: "v2025_1/", CompanyName: "Collector" }));
      });
      await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
      collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
      // The collector is even allow-listed: the operator trusts it, but the stored key was not entered for it.
      h = await startHarness(dialect, { allowedHosts: [hostOf(emulator.url), hostOf(collectorUrl)] });
      admin = h.client();
      await admin.setup();
    });
    after(async () => {
      await h.cleanup();
      await emulator.close();
      collector.closeAllConnections();
      await new Promise((resolve) => collector.close(resolve));
    });

    const createConnectWise = async () => {
      const reply = await admin.post("/api/connections", {
        vendor: "connectwise",
        name: `CW ${Math.random()}`,
        config: {
          site: emulator.url,
          companyId: emulator.credentials.companyId,
          publicKey: emulator.credentials.publicKey,
          clientId: "00000000-0000-4000-8000-00000000c11e",
        },
        secrets: { privateKey: PRIVATE_KEY },
      });
      assert.equal(reply.status, 201, reply.text);
      return (reply.body as ConnectionReply).connection.id;
    };
    const createAutotask = async (discoveryUrl?: string) => {
      const reply = await admin.post("/api/connections", {
        vendor: "autotask",
        name: `AT ${Math.random()}`,
        config: { username: "api@example.com", ...(discoveryUrl ? { discoveryUrl } : {}) },
        secrets: { secret: AUTOTASK_SECRET, integrationCode: INTEGRATION_CODE },
      });
      assert.equal(reply.status, 201, reply.text);
      return (reply.body as ConnectionReply).connection.id;
    };
    const configOf = async (id: string) =>
      ((await admin.get(`/api/connections/${id}`)).body as ConnectionReply).connection.config;

    it("ConnectWise: a new site host without the private key is refused, nothing stored, nothing sent there", async () => {
      const id = await createConnectWise();
      const before = await configOf(id);
      const moved = await admin.patch(`/api/connections/${id}`, {
        name: "renamed on the way",
        config: { site: collectorUrl },
      });
      assert.equal(moved.status, 400, moved.text);
      const error = errorOf(moved.body);
      assert.equal(error.code, "validation");
      assert.equal(error.field, "secrets.privateKey");
      assert.match(error.message, /the site URL moves to another host .*: enter the private key again/);
      assert.ok(error.message.includes(collectorUrl), error.message);
      assert.deepEqual(await configOf(id), before, "nothing was stored");
      const view = (await admin.get(`/api/connections/${id}`)).body as { connection: { name: string } };
      assert.notEqual(view.connection.name, "renamed on the way");

      const test = await admin.post(`/api/connections/${id}/test`);
      assert.equal((test.body as { ok: boolean }).ok, true, "still tests against the old host");
      assert.deepEqual(collected, [], "the collector heard nothing");
    });

    it("ConnectWise: the move goes through with the private key entered again; same host needs none", async () => {
      const id = await createConnectWise();
      const samehost = await admin.patch(`/api/connections/${id}`, { config: { site: `${emulator.url}/` } });
      assert.equal(samehost.status, 200, samehost.text);
      const blank = await admin.patch(`/api/connections/${id}`, {
        config: { site: collectorUrl },
        secrets: { privateKey: "  " },
      });
      assert.equal(blank.status, 400, blank.text);
      const moved = await admin.patch(`/api/connections/${id}`, {
        config: { site: collectorUrl },
        secrets: { privateKey: "a-key-meant-for-the-new-host" },
      });
      assert.equal(moved.status, 200, moved.text);
      assert.equal((await configOf(id)).site, collectorUrl);
      await admin.post(`/api/connections/${id}/test`);
      const sent = collected.join("\n");
      assert.ok(!sent.includes(PRIVATE_KEY), "the old key never went to the new host");
      assert.ok(
        !sent.includes(Buffer.from(`movetest+move-public:${PRIVATE_KEY}`).toString("base64")),
        "nor its Basic value",
      );
      collected.length = 0;
    });

    it("Autotask: a new discovery host needs the secret and the integration code; both are named", async () => {
      const id = await createAutotask("https://webservices.autotask.net/atservicesrest/v1.0/");
      const before = await configOf(id);
      const none = await admin.patch(`/api/connections/${id}`, {
        config: { discoveryUrl: `${collectorUrl}/atservicesrest/v1.0/` },
      });
      assert.equal(none.status, 400, none.text);
      assert.equal(errorOf(none.body).field, "secrets.secret");
      assert.match(
        errorOf(none.body).message,
        /the discovery URL moves to another host .*: enter the secret and the integration code again/,
      );
      const half = await admin.patch(`/api/connections/${id}`, {
        config: { discoveryUrl: `${collectorUrl}/atservicesrest/v1.0/` },
        secrets: { secret: "new-secret-for-new-host" },
      });
      assert.equal(half.status, 400, half.text);
      assert.equal(errorOf(half.body).field, "secrets.integrationCode");
      assert.match(errorOf(half.body).message, /enter the integration code again/);
      assert.deepEqual(await configOf(id), before, "nothing was stored");

      const path = await admin.patch(`/api/connections/${id}`, {
        config: { discoveryUrl: "https://webservices.autotask.net/ATServicesRest/V1.0/" },
      });
      assert.equal(path.status, 200, "same host, another path: no move");
      const full = await admin.patch(`/api/connections/${id}`, {
        config: { discoveryUrl: `${collectorUrl}/atservicesrest/v1.0/` },
        secrets: { secret: "new-secret-for-new-host", integrationCode: "NEW-CODE-FOR-NEW-HOST" },
      });
      assert.equal(full.status, 200, full.text);
    });

    it("Autotask: dropping a custom discovery URL returns to the public host, which is a move too", async () => {
      const id = await createAutotask(`${collectorUrl}/atservicesrest/v1.0/`);
      const reset = await admin.patch(`/api/connections/${id}`, { config: { discoveryUrl: null } });
      assert.equal(reset.status, 400, reset.text);
      assert.match(errorOf(reset.body).message, /https:\/\/webservices\.autotask\.net/);
      const unchanged = await admin.patch(`/api/connections/${id}`, {
        config: { username: "other@example.com" },
      });
      assert.equal(unchanged.status, 200, "other config changes need no secrets");
    });

    it("no reply and no log line contained a secret", () => {
      const logs = h.logs.join("\n");
      for (const secret of [PRIVATE_KEY, AUTOTASK_SECRET, INTEGRATION_CODE])
        assert.ok(!logs.includes(secret), "a secret was logged");
    });
  });
}
