import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import nodeIcal from "node-ical";
import type { Page } from "playwright-core";
import type { RunningServer } from "../../src/http/server.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { baseRow, CONTOSO, writeCsv } from "../support/recon-builder.ts";
import { reportScenario, type ReportScenario } from "../support/report-setup.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";

/**
 * The Reports and Renewals pages (docs/reports.md): the June invoice's reconciliation report with the PSA
 * read back (test/support/report-setup.ts: a held line, an unmapped customer, a price rule, edits by hand in
 * ConnectWise), drilled into Contoso down to its lines and the PSA records changed by hand, its charts and
 * exports; then Renewals with a monthly subscription bought five days ago (its renewal is 25 days ahead and
 * its change window still open, whatever the date the test runs), and the calendar feed's address.
 * Real Chromium, real server, the ConnectWise emulator; SQLite (the report's figures are asserted on both
 * databases in test/reports/).
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };
const RECENT_SUB = "11111111-0000-4000-8000-000000000009";

function usDate(date: Date): string {
  return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()}`;
}

/** An invoice with a Business Standard P1M purchase of 10 seats five days ago (UTC). */
async function importRecentPurchase(s: ReportScenario): Promise<void> {
  const day = 86_400_000;
  const start = new Date(Math.floor(Date.now() / day) * day - 5 * day);
  const end = new Date(start.getTime() + 29 * day);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-renewals-"));
  try {
    const file = writeCsv(path.join(dir, "recent.csv"), [
      baseRow({
        InvoiceNumber: "G-NOW",
        SubscriptionId: RECENT_SUB,
        OrderDate: usDate(start),
        ChargeStartDate: usDate(start),
        ChargeEndDate: usDate(end),
        SubscriptionStartDate: usDate(start),
        SubscriptionEndDate: usDate(end),
        PCToBCExchangeRateDate: usDate(start),
      }),
    ]);
    const summary = await importReconFile(s.app.store, file);
    assert.equal(summary.problem ?? null, null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("Reports and Renewals pages (Chromium, ConnectWise)", () => {
  let s: ReportScenario;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    s = await reportScenario("sqlite");
    assert.equal(s.syncErrors, 0);
    await importRecentPurchase(s);
    walk = await openWebWalk(s.app, { consoleErrors });
    ({ server, page } = walk);
  });

  after(async () => {
    await walk?.close();
    await s?.cleanup();
  });

  const stat = (label: string) =>
    page
      .getByRole("group", { name: "Totals in USD" })
      .locator(".stat")
      .filter({ has: page.locator(".stat-label", { hasText: new RegExp(`^${label}$`) }) })
      .locator(".stat-value");

  it("signs in, opens Reports from the menu, picks June and sees its summary figures", async () => {
    await page.goto(server.url);
    await page.getByRole("heading", { level: 1, name: /create the admin account/ }).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Reports" }).click();
    await page.getByRole("heading", { level: 1, name: "Reports" }).waitFor();
    // The most recent invoice is shown first; June is picked.
    await page.getByRole("heading", { level: 2, name: "Invoice G-NOW — CW" }).waitFor();
    await page.getByLabel("Invoice", { exact: true }).selectOption("G-JUN");
    await page.getByRole("heading", { level: 2, name: "Invoice G-JUN — CW" }).waitFor();
    await page.getByText("The PSA was read back (1 agreement/contract).").waitFor();

    assert.equal(await stat("Cost").innerText(), "$1,829.87");
    assert.equal(await stat("Billed").innerText(), "$328.60");
    assert.equal(await stat("Margin").innerText(), "$17.73");
    assert.equal(await stat("Margin %").innerText(), "5.4 %");
    assert.equal(await stat("Not billed \\(leakage\\)").innerText(), "$1,519.00");

    const customers = page.getByRole("table", { name: "Customers", exact: true });
    const contoso = customers.getByRole("row").filter({ hasText: CONTOSO.name });
    assert.deepEqual((await contoso.getByRole("cell").allInnerTexts()).slice(0, 6), [
      CONTOSO.name,
      "$1,779.87",
      "$328.60",
      "$17.73",
      "5.4 %",
      "$1,469.00",
    ]);
    const products = page.getByRole("table", { name: "Products", exact: true }).getByRole("row");
    assert.deepEqual((await products.nth(1).getByRole("cell").allInnerTexts()).slice(0, 4), [
      "Microsoft 365 Business Premium",
      "$1,653.70",
      "$500.00",
      "$46.30",
    ]);
  });

  it("draws the margin per customer: one bar per customer, named, and the month-over-month chart", async () => {
    const chart = page.locator('[data-chart="margin-per-customer"]');
    await chart.getByRole("heading", { name: "Margin per customer (USD)" }).waitFor();
    const svg = chart.locator("svg.recharts-surface");
    assert.equal(await svg.locator("title").textContent(), "Margin per customer (USD)");
    assert.match(String(await svg.locator("desc").textContent()), /Contoso Dental, LLC: \$17\.73/);
    assert.equal(await svg.locator(".recharts-bar-rectangle path").count(), 2);
    // A long name wraps into several <tspan> lines: read them as one label.
    const ticks = await svg
      .locator(".recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value")
      .evaluateAll((texts) =>
        texts.map((t) => [...t.querySelectorAll("tspan")].map((line) => line.textContent).join(" ")),
      );
    assert.deepEqual(ticks, [CONTOSO.name, 'Fabrikam "Northwind" Logistics']);

    const trend = page.locator('[data-chart="month-over-month"]');
    await trend.getByRole("heading", { name: "Cost, billed and margin month over month (USD)" }).waitFor();
    assert.equal(await trend.locator("svg.recharts-surface .recharts-line").count(), 3);
    const june = trend
      .getByRole("table", { name: "Month over month" })
      .getByRole("row")
      .filter({ hasText: "G-JUN" });
    assert.deepEqual(await june.getByRole("cell").allInnerTexts(), [
      "G-JUN",
      "2024-06",
      "$1,829.87",
      "$568.52",
      "$113.65",
      "$1,375.00",
    ]);
  });

  it("drills into Contoso: its lines with status and reason, and the PSA records changed by hand", async () => {
    await page
      .getByRole("table", { name: "Customers", exact: true })
      .getByRole("button", { name: CONTOSO.name })
      .click();
    await page.getByRole("heading", { level: 2, name: CONTOSO.name }).waitFor();
    // The lines are fetched for the customer (GET /api/reports/reconciliation/lines), not part of the report.
    const lines = page.getByRole("table", { name: `Lines of ${CONTOSO.name}` }).getByRole("row");
    await lines.nth(5).waitFor();
    assert.equal(await lines.count(), 1 + 5);
    const before = lines.filter({ hasText: "Before the sync date" });
    assert.match(
      await before.innerText(),
      /\$1,200\.00[\s\S]*charge date 2024-06-05 is before the entry's sync date 2024-06-08/,
    );
    const seatAdd = lines.filter({ hasText: "seat-change" });
    assert.match(await seatAdd.innerText(), /\$453\.70\s+\$500\.00\s+\$46\.30/);
    await seatAdd.getByText("edited in the PSA by hand: unit price 283.5616 → 250").waitFor();
    await seatAdd.getByText('sell price set by the price rule "Premium at 300" (fixed price 300)').waitFor();
    assert.match(
      await lines.filter({ hasText: "Deleted in the PSA" }).innerText(),
      /then deleted in the PSA by hand/,
    );
    assert.match(
      await lines.filter({ hasText: "Entry turned off" }).innerText(),
      /seat-monthly entry is mapped/,
    );

    const drift = page.getByRole("table", { name: "PSA records changed by hand" }).getByRole("row");
    const kinds = (await drift.allInnerTexts()).slice(1).map((row) => row.split("\t")[0]);
    assert.deepEqual(kinds.sort(), [
      "Added by hand (not written by cspsync)",
      "Deleted by hand",
      "Edited by hand",
    ]);
    assert.match(await drift.filter({ hasText: "Edited by hand" }).innerText(), /unit price 283\.5616 → 250/);

    const answered = page.waitForResponse(
      (r) =>
        r.url().includes("/api/reports/reconciliation/lines?") && r.url().includes("status=deleted-in-psa"),
    );
    await page.getByLabel("Status / reason").selectOption("deleted-in-psa");
    await answered;
    await lines.filter({ hasText: "Deleted in the PSA" }).waitFor();
    assert.equal(await lines.count(), 2);
  });

  it("exports the report: the CSV link downloads June's lines", async () => {
    const href = await page.getByRole("link", { name: "Export CSV" }).getAttribute("href");
    assert.match(String(href), /invoice=G-JUN.*format=csv/);
    const csv = await page.request.get(new URL(String(href), server.url).toString());
    assert.equal(csv.status(), 200);
    const rows = (await csv.text()).trim().split("\n");
    assert.equal(rows.length, 7);
    assert.match(rows[0]!, /^Customer,Tenant,Motion/);
  });

  it("opens Renewals: the monthly subscription renews within 30 days, its window closes soon, a feed address", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Renewals" }).click();
    await page.getByRole("heading", { level: 1, name: "Renewals" }).waitFor();
    await page.getByRole("button", { name: "Next 30 days" }).click();
    await page.getByRole("heading", { level: 2, name: "Renewing in the next 30 days" }).waitFor();
    const row = page.getByRole("table", { name: "Subscriptions renewing" }).getByRole("row").filter({
      hasText: "Microsoft 365 Business Standard",
    });
    const cells = await row.getByRole("cell").allInnerTexts();
    assert.deepEqual(cells.slice(1), [
      CONTOSO.name,
      "Microsoft 365 Business Standard",
      "Monthly (P1M)",
      "Monthly",
      "10",
      "$12.50",
      "$125.00",
      "Unknown",
    ]);
    const window = page
      .getByRole("table", { name: "Change windows closing soon" })
      .getByRole("row")
      .filter({ hasText: "Microsoft 365 Business Standard" });
    assert.match(await window.innerText(), /Contoso Dental, LLC[\s\S]*the purchase/);
    assert.match(
      String(await page.getByRole("link", { name: "Export CSV" }).getAttribute("href")),
      /\/api\/renewals\/export\?days=30$/,
    );

    const feedStatus = page.getByTestId("feed-status");
    assert.equal(await feedStatus.innerText(), "No calendar feed address has been made yet.");
    await page.getByRole("button", { name: "Make a new calendar address" }).click();
    const address = await page.getByLabel("Calendar address").inputValue();
    await feedStatus
      .getByText(/^A calendar feed address was made on .+; making a new one retires it\./)
      .waitFor();
    assert.match(address, new RegExp(`^${server.url}/api/renewals/feed/csf_[A-Za-z0-9_-]{32}\\.ics$`));
    const feed = await page.request.get(address);
    assert.equal(feed.status(), 200);
    const events = Object.values(nodeIcal.sync.parseICS(await feed.text())).filter(
      (c) => c?.type === "VEVENT",
    );
    const titles = events.map((e) => String((e as { summary?: unknown }).summary));
    assert.ok(
      titles.includes(`Renewal: ${CONTOSO.name} — Microsoft 365 Business Standard (10 seats)`),
      titles.join("; "),
    );
    assert.ok(titles.includes(`Change window closes: ${CONTOSO.name} — Microsoft 365 Business Standard`));
    assert.deepEqual(consoleErrors, []);
  });
});
