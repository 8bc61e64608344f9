import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import ExcelJS from "exceljs";
import { parse } from "csv-parse/sync";
import type { App } from "../../src/app.ts";
import { PassThrough } from "node:stream";
import {
  ReportsService,
  sourceOf,
  writeReportCsv,
  writeReportJson,
  writeReportXlsx,
  type ReportSource,
} from "../../src/services/reports.ts";
import type { ReconciliationReport } from "../../src/core/reconciliation-report.ts";
import { reportScenario, type ReportScenario } from "../support/report-setup.ts";
import { DIALECTS } from "../support/stores.ts";
import { CONTOSO, FABRIKAM, SUB } from "./fixture.ts";

/** What an export writer writes, collected. */
async function exported(
  write: (source: ReportSource, out: PassThrough) => Promise<void>,
  source: ReportSource,
): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => out.on("end", resolve));
  await write(source, out);
  await ended;
  return Buffer.concat(chunks);
}

for (const dialect of DIALECTS) {
  describe(`reconciliation and margin report against ConnectWise (docs/reports.md §1, §3, ${dialect})`, () => {
    let s: ReportScenario;
    let app: App;

    before(async () => {
      s = await reportScenario(dialect);
      app = s.app;
      assert.equal(s.syncErrors, 0);
    });
    after(async () => {
      await s?.cleanup();
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

    it("the summary has no lines; pages of lines filter and count; streamed exports hold every line", async () => {
      const service = new ReportsService({
        store: app.store,
        organizationId: app.organizationId,
        adapterFor: app.adapterFor,
      });
      const summary = await service.summary({ invoice: "G-JUN" });
      assert.equal("lines" in summary, false);
      const { lines: _lines, ...juneSummary } = june;
      assert.deepEqual(summary, juneSummary);

      const contoso = june.lines.filter((l) => l.customerTenantId === CONTOSO.id);
      assert.equal(contoso.length, 5);
      const page = await service.lines({ invoice: "G-JUN", customer: CONTOSO.id }, {}, 1, 2);
      assert.deepEqual(
        { ...page, lines: page.lines.map((l) => l.eventKey) },
        { total: 5, offset: 1, limit: 2, lines: contoso.slice(1, 3).map((l) => l.eventKey) },
      );
      assert.deepEqual(page.lines, contoso.slice(1, 3));
      const deleted = await service.lines(
        { invoice: "G-JUN", customer: CONTOSO.id },
        { status: "deleted-in-psa", motion: "seat-annual" },
        0,
        10,
      );
      assert.deepEqual(
        [deleted.total, deleted.lines.map((l) => [l.cost, l.status])],
        [1, [["144", "deleted-in-psa"]]],
      );
      const everyone = await service.lines({ invoice: "G-JUN" }, { motion: "seat-monthly" }, 0, 1);
      assert.deepEqual([everyone.total, everyone.lines.length], [2, 1]);

      const json = JSON.parse(
        (await exported(writeReportJson, (await service.open({ invoice: "G-JUN" })).source)).toString(),
      ) as typeof june;
      assert.deepEqual(json, june);
      const book = new ExcelJS.Workbook();
      await book.xlsx.load(
        (await exported(
          writeReportXlsx,
          (await service.open({ invoice: "G-JUN" })).source,
        )) as unknown as ExcelJS.Buffer,
      );
      assert.deepEqual(
        book.worksheets.map((w) => [w.name, w.rowCount]),
        [
          ["Summary", 2],
          ["Customers", 4],
          ["Products", 4],
          ["Lines", 7],
          ["Drift", 4],
        ],
      );
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
      const csv = parse(await exported(writeReportCsv, sourceOf(june))) as string[][];
      assert.equal(csv[0]![0], "Customer");
      assert.equal(csv.length, 7);
      const cancel = csv.find((row) => row[5] === "cancellation")!;
      assert.equal(cancel[10], "'-142.83"); // cost: a leading minus is escaped
      assert.equal(cancel[12], "'-171.4");
      for (const row of csv) for (const cell of row) assert.doesNotMatch(cell, /^[=+\-@]/);

      const book = new ExcelJS.Workbook();
      await book.xlsx.load((await exported(writeReportXlsx, sourceOf(june))) as unknown as ExcelJS.Buffer);
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
