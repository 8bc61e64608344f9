import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { startHarness, type Client, type Harness } from "./helpers.ts";

const PRIVATE_KEY = "Pr1vate-Key-Never-Shown-42";
const WRONG_KEY = "Wr0ng-Private-Key-Also-Secret";
const AUTOTASK_SECRET = "Aut0task-Secret-Never-Shown";
const INTEGRATION_CODE = "INTEGRATION-CODE-SECRET-77";
const SECRETS = [PRIVATE_KEY, WRONG_KEY, AUTOTASK_SECRET, INTEGRATION_CODE];

type ErrorReply = { error: { code: string; message: string; field?: string } };
type ConnectionReply = {
  connection: { id: string; secretsSet: Record<string, boolean>; [key: string]: unknown };
};
const errorOf = (body: unknown) => (body as ErrorReply).error;

for (const dialect of DIALECTS) {
  describe(`HTTP API: connections, tests and PSA look-ups (${dialect})`, () => {
    let emulator: ConnectWiseEmulator;
    let h: Harness;
    let admin: Client;
    const replies: string[] = [];
    let connectionId: string;

    const record = <T extends { text: string }>(reply: T): T => {
      replies.push(reply.text);
      return reply;
    };
    const cwConfig = () => ({
      site: emulator.url,
      companyId: emulator.credentials.companyId,
      publicKey: emulator.credentials.publicKey,
      clientId: "00000000-0000-4000-8000-00000000c11e",
    });

    before(async () => {
      emulator = await startConnectWiseEmulator({
        seed: "demo",
        credentials: { companyId: "cspsynctest", publicKey: "test-public-key", privateKey: PRIVATE_KEY },
      });
      h = await startHarness(dialect, { allowedHosts: [hostOf(emulator.url)] });
      admin = h.client();
      await admin.setup();
    });
    after(async () => {
      await h.cleanup();
      await emulator.close();
    });

    it("validation errors name the field, and echo no secret", async () => {
      const noSite = record(
        await admin.post("/api/connections", {
          vendor: "connectwise",
          name: "CW",
          config: { ...cwConfig(), site: "not a url" },
          secrets: { privateKey: PRIVATE_KEY },
        }),
      );
      assert.equal(noSite.status, 400);
      assert.deepEqual(
        [errorOf(noSite.body).code, errorOf(noSite.body).field],
        ["validation", "config.site"],
      );
      const noKey = record(
        await admin.post("/api/connections", {
          vendor: "connectwise",
          name: "CW",
          config: cwConfig(),
          secrets: {},
        }),
      );
      assert.equal(errorOf(noKey.body).field, "secrets.privateKey");
      const vendor = record(
        await admin.post("/api/connections", { vendor: "halo", name: "X", config: {}, secrets: {} }),
      );
      assert.equal(errorOf(vendor.body).field, "vendor");
      const notJson = await admin.request("POST", "/api/connections", "{not json", {
        headers: { "content-type": "application/json" },
      });
      assert.equal(notJson.status, 400);
      assert.equal(errorOf(notJson.body).code, "validation");
    });

    it("creates a connection; no response ever contains its secrets, only which are set", async () => {
      const created = record(
        await admin.post("/api/connections", {
          vendor: "connectwise",
          name: "ConnectWise",
          config: cwConfig(),
          secrets: { privateKey: PRIVATE_KEY },
        }),
      );
      assert.equal(created.status, 201, created.text);
      const connection = (created.body as ConnectionReply).connection;
      connectionId = connection.id;
      assert.deepEqual(connection.secretsSet, { privateKey: true });
      assert.equal(connection.seatAnnualEnabled, false);
      assert.deepEqual(connection.settings, { catalogMatch: "either" });

      const autotask = record(
        await admin.post("/api/connections", {
          vendor: "autotask",
          name: "Autotask",
          config: { username: "api@example.com" },
          secrets: { secret: AUTOTASK_SECRET, integrationCode: INTEGRATION_CODE },
        }),
      );
      assert.equal(autotask.status, 201);
      assert.deepEqual((autotask.body as ConnectionReply).connection.secretsSet, {
        secret: true,
        integrationCode: true,
      });

      const list = record(await admin.get("/api/connections"));
      assert.deepEqual(
        (list.body as { connections: { name: string }[] }).connections.map((c) => c.name),
        ["ConnectWise", "Autotask"],
      );
      record(await admin.get(`/api/connections/${connectionId}`));
    });

    it("PATCH changes what is given and keeps omitted secrets; bad values are 422 with the field", async () => {
      const renamed = record(
        await admin.patch(`/api/connections/${connectionId}`, {
          name: "CW production",
          seatAnnualEnabled: true,
        }),
      );
      assert.equal(renamed.status, 200);
      const connection = (renamed.body as ConnectionReply).connection;
      assert.deepEqual([connection.name, connection.seatAnnualEnabled], ["CW production", true]);
      const test = record(await admin.post(`/api/connections/${connectionId}/test`));
      assert.equal((test.body as { ok: boolean }).ok, true, "the stored private key was kept");

      const bad = record(await admin.patch(`/api/connections/${connectionId}`, { config: { site: "nope" } }));
      assert.equal(bad.status, 422);
      assert.deepEqual([errorOf(bad.body).code, errorOf(bad.body).field], ["validation", "config.site"]);
      const badType = record(
        await admin.patch(`/api/connections/${connectionId}`, { seatAnnualEnabled: "yes" }),
      );
      assert.equal(errorOf(badType.body).field, "seatAnnualEnabled");
      const missing = record(await admin.patch("/api/connections/no-such-id", { name: "x" }));
      assert.equal(missing.status, 404);
    });

    it("Save and test: values that fail the test are not saved (working credentials stay), unless saved anyway", async () => {
      const failing = record(
        await admin.patch(`/api/connections/${connectionId}`, {
          secrets: { privateKey: "a-mistyped-private-key" },
          test: true,
        }),
      );
      assert.equal(failing.status, 422);
      assert.equal(errorOf(failing.body).field, "test");
      assert.match(
        errorOf(failing.body).message,
        /^Nothing was saved: the connection test with these values failed/,
      );
      const stillWorks = record(await admin.post(`/api/connections/${connectionId}/test`));
      assert.equal((stillWorks.body as { ok: boolean }).ok, true, "the working private key was kept");

      const passing = record(
        await admin.patch(`/api/connections/${connectionId}`, { name: "CW tested", test: true }),
      );
      assert.equal(passing.status, 200);
      const saved = (passing.body as { connection: { name: string; lastTest: { ok: boolean } } }).connection;
      assert.deepEqual([saved.name, saved.lastTest.ok], ["CW tested", true]);

      const anyway = record(
        await admin.patch(`/api/connections/${connectionId}`, {
          secrets: { privateKey: "a-mistyped-private-key" },
          test: true,
          saveAnyway: true,
        }),
      );
      assert.equal(anyway.status, 200);
      assert.equal(
        (anyway.body as { connection: { lastTest: { ok: boolean } } }).connection.lastTest.ok,
        false,
      );
      const restored = record(
        await admin.patch(`/api/connections/${connectionId}`, {
          name: "CW production",
          secrets: { privateKey: emulator.credentials.privateKey },
          test: true,
        }),
      );
      assert.equal(restored.status, 200, restored.text);
    });

    it("tests the connection against the PSA and stores the result as lastTest", async () => {
      const test = record(await admin.post(`/api/connections/${connectionId}/test`));
      assert.equal(test.status, 200);
      const result = test.body as { ok: boolean; message: string; checks: { name: string; ok: boolean }[] };
      assert.equal(result.ok, true, result.message);
      assert.ok(result.checks.length > 0 && result.checks.every((c) => c.ok));
      const view = record(await admin.get(`/api/connections/${connectionId}`));
      const lastTest = (view.body as { connection: { lastTest: { ok: boolean; message: string } } })
        .connection.lastTest;
      assert.deepEqual([lastTest.ok, lastTest.message], [true, result.message]);
    });

    it("searches PSA companies and lists agreements with the motions each can take", async () => {
      const missing = record(await admin.get(`/api/connections/${connectionId}/psa/companies`));
      assert.equal(missing.status, 400);
      assert.equal(errorOf(missing.body).field, "search");
      const search = record(await admin.get(`/api/connections/${connectionId}/psa/companies?search=Contoso`));
      assert.equal(search.status, 200);
      const [company] = (search.body as { companies: { id: string; name: string }[] }).companies;
      assert.ok(company);
      assert.match(company.name, /Contoso/);
      const agreements = record(
        await admin.get(`/api/connections/${connectionId}/psa/companies/${company.id}/agreements`),
      );
      assert.equal(agreements.status, 200);
      const list = (
        agreements.body as {
          agreements: {
            billingCycle: string | null;
            validFor: Record<string, { ok: boolean; reason?: string }>;
          }[];
        }
      ).agreements;
      const annual = list.find((a) => a.validFor["seat-annual"]!.ok);
      const monthly = list.find((a) => !a.validFor["seat-annual"]!.ok);
      assert.equal(annual?.billingCycle, "One-Time");
      assert.match(monthly?.validFor["seat-annual"]?.reason ?? "", /One-Time/);
    });

    it("a PSA refusing the credentials: the test reports it, look-ups answer 502 psa_error, no secret leaks", async () => {
      record(await admin.patch(`/api/connections/${connectionId}`, { secrets: { privateKey: WRONG_KEY } }));
      const test = record(await admin.post(`/api/connections/${connectionId}/test`));
      assert.equal(test.status, 200);
      assert.equal((test.body as { ok: boolean }).ok, false);
      const search = record(await admin.get(`/api/connections/${connectionId}/psa/companies?search=Contoso`));
      assert.equal(search.status, 502);
      assert.equal(errorOf(search.body).code, "psa_error");
      assert.match(errorOf(search.body).message, /ConnectWise/);
      record(await admin.patch(`/api/connections/${connectionId}`, { secrets: { privateKey: PRIVATE_KEY } }));
    });

    it("a PSA host the operator has not allowed is refused with 422 before anything is sent", async () => {
      const created = record(
        await admin.post("/api/connections", {
          vendor: "connectwise",
          name: "Elsewhere",
          config: { ...cwConfig(), site: "http://psa.example.invalid" },
          secrets: { privateKey: PRIVATE_KEY },
        }),
      );
      const id = (created.body as ConnectionReply).connection.id;
      const test = record(await admin.post(`/api/connections/${id}/test`));
      assert.equal(test.status, 422);
      assert.deepEqual([errorOf(test.body).code, errorOf(test.body).field], ["validation", "config.site"]);
      assert.match(errorOf(test.body).message, /CSPSYNC_PSA_ALLOWED_HOSTS/);
      assert.equal((await admin.delete(`/api/connections/${id}`)).status, 204);
      assert.equal((await admin.get(`/api/connections/${id}`)).status, 404);
      assert.equal((await admin.delete(`/api/connections/${id}`)).status, 404);
    });

    it("no response and no log line contained a secret", () => {
      assert.ok(replies.length >= 15);
      const everything = [...replies, ...h.logs].join("\n");
      assert.ok(
        h.logs.some((line) => line.includes("/api/connections")),
        "the requests were logged",
      );
      for (const secret of SECRETS) assert.ok(!everything.includes(secret), "a secret leaked");
    });
  });
}
