import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { CONTOSO, FABRIKAM } from "../support/recon-builder.ts";
import { multipartBody, startHarness, type Client, type Harness } from "./helpers.ts";

const SAMPLE_PATH = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");
const SAMPLE = fs.readFileSync(SAMPLE_PATH);
const SAMPLE_LINES = SAMPLE.toString("utf8").trimEnd().split(/\r?\n/).length - 1;
/** The sample's header and first row, then a row cut off in the middle. */
const TRUNCATED = (() => {
  const lines = SAMPLE.toString("utf8").split(/\r?\n/);
  return `${lines[0]}\r\n${lines[1]}\r\n${lines[2]!.slice(0, 60)}\r\n`;
})();

type ErrorReply = { error: { code: string; message: string; field?: string } };
const errorOf = (body: unknown) => (body as ErrorReply).error;

type ImportSummary = {
  file: string;
  status: string;
  lines: number;
  newLines: number;
  knownLines: number;
  invoices: string[];
  problem?: { row?: number; reason: string; message: string };
};
type Entry = {
  motion: string;
  psaCompanyId: string | null;
  agreementName: string | null;
  enabled: boolean;
  pricing: { strategy: string };
  lastSyncAt: string | null;
  lastStatus: string | null;
  lastMessage: string | null;
};
type Customer = { tenantId: string; name: string; mappings: Entry[] };
type RunSummary = {
  runId: string;
  status: string;
  written: number;
  errors: number;
  items: { outcome: string }[];
};

