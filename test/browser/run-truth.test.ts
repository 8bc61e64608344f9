import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { App } from "../../src/app.ts";
import type { RunningServer } from "../../src/http/server.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { allocateId } from "../../emulators/connectwise/state.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { PricingService } from "../../src/services/pricing.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { CLIENT_ID, FALLBACK_ITEM, SAMPLE } from "../support/connectwise-setup.ts";
import { CONTOSO } from "../support/recon-builder.ts";

/**
 * What the web app says about runs is what happened: a PSA that cannot be reached shows as failed on the
 * connection card, the customer's entry and in Sync history (with its reason, found by the status and customer
 * filters); a line sold below cost is held, listed on its run with Approve, approved there and written by the
 * next sync; the dashboard's Next steps follow the app from empty to connected, unmapped and holding a line,
 * and its Products card shows the product sync. Real Chromium, real server, two ConnectWise emulators (one of
 * them stopped to be unreachable).
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };
const EXO = "Exchange Online (Plan 1): 3 seats, annual term 2024-06-10 to 2025-06-09";

/** The catch-all catalog item the annual sync falls back to, added to the emulator's data directly. */
function addCatchAllItem(emulator: ConnectWiseEmulator): void {
  const data = emulator.data();
  const template = data.tables.catalogItems.find((item) => item.identifier === "O365-E1")!;
  const { vendorSku: _sku, manufacturerPartNumber: _part, ...fields } = template;
  data.tables.catalogItems.push({
    ...fields,
    id: allocateId(data, "catalogItems"),
    identifier: FALLBACK_ITEM,
    description: "Microsoft CSP licence",
    customerDescription: "Microsoft CSP licence",
  });
}

