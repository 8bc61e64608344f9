import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { App } from "../../src/app.ts";
import { hostOf } from "../support/app.ts";
import type { FetchOptions } from "../../src/services/fetch-partner-center.ts";
import {
  startPartnerCenterEmulator,
  type PartnerCenterEmulator,
  type PartnerCenterEmulatorOptions,
} from "../../emulators/partner-center/index.ts";

export const SAMPLE = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");

/** Fast retries and polls for tests: the waits Microsoft asks for are honoured, only shorter. */
export const FAST: Pick<FetchOptions, "poll" | "retry" | "timeoutMs"> = {
  poll: { pollIntervalMs: 5, maxWaitMs: 5_000 },
  retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
  timeoutMs: 10_000,
};

/** The fetch service's view of an app: the one the jobs, the API and the CLI use. */
export { fetchAppOf } from "../../src/jobs/sync-worker.ts";

export async function startEmulator(
  options: PartnerCenterEmulatorOptions = {},
): Promise<PartnerCenterEmulator> {
  return startPartnerCenterEmulator({ files: [SAMPLE], linesPerBlob: 7, ...options });
}

/** Adds the emulator as a Partner Center source of the app, its host allowed as an operator would allow it. */
export async function addSource(app: App, emulator: PartnerCenterEmulator, name = "PC") {
  app.config.microsoftAllowedHosts.push(hostOf(emulator.url));
  return app.sources.create({
    name,
    config: { tenantId: emulator.tenantId, clientId: emulator.clientId, endpoints: emulator.endpoints },
    secrets: { clientSecret: emulator.clientSecret },
  });
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cspsync-pc-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
