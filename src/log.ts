import pino from "pino";
import type { AppConfig } from "./config.ts";

/** What cspsync's background work logs through: pino's methods, so the HTTP server's logger fits too. */
export type Logger = Pick<pino.BaseLogger, "debug" | "info" | "warn" | "error">;

/**
 * A JSON-lines logger (pino, like the HTTP server's) at the configured level (CSPSYNC_LOG_LEVEL), on standard
 * output unless a stream is given. Written synchronously, so nothing is lost when a process exits on a failure.
 */
export function createLogger(
  level: AppConfig["logLevel"],
  stream: pino.DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  return pino({ level, base: { pid: process.pid } }, stream);
}
