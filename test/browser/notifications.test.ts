import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { App } from "../../src/app.ts";
import type { RunningServer } from "../../src/http/server.ts";
import { createTestApp } from "../support/app.ts";
import { startSmtpReceiver, type SmtpReceiver } from "../support/smtp.ts";
import { openWebWalk, type WebWalk } from "../support/web-walk.ts";

/**
 * Settings → Notifications (docs/notifications.md): an admin adds an e-mail channel pointing at a real SMTP
 * server started here (an SMTP host is whatever the admin configures; only webhook hosts are allow-listed),
 * a wrong recipient is shown on its field, the password is write-only, "Send test" arrives at the SMTP server
 * and shows as sent in the deliveries; a viewer sees it all without buttons; the dashboard shows connection
 * health. Real Chromium, real server, SQLite (the API and service tests run both databases).
 */
const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };
const VIEWER = { email: "viewer@example.com", password: "viewer password one two" };
const SMTP_USER = "notify";
const SMTP_PASSWORD = "smtp-pass-123456";

describe("Notifications page: an SMTP channel, Send test, the deliveries (Chromium)", () => {
  let app: App;
  let cleanup: () => Promise<void>;
  let smtp: SmtpReceiver;
  let server: RunningServer;
  let walk: WebWalk;
  let page: Page;
  const consoleErrors: string[] = [];

  const channels = () => page.getByRole("table", { name: "Notification channels" });
  const deliveries = () => page.getByRole("table", { name: "Last deliveries" });

  before(async () => {
    ({ app, cleanup } = await createTestApp("sqlite", []));
    smtp = await startSmtpReceiver({ user: SMTP_USER, password: SMTP_PASSWORD });
    walk = await openWebWalk(app, { consoleErrors });
    ({ server, page } = walk);
  });

  after(async () => {
    await walk?.close();
    await smtp?.close();
    await cleanup?.();
  });

  it("an admin opens Settings → Notifications and adds an e-mail channel; a bad recipient is shown on its field", async () => {
    await page.goto(server.url);
    await page.getByRole("heading", { level: 1, name: /create the admin account/ }).waitFor();
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat the password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create admin account" }).click();
    const main = page.getByRole("navigation", { name: "Main" });
    await main.getByRole("link", { name: "Settings", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Settings" }).waitFor();
    await page
      .getByRole("navigation", { name: "Settings" })
      .getByRole("link", { name: "Notifications" })
      .click();
    await page.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/settings/notifications");
    await page.getByText("No notification channels yet.").waitFor();
    await page.getByText("Nothing has been sent yet.").waitFor();

    await page.getByRole("button", { name: "Add a channel" }).click();
    const form = page.getByRole("form", { name: "New channel" });
    await form.getByLabel("Kind", { exact: true }).selectOption("email");
    await form.getByLabel("Name", { exact: true }).fill("Ops mail");
    await form.getByLabel("Minimum severity", { exact: true }).selectOption("warning");
    await form.getByLabel("SMTP host", { exact: true }).fill("127.0.0.1");
    await form.getByLabel("Port", { exact: true }).fill(String(smtp.port));
    await form.getByLabel("TLS", { exact: true }).selectOption("none");
    await form.getByLabel("User", { exact: true }).fill(SMTP_USER);
    await form.getByLabel("Password", { exact: true }).fill(SMTP_PASSWORD);
    await form.getByLabel("From", { exact: true }).fill("cspsync@msp.example");
    await form.getByLabel("Recipients", { exact: true }).fill("ops@msp.example, not-an-address");
    await form.getByLabel("Import rejected", { exact: true }).selectOption("off");
    await form.getByRole("button", { name: "Add channel" }).click();
    const recipientsError = form.locator("#smtp-to-error");
    await recipientsError.waitFor();
    assert.match(await recipientsError.innerText(), /config\.to\.1: is not an e-mail address/);
    const refused = consoleErrors.splice(0).filter((e) => !/status of 422/.test(e));
    assert.deepEqual(refused, [], "only the refused save is in the console");

    await form.getByLabel("Recipients", { exact: true }).fill("ops@msp.example, billing@msp.example");
    await form.getByRole("button", { name: "Add channel" }).click();
    await page.getByText("Added Ops mail.").waitFor();
    const row = channels().getByRole("row").filter({ hasText: "Ops mail" });
    const cells = await row.getByRole("cell").allInnerTexts();
    assert.deepEqual(cells.slice(0, 5), [
      "E-mail (SMTP)",
      `ops@msp.example, billing@msp.example via 127.0.0.1:${smtp.port}`,
      "Warning",
      "Import rejected: off",
      "OK",
    ]);
    assert.doesNotMatch(await page.locator("main").innerText(), new RegExp(SMTP_PASSWORD));

    // The password is write-only: the edit form says it is set and leaves the box empty.
    await page.getByRole("button", { name: "Edit Ops mail" }).click();
    const edit = page.getByRole("form", { name: "Edit Ops mail" });
    assert.equal(await edit.getByLabel("Password", { exact: true }).inputValue(), "");
    await edit.getByText("Set. Leave empty to keep it.").waitFor();
    assert.equal(await edit.getByLabel("SMTP host", { exact: true }).inputValue(), "127.0.0.1");
    await edit.getByRole("button", { name: "Cancel" }).click();
    await edit.waitFor({ state: "detached" });
  });

  it("Send test arrives at the SMTP server and is listed as sent", async () => {
    await page.getByRole("button", { name: "Send test — Ops mail" }).click();
    await page.getByText("Test sent through Ops mail.").waitFor();
    const delivered = deliveries()
      .getByRole("row")
      .filter({ hasText: "cspsync test notification: Ops mail" });
    await delivered.waitFor();
    const cells = await delivered.getByRole("cell").allInnerTexts();
    assert.deepEqual(cells.slice(1, 5), ["Ops mail", "Test", "cspsync test notification: Ops mail", "Sent"]);

    await smtp.waitFor(1);
    assert.equal(smtp.messages.length, 1);
    const mail = smtp.messages[0]!;
    assert.equal(mail.subject, "cspsync test notification: Ops mail");
    assert.match(
      mail.text ?? "",
      /This is a test of the notification channel Ops mail\. If you read this, it works\./,
    );
    assert.deepEqual(smtp.envelopes[0], {
      to: ["ops@msp.example", "billing@msp.example"],
      user: SMTP_USER,
    });
    // The list and the server agree: one delivery, sent, for the one message received.
    const [delivery] = await app.notifications.deliveries();
    assert.deepEqual([delivery!.status, delivery!.attempts], ["sent", 1]);
    assert.equal(mail.messageId, `<${delivery!.key}@msp.example>`);
  });

  it("the digest time and zone are saved", async () => {
    await page.getByLabel("Digest time", { exact: true }).fill("06:45");
    await page.getByLabel("Digest time zone").selectOption("Europe/Amsterdam");
    await page.getByLabel("Invoice expected by day").fill("40");
    await page.getByRole("button", { name: "Save digest settings" }).click();
    await page.locator("#invoice-due-day-error").waitFor();
    consoleErrors.splice(0).forEach((e) => assert.match(e, /status of 400/));
    await page.getByLabel("Invoice expected by day").fill("5");
    await page.getByRole("button", { name: "Save digest settings" }).click();
    await page.getByText("Digest settings saved.").waitFor();
    const settings = await app.notifications.settings();
    assert.deepEqual(
      [settings.digestTime, settings.digestTimeZone, settings.invoiceDueDay],
      ["06:45", "Europe/Amsterdam", 5],
    );
  });

  it("a viewer sees channels, settings and deliveries without buttons; the dashboard shows health", async () => {
    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "General" }).click();
    await page.getByLabel("Email").fill(VIEWER.email);
    await page.getByLabel("Password", { exact: true }).fill(VIEWER.password);
    await page.getByLabel("Role", { exact: true }).last().selectOption("viewer");
    await page.getByRole("button", { name: "Add user" }).click();
    await page.getByText(`${VIEWER.email} can now sign in.`).waitFor();
    await app.notifications.subjectOutcome(
      { kind: "connection", id: "cw-1", name: "CW" },
      "failing",
      "ConnectWise refused the credentials (401)",
    );

    const context = await walk.browser.newContext({
      viewport: { width: 1280, height: 900 },
      locale: "en-US",
    });
    const viewer = await context.newPage();
    viewer.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`viewer: ${m.text()}`);
    });
    try {
      await viewer.goto(server.url);
      await viewer.getByLabel("Email").fill(VIEWER.email);
      await viewer.getByLabel("Password").fill(VIEWER.password);
      await viewer.getByRole("button", { name: "Sign in" }).click();
      await viewer.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
      const health = viewer.getByRole("table", { name: "Connection health" }).getByRole("row").filter({
        hasText: "CW",
      });
      await health.waitFor();
      assert.match(
        await health.innerText(),
        /PSA connection\s+Failing\s+ConnectWise refused the credentials/,
      );

      await viewer.goto(`${server.url}/settings/notifications`);
      await viewer.getByRole("table", { name: "Notification channels" }).waitFor();
      await viewer.getByRole("table", { name: "Last deliveries" }).getByText("Sent").waitFor();
      assert.equal(
        await viewer
          .getByRole("button")
          .filter({ hasText: /Send test|Edit|Remove|Add|Save/ })
          .count(),
        0,
      );
      assert.equal(await viewer.getByLabel("Digest time", { exact: true }).isDisabled(), true);
      assert.equal(await viewer.getByLabel("Digest time", { exact: true }).inputValue(), "06:45");
    } finally {
      await context.close();
    }
    assert.deepEqual(consoleErrors, []);
  });
});
