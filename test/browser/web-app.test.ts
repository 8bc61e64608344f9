import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import type { App } from "../../src/app.ts";
import type { RunningServer } from "../../src/http/server.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";
import { startAutotaskEmulator, type AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { baseRow, toCsv } from "../support/recon-builder.ts";

/**
 * The whole web app in real Chromium against the real server and both PSA emulators: first-run admin,
 * connect a PSA, turn on Seat-based Annual sync, import the sample, map a customer through the
 * company/agreement search, Sync now, and find the charges in the run detail — for ConnectWise and Autotask;
 * Seat-based Monthly and Azure Plan entries on ConnectWise, dry runs, and the Pricing page (a price rule, a
 * below-cost line held and approved).
 * Any console error fails the test. Screenshots of the main screens go to test-results/screenshots/.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
const SAMPLE = path.join(ROOT, "samples/nce-reconciliation-2024-06.csv");
const SCREENSHOTS = path.join(ROOT, "test-results/screenshots");
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };
const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };
const CW_CLIENT_ID = "00000000-0000-4000-8000-00000000c11e";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
/** Contoso's June monthly seat stretches the catalog can bill before the fallback is set (all but Microsoft 365 E5). */
const MONTHLY_WRITTEN = 5;

describe("web app in Chromium (ConnectWise and Autotask emulators)", () => {
  let connectWise: ConnectWiseEmulator;
  let autotask: AutotaskEmulator;
  let app: App;
  let cleanup: () => Promise<void>;
  let server: RunningServer;
  let walk: WebWalk;
  let browser: Browser;
  let scratch: string;
  let page: Page;
  const consoleErrors: string[] = [];

  const watch = (target: Page) => {
    target.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(`${message.text()} (${message.location().url})`);
    });
    target.on("pageerror", (error) => consoleErrors.push(`page error: ${error.message}`));
  };

  /** Saves the page at desktop and phone width. */
  const screenshot = async (name: string, target: Page = page) => {
    await target.screenshot({ path: path.join(SCREENSHOTS, `${name}-1280.png`), fullPage: true });
    await target.setViewportSize(PHONE);
    await target.screenshot({ path: path.join(SCREENSHOTS, `${name}-390.png`), fullPage: true });
    await target.setViewportSize(DESKTOP);
  };

  const heading = (name: string | RegExp) => page.getByRole("heading", { level: 1, name });
  const nav = () => page.getByRole("navigation", { name: "Main" });
  const tabs = () => page.getByRole("navigation", { name: "Microsoft CSP" });

  before(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-web-app-"));

    connectWise = await startConnectWiseEmulator({ seed: "demo" });
    // This MSP's catalog has no Microsoft 365 E5 item yet: the walk shows its line failing on its own until the
    // fallback item is set, and the product sync creating it.
    const catalog = connectWise.data().tables.catalogItems;
    catalog.splice(
      catalog.findIndex((item) => item.identifier === "M365-E5"),
      1,
    );
    autotask = await startAutotaskEmulator({ seed: "demo" });
    // The annual sample has two products no catalog item matches; the fallback item catches them.
    const cw = new ConnectWiseClient({
      siteUrl: connectWise.url,
      ...connectWise.credentials,
      clientId: CW_CLIENT_ID,
    });
    await cw.createCatalogItem({
      identifier: "CSP-LICENSE",
      description: "Microsoft CSP licence",
      customerDescription: "Microsoft CSP licence",
      subcategory: { id: 2 },
      type: { id: 2 },
      productClass: "NonInventory",
    });
    // Azure Plan months are billed as this catalog item.
    await cw.createCatalogItem({
      identifier: "AZURE-PLAN",
      description: "Azure plan",
      customerDescription: "Microsoft Azure plan usage",
      subcategory: { id: 2 },
      type: { id: 2 },
      productClass: "NonInventory",
    });
    ({ app, cleanup } = await createTestApp("sqlite", [hostOf(connectWise.url), hostOf(autotask.url)]));
    walk = await openWebWalk(app, {
      consoleErrors,
      context: { viewport: DESKTOP, locale: "en-US", timezoneId: "UTC" },
    });
    ({ server, browser, page } = walk);
  });

  after(async () => {
    await walk?.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    await cleanup?.();
    await connectWise?.close();
    await autotask?.close();
  });

  /** The additions cspsync wrote on Contoso's recurring agreement in the emulated ConnectWise. */
  const monthlyAdditions = () => {
    const { agreements, additions } = connectWise.data().tables;
    const agreement = agreements.find((a) => a.name === "Microsoft CSP - Contoso Dental Group");
    assert.ok(agreement, "the demo data has Contoso's recurring agreement");
    return additions.filter(
      (a) => a.agreementId === agreement.id && String(a.serialNumber ?? "").startsWith("cspsync-"),
    );
  };

  /** Takes the one console error an expected API refusal leaves (Chromium logs every 4xx resource). */
  const expectConsoleError = (pattern: RegExp) => {
    const index = consoleErrors.findIndex((e) => pattern.test(e));
    assert.ok(index >= 0, `the console shows ${pattern}: ${consoleErrors.join("; ")}`);
    consoleErrors.splice(index, 1);
  };

  const noConsoleErrors = () => assert.deepEqual(consoleErrors, [], "the browser console shows errors");

  it("first start: creates the admin account and lands on an empty dashboard", async () => {
    await page.goto(server.url);
    await heading(/create the admin account/).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await screenshot("01-setup");
    await page.getByRole("button", { name: "Create admin account" }).click();
    await heading("Dashboard").waitFor();
    // Next steps leads with the connection to add; the Sync results card says the same as its empty state.
    const steps = page.getByRole("region", { name: "Next steps" });
    assert.match(
      await steps.locator('[data-step="connect"]').innerText(),
      /No PSA is connected yet\.\s*Add a connection/,
    );
    await page.locator(".empty-title", { hasText: "No PSA is connected yet." }).waitFor();
    await screenshot("02-dashboard-empty");
    noConsoleErrors();
  });

  it("imports the sample with a bad file; each file gets its own result, the bad row its reason", async () => {
    const badFile = path.join(scratch, "bad-unit-price.csv");
    fs.writeFileSync(badFile, toCsv([baseRow(), baseRow({ UnitPrice: "twelve" })]));
    await nav().getByRole("link", { name: "Import", exact: true }).click();
    await heading("Import billing data").waitFor();
    await page.getByLabel("Reconciliation files").setInputFiles([SAMPLE, badFile]);
    await page.getByRole("button", { name: "Upload 2 files" }).click();
    const result = page.getByRole("article", { name: `Result for ${path.basename(SAMPLE)}` });
    await result.getByText("Imported", { exact: true }).waitFor();
    assert.match(await result.innerText(), /26 lines: 26 new, 0 already known · 2 customers/);
    const rejected = page.getByRole("article", { name: "Result for bad-unit-price.csv" });
    await rejected.getByText("Rejected", { exact: true }).waitFor();
    assert.match(await rejected.innerText(), /Row 3, column UnitPrice: "twelve" is not a number/);
    assert.match(await rejected.innerText(), /Nothing of this file was stored/);
    await page.getByRole("table").getByText(path.basename(SAMPLE)).waitFor();
    await screenshot("03-import");
    noConsoleErrors();
  });

  it("connects ConnectWise; the connection test passes and the secret is shown only as set", async () => {
    await nav().getByRole("link", { name: "Connections" }).click();
    await heading("Connections").waitFor();
    await screenshot("04-connections-empty");
    await page.getByRole("button", { name: "Connect ConnectWise" }).click();
    const dialog = page.getByRole("dialog", { name: "Connect ConnectWise" });
    await dialog.getByLabel("Site").fill(connectWise.url);
    await dialog.getByLabel("Company ID").fill(connectWise.credentials.companyId);
    await dialog.getByLabel("Public key").fill(connectWise.credentials.publicKey);
    await dialog.getByLabel("Private key").fill(connectWise.credentials.privateKey);
    await dialog.getByLabel("Client ID").fill(CW_CLIENT_ID);
    await dialog.getByRole("button", { name: "Connect" }).click();
    await dialog.getByText("Connection test passed.").waitFor();
    await dialog.getByRole("button", { name: "Done" }).click();
    const card = page.getByRole("article", { name: "ConnectWise" });
    await card.getByText("Connected", { exact: true }).waitFor();

    await card.getByRole("button", { name: "Edit ConnectWise" }).click();
    const edit = page.getByRole("dialog", { name: "Edit ConnectWise" });
    const privateKey = edit.getByLabel(/Private key/);
    assert.equal(await privateKey.inputValue(), "", "a stored secret is never sent back to the browser");
    await edit.getByText("set", { exact: true }).waitFor();
    await screenshot("05-connection-edit");
    // A mistyped key fails the test and is not saved: the working one stays, unless "Save anyway".
    await privateKey.fill("a-mistyped-private-key");
    await edit.getByRole("button", { name: "Save and test" }).click();
    await edit.getByText(/^Nothing was saved: the connection test with these values failed/).waitFor();
    expectConsoleError(/status of 422 .*\/api\/connections\//);
    await edit.getByRole("button", { name: "Save anyway" }).waitFor();
    await edit.getByRole("button", { name: "Cancel" }).click();
    await card.getByText("Connected", { exact: true }).waitFor();
    assert.ok(!(await page.content()).includes(connectWise.credentials.privateKey));
    noConsoleErrors();
  });

  it("maps Contoso's Seat-based Monthly entry to the recurring agreement, syncs it and shows the written lines", async () => {
    // Before the fallback catalog item is set: Microsoft 365 E5 is not in the demo catalog, so its line fails alone.
    await nav().getByRole("link", { name: "Microsoft CSP — ConnectWise" }).click();
    await heading("ConnectWise — Microsoft CSP").waitFor();
    await page.getByLabel("Search customers by name").fill("contoso");
    await page.getByText("1 customer matching “contoso”").waitFor();
    const customer = page.getByRole("region", { name: "Contoso Dental, LLC" });
    await customer.getByRole("button", { name: "Edit Seat-based Monthly for Contoso Dental, LLC" }).click();
    const dialog = page.getByRole("dialog", { name: "Seat-based Monthly — Contoso Dental, LLC" });
    await dialog.getByLabel("Search company by name").fill("Contoso");
    await dialog.getByRole("radio", { name: "Contoso Dental Group" }).check();
    const annual = dialog.getByRole("radio", {
      name: "Microsoft CSP Annual - Contoso Dental Group",
      exact: true,
    });
    await annual.waitFor();
    assert.equal(await annual.isDisabled(), true, "a One-Time agreement cannot take monthly seats");
    await dialog.getByRole("radio", { name: "Microsoft CSP - Contoso Dental Group", exact: true }).check();
    assert.equal(await dialog.getByLabel("Start from").inputValue(), "most-recent");
    await dialog.getByRole("button", { name: "Sync now" }).click();
    const result = dialog.locator('section.sync-result[data-motion="seat-monthly"]');
    await result.getByText("Seat-based Monthly sync finished:").waitFor({ timeout: 30_000 });
    const text = await result.innerText();
    const written = monthlyAdditions();
    assert.equal(written.length, MONTHLY_WRITTEN, "one addition per written seat stretch");
    assert.match(text, new RegExp(`Error[\\s\\S]*${MONTHLY_WRITTEN}\\s+written[\\s\\S]*1\\s+errors`));
    assert.equal(await result.locator('li[data-outcome="written"]').count(), MONTHLY_WRITTEN);
    assert.match(
      await result.locator('li[data-outcome="written"]').first().innerText(),
      /Written\s+New addition\s+.+, \d+ seats? from 2024-06-\d\d — PSA record \d+/,
    );
    const failed = result.locator('li[data-outcome="error"]');
    assert.match(
      await failed.innerText(),
      /Microsoft 365 E5, 5 seats from 2024-06-18: Could not find source product or multiple matches/,
    );
    await screenshot("06a-connectwise-monthly-synced");
    await dialog.locator(".form-actions").getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "detached" });

    // The dry run now plans only what is still missing: the E5 stretch.
    await customer.getByRole("button", { name: "Dry run Contoso Dental, LLC" }).click();
    const plan = page.locator('section.sync-result[data-motion="seat-monthly"]');
    await plan.getByText("Seat-based Monthly dry run: 1 line would be written").waitFor();
    const planned = await plan.locator("tbody tr").innerText();
    assert.match(planned, /New addition[\s\S]*Microsoft 365 E5, 5 seats from 2024-06-18/);
    assert.match(planned, /from Jun 18, 2024[\s\S]*5[\s\S]*\$28\.50/);
    assert.equal(monthlyAdditions().length, MONTHLY_WRITTEN, "a dry run writes nothing");
    await screenshot("06b-connectwise-monthly-dry-run");

    await nav().getByRole("link", { name: "Sync history" }).click();
    await page.getByRole("table").locator("tbody tr").first().getByRole("link").click();
    await heading("Sync status").waitFor();
    const items = page.getByRole("table").locator("tbody tr");
    await items.nth(MONTHLY_WRITTEN).waitFor();
    assert.equal(await items.count(), MONTHLY_WRITTEN + 1);
    const rows = await items.allInnerTexts();
    assert.ok(
      rows.every((t) => /Seat-based Monthly/.test(t)),
      rows.join("\n"),
    );
    assert.equal(rows.filter((t) => /New addition/.test(t) && /Written/.test(t)).length, MONTHLY_WRITTEN);
    assert.match(rows.find((t) => /Error/.test(t)) ?? "", /Could not find source product/);
    await screenshot("06c-connectwise-monthly-run-detail");
    noConsoleErrors();
  });

  it("turns on Seat-based Annual sync and sets the fallback catalog item in the PSA settings", async () => {
    await nav().getByRole("link", { name: "PSA settings — ConnectWise" }).click();
    await heading("ConnectWise — PSA settings").waitFor();
    await page.getByLabel("Seat-based Annual subscription sync").check();
    await page.getByLabel("Catalog match").selectOption("either");
    await page.getByLabel(/Fallback catalog item/).fill("CSP-LICENSE");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Settings saved.").waitFor();
    await screenshot("06-psa-settings-connectwise");
    const [connection] = await app.connections.list();
    assert.equal(connection?.seatAnnualEnabled, true);
    assert.equal(connection?.settings.fallbackCatalogItem, "CSP-LICENSE");
    noConsoleErrors();
  });

  /** Finds the customer, opens its Seat-based Annual pencil and maps it through the searches. */
  async function mapAnnualEntry(options: {
    connectionName: string;
    companySearch: string;
    companyName: string;
    invalidAgreement: string;
    invalidReason: RegExp;
    agreement: string;
    shotPrefix: string;
  }): Promise<Locator> {
    await nav()
      .getByRole("link", { name: `Microsoft CSP — ${options.connectionName}` })
      .click();
    await heading(`${options.connectionName} — Microsoft CSP`).waitFor();
    await page.getByText("2 customers").waitFor();
    await page.getByLabel("Search customers by name").fill("contoso");
    await page.getByText("1 customer matching “contoso”").waitFor();
    const customer = page.getByRole("region", { name: "Contoso Dental, LLC" });
    const rows = customer.getByRole("row");
    assert.deepEqual(
      (await customer.getByRole("rowheader").allInnerTexts()).map((t) => t.trim()),
      ["Seat-based Monthly", "Azure Plan", "Seat-based Annual"],
    );
    assert.equal(await rows.count(), 4);
    await screenshot(`${options.shotPrefix}-customers`);

    await customer.getByRole("button", { name: "Edit Seat-based Annual for Contoso Dental, LLC" }).click();
    const dialog = page.getByRole("dialog", { name: "Seat-based Annual — Contoso Dental, LLC" });
    await dialog.getByLabel("Search company by name").fill(options.companySearch);
    await dialog.getByRole("radio", { name: options.companyName }).check();
    const invalid = dialog.getByRole("radio", { name: options.invalidAgreement, exact: true });
    await invalid.waitFor();
    assert.equal(await invalid.isDisabled(), true, `${options.invalidAgreement} must be disabled`);
    const invalidOption = dialog.locator(`label[data-agreement="${options.invalidAgreement}"]`);
    assert.match(await invalidOption.innerText(), options.invalidReason);
    await dialog.getByRole("radio", { name: options.agreement, exact: true }).check();
    await screenshot(`${options.shotPrefix}-mapping-form`);
    await dialog.getByRole("button", { name: "Sync now" }).click();
    await dialog.getByText("Sync finished:").waitFor({ timeout: 30_000 });
    return dialog;
  }

  /** Opens the run detail from the sync result and returns the PSA record ids of its items. */
  async function runDetailRecords(dialog: Locator, shotName: string): Promise<string[]> {
    await dialog.getByRole("link", { name: "Open the run details" }).click();
    await heading("Sync status").waitFor();
    const items = page.getByRole("table").locator("tbody tr");
    await items.nth(7).waitFor();
    assert.equal(await items.count(), 8);
    const texts = await items.allInnerTexts();
    assert.ok(
      texts.every((t) => /Contoso Dental, LLC/.test(t) && /Written/.test(t)),
      texts.join("\n"),
    );
    const premium = texts.find((t) => /5 seats, annual term 2024-06-05 to 2025-06-04/.test(t));
    assert.ok(premium, "the Business Premium charge is listed with its description");
    assert.match(premium, /11111111-0000-4000-8000-000000000002/, "next to its subscription");
    assert.match(premium, /\$264\.00/, "money is formatted in the data's currency");
    assert.match(premium, /Jun 5, 2024/, "dates are formatted for the locale");
    await screenshot(shotName);
    return texts.map((t) => /PSA record\s+(\d+)/.exec(t)?.[1] ?? "");
  }

  it("maps Contoso's Seat-based Annual entry to the One-Time agreement, syncs now and shows the charges in the run", async () => {
    const dialog = await mapAnnualEntry({
      connectionName: "ConnectWise",
      companySearch: "Contoso",
      companyName: "Contoso Dental Group",
      invalidAgreement: "Microsoft CSP - Contoso Dental Group",
      invalidReason: /Not available for Seat-based Annual: .*billing cycle is One-Time/,
      agreement: "Microsoft CSP Annual - Contoso Dental Group",
      shotPrefix: "07-connectwise",
    });
    assert.match(await dialog.innerText(), /Success[\s\S]*8\s+written/);
    await screenshot("08-connectwise-sync-result");
    const records = await runDetailRecords(dialog, "09-connectwise-run-detail");
    const additions = connectWise.data().tables.additions;
    for (const id of records)
      assert.ok(
        additions.some((a) => String(a.id) === id),
        `addition ${id} exists in the emulated ConnectWise`,
      );
    noConsoleErrors();
  });

  it("connects Autotask and maps the same customer to a Fixed Price contract; the charges land", async () => {
    await nav().getByRole("link", { name: "Connections" }).click();
    await page.getByRole("button", { name: "Connect Autotask" }).click();
    const connect = page.getByRole("dialog", { name: "Connect Autotask" });
    const user = autotask.users[0]!;
    await connect.getByLabel("API user name").fill(user.userName);
    await connect.getByLabel("Secret").fill(user.secret);
    await connect.getByLabel("Tracking identifier (integration code)").fill(user.integrationCode);
    await connect.getByLabel(/Zone discovery URL/).fill(autotask.apiBaseUrl);
    await connect.getByRole("button", { name: "Connect" }).click();
    await connect.getByText("Connection test passed.").waitFor();
    await connect.getByRole("link", { name: "PSA settings" }).click();

    await heading("Autotask — PSA settings").waitFor();
    const billingCode = autotask.state.list("BillingCodes").find((c) => c.name === "Software Licences");
    assert.ok(billingCode);
    await page.getByLabel("Seat-based Annual subscription sync").check();
    // The billing code is picked by name from the PSA's list; the stored value is its id.
    await page.getByLabel("Filter billing codes by name").fill("Software");
    const codes = page.locator("select#charge-billing-code");
    await codes.locator("option", { hasText: /^Software Licences \(\d+\)/ }).waitFor({ state: "attached" });
    await codes.selectOption(String(billingCode.id));
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Settings saved.").waitFor();
    await screenshot("10-psa-settings-autotask");

    const dialog = await mapAnnualEntry({
      connectionName: "Autotask",
      companySearch: "Harbor",
      companyName: "Harborview Dental Group",
      invalidAgreement: "Managed Services & Microsoft Cloud",
      invalidReason: /Not available for Seat-based Annual: .*annual charges need a Fixed Price contract/,
      agreement: "Microsoft Annual Subscriptions",
      shotPrefix: "11-autotask",
    });
    assert.match(
      await dialog.innerText(),
      /1 inactive or expired contract is not shown/,
      "the expired contract is not offered",
    );
    assert.match(await dialog.innerText(), /Success[\s\S]*8\s+written/);
    const records = await runDetailRecords(dialog, "12-autotask-run-detail");
    for (const id of records) {
      const charge = autotask.state.get("ContractCharges", Number(id));
      assert.ok(charge, `contract charge ${id} exists in the emulated Autotask`);
      assert.equal(String(charge.contractID), "29684001");
    }
    noConsoleErrors();
  });

  it("shows both runs in the sync history and on the dashboard cards", async () => {
    await nav().getByRole("link", { name: "Sync history" }).click();
    await heading("Sync history").waitFor();
    const rows = page.getByRole("table").locator("tbody tr");
    await rows.nth(2).waitFor();
    assert.equal(await rows.count(), 3);
    const texts = await rows.allInnerTexts();
    assert.ok(texts.some((t) => /ConnectWise/.test(t) && /Seat-based Monthly/.test(t) && /Error/.test(t)));
    assert.ok(texts.some((t) => /ConnectWise/.test(t) && /Sync now/.test(t) && /Success/.test(t)));
    assert.ok(texts.some((t) => /Autotask/.test(t) && /Success/.test(t)));
    await screenshot("13-sync-history");

    await nav().getByRole("link", { name: "Dashboard" }).click();
    // Exact: the Products card beside it is "ConnectWise catalog".
    const card = page.getByRole("article", { name: "ConnectWise", exact: true });
    await card.getByText("Success", { exact: true }).waitFor();
    assert.match(await card.innerText(), /8\s+written/);
    assert.match(await page.locator(".stats").innerText(), /2\s+Customers[\s\S]*1\s+Invoices/);
    await screenshot("14-dashboard");
    noConsoleErrors();
  });

  it("maps Contoso's Azure Plan entry to the recurring agreement and syncs that entry from its row", async () => {
    await nav().getByRole("link", { name: "Microsoft CSP — ConnectWise" }).click();
    await heading("ConnectWise — Microsoft CSP").waitFor();
    await page.getByLabel("Search customers by name").fill("contoso");
    const customer = page.getByRole("region", { name: "Contoso Dental, LLC" });
    await customer.getByRole("button", { name: "Edit Azure Plan for Contoso Dental, LLC" }).click();
    const dialog = page.getByRole("dialog", { name: "Azure Plan — Contoso Dental, LLC" });
    await dialog.getByLabel("Search company by name").fill("Contoso");
    await dialog.getByRole("radio", { name: "Contoso Dental Group" }).check();
    const annual = dialog.getByRole("radio", {
      name: "Microsoft CSP Annual - Contoso Dental Group",
      exact: true,
    });
    await annual.waitFor();
    assert.equal(await annual.isDisabled(), true, "a One-Time agreement cannot take Azure Plan months");
    assert.match(
      await dialog.locator('label[data-agreement="Microsoft CSP Annual - Contoso Dental Group"]').innerText(),
      /Not available for Azure Plan: .*monthly charges need a recurring agreement/,
    );
    await dialog.getByRole("radio", { name: "Microsoft CSP - Contoso Dental Group", exact: true }).check();
    // The form checks the draft with the API's own mapping schema (src/core/mapping-input.ts): a mistyped
    // fallback markup is named on its field and nothing is sent.
    const fallback = dialog.getByLabel("Fallback markup % (optional)");
    await fallback.fill("twenty");
    const puts: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => {
      if (r.method() === "PUT" && r.url().includes("/mappings/")) puts.push(r.url());
    };
    page.on("request", onRequest);
    await dialog.getByRole("button", { name: "Save", exact: true }).click();
    await dialog.getByText("Enter the fallback markup as a number, e.g. 20, or leave it empty.").waitFor();
    page.off("request", onRequest);
    assert.equal(await fallback.getAttribute("aria-invalid"), "true");
    assert.deepEqual(puts, [], "nothing was sent");
    await fallback.fill("");
    await dialog.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved Azure Plan for Contoso Dental, LLC.").waitFor();
    const azureRow = customer.locator('tr[data-motion="azure"]');
    // The notice shows as soon as the entry is saved; the list reloads just after it.
    await azureRow.getByText("Microsoft CSP - Contoso Dental Group").waitFor();
    assert.match(
      await azureRow.innerText(),
      /Contoso Dental Group[\s\S]*Microsoft CSP - Contoso Dental Group/,
    );

    await customer
      .getByRole("button", { name: "Sync Azure Plan for Contoso Dental, LLC", exact: true })
      .click();
    const result = page.locator('section.sync-result[data-motion="azure"]');
    await result.getByText("Azure Plan sync finished:").waitFor({ timeout: 30_000 });
    assert.match(await result.innerText(), /Success[\s\S]*1\s+written/);
    assert.match(await result.innerText(), /Azure plan usage June 2024/);
    await azureRow.getByText("Synced", { exact: true }).waitFor();
    await screenshot("13a-connectwise-azure-synced");
    // "Sync all customers" first says how much it would write and waits for a yes; "no" writes nothing.
    const additionsBefore = connectWise.data().tables.additions.length;
    const asked = new Promise<string>((resolve) =>
      page.once("dialog", (dialog) => {
        resolve(dialog.message());
        void dialog.dismiss();
      }),
    );
    await page.getByRole("button", { name: "Sync all customers" }).click();
    assert.match(await asked, /^Sync \d+ customers? now\? \d+ lines? (is|are) written into the PSA\.$/);
    await page.getByRole("button", { name: "Sync all customers" }).waitFor();
    assert.equal(connectWise.data().tables.additions.length, additionsBefore, "declined: nothing written");
    const months = connectWise
      .data()
      .tables.additions.filter((a) => a.description === "Azure plan usage June 2024");
    assert.equal(months.length, 1, "one addition for the month");
    assert.deepEqual([String(months[0]!.unitCost), String(months[0]!.quantity)], ["64.24", "1"]);

    await nav().getByRole("link", { name: "Sync history" }).click();
    const latest = page.getByRole("table").locator("tbody tr").first();
    await latest.getByText("Azure Plan", { exact: true }).waitFor();
    assert.match(await latest.innerText(), /ConnectWise[\s\S]*Sync now[\s\S]*Success/);
    noConsoleErrors();
  });

  it("previews the product catalog sync, syncs it and shows it in the product sync history", async () => {
    await nav().getByRole("link", { name: "Products — ConnectWise" }).click();
    await heading("ConnectWise — Products").waitFor();
    await page.getByText("No product sync has run yet.").waitFor();
    assert.equal(
      await page.getByRole("button", { name: "Preview" }).isDisabled(),
      true,
      "off until a mode is saved",
    );
    await page.getByLabel("Product sync mode").selectOption("all");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Product settings saved.").waitFor();
    await page.getByRole("button", { name: "Preview" }).click();
    const preview = page.getByRole("region", { name: /Preview/ });
    await preview.getByText(/Nothing has been written/).waitFor();
    assert.equal(await preview.locator("tbody tr").count(), 12);
    assert.match(await preview.locator('tr[data-product="CFQ7TTC0LFLZ:0002"]').innerText(), /Create/);
    assert.match(
      await preview.locator('tr[data-product="CFQ7TTC0LDPB:0001"]').innerText(),
      /Link[\s\S]*M365-STD/,
    );
    const before = connectWise.data().tables.catalogItems.length;
    await screenshot("13b-products-preview");

    await page.getByRole("button", { name: "Sync products" }).click();
    const run = page.getByRole("status").filter({ hasText: "Product sync of" });
    await run.getByText("Success", { exact: true }).waitFor({ timeout: 30_000 });
    assert.match(await run.innerText(), /10 written · 2 unchanged · 0 conflicts · 0 failed/);
    assert.equal(connectWise.data().tables.catalogItems.length, before + 5, "five catalog items created");
    const created = connectWise.data().tables.catalogItems.map((i) => String(i.identifier));
    assert.ok(
      created.some((identifier) => identifier.endsWith("CFQ7TTC0LFLZ:0002")),
      `the missing Microsoft 365 E5 item is created: ${created.join(", ")}`,
    );
    const history = page.getByRole("region", { name: "Product sync history" }).locator("tbody tr");
    await history.first().getByText("Success", { exact: true }).waitFor();
    assert.equal(await history.count(), 1);
    assert.match(await history.first().innerText(), /manual[\s\S]*all[\s\S]*10[\s\S]*2[\s\S]*0[\s\S]*0/);
    await screenshot("13c-products-synced");
    noConsoleErrors();
  });

  it("pricing: adds a rule (field errors next to the field), holds a below-cost line and approves it", async () => {
    // July brings a new annual Business Premium purchase for Contoso; the rule below sells it under its cost.
    const july = path.join(scratch, "july.csv");
    fs.writeFileSync(
      july,
      toCsv([
        baseRow({
          InvoiceNumber: "G100000002",
          OrderDate: "7/1/2024",
          ProductId: "CFQ7TTC0LCHC",
          SkuId: "0002",
          SkuName: "Microsoft 365 Business Premium",
          ProductName: "Microsoft 365 Business Premium",
          UnitPrice: "264",
          Quantity: "2",
          Subtotal: "528",
          Total: "528",
          SubscriptionDescription: "Microsoft 365 Business Premium",
          SubscriptionId: "11111111-0000-4000-8000-0000000000f1",
          ChargeStartDate: "7/1/2024",
          ChargeEndDate: "6/30/2025",
          TermAndBillingCycle: "One-Year commitment for yearly billing",
          EffectiveUnitPrice: "264",
          BillableQuantity: "2",
          BillingFrequency: "",
          SubscriptionStartDate: "7/1/2024",
          SubscriptionEndDate: "6/30/2025",
        }),
      ]),
    );
    await nav().getByRole("link", { name: "Import", exact: true }).click();
    await page.getByLabel("Reconciliation files").setInputFiles([july]);
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page
      .getByRole("article", { name: "Result for july.csv" })
      .getByText("Imported", { exact: true })
      .waitFor();

    await nav().getByRole("link", { name: "Pricing — ConnectWise" }).click();
    await heading("ConnectWise — Pricing").waitFor();
    await page.getByText("No price rules yet.").waitFor();
    await page.getByText("No line is waiting for approval.").waitFor();
    const form = page.getByRole("form", { name: "Add a price rule" });
    await form.getByRole("button", { name: "Add rule" }).click();
    assert.match(
      await form.locator("#rule-product-error").innerText(),
      /Enter a product, choose a customer, or both/,
    );
    assert.match(await form.locator("#rule-from-error").innerText(), /Choose the first day the rule applies/);
    // A markup below -100 %: the form checks drafts with the API's own rule schema, so it names the field
    // without sending anything (a 422 would leave a console error, which the test's end refuses).
    await form.getByLabel("Product").fill("CFQ7TTC0LCHC:0002");
    await form.getByLabel("Markup %").fill("-150");
    await form.getByLabel("Effective from").fill("2024-07-01");
    await form.getByRole("button", { name: "Add rule" }).click();
    await form
      .locator("#rule-value-error")
      .getByText(/must not be below -100/)
      .waitFor();
    assert.equal(await form.getByLabel("Markup %").getAttribute("aria-invalid"), "true");

    await form.getByLabel("Customer").selectOption({ label: "Contoso Dental, LLC" });
    await form.getByLabel("Price", { exact: true }).selectOption("fixed");
    await form.getByLabel("Sell price per unit").fill("200");
    await form.getByLabel(/Name/).fill("Premium at 200");
    await form.getByRole("button", { name: "Add rule" }).click();
    await page.getByText("Added the rule Premium at 200.").waitFor();
    const rule = page.locator('tr[data-rule="Premium at 200"]');
    assert.match(
      await rule.innerText(),
      /CFQ7TTC0LCHC:0002[\s\S]*Contoso Dental, LLC[\s\S]*\$200\.00 per unit[\s\S]*From Jul 1, 2024/,
    );
    // The below-cost choice, with the keyboard: the radio group takes the arrow keys.
    await page.getByRole("radio", { name: /^Warn/ }).focus();
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.getByRole("radio", { name: /^Hold for approval/ }).isChecked(), true);
    await page
      .getByRole("form", { name: "When a sell price is below cost" })
      .getByRole("button", { name: "Save" })
      .click();
    await page.getByText("Saved: below-cost lines are held for approval.").waitFor();

    // The next annual sync holds the July purchase instead of writing it.
    const additionsBefore = connectWise.data().tables.additions.length;
    await tabs().getByRole("link", { name: "Customers" }).click();
    await heading("ConnectWise — Microsoft CSP").waitFor();
    await page.getByLabel("Search customers by name").fill("contoso");
    const syncAnnual = page.getByRole("button", {
      name: "Sync Seat-based Annual for Contoso Dental, LLC",
      exact: true,
    });
    const result = page.locator('section.sync-result[data-motion="seat-annual"]');
    await page.getByRole("button", { name: "Dry run Contoso Dental, LLC" }).click();
    await result.getByText("Seat-based Annual dry run: 1 line would be written").waitFor();
    // Annual lines carry no currency: the invoices' one currency is fetched for them.
    await result.locator("tbody tr").getByText("$264.00").waitFor();
    assert.match(
      await result.locator("tbody tr").innerText(),
      /Microsoft 365 Business Premium: 2 seats[\s\S]*\$264\.00[\s\S]*\$200\.00[\s\S]*Priced by rule Premium at 200[\s\S]*Sells below cost: would be held for approval/,
    );
    await syncAnnual.click();
    await result.getByText("Seat-based Annual sync finished:").waitFor({ timeout: 30_000 });
    const held = result.locator('li[data-outcome="held"]');
    assert.match(
      await held.innerText(),
      /Held for approval[\s\S]*Held for approval: sell price 200 is below cost 264 \(priced by rule Premium at 200\); once approved, the next sync writes it[\s\S]*Priced by rule Premium at 200/,
    );
    assert.match(await result.innerText(), /1\s+held for approval/);
    assert.equal(connectWise.data().tables.additions.length, additionsBefore, "a held line is not written");
    await screenshot("13d-pricing-held");

    await nav().getByRole("link", { name: "Pricing — ConnectWise" }).click();
    const line = page.locator("table.holds tbody tr");
    await line.getByText("$264.00").waitFor();
    assert.equal(await line.count(), 1);
    assert.match(
      await line.innerText(),
      /Seat-based Annual[\s\S]*Contoso Dental, LLC[\s\S]*\$264\.00[\s\S]*\$200\.00[\s\S]*Priced by rule Premium at 200[\s\S]*Held/,
    );
    await line.getByRole("button", { name: /^Approve / }).click();
    await page.getByText("1 line approved; the next sync writes it.").waitFor();
    // The message comes with the answer; the list of holds is read again after it.
    await line.getByText("Approved", { exact: true }).waitFor();
    assert.match(
      await line.innerText(),
      new RegExp(`Approved[\\s\\S]*by ${ADMIN.email} on \\w{3} \\d+, \\d{4}`),
    );
    await screenshot("13e-pricing");

    await tabs().getByRole("link", { name: "Customers" }).click();
    await page.getByLabel("Search customers by name").fill("contoso");
    await syncAnnual.click();
    await result.getByText("Seat-based Annual sync finished:").waitFor({ timeout: 30_000 });
    assert.match(await result.innerText(), new RegExp(`1\\s+written[\\s\\S]*approved by ${ADMIN.email}`));
    assert.equal(connectWise.data().tables.additions.length, additionsBefore + 1, "written once approved");
    const written = connectWise.data().tables.additions.at(-1)!;
    assert.deepEqual(
      [String(written.unitPrice), String(written.unitCost), String(written.quantity)],
      ["200", "264", "2"],
    );
    await nav().getByRole("link", { name: "Pricing — ConnectWise" }).click();
    await page.getByText("No line is waiting for approval.").waitFor();
    noConsoleErrors();
  });

  it("settings: daily sync time, an API token shown once, and a viewer user", async () => {
    await nav().getByRole("link", { name: "Settings", exact: true }).click();
    await heading("Settings").waitFor();
    await page.getByLabel("Time of day").fill("07:30");
    await page.getByLabel("Time zone").selectOption("Europe/Amsterdam");
    await page.getByRole("region", { name: "Daily sync" }).getByRole("button", { name: "Save" }).click();
    await page.getByText("Daily sync settings saved.").waitFor();

    await page.getByLabel("Name", { exact: true }).fill("Nightly export");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = await page.getByTestId("new-token").innerText();
    assert.match(token, /\S{20,}/);
    const reply = await fetch(`${server.url}/api/runs`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(reply.status, 200, "the new token works for the API");
    const tokenRow = page.getByRole("row", { name: /Nightly export/ });
    assert.match(
      await tokenRow.innerText(),
      new RegExp(`${ADMIN.email}[\\s\\S]*Active`),
      "owner and status shown",
    );
    assert.doesNotMatch(await tokenRow.getByRole("cell").nth(5).innerText(), /Never/, "expires by default");

    await page.getByLabel("Email").fill(VIEWER.email);
    await page.getByLabel("Password", { exact: true }).fill("Password123!");
    await page.getByLabel("Role", { exact: true }).last().selectOption("viewer");
    await page.getByRole("button", { name: "Add user" }).click();
    await page.getByText(/too easy to guess: it is a small variation of a commonly used password/).waitFor();
    expectConsoleError(/status of 400 .*\/api\/users/);
    await page.getByLabel("Password", { exact: true }).fill(VIEWER.password);
    await page.getByRole("button", { name: "Add user" }).click();
    await page.getByText(`${VIEWER.email} can now sign in.`).waitFor();
    await screenshot("15-settings");
    noConsoleErrors();
  });

  it("a viewer sees the data but no edit buttons", async () => {
    const viewerContext = await browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC" });
    const viewer = await viewerContext.newPage();
    watch(viewer);
    try {
      await viewer.goto(server.url);
      await viewer.getByLabel("Email").fill(VIEWER.email);
      await viewer.getByLabel("Password").fill(VIEWER.password);
      await viewer.getByRole("button", { name: "Sign in" }).click();
      await viewer.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
      await viewer.getByRole("link", { name: "Microsoft CSP — ConnectWise" }).click();
      await viewer.getByRole("region", { name: "Contoso Dental, LLC" }).waitFor();
      assert.equal(await viewer.getByRole("button", { name: /^Edit / }).count(), 0);
      assert.match(await viewer.getByRole("region", { name: "Contoso Dental, LLC" }).innerText(), /Synced/);
      await viewer.getByRole("link", { name: "Connections" }).click();
      await viewer.getByRole("article", { name: "ConnectWise" }).waitFor();
      assert.equal(await viewer.getByRole("button", { name: /^(Edit|Test|Connect) / }).count(), 0);
      await viewer.getByRole("link", { name: "PSA settings — ConnectWise" }).click();
      await viewer.getByLabel("Seat-based Annual subscription sync").waitFor();
      assert.equal(await viewer.getByLabel("Seat-based Annual subscription sync").isDisabled(), true);
      assert.equal(await viewer.getByRole("button", { name: "Save" }).count(), 0);
      await screenshot("16-viewer-psa-settings", viewer);
      await viewer.getByRole("link", { name: "Pricing — ConnectWise" }).click();
      await viewer.locator('tr[data-rule="Premium at 200"]').waitFor();
      assert.equal(await viewer.getByRole("radio", { name: /^Hold for approval/ }).isChecked(), true);
      assert.equal(await viewer.getByRole("radio", { name: /^Hold for approval/ }).isDisabled(), true);
      assert.equal(await viewer.getByRole("button", { name: /^(Save|Remove|Approve|Add rule)/ }).count(), 0);
      assert.equal(await viewer.getByRole("form", { name: "Add a price rule" }).count(), 0);
      await screenshot("16a-viewer-pricing", viewer);
    } finally {
      await viewerContext.close();
    }
    noConsoleErrors();
  });

  it("works with the keyboard: skip link, the pencil opens with Enter, Escape closes and returns focus", async () => {
    await nav().getByRole("link", { name: "Microsoft CSP — ConnectWise" }).click();
    await page.getByLabel("Search customers by name").fill("contoso");
    const pencil = page.getByRole("button", { name: "Edit Seat-based Monthly for Contoso Dental, LLC" });
    await pencil.waitFor();
    await page.reload();
    await heading("ConnectWise — Microsoft CSP").waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");

    await pencil.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Seat-based Monthly — Contoso Dental, LLC" });
    await dialog.waitFor();
    assert.equal(
      await dialog.evaluate((d) => d.contains(document.activeElement)),
      true,
      "focus moves into the form",
    );
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute("aria-label")),
      "Edit Seat-based Monthly for Contoso Dental, LLC",
      "focus returns to the pencil",
    );
    noConsoleErrors();
  });

  it("logs out; a reload shows the sign-in page and signing in again returns to the same page", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await page.reload();
    await heading("Sign in").waitFor();
    await screenshot("17-sign-in");
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await heading("ConnectWise — Microsoft CSP").waitFor();
    noConsoleErrors();
  });
});
