import { parseArgs } from "node:util";
import { createApp, reportUnreadableCredentials } from "../../app.ts";
import { startServer } from "../../http/server.ts";
import { parseTrustProxy, TrustProxyError, type TrustProxy } from "../../http/trust-proxy.ts";
import { AuthService } from "../../services/auth.ts";
import { UsageError } from "../output.ts";
import { untilStopped } from "../signals.ts";
import { enqueueChecksAfterImport, startSyncWorker, type SyncWorker } from "../../jobs/sync-worker.ts";

export const serveHelp = `cspsync serve [--port N] [--host H] [--db URL] [--trust-proxy HOPS|ADDRESSES] [--no-worker]

Serves the web app and the HTTP API (OpenAPI document at /api/openapi.json, docs at /api/docs).
On a fresh database, open the printed address to create the first admin, or set CSPSYNC_ADMIN_EMAIL and
CSPSYNC_ADMIN_PASSWORD to have it created at start.

  --port N        port to listen on (default CSPSYNC_PORT or 8080; 0 picks a free one)
  --host H        address to listen on (default CSPSYNC_HOST or 127.0.0.1; 0.0.0.0 for every interface)
  --trust-proxy   believe X-Forwarded-For/-Proto from reverse proxies: the number of proxies in front of
                  cspsync (usually 1), or their addresses/CIDR ranges, comma-separated (or
                  CSPSYNC_TRUST_PROXY); off by default
  --no-worker     do not run background syncing in this process (run \`cspsync worker\` processes instead)

Unless --no-worker is given, the server also runs the daily check and queued syncs (see cspsync worker).

Uploads are limited to CSPSYNC_MAX_UPLOAD_BYTES per file (default 2 GiB), CSPSYNC_MAX_UPLOAD_FILES files per
upload (default 10) and CSPSYNC_MAX_UPLOAD_TOTAL_BYTES per upload (default: CSPSYNC_MAX_UPLOAD_BYTES).
Stop with Ctrl+C.`;

/** --trust-proxy, checked like CSPSYNC_TRUST_PROXY (which the config has checked already). */
function trustProxyFlag(flag: string): TrustProxy {
  try {
    return parseTrustProxy(flag);
  } catch (error) {
    if (error instanceof TrustProxyError) throw new UsageError(`--trust-proxy: ${error.message}`);
    throw error;
  }
}

function parsePort(value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a number from 0 to 65535, not "${value}"`);
  return port;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      db: { type: "string" },
      "trust-proxy": { type: "string" },
      "no-worker": { type: "boolean" },
    },
  });
  // Flags are checked before anything is opened; the environment is checked by the config (createApp).
  const portFlag = parsePort(values.port, undefined);
  const trustProxyFromFlag =
    values["trust-proxy"] === undefined ? undefined : trustProxyFlag(values["trust-proxy"]);
  const app = await createApp(values.db ? { databaseUrl: values.db } : {});
  const { server } = app.config;
  const port = portFlag ?? server.port;
  const host = values.host ?? server.host;
  const trustProxy = trustProxyFromFlag ?? server.trustProxy;
  let running;
  let worker: SyncWorker | undefined;
  try {
    await reportUnreadableCredentials(app);
    worker = values["no-worker"] ? undefined : await startSyncWorker(app);
    const background = worker;
    running = await startServer(app, {
      port,
      host,
      trustProxy,
      maxUploadBytes: server.maxUploadBytes,
      maxUploadFiles: server.maxUploadFiles,
      maxUploadTotalBytes: server.maxUploadTotalBytes,
      ...(background
        ? {
            afterImport: (files) => enqueueChecksAfterImport(app, background.queue, files),
            afterSettingsChange: () => background.reschedule(),
          }
        : {}),
    });
  } catch (error) {
    await worker?.stop();
    await app.close();
    throw error;
  }
  // Listening before the banner: whoever waits for the banner may stop the server right after it.
  const stopped = untilStopped();
  console.log(
    `cspsync is serving ${app.store.describe} at ${running.url} (API docs: ${running.url}/api/docs)`,
  );
  if (await new AuthService(app.store, app.organizationId).needsSetup())
    console.log(`No user yet: open ${running.url} to create the first admin.`);
  const signal = await stopped;
  console.log(`${signal}: stopping.`);
  await running.close();
  await worker?.stop();
  await app.close();
  return 0;
}
