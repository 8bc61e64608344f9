import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import type { App } from "../../src/app.ts";
import type { RunningServer } from "../../src/http/server.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { CLIENT_ID } from "../support/connectwise-setup.ts";
import { baseRow, toCsv } from "../support/recon-builder.ts";

/**
 * Import errors tell a web user what to do in the web app: a file separated by semicolons is refused with a
 * sentence naming the file and row and offering "Import again with semicolon" (never the CLI's
 * --delimiter); the one click, or the Delimiter choice, imports it. Also the Products page's PSA pickers:
 * the ConnectWise subcategory is picked by name and stays after a reload. Real Chromium, real server, the
 * ConnectWise emulator.
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };

describe("Import errors in the web app and the Products page's PSA pickers (Chromium, ConnectWise)", () => {
  let emulator: ConnectWiseEmulator;
  let app: App;
  let cleanup: () => Promise<void>;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  let files: string;
  let connectionId: string;
  const consoleErrors: string[] = [];

  before(async () => {
    files = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-import-errors-"));
    fs.writeFileSync(
      path.join(files, "semicolons.csv"),
      toCsv([baseRow({ InvoiceNumber: "G400000004" })], { delimiter: ";" }),
    );
    emulator = await startConnectWiseEmulator({ seed: "demo" });
    ({ app, cleanup } = await createTestApp("sqlite", [hostOf(emulator.url)]));
    const { companyId, publicKey, privateKey } = emulator.credentials;
    connectionId = (
      await app.connections.create({
        vendor: "connectwise",
        name: "CW",
        config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
        secrets: { privateKey },
      })
    ).id;
    walk = await openWebWalk(app, { consoleErrors });
    ({ server, page } = walk);
    await page.goto(server.url);
    await page.getByRole("heading", { level: 1, name: /create the admin account/ }).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
  });

  after(async () => {
    await walk?.close();
    await cleanup?.();
    await emulator?.close();
    if (files) fs.rmSync(files, { recursive: true, force: true });
  });

  const invoices = async () =>
    (await app.store.db.selectFrom("invoices").select("invoice_number").execute()).map(
      (i) => i.invoice_number,
    );

  it("a semicolon file is refused with what to do in the web app, and one click imports it", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Import" }).click();
    await page.getByRole("heading", { level: 1, name: "Import billing data" }).waitFor();
    assert.equal(await page.getByLabel("Delimiter").inputValue(), "auto");
    await page.getByLabel("Reconciliation files").setInputFiles(path.join(files, "semicolons.csv"));
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const result = page.getByRole("article", { name: "Result for semicolons.csv" });
    await result.getByText("Rejected", { exact: true }).waitFor();
    const message = await result.getByRole("alert").innerText();
    assert.match(
      message,
      /semicolons\.csv was not imported\. Row 1: fields are separated by ";", expected ","\./,
    );
    assert.match(
      message,
      /import it again with semicolon as the delimiter, or choose Semicolon under Delimiter/,
    );
    assert.doesNotMatch(message, /--delimiter/);
    assert.deepEqual(await invoices(), [], "nothing stored");

    await result.getByRole("button", { name: "Import again with semicolon" }).click();
    await result.getByText("Imported", { exact: true }).waitFor();
    assert.match(await result.innerText(), /1 lines: 1 new, 0 already known .* invoice G400000004/);
    assert.deepEqual(await invoices(), ["G400000004"]);
  });

  it("choosing Semicolon under Delimiter and uploading again reads the file too", async () => {
    await page.getByLabel("Delimiter").selectOption("semicolon");
    await page.getByLabel("Reconciliation files").setInputFiles(path.join(files, "semicolons.csv"));
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const result = page.getByRole("article", { name: "Result for semicolons.csv" });
    await result.getByText(/0 new, 1 already known/).waitFor();
    assert.equal(await result.getByRole("alert").count(), 0);
    assert.deepEqual(consoleErrors, []);
  });

  it("the Products page picks the ConnectWise subcategory by name, and it stays after a reload", async () => {
    const azure = emulator.data().tables.productSubcategories.find((s) => s.name === "Azure")!;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Products — CW" }).click();
    await page.getByRole("heading", { level: 1, name: "CW — Products" }).waitFor();
    const subcategory = page.getByRole("combobox", { name: "Subcategory" });
    await page.getByRole("searchbox", { name: "Filter subcategory by name" }).fill("azu");
    // The list is the PSA's answer to the filter, which arrives after the typing pauses.
    await page.getByText("1 choice matching “azu”").waitFor();
    assert.deepEqual(
      (await subcategory.locator("option").allInnerTexts()).map((t) => t.trim()),
      ["— None —", `Azure (${azure.id})`],
      "the filter narrows the PSA's list by name",
    );
    await subcategory.selectOption({ label: `Azure (${azure.id})` });
    assert.equal(await page.getByTestId("product-productSubcategory-stored").innerText(), String(azure.id));
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Product settings saved.").waitFor();
    assert.equal(
      String((await app.connections.view(connectionId)).settings.productSubcategory),
      String(azure.id),
    );

    await page.reload();
    await page.getByRole("heading", { level: 1, name: "CW — Products" }).waitFor();
    const reloaded = page.getByRole("combobox", { name: "Subcategory" });
    await reloaded.locator("option", { hasText: `Azure (${azure.id})` }).waitFor({ state: "attached" });
    assert.equal(await reloaded.inputValue(), String(azure.id));
    assert.equal(
      await reloaded.locator("option:checked").innerText(),
      `Azure (${azure.id})`,
      "the saved subcategory is shown by name",
    );
    assert.equal(await page.getByTestId("product-productSubcategory-stored").innerText(), String(azure.id));
    assert.deepEqual(consoleErrors, []);
  });
});
