import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import type { App } from "../../src/app.ts";
import { buildWebApp } from "../../src/cli/commands/demo.ts";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { launchChromium } from "./browser.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BUILD_WAIT_MS = 5 * 60_000;

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/** A hash of everything the web build reads, so a changed page is never served from an older build. */
function webSourceHash(): string {
  const hash = createHash("sha256");
  const inputs = [
    ...filesUnder(path.join(ROOT, "web")).filter((file) => !file.includes(`${path.sep}dist${path.sep}`)),
    path.join(ROOT, "package-lock.json"),
  ];
  for (const file of inputs)
    hash.update(path.relative(ROOT, file)).update("\0").update(fs.readFileSync(file));
  return hash.digest("hex").slice(0, 16);
}

/**
 * The web app built once for all browser test files of a run (they run as parallel processes): the first
 * to take the lock builds into a fresh directory and renames it into place, the others wait for it. A vite
 * build costs seconds of CPU; six files building it each made the suite slower for nothing.
 */
export async function builtWebRoot(): Promise<string> {
  const target = path.join(os.tmpdir(), `cspsync-web-build-${webSourceHash()}`);
  const ready = () => fs.existsSync(path.join(target, "index.html"));
  const lock = `${target}.lock`;
  const deadline = Date.now() + BUILD_WAIT_MS;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`the web build at ${target} did not appear in time`);
    try {
      fs.mkdirSync(lock);
    } catch {
      // Another test file is building it; a lock older than the wait is from a process that died.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > BUILD_WAIT_MS) fs.rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    try {
      if (ready()) break;
      const staging = fs.mkdtempSync(`${target}-staging-`);
      await buildWebApp(staging);
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(staging, target);
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return target;
}

export type WebWalk = {
  server: RunningServer;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
};

/**
 * What every browser walk starts with: the app served over real HTTP with the shared web build, Debian's
 * Chromium, one page whose console errors and page errors land in `consoleErrors` (each walk asserts there
 * are none), and a 15 s default wait.
 */
export async function openWebWalk(
  app: App,
  options: { consoleErrors: string[]; context?: BrowserContextOptions },
): Promise<WebWalk> {
  const server = await startServer(app, {
    port: 0,
    host: "127.0.0.1",
    webRoot: await builtWebRoot(),
    log: false,
    env: {},
    auth: { passwordCost: 2 ** 10 },
  });
  const browser = await launchChromium();
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "en-US",
    ...options.context,
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error")
      options.consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => options.consoleErrors.push(`page error: ${error.message}`));
  return {
    server,
    browser,
    context,
    page,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
