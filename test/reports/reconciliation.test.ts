import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import ExcelJS from "exceljs";
import { parse } from "csv-parse/sync";
import type { App } from "../../src/app.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { PricingService } from "../../src/services/pricing.ts";
import { ReportsService, reportCsv, reportXlsx } from "../../src/services/reports.ts";
import type { ReconciliationReport } from "../../src/core/reconciliation-report.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { CLIENT_ID } from "../support/connectwise-setup.ts";
import { DIALECTS } from "../support/stores.ts";
import { CONTOSO, FABRIKAM, importTwoMonths, SUB } from "./fixture.ts";

const PREMIUM_ADD =
  "Microsoft 365 Business Premium: +2 seats (now 7), prorated 2024-06-25 to 2025-06-04 (345 days of the term)";

for (const dialect of DIALECTS) {
  describe(`reconciliation and margin report against ConnectWise (docs/reports.md §1, §3, ${dialect})`, () => {
    let emulator: ConnectWiseEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let client: ConnectWiseClient;
    let connectionId: string;
    let agreementId: string;

    before(async () => {
      emulator = await startConnectWiseEmulator({ seed: "demo" });
      ({ app, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]));
      await importTwoMonths(app.store);
      const { companyId, publicKey, privateKey } = emulator.credentials;
      const connection = await app.connections.create({
        vendor: "connectwise",
        name: "CW",
        config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
        secrets: { privateKey },
        settings: { fallbackCatalogItem: "O365-E1" },
      });
      connectionId = connection.id;
      await app.connections.update(connectionId, { seatAnnualEnabled: true });
      const adapter = await app.adapterFor(connectionId);
      const [company] = await adapter.searchCompanies("Contoso");
      const agreements = await adapter.listAgreements(company!.id);
      agreementId = agreements.find((a) => a.validFor["seat-annual"].ok)!.id;
      const monthly = agreements.find((a) => a.validFor["seat-monthly"].ok)!;
      // Annual: from Jun 8 (the Premium purchase of Jun 5 is before it), 20 % markup.
      await app.mappings.save(
        connectionId,
        CONTOSO.id,
        "seat-annual",
        {
          psaCompanyId: company!.id,
          agreementId,
          syncDate: "2024-06-08",
          pricing: "markup",
          markupPercent: "20",
        },
        adapter,
      );
      // Monthly: mapped, turned off.
      await app.mappings.save(
        connectionId,
        CONTOSO.id,
        "seat-monthly",
        { psaCompanyId: company!.id, agreementId: monthly.id, enabled: false },
        adapter,
      );
      const pricing = new PricingService(app.store, app.organizationId);
      await pricing.addRule(connectionId, {
        name: "Premium at 300",
        productKey: "cfq7ttc0lchc",
        kind: "fixed",
        value: "300",
        effectiveFrom: "2024-01-01",
      });
      await pricing.addRule(connectionId, {
        name: "Business Central at 700",
        productKey: "cfq7ttc0lh1m",
        kind: "fixed",
        value: "700",
        effectiveFrom: "2024-01-01",
      });
      await pricing.setBelowCost(connectionId, "hold");
      const run = await (await app.annualSync(connectionId)).run("manual");
      assert.equal(run.errors, 0);

      // By hand in ConnectWise, through its HTTP API: the seat add's price edited, the Exchange purchase
      // deleted, and an addition of the same catalog item that cspsync did not write.
      client = new ConnectWiseClient({
        siteUrl: emulator.url,
        companyId,
        publicKey,
        privateKey,
        clientId: CLIENT_ID,
      });
      const additions = await client.listAdditions(Number(agreementId), { orderBy: "id asc" });
      const add = additions.find((a) => a.description === PREMIUM_ADD)!;
      await client.patchAddition(Number(agreementId), add.id, [
        { op: "replace", path: "unitPrice", value: 250 },
      ]);
      const exo = additions.find((a) => a.description?.startsWith("Exchange Online (Plan 1): 3 seats"))!;
      await client.deleteAddition(Number(agreementId), exo.id);
      await client.createAddition(Number(agreementId), {
        product: { identifier: "M365-PREM-ANNUAL" },
        billCustomer: "Billable",
        quantity: "2",
        unitPrice: "20",
        unitCost: "10",
        effectiveDate: "2024-06-20",
        description: '=HYPERLINK("http://x") added by hand',
      });
    });
    after(async () => {
      await cleanup();
      await emulator.close();
    });

    let june: ReconciliationReport;

    it("June: every figure and every reason, with the PSA read back", async () => {
      const service = new ReportsService({
        store: app.store,
        organizationId: app.organizationId,
        adapterFor: app.adapterFor,
      });
      june = await service.reconciliation({ invoice: "G-JUN" });
      const lines = june.lines.map((l) => [
        l.customerName,
        l.motion,
        l.kind,
        l.cost,
        l.billedCost,
        l.billedPrice,
        l.margin,
        l.notBilled,
        l.status,
      ]);
      assert.deepEqual(
        lines.sort((a, b) => String(a).localeCompare(String(b))),
        [
          [
            CONTOSO.name,
            "seat-annual",
            "cancellation",
            "-142.83",
            "-142.83",
            "-171.4",
            "-28.57",
            "0",
            "written",
          ],
          [CONTOSO.name, "seat-annual", "purchase", "1200", null, null, null, "1200", "before-sync-date"],
          [CONTOSO.name, "seat-annual", "purchase", "144", null, null, null, "144", "deleted-in-psa"],
          [CONTOSO.name, "seat-annual", "seat-change", "453.7", "453.7", "500", "46.3", "0", "written"],
          [CONTOSO.name, "seat-monthly", "purchase", "125", null, null, null, "125", "entry-disabled"],
          [FABRIKAM.name, "seat-monthly", "purchase", "50", null, null, null, "50", "not-mapped"],
        ].sort((a, b) => String(a).localeCompare(String(b))),
      );
      const byKind = new Map(
        june.lines.filter((l) => l.motion === "seat-annual").map((l) => [l.kind + l.cost, l]),
      );
      assert.equal(
        byKind.get("purchase1200")!.reason,
        "charge date 2024-06-05 is before the entry's sync date 2024-06-08",
      );
      assert.match(byKind.get("purchase144")!.reason, /then deleted in the PSA by hand/);
      assert.deepEqual(byKind.get("seat-change453.7")!.differences, [
        'sell price set by the price rule "Premium at 300" (fixed price 300)',
        "edited in the PSA by hand: unit price 283.5616 → 250",
      ]);
      assert.equal(
        june.lines.find((l) => l.status === "entry-disabled")!.reason,
        "the seat-monthly entry is mapped but turned off",
      );
      assert.equal(
        june.lines.find((l) => l.status === "not-mapped")!.reason,
        "customer not mapped for seat-monthly on CW",
      );

      assert.deepEqual(june.totals, [
        {
          currency: "USD",
          cost: "1829.87",
          billedCost: "310.87",
          billed: "328.6",
          margin: "17.73",
          marginPercent: "5.4",
          notBilled: "1519",
          lines: 6,
          unpricedLines: 0,
          byStatus: {
            "before-sync-date": 1,
            written: 2,
            "deleted-in-psa": 1,
            "entry-disabled": 1,
            "not-mapped": 1,
          },
        },
      ]);
      const annual = june.groups.find(
        (g) => g.customerTenantId === CONTOSO.id && g.motion === "seat-annual",
      )!;
      assert.deepEqual(
        [annual.cost, annual.billed, annual.margin, annual.notBilled],
        ["1654.87", "328.6", "17.73", "1344"],
      );
      assert.deepEqual(
        june.customers.map((c) => [c.customerName, c.cost, c.notBilled]),
        [
          [CONTOSO.name, "1779.87", "1469"],
          [FABRIKAM.name, "50", "50"],
        ],
      );
      assert.deepEqual(
        june.products.map((p) => [p.productName, p.cost, p.billed, p.margin]),
        [
          ["Microsoft 365 Business Premium", "1653.7", "500", "46.3"],
          ["Microsoft 365 Business Standard", "175", "0", "0"],
          ["Exchange Online (Plan 1)", "1.17", "-171.4", "-28.57"],
        ],
      );
      assert.deepEqual(june.drift.map((d) => [d.kind, d.detail]).sort(), [
        ["deleted", "cspsync wrote it; it is no longer on the agreement/contract"],
        ["edited", "unit price 283.5616 → 250"],
        [
          "not-written-by-cspsync",
          "bills M365-PREM-ANNUAL like a record cspsync wrote (2 × 20): billed twice?",
        ],
      ]);
      assert.deepEqual(june.readBack, { done: true, agreements: 1, errors: [] });
    });

    it("July: the held line, the unmapped customer, and the month-over-month figures", async () => {
      const service = new ReportsService({
        store: app.store,
        organizationId: app.organizationId,
        adapterFor: app.adapterFor,
      });
      const july = await service.reconciliation({ invoice: "G-JUL", connectionId: "CW" });
      const held = july.lines.find((l) => l.subscriptionId === SUB.p3y)!;
      assert.deepEqual(
        [held.status, held.reason, held.notBilled],
        ["held", "sells below cost: held for approval", "1680"],
      );
      assert.deepEqual(
        july.totals.map((t) => [t.cost, t.billed, t.notBilled]),
        [["1855", "0", "1855"]],
      );
      const trend = await service.trend();
      assert.deepEqual(
        trend.map((p) => [p.invoiceNumber, p.period, p.cost, p.billed, p.margin, p.notBilled]),
        [
          // Without read-back the Exchange purchase counts as written (its deletion is only seen in the PSA).
          ["G-JUN", "2024-06", "1829.87", "568.52", "113.65", "1375"],
          ["G-JUL", "2024-07", "1855", "0", "0", "1855"],
        ],
      );
      await assert.rejects(service.reconciliation({ invoice: "G-NONE" }), { kind: "not_found" });
    });

    it("exports CSV and XLSX that read back with their libraries, formula-safe", async () => {
      const csv = parse(reportCsv(june)) as string[][];
      assert.equal(csv[0]![0], "Customer");
      assert.equal(csv.length, 7);
      const cancel = csv.find((row) => row[5] === "cancellation")!;
      assert.equal(cancel[10], "'-142.83"); // cost: a leading minus is escaped
      assert.equal(cancel[12], "'-171.4");
      for (const row of csv) for (const cell of row) assert.doesNotMatch(cell, /^[=+\-@]/);

      const book = new ExcelJS.Workbook();
      await book.xlsx.load((await reportXlsx(june)) as unknown as ExcelJS.Buffer);
      assert.deepEqual(
        book.worksheets.map((w) => w.name),
        ["Summary", "Customers", "Products", "Lines", "Drift"],
      );
      const summary = book.getWorksheet("Summary")!.getRow(2).values as unknown[];
      assert.deepEqual(summary.slice(1), ["G-JUN", "USD", 1829.87, 310.87, 328.6, 17.73, 5.4, 1519, 6]);
      const drift = book.getWorksheet("Drift")!;
      const texts: string[] = [];
      drift.eachRow((row) => row.eachCell((cell) => texts.push(String(cell.value))));
      assert.ok(texts.includes('\'=HYPERLINK("http://x") added by hand'));
      for (const text of texts) assert.doesNotMatch(text, /^[=+\-@]/);
    });
  });
}
