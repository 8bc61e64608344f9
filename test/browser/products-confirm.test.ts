import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { App } from "../../src/app.ts";
import type { RunningServer } from "../../src/http/server.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { CLIENT_ID, SAMPLE } from "../support/connectwise-setup.ts";

/**
 * The Products page asks before it changes the sell price of a catalog item cspsync only linked (the MSP's
 * own): the preview marks the linked item and its price decrease, Sync lists the decrease in a confirm step,
 * Cancel writes nothing, and only the confirmation writes the price. Real Chromium, real server, the
 * ConnectWise emulator; see web-app.test.ts for the whole app.
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };

describe("Products page: confirming sell-price changes of linked catalog items (Chromium, ConnectWise)", () => {
  let emulator: ConnectWiseEmulator;
  let app: App;
  let cleanup: () => Promise<void>;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  const consoleErrors: string[] = [];

  const std = () => emulator.data().tables.catalogItems.find((i) => i.identifier === "M365-STD")!;
  const writes = () => emulator.server.requestLog().filter((r) => r.method !== "GET").length;

  before(async () => {
    emulator = await startConnectWiseEmulator({ seed: "demo" });
    ({ app, cleanup } = await createTestApp("sqlite", [hostOf(emulator.url)]));
    await importReconFile(app.store, SAMPLE);
    const { companyId, publicKey, privateKey } = emulator.credentials;
    await app.connections.create({
      vendor: "connectwise",
      name: "CW",
      config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
      secrets: { privateKey },
      settings: { productSyncMode: "all", linkedPriceUpdates: "confirm" },
    });
    walk = await openWebWalk(app, { consoleErrors });
    ({ server, page } = walk);
  });

  after(async () => {
    await walk?.close();
    await cleanup?.();
    await emulator?.close();
  });

  it("signs in and opens the Products page", async () => {
    await page.goto(server.url);
    await page.getByRole("heading", { level: 1, name: /create the admin account/ }).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Products — CW" }).click();
    await page.getByRole("heading", { level: 1, name: "CW — Products" }).waitFor();
    assert.equal(
      await page.getByLabel("Sell prices of linked records").inputValue(),
      "confirm",
      "the setting is shown as saved",
    );
  });

  it("the preview marks M365-STD as linked (yours) and shows its price decrease", async () => {
    await page.getByRole("button", { name: "Preview" }).click();
    const preview = page.getByRole("region", { name: /Preview/ });
    await preview.getByText(/Nothing has been written/).waitFor();
    const row = preview.locator('tr[data-product="CFQ7TTC0LDPB:0001"]');
    // Amounts are formatted in the billing data's currency once the page knows it (never the server's raw text).
    await row
      .getByText(/\$10\.08/)
      .first()
      .waitFor();
    assert.match(
      await row.innerText(),
      /M365-STD[\s\S]*Linked — yours[\s\S]*Price \$15\.00 → \$10\.08: needs your confirmation/,
    );
    assert.match(
      await row.locator('[data-change="price"]').innerText(),
      /^Price \$15\.00 → \$10\.08 \(needs confirmation\)$/,
    );
    assert.doesNotMatch(await row.innerText(), /price 15 → 10\.08/);
    assert.match(
      await preview.locator('tr:has([data-origin="cspsync"])').first().innerText(),
      /Created by cspsync/,
    );
    assert.match(
      await preview.getByRole("status").innerText(),
      /sell prices of linked records[\s\S]*M365-STD \(Microsoft 365 Business Standard\): price \$15\.00 → \$10\.08, a decrease/,
    );
  });

  it("Sync asks to confirm, listing the decrease; Cancel writes nothing", async () => {
    const before = writes();
    await page.getByRole("button", { name: "Sync products" }).click();
    const dialog = page.getByRole("dialog", { name: "Change sell prices of linked records?" });
    await dialog.waitFor();
    assert.match(
      await dialog.innerText(),
      /M365-STD \(Microsoft 365 Business Standard\): price \$15\.00 → \$10\.08, a decrease/,
    );
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    assert.equal(writes(), before, "nothing was sent to ConnectWise");
    assert.equal(String(std().price), "15");
    await page.getByText("No product sync has run yet.").waitFor();
  });

  it("confirming writes the new price", async () => {
    await page.getByRole("button", { name: "Sync products" }).click();
    const dialog = page.getByRole("dialog", { name: "Change sell prices of linked records?" });
    await dialog.getByRole("button", { name: /^Change \d+ prices and sync$/ }).click();
    const run = page.getByRole("status").filter({ hasText: "Product sync of" });
    await run.getByText("Success", { exact: true }).waitFor({ timeout: 30_000 });
    // The result shows the written amounts formatted from its structured fields, not the server's sentence.
    const result = run.locator('tr[data-product="CFQ7TTC0LDPB:0001"]');
    assert.match(await result.innerText(), /written/);
    assert.equal(
      await result.locator('[data-change="price"]').innerText(),
      "Price $15.00 → $10.08 (confirmed)",
    );
    assert.equal(await result.locator('[data-change="cost"]').innerText(), "Cost $12.50 → $10.08");
    assert.doesNotMatch(await result.innerText(), /price 15 → 10\.08/);
    assert.deepEqual([String(std().price), String(std().cost)], ["10.08", "10.08"]);
    assert.deepEqual(consoleErrors, [], "the browser console shows no errors");
  });
});
