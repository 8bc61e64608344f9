import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";
import { SAMPLE, startEmulator } from "./support.ts";

const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };

for (const dialect of DIALECTS) {
  describe(`HTTP API: Partner Center sources (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let viewer: Client;
    let pc: PartnerCenterEmulator;

    before(async () => {
      pc = await startEmulator({ unbilledFiles: [SAMPLE] });
      h = await startHarness(dialect);
      h.app.config.microsoftAllowedHosts.push(hostOf(pc.url));
      admin = h.client();
      await admin.setup();
      await admin.post("/api/users", { ...VIEWER, role: "viewer" });
      viewer = h.client();
      await viewer.login(VIEWER.email, VIEWER.password);
    });
    after(async () => {
      await h.cleanup();
      await pc.close();
    });

    it("admins add, test and fetch now; viewers read the history but may not change anything; secrets never come back", async () => {
      const body = {
        name: "PC",
        config: { tenantId: pc.tenantId, clientId: pc.clientId, endpoints: pc.endpoints },
        secrets: { clientSecret: pc.clientSecret },
      };
      assert.equal((await viewer.post("/api/sources", body)).status, 403);
      const created = await admin.post("/api/sources", body);
      assert.equal(created.status, 201, created.text);
      assert.equal(created.text.includes(pc.clientSecret), false);
      const id = (created.body as { id: string }).id;
      const test = await admin.post(`/api/sources/${id}/test`);
      assert.equal((test.body as { ok: boolean }).ok, true, test.text);
      assert.equal((await viewer.post(`/api/sources/${id}/fetch`, {})).status, 403);
      const fetched = await admin.post(`/api/sources/${id}/fetch`, { unbilled: true });
      assert.equal(fetched.status, 200, fetched.text);
      assert.equal((fetched.body as { status: string }).status, "imported");
      const runs = await viewer.get(`/api/sources/${id}/fetch-runs`);
      assert.equal(runs.status, 200);
      const [run] = (runs.body as { runs: { status: string; invoices: { invoiceId: string }[] }[] }).runs;
      assert.deepEqual([run?.status, run?.invoices[0]?.invoiceId], ["imported", "G100000001"]);
      const unbilled = await viewer.get(`/api/sources/${id}/unbilled`);
      const [preview] = (unbilled.body as { previews: { currency: string; entries: unknown[] }[] }).previews;
      assert.equal(preview?.currency, "USD");
      assert.ok(preview!.entries.length > 0);
      const list = await viewer.get("/api/sources");
      assert.equal(list.text.includes(pc.clientSecret), false);
      assert.equal((await viewer.delete(`/api/sources/${id}`)).status, 403);
      assert.equal((await admin.delete(`/api/sources/${id}`)).status, 204);
    });
  });
}
