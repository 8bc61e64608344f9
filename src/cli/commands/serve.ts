import { parseArgs } from "node:util";
import { z } from "zod";
import { createApp, reportUnreadableCredentials } from "../../app.ts";
import { DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_FILES, startServer } from "../../http/server.ts";
import { parseTrustProxy, TrustProxyError, type TrustProxy } from "../../http/trust-proxy.ts";
import { UsageError } from "../output.ts";
import { untilStopped } from "../signals.ts";
import { enqueueChecksAfterImport, startSyncWorker, type SyncWorker } from "../../services/sync-worker.ts";

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

const envSchema = z.object({
  CSPSYNC_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  CSPSYNC_HOST: z.string().min(1).optional(),
  CSPSYNC_TRUST_PROXY: z.string().optional(),
  CSPSYNC_MAX_UPLOAD_BYTES: z.coerce.number().int().positive().optional(),
  CSPSYNC_MAX_UPLOAD_FILES: z.coerce.number().int().positive().optional(),
  CSPSYNC_MAX_UPLOAD_TOTAL_BYTES: z.coerce.number().int().positive().optional(),
});

function trustProxySetting(flag: string | undefined, variable: string | undefined): TrustProxy {
  const [name, value] = flag === undefined ? ["CSPSYNC_TRUST_PROXY", variable] : ["--trust-proxy", flag];
  try {
    return parseTrustProxy(value);
  } catch (error) {
    if (error instanceof TrustProxyError) throw new UsageError(`${name}: ${error.message}`);
    throw error;
  }
}

function parsePort(value: string | undefined, fallback: number): number {
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
  const env = envSchema.safeParse(process.env);
  if (!env.success) {
    const issue = env.error.issues[0];
    throw new UsageError(`invalid environment variable ${String(issue?.path[0])}: ${issue?.message}`);
  }
  const port = parsePort(values.port, env.data.CSPSYNC_PORT ?? 8080);
  const host = values.host ?? env.data.CSPSYNC_HOST ?? "127.0.0.1";
  const trustProxy = trustProxySetting(values["trust-proxy"], env.data.CSPSYNC_TRUST_PROXY);

  const app = await createApp(values.db ? { databaseUrl: values.db } : {});
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
      maxUploadBytes: env.data.CSPSYNC_MAX_UPLOAD_BYTES ?? DEFAULT_MAX_UPLOAD_BYTES,
      maxUploadFiles: env.data.CSPSYNC_MAX_UPLOAD_FILES ?? DEFAULT_MAX_UPLOAD_FILES,
      maxUploadTotalBytes:
        env.data.CSPSYNC_MAX_UPLOAD_TOTAL_BYTES ??
        env.data.CSPSYNC_MAX_UPLOAD_BYTES ??
        DEFAULT_MAX_UPLOAD_BYTES,
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
  const needsSetup =
    Number(
      (
        await app.store.db
          .selectFrom("users")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    ) === 0;
  if (needsSetup) console.log(`No user yet: open ${running.url} to create the first admin.`);
  const signal = await stopped;
  console.log(`${signal}: stopping.`);
  await running.close();
  await worker?.stop();
  await app.close();
  return 0;
}
