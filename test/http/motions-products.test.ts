import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { JUNE_AZURE } from "../support/azure-setup.ts";
import { CONTOSO, FABRIKAM } from "../support/recon-builder.ts";
import { multipartBody, startHarness, type Client, type Harness } from "./helpers.ts";

const SAMPLE = fs.readFileSync(
  path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv"),
);
const CLIENT_ID = "00000000-0000-4000-8000-00000000c11e";

type ErrorReply = { error: { code: string; message: string; field?: string } };
const errorOf = (body: unknown) => (body as ErrorReply).error;

type Agreement = { id: string; name: string; validFor: Record<string, { ok: boolean; reason?: string }> };
type RunSummary = {
  motion: string;
  runId: string;
  status: string;
  written: number;
  unchanged: number;
  errors: number;
  items: {
    outcome: string;
    psaRecordId: string | null;
    message: string | null;
    line?: { month?: string; unitCost?: string };
  }[];
};
type ProductRun = {
  id: string;
  trigger: string;
  mode: string;
  status: string;
  written: number;
  unchanged: number;
  conflicts: number;
  failed: number;
  message: string | null;
};
type ProductItem = { key: string; action: string; status: string; recordId: string | null };

// The June sample's products against the demo catalog (as test/e2e/products-connectwise.test.ts plans them).
const EXPECTED_PRODUCTS = [
  ["CFQ7TTC0L3PB:0001", "link", "PBI-PRO"],
  ["CFQ7TTC0LDPB:0001", "link", "M365-STD"],
  ["CFQ7TTC0LFLZ:0002", "link", "M365-E5"],
  ["CFQ7TTC0LH18:0001", "link", "M365-BASIC"],
  ["DG7GMGF0D7FV:0002", "create", null],
  ["DZH318Z0BNZ5:006G", "skip", null],
  ["DZH318Z0BPS6:0070", "skip", null],
  ["P1Y:A:CFQ7TTC0HD33:0002", "create", null],
  ["P1Y:A:CFQ7TTC0LCHC:0002", "link", "M365-PREM-ANNUAL"],
  ["P1Y:A:CFQ7TTC0LFLX:0002", "link", "M365-E3-ANNUAL"],
  ["P1Y:A:CFQ7TTC0LH16:0001", "create", null],
  ["P1Y:M:CFQ7TTC0LH18:0001", "create", null],
];

