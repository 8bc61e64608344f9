import pino from "pino";
import type { AppConfig } from "./config.ts";
import { redactSecrets } from "./psa/shared/errors.ts";
import type { TransportLogEvent } from "./psa/shared/transport.ts";

/** What cspsync's background work logs through: pino's methods, so the HTTP server's logger fits too. */
export type Logger = Pick<pino.BaseLogger, "debug" | "info" | "warn" | "error"> & {
  /** A logger whose every line carries these fields too (run and connection ids, …). */
  child(bindings: Record<string, unknown>): Logger;
};

/** Where log lines go: pino's destination, or anything with `write(line)` (tests capture lines this way). */
export type LogStream = { write(line: string): void };

export type LoggerOptions = {
  level?: AppConfig["logLevel"] | string;
  /** Default: standard output, written synchronously so nothing is lost when a process exits on a failure. */
  stream?: LogStream;
  /** The secrets never to write; default a new registry (the app's logger shares its own with others). */
  secrets?: SecretRegistry;
};

/**
 * Keys whose values are never written, wherever they sit in a logged object (one level of nesting, and
 * request/response headers). Credentials are not logged on purpose; this holds even if one slips into a
 * logged object later.
 */
const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  ...["password", "privateKey", "secret", "secrets", "token", "apiToken", "authorization", "cookie"].flatMap(
    (key) => [key, `*.${key}`],
  ),
];

/**
 * Secret values this process holds (PSA private keys and API secrets, once a connection's client is built):
 * every log line is scrubbed of them — in every form the PSA clients could echo them (see redactSecrets) —
 * before it is written, whatever the line came from (an error message, a PSA's reply, a URL).
 */
export class SecretRegistry {
  readonly #values = new Set<string>();

  add(values: Iterable<string>): void {
    for (const value of values) if (value.length >= 4) this.#values.add(value);
  }

  scrub(line: string): string {
    return this.#values.size === 0 ? line : redactSecrets(line, [...this.#values]);
  }
}

let defaultDestination: 1 | 2 = 1;

/**
 * Where loggers without a stream write: standard output (the default: servers and workers, whose output is
 * their log) or standard error (one-shot CLI commands, whose standard output is their answer, e.g. --json).
 */
export function setDefaultLogDestination(fd: 1 | 2): void {
  defaultDestination = fd;
}

/** The pino logger and the registry of the secrets it never writes. */
export type AppLogger = { log: pino.Logger; secrets: SecretRegistry };

/**
 * A JSON-lines logger (pino; the HTTP server runs on this same instance) at the configured level
 * (CSPSYNC_LOG_LEVEL), on standard output unless a stream is given, with credentials redacted by key and by
 * value.
 */
export function createAppLogger(options: LoggerOptions = {}): AppLogger {
  const secrets = options.secrets ?? new SecretRegistry();
  const destination = options.stream ?? pino.destination({ dest: defaultDestination, sync: true });
  const log = pino(
    {
      level: options.level ?? "info",
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "***" },
      hooks: {
        // The last step before a line leaves: whatever it says, no registered secret goes with it.
        streamWrite: (line) => secrets.scrub(line),
      },
    },
    destination,
  );
  return { log, secrets };
}

/** A logger at a level, on standard output unless a stream is given (see createAppLogger). */
export function createLogger(level: AppConfig["logLevel"], stream?: LogStream): Logger {
  return createAppLogger({ level, ...(stream ? { stream } : {}) }).log;
}

/** A logger that writes nothing (tests, and `log: false`). */
export function silentLogger(): AppLogger {
  return { log: pino({ level: "silent" }), secrets: new SecretRegistry() };
}

const TRANSPORT_MESSAGES: Record<TransportLogEvent["type"], string> = {
  request: "PSA request",
  retry: "PSA request retried",
  error: "PSA request failed",
};

/**
 * The PSA transport's structured logger hook, onto a logger: requests at debug, retries and failed attempts
 * at warn. The transport has redacted URLs and messages already and never logs headers.
 */
export function psaTransportLogger(log: Logger): (event: TransportLogEvent) => void {
  return (event) => {
    const { type, ...fields } = event;
    const message = TRANSPORT_MESSAGES[type];
    if (type === "request") log.debug({ psa: fields }, message);
    else log.warn({ psa: fields }, message);
  };
}