for (const dialect of DIALECTS) {
  describe(`HTTP API: import, map and sync against the ConnectWise emulator (${dialect})`, () => {
    let emulator: ConnectWiseEmulator;
    let h: Harness;
    let admin: Client;
    let connectionId: string;
    let companyId: string;
    let annualAgreementId: string;
    let monthlyAgreementId: string;
    const afterImport: string[][] = [];

    const posts = () => emulator.server.requestLog().filter((r) => r.method === "POST").length;
    const contoso = async (): Promise<Customer> => {
      const reply = await admin.get(`/api/connections/${connectionId}/customers?search=contoso`);
      assert.equal(reply.status, 200);
      const customers = (reply.body as { customers: Customer[] }).customers;
      assert.equal(customers.length, 1);
      return customers[0]!;
    };
    const upload = (files: { name: string; content: Buffer | string }[], field?: string) => {
      const { payload, headers } = multipartBody(files, field);
      return admin.request("POST", "/api/imports", payload, { headers });
    };

    before(async () => {
      emulator = await startConnectWiseEmulator({ seed: "demo" });
      h = await startHarness(dialect, {
        allowedHosts: [hostOf(emulator.url)],
        server: { afterImport: (files) => afterImport.push(files.map((f) => f.status)) },
      });
      admin = h.client();
      await admin.setup();
      const created = await admin.post("/api/connections", {
        vendor: "connectwise",
        name: "ConnectWise",
        config: {
          site: emulator.url,
          companyId: emulator.credentials.companyId,
          publicKey: emulator.credentials.publicKey,
          clientId: "00000000-0000-4000-8000-00000000c11e",
        },
        secrets: { privateKey: emulator.credentials.privateKey },
      });
      assert.equal(created.status, 201, created.text);
      connectionId = (created.body as { connection: { id: string } }).connection.id;
    });
    after(async () => {
      await h.cleanup();
      await emulator.close();
    });

    it("imports uploaded reconciliation files with one result per file, and removes the uploads", async () => {
      const reply = await upload([
        { name: "nce-reconciliation-2024-06.csv", content: SAMPLE },
        { name: "../../truncated.csv", content: TRUNCATED },
      ]);
      assert.equal(reply.status, 200, reply.text);
      const [good, bad] = (reply.body as { files: ImportSummary[] }).files;
      assert.deepEqual(
        [good?.file, good?.status, good?.lines, good?.newLines],
        ["nce-reconciliation-2024-06.csv", "imported", SAMPLE_LINES, SAMPLE_LINES],
      );
      assert.ok(good!.invoices.length > 0);
      assert.deepEqual([bad?.file, bad?.status, bad?.lines], ["truncated.csv", "rejected", 0]);
      assert.equal(bad?.problem?.row, 3);
      assert.match(bad?.problem?.message ?? "", /truncated\.csv/);

      const again = await upload([{ name: "again.csv", content: SAMPLE }]);
      const [repeat] = (again.body as { files: ImportSummary[] }).files;
      assert.deepEqual(
        [repeat?.newLines, repeat?.knownLines],
        [0, SAMPLE_LINES],
        "nothing is imported twice",
      );

      assert.deepEqual(
        afterImport,
        [["imported", "rejected"], ["imported"]],
        "the after-import hook saw every upload",
      );
      const uploads = path.join(h.app.config.dataDir, "uploads");
      assert.deepEqual(fs.existsSync(uploads) ? fs.readdirSync(uploads) : [], [], "temporary files are gone");

      const history = await admin.get("/api/imports");
      const imports = (
        history.body as { imports: { fileName: string; status: string; error: string | null }[] }
      ).imports;
      assert.deepEqual(imports.map((i) => i.status).sort(), ["imported", "imported", "rejected"]);
      assert.ok(imports.find((i) => i.status === "rejected")?.error);
    });

    it("refuses uploads that are not multipart or have no file part", async () => {
      const json = await admin.post("/api/imports", { file: "x" });
      assert.equal(json.status, 415);
      assert.deepEqual([errorOf(json.body).code, errorOf(json.body).field], ["validation", "file"]);
      const noFile = await upload([{ name: "x.csv", content: SAMPLE }], "attachment");
      assert.equal(noFile.status, 400);
      assert.equal(errorOf(noFile.body).field, "file");
    });

    it("lists invoices and the dashboard counts", async () => {
      const invoices = (await admin.get("/api/invoices")).body as {
        invoices: { invoiceNumber: string; subtotal: string; lines: number }[];
      };
      assert.ok(invoices.invoices.length > 0);
      assert.ok(invoices.invoices.every((i) => typeof i.subtotal === "string" && i.lines > 0));
      const dashboard = (await admin.get("/api/dashboard")).body as {
        connections: { id: string; lastRun: unknown; lastSuccessfulSync: unknown }[];
        customers: number;
        invoices: number;
      };
      assert.equal(dashboard.invoices, invoices.invoices.length);
      assert.ok(dashboard.customers >= 2);
      assert.deepEqual(dashboard.connections, [
        {
          id: connectionId,
          name: "ConnectWise",
          vendor: "connectwise",
          seatAnnualEnabled: false,
          lastSuccessfulSync: null,
          lastRun: null,
          heldLines: 0,
          productSyncMode: "off",
          lastProductRun: null,
        },
      ]);
    });

    it("lists customers with their three entries, unmapped at first", async () => {
      const customer = await contoso();
      assert.equal(customer.tenantId, CONTOSO.id);
      assert.deepEqual(
        customer.mappings.map((m) => [m.motion, m.psaCompanyId, m.enabled, m.pricing.strategy, m.lastStatus]),
        [
          ["seat-monthly", null, false, "cost-and-retail", null],
          ["azure", null, false, "cost-and-retail", null],
          ["seat-annual", null, false, "cost-and-retail", null],
        ],
      );
      const all = (await admin.get(`/api/connections/${connectionId}/customers`)).body as {
        customers: Customer[];
      };
      assert.ok(all.customers.some((c) => c.tenantId === FABRIKAM.id));
      assert.equal((await admin.get("/api/connections/nope/customers")).status, 404);
    });

    it("refuses a Seat-based Annual mapping to an agreement that cannot take it, with the reason", async () => {
      const companies = (await admin.get(`/api/connections/${connectionId}/psa/companies?search=Contoso`))
        .body as {
        companies: { id: string }[];
      };
      companyId = companies.companies[0]!.id;
      const agreements = (
        await admin.get(`/api/connections/${connectionId}/psa/companies/${companyId}/agreements`)
      ).body as { agreements: { id: string; validFor: Record<string, { ok: boolean }> }[] };
      annualAgreementId = agreements.agreements.find((a) => a.validFor["seat-annual"]!.ok)!.id;
      monthlyAgreementId = agreements.agreements.find((a) => !a.validFor["seat-annual"]!.ok)!.id;

      const url = `/api/connections/${connectionId}/customers/${CONTOSO.id}/mappings/seat-annual`;
      const refused = await admin.put(url, { psaCompanyId: companyId, agreementId: monthlyAgreementId });
      assert.equal(refused.status, 422);
      assert.deepEqual(
        [errorOf(refused.body).code, errorOf(refused.body).field],
        ["validation", "agreementId"],
      );
      assert.match(errorOf(refused.body).message, /One-Time/);

      const noMarkup = await admin.put(url, {
        psaCompanyId: companyId,
        agreementId: annualAgreementId,
        pricing: "markup",
      });
      assert.equal(noMarkup.status, 400);
      assert.equal(errorOf(noMarkup.body).field, "markupPercent");
      const badDate = await admin.put(url, {
        psaCompanyId: companyId,
        agreementId: annualAgreementId,
        syncDate: "1/6/2024",
      });
      assert.equal(errorOf(badDate.body).field, "syncDate");
      const badMotion = await admin.put(url.replace("seat-annual", "yearly"), {
        psaCompanyId: companyId,
        agreementId: annualAgreementId,
      });
      assert.equal(errorOf(badMotion.body).field, "motion");
      const unknown = await admin.put(url.replace(CONTOSO.id, "00000000-0000-0000-0000-000000000000"), {
        psaCompanyId: companyId,
        agreementId: annualAgreementId,
      });
      assert.equal(unknown.status, 404);
      assert.equal(posts(), 0, "nothing was written to the PSA");
      assert.equal((await contoso()).mappings[2]!.psaCompanyId, null, "nothing was saved");
    });

    it("maps the annual motion to a One-Time agreement", async () => {
      const url = `/api/connections/${connectionId}/customers/${CONTOSO.id}/mappings/seat-annual`;
      const saved = await admin.put(url, { psaCompanyId: companyId, agreementId: annualAgreementId });
      assert.equal(saved.status, 200, saved.text);
      const mapping = (saved.body as { mapping: Entry & { customerTenantId: string } }).mapping;
      assert.equal(mapping.customerTenantId, CONTOSO.id);
      assert.equal(mapping.enabled, true);
      assert.match(mapping.agreementName ?? "", /Annual/);
      const entry = (await contoso()).mappings[2]!;
      assert.deepEqual([entry.psaCompanyId, entry.enabled, entry.lastSyncAt], [companyId, true, null]);
    });

    it("Sync now: refused while annual sync is off; dry run plans without writing; then writes", async () => {
      const url = `/api/connections/${connectionId}/sync`;
      const off = await admin.post(url, { motion: "seat-annual" });
      assert.equal(off.status, 422);
      assert.equal(errorOf(off.body).field, "seatAnnualEnabled");
      const nothing = await admin.post(url, {});
      assert.deepEqual([nothing.status, errorOf(nothing.body).field], [422, "motion"]);
      assert.match(errorOf(nothing.body).message, /nothing to sync/);
      await admin.patch(`/api/connections/${connectionId}`, { seatAnnualEnabled: true });
      const azure = await admin.post(url, { motion: "azure" });
      assert.deepEqual([azure.status, errorOf(azure.body).field], [422, "motion"]);
      assert.match(errorOf(azure.body).message, /no enabled Azure Plan entry/);
      const monthly = await admin.post(url, { motion: "seat-monthly" });
      assert.deepEqual(
        [monthly.status, errorOf(monthly.body).code, errorOf(monthly.body).field],
        [422, "validation", "motion"],
      );
      assert.match(errorOf(monthly.body).message, /no enabled Seat-based Monthly entry/);

      // A catalog item whose SKU was typed for the wrong product: the dry run names the mismatch as data.
      const e3Item = emulator.data().tables.catalogItems.find((i) => i.identifier === "M365-E3-ANNUAL")!;
      Object.assign(e3Item, { identifier: "M365-E5-ANNUAL", description: "Microsoft 365 E5 (annual)" });
      const dry = await admin.post(url, { dryRun: true, customerTenantId: CONTOSO.id });
      Object.assign(e3Item, { identifier: "M365-E3-ANNUAL", description: "Microsoft 365 E3 (annual)" });
      assert.equal(dry.status, 200, dry.text);
      type DryLine = { writeKey: string; productName: string; warnings: string[] };
      type DryProduct = {
        ok: boolean;
        label?: string;
        nameMismatch?: { psaProduct: string; message: string };
      };
      const plan = dry.body as {
        dryRun: boolean;
        plans: {
          motion: string;
          mappings: {
            problem: string | null;
            plan: { lines: DryLine[] };
            products: Record<string, DryProduct>;
          }[];
        }[];
      };
      assert.equal(plan.dryRun, true);
      assert.deepEqual(
        plan.plans.map((p) => p.motion),
        ["seat-annual"],
      );
      const [annual] = plan.plans;
      assert.deepEqual([annual?.mappings[0]?.problem, annual?.mappings[0]?.plan.lines.length], [null, 8]);
      const e3 = annual!.mappings[0]!.plan.lines.find((l) => l.productName === "Microsoft 365 E3")!;
      const mismatch =
        'the charge is "Microsoft 365 E3" but it matched catalog item "M365-E5-ANNUAL — Microsoft 365 E5 (annual)": check the product mapping';
      assert.deepEqual(annual!.mappings[0]!.products[e3.writeKey]!.nameMismatch, {
        chargeProduct: "Microsoft 365 E3",
        psaProduct: "M365-E5-ANNUAL — Microsoft 365 E5 (annual)",
        psaRecord: "catalog item",
        message: mismatch,
      });
      assert.deepEqual(e3.warnings, [mismatch]);
      assert.equal(posts(), 0, "a dry run writes nothing");

      const run = await admin.post(url, {});
      assert.equal(run.status, 200, run.text);
      const runs = (run.body as { runs: (RunSummary & { motion: string })[] }).runs;
      assert.deepEqual(
        runs.map((r) => r.motion),
        ["seat-annual"],
        "only the motion switched on runs",
      );
      const summary = runs[0]!;
      assert.deepEqual([summary.status, summary.written, summary.errors], ["error", 6, 2]);
      assert.equal(posts(), 6);

      const entry = (await contoso()).mappings[2]!;
      assert.equal(entry.lastStatus, "error");
      assert.match(entry.lastMessage ?? "", /Could not find source product/);
      assert.ok(entry.lastSyncAt);

      const detail = await admin.get(`/api/runs/${summary.runId}`);
      const { run: view, items } = detail.body as {
        run: { status: string; trigger: string };
        items: {
          customerName: string;
          outcome: string;
          psaRecordId: string | null;
          details: { description?: string };
        }[];
      };
      assert.deepEqual([view.status, view.trigger, items.length], ["error", "manual", 8]);
      assert.ok(items.every((i) => i.customerName === "Contoso Dental, LLC"));
      assert.ok(
        items.filter((i) => i.outcome === "written").every((i) => i.psaRecordId && i.details.description),
      );
    });

    it("with a fallback catalog item the rest is written; the entry and dashboard show success", async () => {
      const client = new ConnectWiseClient({
        siteUrl: emulator.url,
        companyId: emulator.credentials.companyId,
        publicKey: emulator.credentials.publicKey,
        privateKey: emulator.credentials.privateKey,
        clientId: "00000000-0000-4000-8000-00000000c11e",
      });
      await client.createCatalogItem({
        identifier: "CSP-LICENSE",
        description: "Microsoft CSP licence",
        customerDescription: "Microsoft CSP licence",
        subcategory: { id: 2 },
        type: { id: 2 },
        productClass: "NonInventory",
      });
      const patched = await admin.patch(`/api/connections/${connectionId}`, {
        settings: { fallbackCatalogItem: "CSP-LICENSE" },
      });
      assert.equal(patched.status, 200);
      const reply = await admin.post(`/api/connections/${connectionId}/sync`, {});
      const [run] = (reply.body as { runs: RunSummary[] }).runs;
      assert.ok(run, reply.text);
      assert.deepEqual([run.status, run.written, run.errors], ["success", 2, 0]);
      const additions = await client.listAdditions(Number(annualAgreementId), { orderBy: "id asc" });
      assert.equal(additions.length, 8);

      const entry = (await contoso()).mappings[2]!;
      assert.deepEqual([entry.lastStatus, entry.lastMessage], ["written", null]);
      const dashboard = (await admin.get("/api/dashboard")).body as {
        connections: { lastSuccessfulSync: string | null; lastRun: { id: string; status: string } }[];
      };
      assert.equal(dashboard.connections[0]?.lastRun.id, run.runId);
      assert.ok(dashboard.connections[0]?.lastSuccessfulSync);

      const runs = (await admin.get(`/api/runs?connectionId=${connectionId}&limit=1`)).body as {
        runs: { id: string }[];
      };
      assert.deepEqual(
        runs.runs.map((r) => r.id),
        [run.runId],
      );
      assert.equal((await admin.get(`/api/runs?limit=0`)).status, 400);
      assert.equal((await admin.get(`/api/runs/no-such-run`)).status, 404);
    });

    it("a run that fails as a whole (the PSA refuses the credentials) shows the entry as Error, not Synced", async () => {
      const wrongKey = await admin.patch(`/api/connections/${connectionId}`, {
        secrets: { privateKey: "not-the-private-key" },
      });
      assert.equal(wrongKey.status, 200);
      try {
        const reply = await admin.post(`/api/connections/${connectionId}/sync`, {});
        const [run] = (reply.body as { runs: RunSummary[] }).runs;
        assert.ok(run, reply.text);
        assert.equal(run.status, "error");
        const entry = (await contoso()).mappings[2]!;
        assert.equal(entry.lastStatus, "error", "the earlier success does not show through");
        assert.match(entry.lastMessage ?? "", /401|refused|credentials/i);
      } finally {
        const restored = await admin.patch(`/api/connections/${connectionId}`, {
          secrets: { privateKey: emulator.credentials.privateKey },
        });
        assert.equal(restored.status, 200);
      }
      const again = await admin.post(`/api/connections/${connectionId}/sync`, {});
      assert.equal((again.body as { runs: RunSummary[] }).runs[0]!.status, "no-change");
      const entry = (await contoso()).mappings[2]!;
      assert.deepEqual([entry.lastStatus, entry.lastMessage], ["no-change", null]);
    });

    it("answers 409 while another run of the connection is active", async () => {
      const now = new Date().toISOString();
      await h.app.store.db
        .insertInto("sync_runs")
        .values({
          id: "active-run",
          organization_id: h.app.organizationId,
          // This very process: alive, so the run cannot be taken over.
          owner: `${os.hostname()}:${process.pid}`,
          connection_id: connectionId,
          trigger: "schedule",
          scope: "{}",
          status: "running",
          started_at: now,
          heartbeat_at: now,
          finished_at: null,
          written: 0,
          unchanged: 0,
          warnings: 0,
          errors: 0,
          psa_requests: 0,
          message: null,
        })
        .execute();
      try {
        const busy = await admin.post(`/api/connections/${connectionId}/sync`, {});
        assert.equal(busy.status, 409);
        assert.equal(errorOf(busy.body).code, "conflict");
        assert.match(errorOf(busy.body).message, /active-run/);
      } finally {
        await h.app.store.db.deleteFrom("sync_runs").where("id", "=", "active-run").execute();
      }
    });

    it("settings: defaults, validation naming the field, and saved values", async () => {
      assert.deepEqual((await admin.get("/api/settings")).body, { dailySyncTime: "06:00", timeZone: "UTC" });
      const badTime = await admin.put("/api/settings", { dailySyncTime: "25:00", timeZone: "UTC" });
      assert.deepEqual([badTime.status, errorOf(badTime.body).field], [400, "dailySyncTime"]);
      const badZone = await admin.put("/api/settings", { dailySyncTime: "06:30", timeZone: "Mars/Olympus" });
      assert.deepEqual([badZone.status, errorOf(badZone.body).field], [400, "timeZone"]);
      const saved = await admin.put("/api/settings", {
        dailySyncTime: "06:30",
        timeZone: "Europe/Amsterdam",
      });
      assert.deepEqual(saved.body, { dailySyncTime: "06:30", timeZone: "Europe/Amsterdam" });
      assert.deepEqual((await admin.get("/api/settings")).body, saved.body);
    });
  });
}