for (const dialect of DIALECTS) {
  describe(`HTTP API: Azure Plan entries, Sync now per motion and product sync (${dialect})`, () => {
    let emulator: ConnectWiseEmulator;
    let h: Harness;
    let admin: Client;
    let viewer: Client;
    let connectionId: string;
    let companyId: string;
    let agreements: Agreement[];
    let azureAgreement: Agreement;
    let oneTimeAgreement: Agreement;

    const posts = () => emulator.server.requestLog().filter((r) => r.method === "POST").length;
    const base = () => `/api/connections/${connectionId}`;
    const contosoEntries = async () => {
      const reply = await admin.get(`${base()}/customers?search=contoso`);
      return (reply.body as { customers: { mappings: { motion: string; lastStatus: string | null }[] }[] })
        .customers[0]!.mappings;
    };

    before(async () => {
      emulator = await startConnectWiseEmulator({ seed: "demo" });
      h = await startHarness(dialect, { allowedHosts: [hostOf(emulator.url)] });
      admin = h.client();
      await admin.setup();
      await admin.post("/api/users", {
        email: "viewer@example.com",
        password: "viewer password 1",
        role: "viewer",
      });
      viewer = h.client();
      await viewer.login("viewer@example.com", "viewer password 1");
      const created = await admin.post("/api/connections", {
        vendor: "connectwise",
        name: "ConnectWise",
        config: {
          site: emulator.url,
          companyId: emulator.credentials.companyId,
          publicKey: emulator.credentials.publicKey,
          clientId: CLIENT_ID,
        },
        secrets: { privateKey: emulator.credentials.privateKey },
      });
      connectionId = (created.body as { connection: { id: string } }).connection.id;
      const { payload, headers } = multipartBody([{ name: "june.csv", content: SAMPLE }]);
      assert.equal((await admin.request("POST", "/api/imports", payload, { headers })).status, 200);
      const companies = (await admin.get(`${base()}/psa/companies?search=Contoso`)).body as {
        companies: { id: string }[];
      };
      companyId = companies.companies[0]!.id;
      agreements = (
        (await admin.get(`${base()}/psa/companies/${companyId}/agreements`)).body as {
          agreements: Agreement[];
        }
      ).agreements;
      azureAgreement = agreements.find((a) => a.validFor.azure?.ok)!;
      oneTimeAgreement = agreements.find((a) => a.validFor["seat-annual"]?.ok)!;
      const client = new ConnectWiseClient({
        siteUrl: emulator.url,
        companyId: emulator.credentials.companyId,
        publicKey: emulator.credentials.publicKey,
        privateKey: emulator.credentials.privateKey,
        clientId: CLIENT_ID,
      });
      const [type] = await client.listProductTypes();
      const [subcategory] = await client.listProductSubcategories();
      await client.createCatalogItem({
        identifier: "AZURE-PLAN",
        description: "Azure plan",
        customerDescription: "Microsoft Azure plan usage",
        subcategory: { id: subcategory!.id },
        type: { id: type!.id },
        productClass: "NonInventory",
      });
      emulator.server.clearRequestLog();
    });
    after(async () => {
      await h.cleanup();
      await emulator.close();
    });

    it("an Azure Plan entry takes only a recurring agreement: a One-Time one is refused with its reason", async () => {
      assert.ok(azureAgreement && oneTimeAgreement && azureAgreement.id !== oneTimeAgreement.id);
      assert.equal(oneTimeAgreement.validFor.azure!.ok, false);
      const url = `${base()}/customers/${CONTOSO.id}/mappings/azure`;
      const refused = await admin.put(url, { psaCompanyId: companyId, agreementId: oneTimeAgreement.id });
      assert.deepEqual(
        [refused.status, errorOf(refused.body).code, errorOf(refused.body).field],
        [422, "validation", "agreementId"],
      );
      assert.equal(errorOf(refused.body).message, oneTimeAgreement.validFor.azure!.reason);
      assert.match(errorOf(refused.body).message, /monthly charges need a recurring agreement/);
      assert.equal((await contosoEntries())[1]!.motion, "azure");

      const saved = await admin.put(url, { psaCompanyId: companyId, agreementId: azureAgreement.id });
      assert.equal(saved.status, 200, saved.text);
      const mapping = (saved.body as { mapping: { motion: string; agreementName: string; enabled: boolean } })
        .mapping;
      assert.deepEqual(
        [mapping.motion, mapping.agreementName, mapping.enabled],
        ["azure", azureAgreement.name, true],
      );
      assert.equal(posts(), 0);
    });

    it("Sync now: authorization and CSRF; a dry run of the Azure Plan motion writes nothing", async () => {
      const url = `${base()}/sync`;
      assert.equal((await h.client().post(url, { motion: "azure" })).status, 401);
      const denied = await viewer.post(url, { motion: "azure" });
      assert.deepEqual([denied.status, errorOf(denied.body).code], [403, "forbidden"]);
      const noCsrf = await admin.post(url, { motion: "azure" }, { csrf: false });
      assert.deepEqual([noCsrf.status, errorOf(noCsrf.body).code], [403, "csrf"]);
      const badMotion = await admin.post(url, { motion: "weekly" });
      assert.deepEqual([badMotion.status, errorOf(badMotion.body).field], [400, "motion"]);
      const unknownCustomer = await admin.post(url, { customerTenantId: "no-such-tenant" });
      assert.deepEqual(
        [unknownCustomer.status, errorOf(unknownCustomer.body).field],
        [422, "customerTenantId"],
      );

      const dry = await admin.post(url, { motion: "azure", dryRun: true });
      assert.equal(dry.status, 200, dry.text);
      const plans = (
        dry.body as {
          plans: {
            motion: string;
            mappings: {
              customerName: string;
              problem: string | null;
              plan: { lines: { month: string; unitCost: string; unitPrice: string; description: string }[] };
              product?: { ok: boolean; label?: string };
            }[];
          }[];
        }
      ).plans;
      assert.deepEqual(
        plans.map((p) => p.motion),
        ["azure"],
      );
      const [entry] = plans[0]!.mappings;
      assert.deepEqual(
        [entry?.customerName, entry?.problem, entry?.product?.ok, entry?.product?.label],
        ["Contoso Dental, LLC", null, true, "AZURE-PLAN"],
      );
      assert.deepEqual(
        entry?.plan.lines.map((l) => [l.month, l.unitCost, l.unitPrice, l.description]),
        [[JUNE_AZURE.month, JUNE_AZURE.cost, JUNE_AZURE.price, JUNE_AZURE.description]],
      );
      assert.equal(posts(), 0, "a dry run writes nothing");

      // With below-cost lines held for approval, the dry run names the lines a sync would hold.
      const added = await admin.post(`${base()}/price-rules`, {
        productKey: "AZURE-PLAN",
        kind: "fixed",
        value: "1",
        effectiveFrom: "2024-01-01",
      });
      assert.equal(added.status, 201, added.text);
      const ruleId = (added.body as { rule: { id: string } }).rule.id;
      assert.equal((await admin.put(`${base()}/pricing`, { belowCost: "hold" })).status, 200);
      const holding = await admin.post(url, { motion: "azure", dryRun: true });
      const [plan] = (
        holding.body as {
          plans: {
            holds: Record<string, string>;
            mappings: {
              plan: { lines: { writeKey: string; unitPrice: string; pricedBy: { ruleId: string } }[] };
            }[];
          }[];
        }
      ).plans;
      const [month] = plan!.mappings[0]!.plan.lines;
      assert.deepEqual([month?.unitPrice, month?.pricedBy.ruleId], ["1", ruleId]);
      assert.deepEqual(plan!.holds, { [month!.writeKey]: "would hold" });
      assert.equal((await admin.delete(`${base()}/price-rules/${ruleId}`)).status, 204);
      assert.equal((await admin.put(`${base()}/pricing`, { belowCost: "warn" })).status, 200);
      assert.equal(posts(), 0, "a dry run writes nothing");
    });

    it("Sync now without a motion runs every motion switched on: here only Azure Plan; again, nothing new", async () => {
      const url = `${base()}/sync`;
      const first = await admin.post(url, {});
      assert.equal(first.status, 200, first.text);
      const runs = (first.body as { runs: RunSummary[] }).runs;
      assert.deepEqual(
        runs.map((r) => [r.motion, r.status, r.written, r.errors]),
        [["azure", "success", 1, 0]],
      );
      assert.deepEqual(
        runs[0]!.items.map((i) => [i.outcome, i.line?.month, i.line?.unitCost]),
        [["written", JUNE_AZURE.month, JUNE_AZURE.cost]],
      );
      assert.ok(runs[0]!.items[0]!.psaRecordId);
      assert.equal(posts(), 1);
      const additions = emulator
        .data()
        .tables.additions.filter(
          (a) => String(a.agreementId) === azureAgreement.id && a.description === JUNE_AZURE.description,
        );
      assert.equal(additions.length, 1);

      const again = await admin.post(url, { customerTenantId: CONTOSO.id });
      const second = (again.body as { runs: RunSummary[] }).runs;
      assert.deepEqual(
        second.map((r) => [r.motion, r.status, r.written]),
        [["azure", "no-change", 0]],
      );
      assert.equal(posts(), 1, "nothing is written twice");

      const entries = await contosoEntries();
      assert.deepEqual(
        entries.map((e) => [e.motion, e.lastStatus]),
        [
          ["seat-monthly", null],
          // The last run that covered it had nothing new to write.
          ["azure", "no-change"],
          ["seat-annual", null],
        ],
      );
      const history = (await admin.get(`/api/runs?connectionId=${connectionId}`)).body as {
        runs: { id: string; scope: Record<string, unknown> }[];
      };
      assert.deepEqual(
        history.runs.map((r) => r.scope),
        [{ motion: "azure", customerTenantId: CONTOSO.id }, { motion: "azure" }],
      );
    });

    it("Sync now for a customer with no enabled entry is refused; Seat-based Monthly syncs once mapped", async () => {
      const url = `${base()}/sync`;
      const fabrikam = await admin.post(url, { customerTenantId: FABRIKAM.id });
      assert.deepEqual([fabrikam.status, errorOf(fabrikam.body).field], [422, "motion"]);
      assert.match(errorOf(fabrikam.body).message, /no enabled entry/);
      const unmapped = await admin.post(url, { motion: "seat-monthly", customerTenantId: CONTOSO.id });
      assert.deepEqual([unmapped.status, errorOf(unmapped.body).field], [422, "motion"]);
      assert.match(errorOf(unmapped.body).message, /no enabled Seat-based Monthly entry/);
      assert.equal(posts(), 1);

      const entry = `${base()}/customers/${CONTOSO.id}/mappings/seat-monthly`;
      const saved = await admin.put(entry, { psaCompanyId: companyId, agreementId: azureAgreement.id });
      assert.equal(saved.status, 200, saved.text);
      const body = { motion: "seat-monthly", customerTenantId: CONTOSO.id };
      const dry = await admin.post(url, { ...body, dryRun: true });
      assert.equal(dry.status, 200, dry.text);
      const plans = (dry.body as { plans: { motion: string; mappings: { plan: { lines: object[] } }[] }[] })
        .plans;
      assert.deepEqual(
        plans.map((p) => p.motion),
        ["seat-monthly"],
      );
      const lines = plans[0]!.mappings[0]!.plan.lines as { action: string; writeKey: string }[];
      assert.ok(lines.length > 0, "Contoso's June monthly seats are planned");
      assert.ok(lines.every((l) => l.action === "create-addition"));
      assert.equal(posts(), 1, "a dry run writes nothing");

      // With its catalog item inactive, Microsoft 365 E5 has none: its line fails alone, with the documented error.
      const e5 = emulator.data().tables.catalogItems.find((i) => i.identifier === "M365-E5")!;
      e5.inactiveFlag = true;
      const run = (await admin.post(url, body)).body as { runs: RunSummary[] };
      assert.deepEqual(
        run.runs.map((r) => [r.motion, r.status, r.written, r.errors]),
        [["seat-monthly", "error", lines.length - 1, 1]],
      );
      const failed = run.runs[0]!.items.find((i) => i.outcome === "error")!;
      assert.match(
        failed.message ?? "",
        /^Microsoft 365 E5, 5 seats from 2024-06-18: Could not find source product/,
      );
      assert.equal(posts(), lines.length);
      const again = (await admin.post(url, body)).body as { runs: RunSummary[] };
      assert.deepEqual(
        again.runs.map((r) => [r.motion, r.written, r.unchanged, r.errors]),
        [["seat-monthly", 0, 0, 1]],
        "only the failed line is tried again",
      );
      assert.equal(posts(), lines.length, "nothing is written twice");
      e5.inactiveFlag = false;
      await admin.put(entry, { psaCompanyId: companyId, agreementId: azureAgreement.id, enabled: false });
    });

    it("product preview: refused while product sync is off; a viewer may preview; per-product actions", async () => {
      const preview = `${base()}/products/preview`;
      const postsBefore = posts();
      assert.equal((await h.client().get(preview)).status, 401);
      const off = await admin.get(preview);
      assert.deepEqual([off.status, errorOf(off.body).field], [422, "productSyncMode"]);
      const badMode = await admin.get(`${preview}?mode=some`);
      assert.deepEqual([badMode.status, errorOf(badMode.body).field], [400, "mode"]);
      const badSetting = await admin.patch(base(), { settings: { productSyncMode: "everything" } });
      assert.deepEqual(
        [badSetting.status, errorOf(badSetting.body).field],
        [422, "settings.productSyncMode"],
      );
      const saved = await admin.patch(base(), { settings: { productSyncMode: "all" } });
      assert.equal(saved.status, 200, saved.text);

      const reply = await viewer.get(preview);
      assert.equal(reply.status, 200, reply.text);
      const body = reply.body as {
        preview: {
          mode: string;
          vendor: string;
          counts: Record<string, number>;
          items: {
            key: string;
            action: string;
            recordLabel: string | null;
            changes: object;
            recordOrigin: string | null;
            linkedPrice: object | null;
          }[];
          priceConfirmation: { changes: unknown[] };
        };
      };
      assert.deepEqual([body.preview.mode, body.preview.vendor], ["all", "connectwise"]);
      assert.deepEqual(
        body.preview.items.map((i) => [i.key, i.action, i.recordLabel]),
        EXPECTED_PRODUCTS,
      );
      assert.deepEqual(body.preview.counts, { create: 4, link: 6, update: 0, skip: 2, conflict: 0 });
      // M365-STD was in the catalog before (price 15, cost 12.5): linked, its sell price kept, its cost updated.
      const std = body.preview.items.find((i) => i.key === "CFQ7TTC0LDPB:0001");
      assert.deepEqual(
        [std?.changes, std?.recordOrigin, std?.linkedPrice],
        [{ cost: "10.08" }, "linked", { from: "15", to: "10.08", handling: "kept" }],
      );
      assert.equal(body.preview.items.find((i) => i.key === "DG7GMGF0D7FV:0002")?.recordOrigin, "cspsync");
      assert.deepEqual(body.preview.priceConfirmation.changes, []);

      // In use: products of customers with an enabled entry — Contoso's Azure Plan entry holds every one.
      const inUse = async () =>
        (
          (await admin.get(`${preview}?mode=in-use`)).body as {
            preview: { mode: string; items: { key: string }[] };
          }
        ).preview;
      assert.deepEqual(
        (await inUse()).items.map((i) => i.key),
        EXPECTED_PRODUCTS.map(([key]) => key),
      );
      const entry = `${base()}/customers/${CONTOSO.id}/mappings/azure`;
      await admin.put(entry, { psaCompanyId: companyId, agreementId: azureAgreement.id, enabled: false });
      assert.deepEqual((await inUse()).items, [], "no enabled entry, no product in use");
      await admin.put(entry, { psaCompanyId: companyId, agreementId: azureAgreement.id });
      assert.equal(posts(), postsBefore, "previews write nothing");
    });

    it("product sync: admin only, with CSRF; writes and records the run; a second run changes nothing", async () => {
      const url = `${base()}/products/sync`;
      assert.equal((await viewer.post(url, {})).status, 403);
      assert.equal(errorOf((await admin.post(url, {}, { csrf: false })).body).code, "csrf");
      assert.deepEqual((await admin.get(`${base()}/products/runs`)).body, { runs: [] });

      const first = await admin.post(url, {});
      assert.equal(first.status, 200, first.text);
      const { run, items } = first.body as { run: ProductRun; items: ProductItem[] };
      assert.deepEqual(
        [
          run.trigger,
          run.mode,
          run.status,
          run.written,
          run.unchanged,
          run.conflicts,
          run.failed,
          run.message,
        ],
        ["manual", "all", "success", 10, 2, 0, 0, null],
      );
      assert.deepEqual(
        items.map((i) => [i.key, i.action, i.status]),
        EXPECTED_PRODUCTS.map(([key, action]) => [key, action, action === "skip" ? "unchanged" : "written"]),
      );
      assert.ok(items.filter((i) => i.action === "create").every((i) => i.recordId));

      const second = (await admin.post(url, {})).body as { run: ProductRun; items: ProductItem[] };
      assert.deepEqual([second.run.status, second.run.written], ["no-change", 0]);
      assert.ok(second.items.every((i) => i.action === "skip" && i.status === "unchanged"));

      const history = (await viewer.get(`${base()}/products/runs`)).body as { runs: ProductRun[] };
      assert.deepEqual(
        history.runs.map((r) => [r.id, r.status]),
        [
          [second.run.id, "no-change"],
          [run.id, "success"],
        ],
      );
      const detail = await viewer.get(`${base()}/products/runs/${run.id}`);
      assert.deepEqual(detail.body, first.body);
      assert.equal((await admin.get(`${base()}/products/runs/nope`)).status, 404);
      assert.equal((await admin.get(`/api/connections/nope/products/runs/${run.id}`)).status, 404);
      assert.equal((await admin.get(`${base()}/products/runs?limit=0`)).status, 400);
      assert.equal((await admin.get(`/api/connections/nope/products/runs`)).status, 404);
    });

    it("product sync: sell-price changes on linked items need linkedPriceUpdates confirm and the preview's fingerprint, else 409", async () => {
      const url = `${base()}/products/sync`;
      const std = () => emulator.data().tables.catalogItems.find((i) => i.identifier === "M365-STD")!;
      const writes = () => emulator.server.requestLog().filter((r) => r.method !== "GET").length;
      assert.deepEqual(
        [String(std().price), String(std().cost)],
        ["15", "10.08"],
        "the default kept the price",
      );

      const bad = await admin.patch(base(), { settings: { linkedPriceUpdates: "always" } });
      assert.deepEqual([bad.status, errorOf(bad.body).field], [422, "settings.linkedPriceUpdates"]);
      const saved = await admin.patch(base(), { settings: { linkedPriceUpdates: "confirm" } });
      assert.equal(saved.status, 200, saved.text);

      type Confirmation = {
        fingerprint: string;
        changes: { key: string; recordLabel: string; from: string; to: string; direction: string }[];
      };
      const preview = (
        (await viewer.get(`${base()}/products/preview`)).body as {
          preview: {
            linkedPriceUpdates: string;
            priceConfirmation: Confirmation;
            items: { key: string; linkedPrice: object | null }[];
          };
        }
      ).preview;
      assert.equal(preview.linkedPriceUpdates, "confirm");
      assert.deepEqual(preview.items.find((i) => i.key === "CFQ7TTC0LDPB:0001")?.linkedPrice, {
        from: "15",
        to: "10.08",
        handling: "needs-confirmation",
      });
      const listedStd = preview.priceConfirmation.changes.find((c) => c.key === "CFQ7TTC0LDPB:0001");
      assert.deepEqual(listedStd, {
        key: "CFQ7TTC0LDPB:0001",
        kind: "catalog",
        name: "Microsoft 365 Business Standard",
        recordId: String(std().id),
        recordLabel: "M365-STD",
        from: "15",
        to: "10.08",
        direction: "decrease",
      });

      const before = writes();
      const runsBefore = ((await admin.get(`${base()}/products/runs`)).body as { runs: unknown[] }).runs
        .length;
      for (const body of [{}, { confirmPriceChanges: "0123456789abcdef" }]) {
        const refused = await admin.post(url, body);
        assert.equal(refused.status, 409, refused.text);
        assert.deepEqual(
          [errorOf(refused.body).code, errorOf(refused.body).field],
          ["conflict", "confirmPriceChanges"],
        );
        assert.match(
          errorOf(refused.body).message,
          /M365-STD \(CFQ7TTC0LDPB:0001\): 15 → 10\.08, a decrease/,
        );
        assert.match(errorOf(refused.body).message, /nothing was written/);
        assert.match(errorOf(refused.body).message, new RegExp(preview.priceConfirmation.fingerprint));
        assert.deepEqual(
          (refused.body as { priceConfirmation: Confirmation }).priceConfirmation,
          preview.priceConfirmation,
        );
      }
      assert.equal(writes(), before, "a refused sync writes nothing to ConnectWise");
      assert.equal(String(std().price), "15");
      const runsAfter = ((await admin.get(`${base()}/products/runs`)).body as { runs: unknown[] }).runs
        .length;
      assert.equal(runsAfter, runsBefore, "and records no run");
      assert.equal((await admin.post(url, { confirmPriceChanges: 5 })).status, 400);
      assert.equal((await admin.post(url, { confirm: true })).status, 400);

      const confirmed = await admin.post(url, { confirmPriceChanges: preview.priceConfirmation.fingerprint });
      assert.equal(confirmed.status, 200, confirmed.text);
      const item = (confirmed.body as { items: ProductItem[] }).items.find(
        (i) => i.key === "CFQ7TTC0LDPB:0001",
      );
      assert.deepEqual([item?.action, item?.status], ["update", "written"]);
      assert.deepEqual([String(std().price), String(std().cost)], ["10.08", "10.08"]);
      assert.equal(writes(), before + preview.priceConfirmation.changes.length, "only the confirmed prices");

      const again = await admin.post(url, {});
      assert.equal(again.status, 200, "nothing left to confirm");
      await admin.patch(base(), { settings: { linkedPriceUpdates: "never" } });
    });

    it("product sync: a second one while one is running answers 409", async () => {
      await h.app.store.db
        .insertInto("product_sync_runs")
        .values({
          id: "active-product-run",
          organization_id: h.app.organizationId,
          connection_id: connectionId,
          trigger: "schedule",
          mode: "all",
          status: "running",
          started_at: new Date().toISOString(),
          // A live run of another worker: it beat just now, so it is not taken over.
          heartbeat_at: new Date().toISOString(),
          owner: "another-worker:4242:boot",
          finished_at: null,
          written: 0,
          unchanged: 0,
          conflicts: 0,
          failed: 0,
          psa_requests: 0,
          message: null,
        })
        .execute();
      try {
        const busy = await admin.post(`${base()}/products/sync`, {});
        assert.deepEqual([busy.status, errorOf(busy.body).code], [409, "conflict"]);
        assert.match(errorOf(busy.body).message, /active-product-run/);
      } finally {
        await h.app.store.db.deleteFrom("product_sync_runs").where("id", "=", "active-product-run").execute();
      }
    });
  });
}
