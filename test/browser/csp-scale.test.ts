import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { generateAnnualRecon } from "../../bench/generate-recon.ts";
import type { App } from "../../src/app.ts";
import type { RunningServer } from "../../src/http/server.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";
import { startAutotaskEmulator, type AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { runMotion } from "../../src/services/motion-sync.ts";
import { createTestApp, hostOf } from "../support/app.ts";

/**
 * The Microsoft CSP page with 300 customers: one page of 25 at a time (never one page tens of thousands of
 * pixels tall), page 2, the status filters with their counts (two mapped, one whose sync failed, one with a
 * held line, the rest unmapped with charges), search, Dry run all naming the unmapped customers and what they
 * would bill; the mapping form's company search starting with the customer's name; and PSA settings picking
 * the Autotask billing code by name. Real Chromium, real server, the Autotask emulator.
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };
const CUSTOMERS = 300;
const PAGE_SIZE = 25;

describe("Microsoft CSP page at 300 customers, and PSA pickers (Chromium, Autotask)", () => {
  let emulator: AutotaskEmulator;
  let app: App;
  let cleanup: () => Promise<void>;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  let dataDir: string;
  let connectionId: string;
  let tenants: string[];
  const consoleErrors: string[] = [];

  const customerSections = () => page.locator("section.customer");
  const filter = (key: string) => page.locator(`.filter-bar button[data-filter="${key}"]`);

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-scale-"));
    emulator = await startAutotaskEmulator({ seed: "demo" });
    ({ app, cleanup } = await createTestApp("sqlite", [hostOf(emulator.url)]));
    const file = path.join(dataDir, "annual-300.csv");
    tenants = await generateAnnualRecon(file, CUSTOMERS, 1);
    const imported = await importReconFile(app.store, file);
    assert.equal(imported.status, "imported");
    const user = emulator.users[0]!;
    const connection = await app.connections.create({
      vendor: "autotask",
      name: "AT",
      config: { username: user.userName, discoveryUrl: emulator.apiBaseUrl },
      secrets: { secret: user.secret, integrationCode: user.integrationCode },
    });
    connectionId = connection.id;
    await app.connections.update(connectionId, { seatAnnualEnabled: true });
    const adapter = await app.adapterFor(connectionId);
    const [company] = await adapter.searchCompanies("Harborview");
    const contract = (await adapter.listAgreements(company!.id)).find((c) => c.validFor["seat-annual"].ok)!;
    // Customers 1 and 2 mapped; customer 2's sync fails (the PSA drops every connection); customer 3 has a
    // line held for approval.
    for (const tenant of tenants.slice(0, 2))
      await app.mappings.save(
        connectionId,
        tenant,
        "seat-annual",
        { psaCompanyId: company!.id, agreementId: contract.id },
        adapter,
      );
    emulator.server.addFaults({ kind: "drop-connection" });
    const failed = await runMotion(app, "seat-annual", connectionId, "manual", {
      customerTenantId: tenants[1]!,
    });
    emulator.server.clearFaults();
    assert.equal(failed.status, "error");
    await app.store.db
      .insertInto("price_holds")
      .values({
        connection_id: connectionId,
        write_key: "cspsync-cccccccccccccccccccccccc",
        organization_id: app.organizationId,
        customer_tenant_id: tenants[2]!,
        motion: "seat-annual",
        event_key: "line:held",
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
    walk = await openWebWalk(app, { consoleErrors });
    ({ server, page } = walk);
  });

  after(async () => {
    await walk?.close();
    await cleanup?.();
    await emulator?.close();
    for (const dir of [dataDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("signs in and shows one page of 25 of the 300 customers", async () => {
    await page.goto(server.url);
    await page.getByRole("heading", { level: 1, name: /create the admin account/ }).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await page.goto(`${server.url}/psa/${connectionId}/csp`);
    await page.getByRole("heading", { level: 1, name: "AT — Microsoft CSP" }).waitFor();
    await page.getByText(/^1–25 of 300 customers$/).waitFor();
    assert.equal(await customerSections().count(), PAGE_SIZE);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    assert.ok(height < 20_000, `one page of customers, not ${height} px`);
    assert.match(await filter("all").innerText(), /All\s*\(300\)/);
    assert.match(await filter("mapped").innerText(), /Mapped\s*\(2\)/);
    assert.match(await filter("error").innerText(), /Error\s*\(1\)/);
    assert.match(await filter("held").innerText(), /Held\s*\(1\)/);
    assert.match(await filter("unmapped").innerText(), /Unmapped with charges\s*\(298\)/);
  });

  it("goes to page 2 and back, with the page in the URL", async () => {
    const firstOnPage1 = await customerSections().first().locator("h2").innerText();
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByText(/^26–50 of 300 customers$/).waitFor();
    assert.match(page.url(), /[?&]page=2\b/);
    assert.equal(await customerSections().count(), PAGE_SIZE);
    assert.notEqual(await customerSections().first().locator("h2").innerText(), firstOnPage1);
    await page.reload();
    await page.getByText(/^26–50 of 300 customers$/).waitFor();
    await page.goBack();
    await page.getByText(/^1–25 of 300 customers$/).waitFor();
  });

  it("each status filter shows its customers, and the unmapped ones say what they would bill", async () => {
    await filter("mapped").click();
    await page.getByText(/^1–2 of 2 customers \(mapped\)$/).waitFor();
    assert.match(page.url(), /status=mapped/);
    assert.deepEqual((await customerSections().locator("h2").allInnerTexts()).sort(), [
      "Annual Customer 1",
      "Annual Customer 2",
    ]);
    await filter("error").click();
    await page.getByText(/^1–1 of 1 customer \(error\)$/).waitFor();
    assert.deepEqual(await customerSections().locator("h2").allInnerTexts(), ["Annual Customer 2"]);
    assert.match(await customerSections().first().innerText(), /Error/);

    await filter("held").click();
    await page.getByText(/^1–1 of 1 customer \(held\)$/).waitFor();
    const held = customerSections().first();
    assert.equal(await held.locator("h2").innerText(), "Annual Customer 3");
    await held.getByText("1 line held for approval").waitFor();
    await held.getByRole("button", { name: "Show held lines" }).click();
    const heldRow = held.locator('tr[data-write-key="cspsync-cccccccccccccccccccccccc"]');
    await heldRow.waitFor();
    assert.match(await heldRow.innerText(), /Exchange Online \(Plan 1\): 3 seats[\s\S]*48\.00[\s\S]*10\.00/);
    await heldRow.getByRole("button", { name: /^Approve / }).click();
    // Approved, the line is no longer held: the customer leaves the Held filter.
    await page.getByText("No held customers.").waitFor();
    assert.match(await filter("held").innerText(), /Held\s*\(0\)/);

    await filter("unmapped").click();
    await page.getByText(/^1–25 of 298 customers \(unmapped with charges\)$/).waitFor();
    assert.equal(await customerSections().count(), PAGE_SIZE);
    const names = await customerSections().locator("h2").allInnerTexts();
    assert.ok(!names.includes("Annual Customer 1") && !names.includes("Annual Customer 2"));
    assert.match(
      await customerSections().first().locator(".unmapped-note").innerText(),
      /Charges not mapped\s+Seat-based Annual: 1 charge, \$[\d,]+\.\d\d/,
    );
  });

  it("search narrows the filtered list, and clearing the filter shows all matches", async () => {
    await page.getByLabel("Search customers by name").fill("Annual Customer 29");
    await page
      .getByText(/of 11 customers \(unmapped with charges\) matching “Annual Customer 29”$/)
      .waitFor();
    assert.match(page.url(), /q=Annual/);
    await filter("all").click();
    await page.getByText(/of 11 customers matching “Annual Customer 29”$/).waitFor();
    assert.match(await filter("mapped").innerText(), /Mapped\s*\(0\)/);
    await page.getByLabel("Search customers by name").fill("");
    await page.getByText(/^1–25 of 300 customers$/).waitFor();
  });

  it("Dry run all names the customers with charges that are not mapped and what they would bill", async () => {
    await page.getByRole("button", { name: "Dry run all customers" }).click();
    const unmapped = page.locator("section.unmapped-charges");
    await unmapped.waitFor();
    assert.match(await unmapped.locator("h3").innerText(), /298 customers have charges no sync writes/);
    assert.equal(await unmapped.locator("tbody tr").count(), 298);
    const row = unmapped.locator(`tr[data-tenant="${tenants[3]}"]`);
    assert.match(await row.innerText(), /Annual Customer 4\s+Seat-based Annual\s+1\s+\$[\d,]+\.\d\d/);
    assert.equal(await unmapped.locator(`tr[data-tenant="${tenants[0]}"]`).count(), 0, "mapped: not listed");
    const focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
    assert.match(focused, /^Dry run of every customer of AT/, "focus moves to the answer");
  });

  it("the mapping form's company search starts with the customer's name, and has focus", async () => {
    await page.getByLabel("Search customers by name").fill("Annual Customer 4");
    await page.getByText(/of 11 customers matching “Annual Customer 4”$/).waitFor();
    await page
      .getByRole("button", { name: "Edit Seat-based Annual for Annual Customer 4", exact: true })
      .click();
    const dialog = page.getByRole("dialog", { name: /Seat-based Annual — Annual Customer 4/ });
    await dialog.waitFor();
    const search = dialog.getByLabel("Search company by name");
    assert.equal(await search.inputValue(), "Annual Customer 4");
    await page.waitForFunction(() => document.activeElement?.id === "company-search");
    // In a filled search box Chromium's first Escape clears the box; the next closes the dialog.
    await page.keyboard.press("Escape");
    if (await dialog.isVisible()) await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.match(
      await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? ""),
      /^Edit Seat-based Annual for Annual Customer 4$/,
      "focus returns to the pencil that opened it",
    );
  });

  it("PSA settings: the Autotask billing code is chosen by name and saved by id", async () => {
    await page.goto(`${server.url}/psa/${connectionId}/settings`);
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    await page.getByLabel("Filter billing codes by name").fill("Software");
    const select = page.locator("select#charge-billing-code");
    const option = select.locator("option", { hasText: /^Software Licences \(\d+\)/ });
    await option.waitFor({ state: "attached" });
    const label = await option.innerText();
    const id = /\((\d+)\)/.exec(label)![1]!;
    await select.selectOption(id);
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Settings saved.").waitFor();
    const stored = await app.connections.view(connectionId);
    assert.equal(String(stored.settings.chargeBillingCodeId), id);
    await page.reload();
    await page.getByTestId("charge-billing-code-stored").waitFor();
    assert.equal(await page.getByTestId("charge-billing-code-stored").innerText(), id);
    // Once the PSA's list has loaded, the stored id shows as its name.
    await select
      .locator("option:checked", { hasText: /^Software Licences \(\d+\)/ })
      .waitFor({ state: "attached" });
    assert.deepEqual(consoleErrors, []);
  });
});
