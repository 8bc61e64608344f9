import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import type { App } from "../../src/app.ts";
import type { RunningServer } from "../../src/http/server.ts";
import { startSyncWorker, type SyncWorker } from "../../src/jobs/sync-worker.ts";
import { createLogger } from "../../src/log.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";
import { FAST, SAMPLE, startEmulator } from "../sources/support.ts";

/**
 * The Billing sources page (docs/partner-center.md): an admin adds the Partner Center emulator as a source,
 * tests it (a wrong secret named as such, then rotated), presses Fetch now, sees the fetch wait for a worker,
 * then — a worker running — imported with its invoice and line count, the provisional next invoice, and the
 * fetch's line in Sync history. Real Chromium, real server, real worker, the Partner Center emulator.
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };

describe("Billing sources page: add, test, Fetch now, history (Chromium, Partner Center emulator)", () => {
  let pc: PartnerCenterEmulator;
  let app: App;
  let cleanup: () => Promise<void>;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  let worker: SyncWorker | undefined;
  const consoleErrors: string[] = [];

  const history = () => page.getByRole("table", { name: "Fetch history of PC" });

  before(async () => {
    pc = await startEmulator({ unbilledFiles: [SAMPLE] });
    ({ app, cleanup } = await createTestApp("sqlite", []));
    app.config.microsoftAllowedHosts.push(hostOf(pc.url));
    walk = await openWebWalk(app, { consoleErrors });
    ({ server, page } = walk);
  });

  after(async () => {
    await worker?.stop();
    await walk?.close();
    await cleanup?.();
    await pc?.close();
  });

  it("signs in and adds the emulator as a source; a wrong secret fails its test by name", async () => {
    await page.goto(server.url);
    await page.getByRole("heading", { level: 1, name: /create the admin account/ }).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Billing sources" })
      .click();
    await page.getByRole("heading", { level: 1, name: "Billing sources" }).waitFor();
    await page.getByText("No billing source yet").waitFor();

    const form = page.getByRole("form", { name: "Add a Partner Center source" });
    await form.getByLabel("Name").fill("PC");
    await form.getByLabel("Partner tenant id").fill(pc.tenantId);
    await form.getByLabel("App (client) id").fill(pc.clientId);
    await form.getByLabel("Client secret").fill("not the secret");
    await form.getByLabel(/Emulator base URL/).fill(pc.url);
    await form.getByRole("button", { name: "Add source" }).click();
    await page.getByText("Added PC; test it, then Fetch now.").waitFor();
    await page.getByRole("heading", { level: 2, name: "PC" }).waitFor();
    assert.match(
      await page.getByText(/^Microsoft Partner Center — tenant/).innerText(),
      new RegExp(`tenant ${pc.tenantId}, app ${pc.clientId} \\(secret\\)\\. Last test: never`),
    );

    await page.getByRole("button", { name: "Test connection" }).click();
    const failed = page.getByText(/^Test failed/);
    await failed.waitFor();
    assert.match(
      await failed.innerText(),
      /^Test failed \(bad-credentials\): the client secret or certificate is not valid for this app \(AADSTS7000215\)$/,
    );
  });

  it("rotates the secret and the test passes", async () => {
    await page.getByLabel("New client secret").fill(pc.clientSecret);
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByText("Secret replaced; test the source again.").waitFor();
    await page.getByRole("button", { name: "Test connection" }).click();
    await page
      .getByText(
        "Connection works: tokens for Partner Center and Graph; invoices readable; billing export allowed",
      )
      .waitFor();
    assert.equal(
      await page
        .locator("body")
        .innerText()
        .then((t) => t.includes(pc.clientSecret)),
      false,
    );
  });

  it("Fetch now waits for a worker, then shows the imported invoice and the next invoice so far", async () => {
    await page.getByRole("button", { name: "Fetch now" }).click();
    await page.getByText("fetch of PC queued; a worker runs it").first().waitFor();
    const queuedRow = history().getByRole("row").nth(1);
    await queuedRow.getByText("Queued").waitFor();
    assert.match(
      await queuedRow.innerText(),
      /manual\s+Queued\s+Waiting for a worker \(cspsync serve or cspsync worker\) to take it/,
    );
    assert.equal(pc.requestLog().filter((r) => r.path.includes("/export")).length, 0, "nothing fetched yet");

    worker = await startSyncWorker(app, {
      logger: createLogger("error", { write: () => undefined }),
      fetch: FAST,
    });
    const lines = pc.invoices().find((i) => i.id === "G100000001")!.lineCount;
    const outcome = `Partner Center: 1 new invoice(s) G100000001 (${lines.toLocaleString("en-US")} lines)`;
    const done = history().getByRole("row").nth(1);
    await done.getByText("Imported").waitFor();
    assert.deepEqual((await done.getByRole("cell").allInnerTexts()).slice(1), [
      "manual",
      "Imported",
      outcome,
    ]);
    await page.getByRole("status").filter({ hasText: outcome }).waitFor();

    const unbilled = page.getByRole("table", { name: "Unbilled USD" });
    await unbilled.waitFor();
    assert.match(await unbilled.locator("caption").innerText(), /^USD -?\d+(\.\d+)? so far, fetched /);
    const rows = await unbilled.getByRole("row").count();
    assert.ok(rows > 1, "one row per customer and motion");
    assert.equal(
      pc.requestLog().filter((r) => r.path.endsWith("/reconciliation/billed/export")).length,
      1,
      "one export of the new invoice",
    );
  });

  it("Sync history shows the fetch with its outcome", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sync history" }).click();
    const row = page.locator("tr.fetch-row").first();
    await row.waitFor();
    assert.equal(await row.getAttribute("data-status"), "imported");
    assert.match(
      await row.innerText(),
      /Billing data: PC \(.*Imported\) — Partner Center: 1 new invoice\(s\) G100000001 \(\d+ lines\)/,
    );
    assert.deepEqual(consoleErrors, []);
  });
});
