import assert from "node:assert/strict";
import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium; the browser tests never download one. */
export const CHROMIUM = process.env.CSPSYNC_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Starts headless Chromium as every browser test does. Background networking, QUIC, component updates and
 * sync are off: on a machine without outside network they would fill the log with refused connections.
 */
export function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    assert.fail(
      `Chromium is not installed at ${CHROMIUM}: the browser tests need Debian's chromium ` +
        "(apt-get install -y chromium; .ci/run installs it). They never download a browser.",
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
