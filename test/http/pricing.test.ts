import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import { DIALECTS } from "../support/stores.ts";
import { CONTOSO } from "../support/recon-builder.ts";
import { startHarness, type Client, type Harness } from "./helpers.ts";

const SAMPLE = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");
const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };

type ErrorReply = { error: { code: string; message: string; field?: string } };
type RuleReply = {
  rule: { id: string; name: string; productKey: string | null; value: string; description: string };
};
const errorOf = (body: unknown) => (body as ErrorReply).error;

for (const dialect of DIALECTS) {
  describe(`HTTP API: price rules and holds (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let viewer: Client;
    let base: string;
    let connectionId: string;

    before(async () => {
      h = await startHarness(dialect);
      admin = h.client();
      await admin.setup();
      await admin.post("/api/users", { ...VIEWER, role: "viewer" });
      viewer = h.client();
      await viewer.login(VIEWER.email, VIEWER.password);
      await importReconFile(h.app.store, SAMPLE);
      const connection = await h.app.connections.create({
        vendor: "connectwise",
        name: "CW",
        config: { site: "https://na.myconnectwise.net", companyId: "c", publicKey: "p", clientId: "id" },
        secrets: { privateKey: "k" },
      });
      connectionId = connection.id;
      base = `/api/connections/${connectionId}`;
    });
    after(async () => h.cleanup());

    it("rules: admins add, replace and remove them; viewers read; every answer is exact", async () => {
      const added = await admin.post(`${base}/price-rules`, {
        productKey: "cfq7ttc0lchc:0002",
        customerTenantId: CONTOSO.id,
        kind: "markup",
        value: "12.50",
        effectiveFrom: "2024-07-01",
      });
      assert.equal(added.status, 201, added.text);
      const { rule } = added.body as RuleReply;
      assert.deepEqual(
        [rule.productKey, rule.value, rule.description],
        ["CFQ7TTC0LCHC:0002", "12.5", "cost + 12.5%"],
      );
      assert.equal(rule.name, "CFQ7TTC0LCHC:0002 for Contoso Dental, LLC: cost + 12.5% from 2024-07-01");

      const listed = await viewer.get(`${base}/price-rules`);
      assert.equal(listed.status, 200);
      assert.deepEqual(
        (listed.body as { rules: { id: string }[] }).rules.map((r) => r.id),
        [rule.id],
      );

      const replaced = await admin.put(`${base}/price-rules/${rule.id}`, {
        name: "Premium fixed",
        productKey: "CFQ7TTC0LCHC",
        kind: "fixed",
        value: "300",
        effectiveFrom: "2024-07-01",
        effectiveTo: "2024-12-31",
      });
      assert.equal(replaced.status, 200, replaced.text);
      assert.deepEqual(
        [(replaced.body as RuleReply).rule.name, (replaced.body as RuleReply).rule.description],
        ["Premium fixed", "fixed price 300"],
      );

      assert.equal((await viewer.post(`${base}/price-rules`, { kind: "fixed" })).status, 403);
      assert.equal((await viewer.delete(`${base}/price-rules/${rule.id}`)).status, 403);
      assert.equal((await admin.delete(`${base}/price-rules/${rule.id}`)).status, 204);
      const gone = await admin.delete(`${base}/price-rules/${rule.id}`);
      assert.deepEqual([gone.status, errorOf(gone.body).code], [404, "not_found"]);
      assert.deepEqual((await admin.get(`${base}/price-rules`)).body, { rules: [] });
    });

    it("rules: bad input is refused with the field it concerns", async () => {
      const cases: [Record<string, unknown>, number, string | undefined, RegExp][] = [
        [
          { kind: "markup", value: "5", effectiveFrom: "2024-07-01" },
          422,
          "productKey",
          /productKey, a customerTenantId, or both/,
        ],
        [
          { productKey: "X", kind: "markup", value: "5", effectiveFrom: "7/1/2024" },
          422,
          "effectiveFrom",
          /YYYY-MM-DD/,
        ],
        [
          { productKey: "X", kind: "fixed", value: "-1", effectiveFrom: "2024-07-01" },
          422,
          "value",
          /must not be negative/,
        ],
        [
          { productKey: "X", kind: "markup", value: "1e", effectiveFrom: "2024-07-01" },
          422,
          "value",
          /must be a number/,
        ],
        [
          {
            productKey: "X",
            kind: "markup",
            value: "5",
            effectiveFrom: "2024-07-01",
            effectiveTo: "2024-06-30",
          },
          422,
          "effectiveTo",
          /on or after effectiveFrom/,
        ],
        [
          { productKey: "a b", kind: "markup", value: "5", effectiveFrom: "2024-07-01" },
          422,
          "productKey",
          /ProductId:SkuId/,
        ],
        [
          { customerTenantId: "nobody", kind: "markup", value: "5", effectiveFrom: "2024-07-01" },
          422,
          "customerTenantId",
          /no customer/,
        ],
        [{ productKey: "X", kind: "discount", value: "5", effectiveFrom: "2024-07-01" }, 400, "kind", /kind/],
      ];
      for (const [body, status, field, message] of cases) {
        const reply = await admin.post(`${base}/price-rules`, body);
        assert.equal(reply.status, status, `${JSON.stringify(body)} → ${reply.text}`);
        assert.equal(errorOf(reply.body).field, field, reply.text);
        assert.match(errorOf(reply.body).message, message);
      }
      const unknown = await admin.get("/api/connections/nope/price-rules");
      assert.equal(unknown.status, 404);
      assert.deepEqual((await admin.get(`${base}/price-rules`)).body, { rules: [] });
    });

    it("below-cost setting: warn by default, admins switch it to hold", async () => {
      assert.deepEqual((await viewer.get(`${base}/pricing`)).body, { belowCost: "warn" });
      assert.equal((await viewer.put(`${base}/pricing`, { belowCost: "hold" })).status, 403);
      const bad = await admin.put(`${base}/pricing`, { belowCost: "block" });
      assert.deepEqual([bad.status, errorOf(bad.body).field], [400, "belowCost"]);
      assert.deepEqual((await admin.put(`${base}/pricing`, { belowCost: "hold" })).body, {
        belowCost: "hold",
      });
      assert.deepEqual((await viewer.get(`${base}/pricing`)).body, { belowCost: "hold" });
    });

    it("holds: listed for viewers, approved by admins with who approved", async () => {
      await h.app.store.db
        .insertInto("price_holds")
        .values({
          connection_id: connectionId,
          write_key: "cspsync-aaaaaaaaaaaaaaaaaaaaaaaa",
          organization_id: h.app.organizationId,
          customer_tenant_id: CONTOSO.id,
          motion: "seat-annual",
          event_key: "line:x",
          description: "Exchange Online (Plan 1): 3 seats",
          unit_cost: "48",
          unit_price: "10",
          priced_by: null,
          status: "held",
          held_at: "2024-07-01T06:00:00.000Z",
          held_run_id: null,
          approved_by: null,
          approved_at: null,
        })
        .execute();
      const listed = await viewer.get(`${base}/holds`);
      assert.equal(listed.status, 200);
      const [hold] = (listed.body as { holds: Record<string, unknown>[] }).holds;
      assert.deepEqual(
        [hold?.writeKey, hold?.customerName, hold?.unitCost, hold?.unitPrice, hold?.status, hold?.approvedBy],
        ["cspsync-aaaaaaaaaaaaaaaaaaaaaaaa", CONTOSO.name, "48", "10", "held", null],
      );
      assert.equal((await viewer.post(`${base}/holds/approve`, { all: true })).status, 403);
      const empty = await admin.post(`${base}/holds/approve`, { writeKeys: [] });
      assert.equal(empty.status, 400);
      const unknown = await admin.post(`${base}/holds/approve`, {
        writeKeys: ["cspsync-000000000000000000000000"],
      });
      assert.deepEqual([unknown.status, errorOf(unknown.body).code], [404, "not_found"]);
      const approved = await admin.post(`${base}/holds/approve`, {
        writeKeys: ["cspsync-aaaaaaaaaaaaaaaaaaaaaaaa"],
      });
      assert.equal(approved.status, 200, approved.text);
      const [done] = (approved.body as { approved: Record<string, unknown>[] }).approved;
      assert.deepEqual([done?.status, done?.approvedBy], ["approved", "admin@example.com"]);
      assert.match(String(done?.approvedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // Approving again changes nothing.
      assert.deepEqual((await admin.post(`${base}/holds/approve`, { all: true })).body, { approved: [] });
    });

    it("the OpenAPI document describes the pricing routes", async () => {
      const reply = await admin.get("/api/openapi.json");
      assert.equal(reply.status, 200, reply.text);
      const doc = reply.body as {
        paths: Record<string, Record<string, unknown>>;
      };
      assert.deepEqual(Object.keys(doc.paths["/api/connections/{id}/price-rules/{ruleId}"] ?? {}).sort(), [
        "delete",
        "put",
      ]);
      assert.ok(doc.paths["/api/connections/{id}/holds/approve"]?.post);
    });
  });
}