describe("run truth in Chromium: failed PSA, held lines, dashboard next steps", () => {
  let cw: ConnectWiseEmulator;
  let down: ConnectWiseEmulator;
  let app: App;
  let cleanup: () => Promise<void>;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  let cwId = "";
  let downId = "";
  let agreement = { id: "", name: "" };
  let heldRunUrl = "";
  const consoleErrors: string[] = [];

  const heading = (name: string | RegExp) => page.getByRole("heading", { level: 1, name });
  const nextSteps = () => page.getByRole("region", { name: "Next steps" });
  const noConsoleErrors = () => assert.deepEqual(consoleErrors, [], "the browser console shows no errors");

  /** Connects an emulator as a ConnectWise connection with annual sync on and Contoso's annual entry mapped. */
  const connect = async (emulator: ConnectWiseEmulator, name: string, settings: Record<string, unknown>) => {
    const { companyId, publicKey, privateKey } = emulator.credentials;
    const connection = await app.connections.create({
      vendor: "connectwise",
      name,
      config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
      secrets: { privateKey },
      settings: { fallbackCatalogItem: FALLBACK_ITEM, ...settings },
    });
    await app.connections.update(connection.id, { seatAnnualEnabled: true });
    return connection.id;
  };

  const mapContoso = async (connectionId: string) => {
    const adapter = await app.adapterFor(connectionId);
    const [company] = await adapter.searchCompanies("Contoso");
    const annual = (await adapter.listAgreements(company!.id)).find((a) => a.validFor["seat-annual"].ok)!;
    await app.mappings.save(
      connectionId,
      CONTOSO.id,
      "seat-annual",
      { psaCompanyId: company!.id, agreementId: annual.id },
      adapter,
    );
    return { id: annual.id, name: annual.name };
  };

  /** Syncs Contoso's Seat-based Annual entry from its row on the connection's Microsoft CSP page. */
  const syncContosoAnnual = async (connectionId: string) => {
    await page.goto(`${server.url}/psa/${connectionId}/csp`);
    await page.getByRole("button", { name: `Sync Seat-based Annual for ${CONTOSO.name}` }).click();
    const result = page.locator('section.sync-result[data-motion="seat-annual"]');
    await result.waitFor({ timeout: 30_000 });
    return result;
  };

  /** Contoso's annual additions cspsync wrote in the healthy emulator: description → unit price. */
  const writtenPrices = () => {
    const { additions } = cw.data().tables;
    return Object.fromEntries(
      additions
        .filter((a) => String(a.agreementId) === agreement.id)
        .map((a) => [String(a.description), String(a.unitPrice)]),
    );
  };

  before(async () => {
    cw = await startConnectWiseEmulator({ seed: "demo" });
    down = await startConnectWiseEmulator({ seed: "demo" });
    addCatchAllItem(cw);
    addCatchAllItem(down);
    ({ app, cleanup } = await createTestApp("sqlite", [hostOf(cw.url), hostOf(down.url)]));
    walk = await openWebWalk(app, {
      consoleErrors,
      context: {
        viewport: { width: 1280, height: 900 },
        locale: "en-US",
        timezoneId: "UTC",
      },
    });
    ({ server, page } = walk);
  });

  after(async () => {
    await walk?.close();
    await cleanup?.();
    await cw?.close();
    await down?.close().catch(() => undefined);
  });

  it("an empty app: Next steps says to add a connection (and to import data)", async () => {
    await page.goto(server.url);
    await heading(/create the admin account/).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    await heading("Dashboard").waitFor();
    const connectStep = nextSteps().locator('[data-step="connect"]');
    assert.match(await connectStep.innerText(), /^No PSA is connected yet\.\s*Add a connection$/);
    assert.equal(
      await connectStep.getByRole("link", { name: "Add a connection" }).getAttribute("href"),
      "/connections",
    );
    assert.match(
      await nextSteps().locator('[data-step="import"]').innerText(),
      /There is no billing data yet\.\s*Import a reconciliation file/,
    );
    assert.equal(await page.getByRole("region", { name: "Products" }).count(), 0, "no Products card yet");
    noConsoleErrors();
  });

  it("data and a connection with unmapped customers: Next steps says to map them; the Products card shows the product sync", async () => {
    await importReconFile(app.store, SAMPLE);
    cwId = await connect(cw, "CW", { productSyncMode: "in-use" });
    await page.reload();
    await heading("Dashboard").waitFor();
    const map = nextSteps().locator('[data-step="map"]');
    await map.waitFor();
    assert.match(
      await map.innerText(),
      /^2 customers with charges are not mapped to the PSA\.\s*Map customers$/,
    );
    assert.equal(await nextSteps().locator('[data-step="connect"], [data-step="import"]').count(), 0);

    const products = page.getByRole("region", { name: "Products" });
    const card = products.getByRole("article", { name: "CW catalog" });
    assert.match(await card.innerText(), /Product sync\s*In-use products\s*Last product run\s*None yet/);

    await map.getByRole("link", { name: "Map customers" }).click();
    await heading(/CW — Microsoft CSP/).waitFor();
    assert.equal(new URL(page.url()).pathname, `/psa/${cwId}/csp`);
    noConsoleErrors();
  });

  it("a PSA that cannot be reached: Sync now fails, and the card, the entry and Sync history say so with the reason", async () => {
    downId = await connect(down, "Down", {});
    await mapContoso(downId);
    // It was reachable and tested once; then it stops answering (its port is closed).
    await app.connections.recordTest(downId, true, "Connection test passed.");
    await down.close();

    const result = await syncContosoAnnual(downId);
    await result.locator("h3").getByText("Error", { exact: true }).waitFor();

    // The connection card: the failed last sync and its reason, not "Connected".
    await page.goto(`${server.url}/connections`);
    const card = page.getByRole("article", { name: "Down" });
    await card.getByText("Last sync failed", { exact: true }).waitFor();
    assert.equal(await card.getByText("Connected", { exact: true }).count(), 0);
    const cardText = await card.innerText();
    // The reason names the PSA's address and the refusal (whatever wording the PSA error layer gives it).
    const port = new URL(down.url).port;
    const refused = new RegExp(
      `[^\\n]*127\\.0\\.0\\.1:${port}[^\\n]*(ECONNREFUSED|refused|could not be reached)[^\\n]*`,
      "i",
    );
    assert.match(cardText, refused, cardText);
    const reason = refused.exec(cardText)![0].trim();

    // The customer's entry on the Microsoft CSP page.
    await page.goto(`${server.url}/psa/${downId}/csp`);
    const entry = page.getByRole("region", { name: CONTOSO.name }).locator('tr[data-motion="seat-annual"]');
    await entry.getByText("Error", { exact: true }).waitFor();
    assert.ok((await entry.innerText()).includes(reason), await entry.innerText());

    // Sync history: the failed run with its reason, found again by the status and customer filters.
    await page.goto(`${server.url}/runs`);
    await heading("Sync history").waitFor();
    const rows = page.getByRole("table").locator("tbody tr");
    await rows.first().waitFor();
    const failed = rows.filter({ hasText: "Down" });
    assert.equal(await failed.count(), 1);
    assert.match(await failed.innerText(), new RegExp(`${CONTOSO.name}[\\s\\S]*Error`));
    assert.ok((await failed.innerText()).includes(reason), `the history row names the reason: ${reason}`);

    await page.getByLabel("Status").selectOption("error");
    await page.waitForURL(/status=error/);
    await rows.filter({ hasText: "Down" }).waitFor();
    assert.equal(await rows.count(), 1, "only the failed run has status error");
    await page.getByLabel("Customer").selectOption(CONTOSO.id);
    await page.waitForURL(new RegExp(`customerTenantId=${CONTOSO.id}`));
    await rows.filter({ hasText: "Down" }).waitFor();
    assert.equal(await rows.count(), 1);
    await page.getByLabel("Status").selectOption("success");
    await page.getByText("No sync has run yet.").waitFor();
    noConsoleErrors();
  });

  it("a line below cost is held: the run detail lists it with Approve, its agreement, totals in dollars and the PSA link", async () => {
    const pricing = new PricingService(app.store, app.organizationId);
    await pricing.setBelowCost(cwId, "hold");
    await pricing.addRule(cwId, {
      name: "Exchange at 10",
      productKey: "CFQ7TTC0LH16",
      kind: "fixed",
      value: "10",
      effectiveFrom: "2024-06-01",
    });
    agreement = await mapContoso(cwId);

    const result = await syncContosoAnnual(cwId);
    await result.locator("h3").getByText("Warning", { exact: true }).waitFor();
    assert.match(await result.innerText(), /1\s+held for approval/);
    assert.equal(writtenPrices()[EXO], undefined, "the held line is not in the PSA");
    await result.getByRole("link", { name: "Open the run details" }).click();
    await heading("Sync status").waitFor();
    heldRunUrl = page.url();

    const held = page.getByRole("region", { name: "Held for approval" });
    const line = held.locator('li[data-hold="held"]');
    await line.waitFor();
    assert.equal(await line.count(), 1);
    assert.match(
      await line.innerText(),
      /Exchange Online \(Plan 1\)[\s\S]*Sell price \$10\.00 per unit, below cost \$48\.00[\s\S]*Waiting for approval/,
    );
    await line.getByRole("button", { name: /^Approve / }).waitFor();

    const summary = page.getByRole("region", { name: "Run summary" });
    const summaryText = await summary.innerText();
    assert.match(
      summaryText,
      new RegExp(`Agreement / contract[\\s\\S]*${agreement.name}[\\s\\S]*\\(id ${agreement.id}\\)`),
    );
    // The seven written lines' totals, in the data's currency with its two decimals.
    assert.match(
      summaryText,
      /Written lines\s*7 · cost \$[\d,]+\.\d{2} · price \$[\d,]+\.\d{2} · margin -?\$[\d,]+\.\d{2}/,
    );
    const link = summary.getByRole("link", { name: agreement.name });
    const href = (await link.getAttribute("href"))!;
    assert.equal(new URL(href).host, new URL(cw.url).host, "the PSA link goes to the connection's own host");
    assert.match(href, new RegExp(`recid=${agreement.id}$`));
    noConsoleErrors();
  });

  it("with a held line the dashboard shows the held count linking to approval", async () => {
    await page.goto(server.url);
    await heading("Dashboard").waitFor();
    const stat = page.locator('[data-stat="held"]');
    assert.match(await stat.innerText(), /^1\s*Held for approval$/);
    assert.equal(
      await stat.getByRole("link", { name: "Held for approval" }).getAttribute("href"),
      `/psa/${cwId}/pricing`,
    );
    const card = page.getByRole("article", { name: "CW", exact: true });
    assert.equal(
      await card.getByRole("link", { name: "1 line held for approval — approve" }).getAttribute("href"),
      `/psa/${cwId}/pricing`,
    );
    // The failed run of the other connection comes first among the next steps.
    assert.match(
      await nextSteps().locator('[data-step="errors"]').innerText(),
      /1 sync run had errors in the last 7 days\.\s*Open the failed runs/,
    );
    const down = page.getByRole("article", { name: "Down", exact: true });
    assert.match(await down.innerText(), /Last sync failed: [^\n]*(ECONNREFUSED|could not be reached)/i);
    noConsoleErrors();
  });

  it("Approve on the run detail; the next sync writes the line and its run detail shows it written", async () => {
    await page.goto(heldRunUrl);
    const held = page.getByRole("region", { name: "Held for approval" });
    await held.getByRole("button", { name: /^Approve / }).click();
    const approved = held.locator('li[data-hold="approved"]');
    await approved.waitFor();
    assert.match(
      await approved.innerText(),
      /Approved: the next sync writes it \(approved by admin@example\.com\)/,
    );
    assert.equal(await held.getByRole("button", { name: /^Approve / }).count(), 0);
    assert.equal(writtenPrices()[EXO], undefined, "approving writes nothing by itself");

    const result = await syncContosoAnnual(cwId);
    // Written, with the warning that it sells below cost as approved.
    await result
      .locator("h3")
      .getByText(/^(Success|Warning|Error|No change)$/)
      .waitFor();
    assert.match(await result.locator("h3").innerText(), /Warning/, await result.innerText());
    assert.match(await result.innerText(), /1\s+written[\s\S]*0\s+errors/);
    assert.match(await result.innerText(), /sold below cost, approved by admin@example\.com/);
    assert.equal(writtenPrices()[EXO], "10", "the approved line is in the PSA at its held price");

    await result.getByRole("link", { name: "Open the run details" }).click();
    await heading("Sync status").waitFor();
    assert.notEqual(page.url(), heldRunUrl);
    const row = page.locator('table.items tbody tr[data-outcome="warning"]', {
      hasText: "Exchange Online (Plan 1)",
    });
    await row.waitFor();
    assert.match(await row.innerText(), /PSA record \d+[\s\S]*approved by admin@example\.com/);
    assert.match(await row.innerText(), /\$10\.00/);

    // The run that held it now says it was written.
    await page.goto(heldRunUrl);
    await page
      .getByRole("region", { name: "Held for approval" })
      .locator('li[data-hold="written"]')
      .getByText(/Approved and written/)
      .waitFor();
    noConsoleErrors();
  });
});
