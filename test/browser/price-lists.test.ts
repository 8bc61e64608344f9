import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { Page } from "playwright-core";
import type { RunningServer } from "../../src/http/server.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";

/**
 * The Pricing page's price lists (docs/price-lists.md): a dry run of the mapped Contoso annual charges sells at
 * cost (the billing data's list price is the partner's), the sample price list is uploaded through the page,
 * and the same dry run then sells at Microsoft's ERP; entries can be searched, and a price rule's product is
 * chosen by name. Real Chromium, real server, the ConnectWise emulator.
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };
const PRICE_LIST = path.resolve(import.meta.dirname, "../../samples/price-list-2024-06.csv");
const PURCHASE = "Microsoft 365 Business Premium: 5 seats, annual term 2024-06-05 to 2025-06-04";

describe("Pricing page: Microsoft price lists change a dry run's prices (Chromium, ConnectWise)", () => {
  let s: MappedConnectWise;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  const consoleErrors: string[] = [];

  const pricesTable = () => page.getByRole("table", { name: "Prices of the next sync" });
  const purchaseRow = () => pricesTable().getByRole("row").filter({ hasText: PURCHASE });

  before(async () => {
    s = await mappedConnectWise("sqlite");
    walk = await openWebWalk(s.app, { consoleErrors });
    ({ server, page } = walk);
  });

  after(async () => {
    await walk?.close();
    await s?.cleanup();
  });

  it("signs in, opens Pricing, and the dry run sells the annual purchase at cost, flagged", async () => {
    await page.goto(server.url);
    await page.getByRole("heading", { level: 1, name: /create the admin account/ }).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await page.goto(`${server.url}/psa/${s.connectionId}/pricing`);
    await page.getByRole("heading", { level: 1, name: "CW — Pricing" }).waitFor();
    await page.getByText("No price list imported").waitFor();

    await page.getByRole("button", { name: "Check the next sync’s prices" }).click();
    await purchaseRow().waitFor();
    const cells = await purchaseRow().getByRole("cell").allInnerTexts();
    assert.deepEqual(cells.slice(2), ["$264.00", "$264.00", "Billing data list price", "At or below cost"]);
    assert.match(
      await page.getByText(/lines? of \d+ at or below cost/).innerText(),
      /^[1-9]\d* lines? of \d+/,
    );
  });

  it("the Microsoft CSP page's dry run flags the same purchase as sold at or below cost", async () => {
    await page.goto(`${server.url}/psa/${s.connectionId}/csp`);
    await page.getByRole("button", { name: "Dry run all customers" }).click();
    const row = page.getByRole("row").filter({ hasText: PURCHASE }).first();
    await row.waitFor();
    assert.match(await row.innerText(), /At or below cost\s+Billing data list price/);
    await page.goto(`${server.url}/psa/${s.connectionId}/pricing`);
    await page.getByRole("heading", { level: 1, name: "CW — Pricing" }).waitFor();
    await page.getByRole("button", { name: "Check the next sync’s prices" }).click();
    await purchaseRow().waitFor();
  });

  it("uploads the sample price list; the same dry run now sells at the ERP", async () => {
    await page.getByLabel("Price list CSV").setInputFiles(PRICE_LIST);
    await page.getByRole("button", { name: "Upload price list" }).click();
    await page
      .getByText("Imported price-list-2024-06.csv: US USD, 24 prices (24 new, 0 replaced).")
      .waitFor();
    const imported = page.getByRole("table", { name: "Imported price lists" }).getByRole("row").nth(1);
    assert.match(await imported.innerText(), /price-list-2024-06\.csv\s+US\s+USD[\s\S]*24/);
    await page.getByText("The price lists changed since this check; check again.").waitFor();

    await page.getByRole("button", { name: "Check the next sync’s prices" }).click();
    await page
      .getByText("The price lists changed since this check; check again.")
      .waitFor({ state: "detached" });
    await purchaseRow().getByText("Price list (ERP)").waitFor();
    const cells = await purchaseRow().getByRole("cell").allInnerTexts();
    assert.deepEqual(cells.slice(2), ["$264.00", "$330.00", "Price list (ERP)", "Above cost"]);
  });

  it("searches the price list, and a rule's product is chosen by name and listed by name", async () => {
    await page.getByLabel("Find a price").fill("business premium");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const entry = page
      .getByRole("table", { name: "Price list entries" })
      .getByRole("row")
      .filter({ hasText: "P3Y" })
      .filter({ hasText: "Triennial" });
    assert.match(
      await entry.innerText(),
      /Microsoft 365 Business Premium \(CFQ7TTC0LCHC:0002\)[\s\S]*\$792\.00[\s\S]*\$990\.00/,
    );

    await page.getByLabel("Product", { exact: true }).fill("Premium");
    await page
      .getByRole("button", {
        name: "Microsoft 365 Business Premium — Microsoft 365 Business Premium (CFQ7TTC0LCHC:0002)",
      })
      .click();
    assert.equal(await page.getByLabel("Product", { exact: true }).inputValue(), "CFQ7TTC0LCHC:0002");
    await page.getByLabel("Markup %").fill("15");
    await page.getByLabel("Effective from").fill("2024-06-01");
    await page.getByRole("button", { name: "Add rule" }).click();
    await page.getByText(/^Added the rule/).waitFor();
    await page.getByText("Microsoft 365 Business Premium (CFQ7TTC0LCHC:0002)").first().waitFor();
    assert.deepEqual(consoleErrors, []);
  });
});
