import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import { DIALECTS } from "../support/stores.ts";
import { multipartBody, startHarness, type Client, type Harness } from "./helpers.ts";

const SAMPLE = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");
const PRICE_LIST = path.resolve(import.meta.dirname, "../../samples/price-list-2024-06.csv");
const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };

type Imported = {
  import: { id: string; entryCount: number; market: string; currency: string };
  duplicate: boolean;
  added: number;
  replaced: number;
};

for (const dialect of DIALECTS) {
  describe(`HTTP API: price lists (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let viewer: Client;
    const upload = (client: Client, name: string, content: string | Buffer) => {
      const { payload, headers } = multipartBody([{ name, content }]);
      return client.post("/api/price-lists", payload, { headers });
    };

    before(async () => {
      h = await startHarness(dialect);
      admin = h.client();
      await admin.setup();
      await admin.post("/api/users", { ...VIEWER, role: "viewer" });
      viewer = h.client();
      await viewer.login(VIEWER.email, VIEWER.password);
      await importReconFile(h.app.store, SAMPLE);
    });
    after(async () => h.cleanup());

    it("a bad row refuses the file with its row and column and stores nothing; viewers may not upload", async () => {
      const lines = fs.readFileSync(PRICE_LIST, "utf8").split("\r\n");
      lines[2] = lines[2]!.replace(",P1Y,Monthly,", ",P1Y,Weekly,");
      const bad = await upload(admin, "bad.csv", lines.join("\r\n"));
      assert.equal(bad.status, 422, bad.text);
      assert.match(
        bad.text,
        /bad\.csv, row 3, column BillingPlan: \\"Weekly\\" is not Monthly, Annual or Triennial/,
      );
      const missing = await upload(admin, "short.csv", "ProductId,SkuId\r\nX,1\r\n");
      assert.equal(missing.status, 422);
      assert.match(missing.text, /missing columns ProductTitle, SkuTitle, TermDuration/);
      assert.deepEqual((await admin.get("/api/price-lists")).body, { imports: [] });
      const denied = await upload(viewer, "price-list-2024-06.csv", fs.readFileSync(PRICE_LIST));
      assert.equal(denied.status, 403);
    });

    it("imports once (the same file again adds nothing), lists, searches, and names products for rules", async () => {
      const first = await upload(admin, "price-list-2024-06.csv", fs.readFileSync(PRICE_LIST));
      assert.equal(first.status, 200, first.text);
      const imported = first.body as Imported;
      assert.deepEqual(
        [
          imported.duplicate,
          imported.added,
          imported.replaced,
          imported.import.entryCount,
          imported.import.market,
          imported.import.currency,
        ],
        [false, 24, 0, 24, "US", "USD"],
      );
      const again = (await upload(admin, "copy.csv", fs.readFileSync(PRICE_LIST))).body as Imported;
      assert.deepEqual([again.duplicate, again.added, again.import.id], [true, 0, imported.import.id]);

      // A later month replaces a price from its own effective date and keeps the earlier one.
      const july = fs
        .readFileSync(PRICE_LIST, "utf8")
        .split("\r\n")
        .filter((l, i) => i === 0 || (l.includes("CFQ7TTC0LCHC,0002") && l.includes(",P1Y,Annual,")))
        .map((l) => l.replace("3/1/2022 0:00", "7/1/2024 0:00").replace(/,330(\.00)?$/, ",345"))
        .join("\r\n");
      const next = (await upload(admin, "price-list-2024-07.csv", july)).body as Imported;
      assert.deepEqual([next.duplicate, next.added, next.replaced], [false, 1, 0]);

      const list = (await viewer.get("/api/price-lists")).body as { imports: { fileName: string }[] };
      assert.deepEqual(list.imports.map((i) => i.fileName).sort(), [
        "price-list-2024-06.csv",
        "price-list-2024-07.csv",
      ]);
      const entries = (await viewer.get("/api/price-lists/entries?q=CFQ7TTC0LCHC:0002")).body as {
        entries: { termDuration: string; billingPlan: string; erpPrice: string; effectiveStart: string }[];
      };
      const annual = entries.entries.filter((e) => e.termDuration === "P1Y" && e.billingPlan === "Annual");
      assert.deepEqual(
        annual.map((e) => [e.effectiveStart, e.erpPrice]),
        [
          ["2024-07-01", "345"],
          ["2022-03-01", "330"],
        ],
      );
      const products = (await viewer.get("/api/billing-products?q=premium")).body as {
        products: { label: string; productKey: string }[];
      };
      assert.deepEqual(
        products.products.map((p) => p.label),
        ["Microsoft 365 Business Premium — Microsoft 365 Business Premium (CFQ7TTC0LCHC:0002)"],
      );

      const connection = await h.app.connections.create({
        vendor: "connectwise",
        name: "CW",
        config: { site: "https://na.myconnectwise.net", companyId: "c", publicKey: "p", clientId: "id" },
        secrets: { privateKey: "k" },
      });
      const rule = await admin.post(`/api/connections/${connection.id}/price-rules`, {
        productKey: products.products[0]!.productKey,
        kind: "markup",
        value: "10",
        effectiveFrom: "2024-06-01",
      });
      assert.equal(rule.status, 201, rule.text);
      const rules = (await viewer.get(`/api/connections/${connection.id}/price-rules`)).body as {
        rules: { productName: string | null }[];
      };
      assert.deepEqual(
        rules.rules.map((r) => r.productName),
        ["Microsoft 365 Business Premium"],
      );

      const removed = await admin.delete(`/api/price-lists/${next.import.id}`);
      assert.equal(removed.status, 204);
      const after = (await viewer.get("/api/price-lists/entries?q=CFQ7TTC0LCHC:0002")).body as {
        entries: { effectiveStart: string }[];
      };
      assert.equal(
        after.entries.some((e) => e.effectiveStart === "2024-07-01"),
        false,
      );
      assert.equal((await admin.delete(`/api/price-lists/${next.import.id}`)).status, 404);
    });
  });
}
