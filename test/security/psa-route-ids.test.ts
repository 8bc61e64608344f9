import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEMO_API_USER, startAutotaskEmulator } from "../../emulators/autotask/index.ts";
import type { AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { startConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import type { ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { hostOf } from "../support/app.ts";
import { DIALECTS } from "../support/stores.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";

type ErrorReply = { error: { code: string; message: string; field?: string } };
const errorOf = (body: unknown) => (body as ErrorReply).error;

for (const dialect of DIALECTS) {
  describe(`a PSA id in a path that is not a whole number is the caller's mistake: 400 (${dialect})`, () => {
    let cw: ConnectWiseEmulator;
    let at: AutotaskEmulator;
    let h: Harness;
    let admin: Client;
    const ids: string[] = [];

    before(async () => {
      cw = await startConnectWiseEmulator({ seed: "demo" });
      at = await startAutotaskEmulator({ now: () => new Date("2025-06-15T12:00:00Z") });
      h = await startHarness(dialect, { allowedHosts: [hostOf(cw.url), hostOf(at.url)] });
      admin = h.client();
      await admin.setup();
      for (const body of [
        {
          vendor: "connectwise",
          name: "CW",
          config: {
            site: cw.url,
            companyId: cw.credentials.companyId,
            publicKey: cw.credentials.publicKey,
            clientId: "00000000-0000-4000-8000-00000000c11e",
          },
          secrets: { privateKey: cw.credentials.privateKey },
        },
        {
          vendor: "autotask",
          name: "AT",
          config: { username: DEMO_API_USER.userName, discoveryUrl: at.apiBaseUrl },
          secrets: { secret: DEMO_API_USER.secret, integrationCode: DEMO_API_USER.integrationCode },
        },
      ]) {
        const reply = await admin.post("/api/connections", body);
        assert.equal(reply.status, 201, reply.text);
        ids.push((reply.body as { connection: { id: string } }).connection.id);
      }
    });
    after(async () => {
      await h.cleanup();
      await Promise.all([cw.close(), at.close()]);
    });

    it("GET …/psa/companies/:companyId/agreements names companyId for both PSAs", async () => {
      for (const id of ids) {
        for (const bad of ["abc", "12abc", "1.5", "-3", "0", "1e3", "99999999999999999999"]) {
          const reply = await admin.get(
            `/api/connections/${id}/psa/companies/${encodeURIComponent(bad)}/agreements`,
          );
          assert.equal(reply.status, 400, `${bad}: ${reply.text}`);
          assert.equal(errorOf(reply.body).code, "validation");
          assert.equal(errorOf(reply.body).field, "companyId");
          assert.match(errorOf(reply.body).message, /companyId must be a whole number/);
        }
        const good = await admin.get(`/api/connections/${id}/psa/companies/250/agreements`);
        assert.notEqual(good.status, 400, good.text);
        assert.ok(good.status < 500, good.text);
      }
    });
  });
}
