import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { AppError } from "./core/errors.ts";
import { parseTrustProxy, TrustProxyError, type TrustProxy } from "./http/trust-proxy.ts";
import { parseAllowedHosts } from "./security/hosts.ts";

/** The default most bytes of one uploaded file: 2 GiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;
export const DEFAULT_MAX_UPLOAD_FILES = 10;

/** A setting is unusable: names the environment variable and what it should be. Thrown at start-up. */
export class ConfigError extends AppError {
  declare readonly field: string;
  constructor(variable: string, problem: string) {
    super("validation", `Invalid environment variable ${variable}: ${problem}`, { field: variable });
  }
}

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A whole number in a range, given as text; the message says what is expected. */
function wholeNumber(min: number, max: number, what: string) {
  const expected = `${what}: a whole number from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, { error: (issue) => `should be ${expected}, not "${String(issue.input)}"` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `should be ${expected}` })
        .max(max, { error: `should be ${expected}` }),
    );
}

const optionalText = (what: string) =>
  z
    .string()
    .trim()
    .min(1, { error: `should be ${what}, or not set` })
    .optional();

/**
 * Every environment variable cspsync reads (the README's table), validated once at start-up, so the rest of
 * the code gets typed values and a wrong one stops the process with its name and what it should be.
 */
const envSchema = z.object({
  CSPSYNC_DATABASE_URL: optionalText("sqlite:PATH or a postgres:// URL"),
  CSPSYNC_DATA_DIR: optionalText("a directory path"),
  // Its form (32 bytes, hex or base64) is checked where the key is loaded, without echoing it.
  CSPSYNC_SECRET_KEY: optionalText("a 32-byte key as hex or base64"),
  CSPSYNC_PSA_ALLOWED_HOSTS: z.string().optional(),
  CSPSYNC_MICROSOFT_ALLOWED_HOSTS: z.string().optional(),
  CSPSYNC_NOTIFY_ALLOWED_HOSTS: z.string().optional(),
  CSPSYNC_PORT: wholeNumber(0, 65_535, "the port to listen on").optional(),
  CSPSYNC_HOST: optionalText("the address to listen on (127.0.0.1, 0.0.0.0, …)"),
  CSPSYNC_TRUST_PROXY: z.string().optional(),
  CSPSYNC_MAX_UPLOAD_BYTES: wholeNumber(1, Number.MAX_SAFE_INTEGER, "bytes per uploaded file").optional(),
  CSPSYNC_MAX_UPLOAD_FILES: wholeNumber(1, 10_000, "files per upload").optional(),
  CSPSYNC_MAX_UPLOAD_TOTAL_BYTES: wholeNumber(1, Number.MAX_SAFE_INTEGER, "bytes per upload").optional(),
  CSPSYNC_ADMIN_EMAIL: optionalText("the first admin's e-mail address"),
  // Checked against the password policy when the admin is created (the value is never echoed).
  CSPSYNC_ADMIN_PASSWORD: z.string().optional(),
  CSPSYNC_LOG_LEVEL: z
    .enum(LOG_LEVELS, {
      error: (issue) => `should be one of ${LOG_LEVELS.join(", ")}, not "${String(issue.input)}"`,
    })
    .default("info"),
  CSPSYNC_NODE_NAME: z
    .string()
    .trim()
    .min(1, { error: "should be a name of 1 to 200 characters, or not set" })
    .max(200, { error: "should be a name of 1 to 200 characters" })
    .optional(),
  CSPSYNC_RUN_STALE_SECONDS: wholeNumber(2, 86_400, "seconds").default(120),
  CSPSYNC_PSA_TIMEOUT_SECONDS: wholeNumber(1, 600, "seconds").default(30),
  CSPSYNC_JOB_LEASE_SECONDS: wholeNumber(1, 3600, "seconds").default(60),
});

/** The names of every variable the config reads (the README's table lists the same). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as (keyof typeof envSchema.shape)[];

/** How sync runs hold their connection's lock (see SyncBookkeeping). */
export type RunLockConfig = {
  /** This process in run records: CSPSYNC_NODE_NAME, default the host name. */
  nodeName: string;
  /** A run silent this long (by the database clock) on another node is taken over. */
  staleRunMs: number;
  /** One PSA request never takes longer (it is aborted); take-over waits longer than this. */
  psaTimeoutMs: number;
};

/** Where and how `cspsync serve` listens (command-line flags override these). */
export type ServerConfig = {
  /** CSPSYNC_PORT, default 8080. */
  port: number;
  /** CSPSYNC_HOST, default 127.0.0.1. */
  host: string;
  /** CSPSYNC_TRUST_PROXY, default off. */
  trustProxy: TrustProxy;
  maxUploadBytes: number;
  maxUploadFiles: number;
  /** Default: maxUploadBytes. */
  maxUploadTotalBytes: number;
};

export type AppConfig = {
  dataDir: string;
  databaseUrl: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** CSPSYNC_SECRET_KEY; without it the key file in the data directory is used (or generated). */
  secretKey: string | undefined;
  /** CSPSYNC_PSA_ALLOWED_HOSTS: PSA hosts beyond the vendors' public ones, lower-case `host[:port]`. */
  psaAllowedHosts: string[];
  /** CSPSYNC_MICROSOFT_ALLOWED_HOSTS: Microsoft hosts beyond Microsoft's own (an emulator), `host[:port]`. */
  microsoftAllowedHosts: string[];
  /** CSPSYNC_NOTIFY_ALLOWED_HOSTS: webhook hosts beyond Teams' and Slack's public ones (docs/notifications.md). */
  notifyAllowedHosts: string[];
  /** CSPSYNC_ADMIN_EMAIL / CSPSYNC_ADMIN_PASSWORD: the first admin to create at start, when both are set. */
  admin: { email: string; password: string } | null;
  server: ServerConfig;
  runLock: RunLockConfig;
  /**
   * How long a background job stays with its worker without a heartbeat (renewed every third of it): a job
   * whose worker died runs again on another one about this long after (see src/jobs). CSPSYNC_JOB_LEASE_SECONDS.
   */
  jobLeaseSeconds: number;
};

/**
 * Reads and checks every environment variable; throws ConfigError naming the first one that is unusable.
 * Empty values count as not set, as a shell's `VAR=` usually means.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: { databaseUrl?: string } = {},
): AppConfig {
  const given = Object.fromEntries(
    CONFIG_VARIABLES.flatMap((name) => {
      const value = env[name];
      return value === undefined || value === "" ? [] : [[name, value]];
    }),
  );
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue?.path[0]), issue?.message ?? "invalid value");
  }
  const vars = parsed.data;
  const dataDir = path.resolve(vars.CSPSYNC_DATA_DIR ?? "./data");
  const databaseUrl =
    overrides.databaseUrl ?? vars.CSPSYNC_DATABASE_URL ?? `sqlite:${path.join(dataDir, "cspsync.db")}`;
  const { CSPSYNC_RUN_STALE_SECONDS: stale, CSPSYNC_PSA_TIMEOUT_SECONDS: timeout } = vars;
  // A run is taken over only once any request its process had in flight has ended (timed out at the latest).
  if (stale <= timeout)
    throw new ConfigError(
      "CSPSYNC_RUN_STALE_SECONDS",
      `${stale} must be longer than CSPSYNC_PSA_TIMEOUT_SECONDS (${timeout}), so a stopped run's requests ` +
        "have ended before another takes over",
    );
  // Half an admin is a mistake, not "no admin": said at start rather than silently ignored.
  if (Boolean(vars.CSPSYNC_ADMIN_EMAIL) !== Boolean(vars.CSPSYNC_ADMIN_PASSWORD))
    throw new ConfigError(
      vars.CSPSYNC_ADMIN_EMAIL ? "CSPSYNC_ADMIN_PASSWORD" : "CSPSYNC_ADMIN_EMAIL",
      "CSPSYNC_ADMIN_EMAIL and CSPSYNC_ADMIN_PASSWORD must be set together",
    );
  let trustProxy: TrustProxy;
  try {
    trustProxy = parseTrustProxy(vars.CSPSYNC_TRUST_PROXY);
  } catch (error) {
    if (error instanceof TrustProxyError) throw new ConfigError("CSPSYNC_TRUST_PROXY", error.message);
    throw error;
  }
  const maxUploadBytes = vars.CSPSYNC_MAX_UPLOAD_BYTES ?? DEFAULT_MAX_UPLOAD_BYTES;
  return {
    dataDir,
    databaseUrl,
    logLevel: vars.CSPSYNC_LOG_LEVEL,
    secretKey: vars.CSPSYNC_SECRET_KEY,
    psaAllowedHosts: parseAllowedHosts(vars.CSPSYNC_PSA_ALLOWED_HOSTS),
    microsoftAllowedHosts: parseAllowedHosts(vars.CSPSYNC_MICROSOFT_ALLOWED_HOSTS),
    notifyAllowedHosts: parseAllowedHosts(vars.CSPSYNC_NOTIFY_ALLOWED_HOSTS),
    admin:
      vars.CSPSYNC_ADMIN_EMAIL && vars.CSPSYNC_ADMIN_PASSWORD
        ? { email: vars.CSPSYNC_ADMIN_EMAIL, password: vars.CSPSYNC_ADMIN_PASSWORD }
        : null,
    server: {
      port: vars.CSPSYNC_PORT ?? 8080,
      host: vars.CSPSYNC_HOST ?? "127.0.0.1",
      trustProxy,
      maxUploadBytes,
      maxUploadFiles: vars.CSPSYNC_MAX_UPLOAD_FILES ?? DEFAULT_MAX_UPLOAD_FILES,
      maxUploadTotalBytes: vars.CSPSYNC_MAX_UPLOAD_TOTAL_BYTES ?? maxUploadBytes,
    },
    runLock: {
      nodeName: vars.CSPSYNC_NODE_NAME ?? os.hostname(),
      staleRunMs: stale * 1000,
      psaTimeoutMs: timeout * 1000,
    },
    jobLeaseSeconds: vars.CSPSYNC_JOB_LEASE_SECONDS,
  };
}
