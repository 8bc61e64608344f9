import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { createApp, type App } from "../../src/app.ts";
import type { Dialect } from "../../src/store/db.ts";
import { createTestDatabase } from "./stores.ts";

/** A complete cspsync app on a fresh database of the given dialect, allowed to talk to the given hosts. */
export async function createTestApp(
  dialect: Dialect,
  allowedHosts: string[],
  transport = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 },
): Promise<{ app: App; env: NodeJS.ProcessEnv; databaseUrl: string; cleanup(): Promise<void> }> {
  const database = await createTestDatabase(dialect);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-app-"));
  const env: NodeJS.ProcessEnv = {
    CSPSYNC_DATA_DIR: dataDir,
    CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
    CSPSYNC_PSA_ALLOWED_HOSTS: allowedHosts.join(","),
  };
  // Silent: fault tests make the PSA fail on purpose, and their retries would fill the test output with
  // warnings. test/spine/logging.test.ts builds its own app to read what is logged.
  const app = await createApp({ databaseUrl: database.url, env, transport, log: false });
  return {
    app,
    env,
    databaseUrl: database.url,
    async cleanup() {
      await app.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function hostOf(url: string): string {
  return new URL(url).host;
}
