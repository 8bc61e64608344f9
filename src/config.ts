import os from "node:os";
import path from "node:path";
import { z } from "zod";

/** Environment variables cspsync reads. Validated once, at the edge, so the rest of the code gets typed values. */
const envSchema = z.object({
  CSPSYNC_DATABASE_URL: z.string().min(1).optional(),
  CSPSYNC_DATA_DIR: z.string().min(1).default("./data"),
  CSPSYNC_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  CSPSYNC_NODE_NAME: z.string().trim().min(1).max(200).optional(),
  CSPSYNC_RUN_STALE_SECONDS: z.coerce.number().int().min(2).max(86_400).default(120),
  CSPSYNC_PSA_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  CSPSYNC_JOB_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
});

/** How sync runs hold their connection's lock (see SyncBookkeeping). */
export type RunLockConfig = {
  /** This process in run records: CSPSYNC_NODE_NAME, default the host name. */
  nodeName: string;
  /** A run silent this long (by the database clock) on another node is taken over. */
  staleRunMs: number;
  /** One PSA request never takes longer (it is aborted); take-over waits longer than this. */
  psaTimeoutMs: number;
};

export type AppConfig = {
  dataDir: string;
  databaseUrl: string;
  logLevel: "debug" | "info" | "warn" | "error";
  runLock: RunLockConfig;
  /**
   * How long a background job stays with its worker without a heartbeat (renewed every third of it): a job
   * whose worker died runs again on another one about this long after (see src/jobs). CSPSYNC_JOB_LEASE_SECONDS.
   */
  jobLeaseSeconds: number;
};

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: { databaseUrl?: string } = {},
): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid environment variable ${String(issue?.path[0])}: ${issue?.message}`);
  }
  const dataDir = path.resolve(parsed.data.CSPSYNC_DATA_DIR);
  const databaseUrl =
    overrides.databaseUrl ?? parsed.data.CSPSYNC_DATABASE_URL ?? `sqlite:${path.join(dataDir, "cspsync.db")}`;
  const { CSPSYNC_RUN_STALE_SECONDS: stale, CSPSYNC_PSA_TIMEOUT_SECONDS: timeout } = parsed.data;
  // A run is taken over only once any request its process had in flight has ended (timed out at the latest).
  if (stale <= timeout)
    throw new Error(
      `Invalid environment variable CSPSYNC_RUN_STALE_SECONDS: ${stale} must be longer than ` +
        `CSPSYNC_PSA_TIMEOUT_SECONDS (${timeout}), so a stopped run's requests have ended before another takes over`,
    );
  const runLock = {
    nodeName: parsed.data.CSPSYNC_NODE_NAME ?? os.hostname(),
    staleRunMs: stale * 1000,
    psaTimeoutMs: timeout * 1000,
  };
  return {
    dataDir,
    databaseUrl,
    logLevel: parsed.data.CSPSYNC_LOG_LEVEL,
    runLock,
    jobLeaseSeconds: parsed.data.CSPSYNC_JOB_LEASE_SECONDS,
  };
}
