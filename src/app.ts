import { loadConfig, type AppConfig } from "./config.ts";
import { createAdapter, createAzureTarget, createMonthlyTarget, type AdapterOptions } from "./psa/factory.ts";
import type { PsaAdapter } from "./psa/port.ts";
import fs from "node:fs";
import type pino from "pino";
import {
  createAppLogger,
  psaTransportLogger,
  silentLogger,
  type Logger,
  type LoggerOptions,
  type SecretRegistry,
} from "./log.ts";
import { RequestBudgets, type TransportLogEvent } from "./psa/shared/transport.ts";
import { ensurePrivateDir, warnOnConsole, type Warn } from "./security/files.ts";
import { loadSecretBox } from "./security/secrets.ts";
import { AnnualSync } from "./services/annual-sync.ts";
import { AzureSync } from "./services/azure-sync.ts";
import { ConnectionService } from "./services/connections.ts";
import { MappingService } from "./services/mappings.ts";
import { SourceConnectionService } from "./services/source-connections.ts";
import { NotificationService } from "./services/notifications.ts";
import { MonthlySync, type MonthlyLine } from "./services/monthly-sync.ts";
import type { SyncOptions } from "./services/sync-now.ts";
import { openStore, type Store } from "./store/db.ts";
import { DEFAULT_ORGANIZATION_ID } from "./store/organization.ts";

/**
 * Everything a cspsync process needs, wired once: the store, the secret box, the services, and adapters
 * for stored PSA connections. The CLI, the HTTP API and the workers all start from here.
 */
export type App = {
  config: AppConfig;
  /**
   * The process's one logger (pino): the HTTP server runs on it, and the job queue, the syncs and the PSA
   * clients log through it (children carry the connection and run ids). Secrets are never written.
   */
  log: pino.Logger;
  /** The secrets `log` never writes; a logger built for the same process (a test's capture) shares them. */
  logSecrets: SecretRegistry;
  store: Store;
  organizationId: string;
  connections: ConnectionService;
  mappings: MappingService;
  /** Billing-data sources (Microsoft Partner Center), credentials sealed like connections'. */
  sources: SourceConnectionService;
  /** Notification channels, events and delivery (docs/notifications.md). */
  notifications: NotificationService;
  /** The PSA host allow-list and transport settings every PSA client of this process is built with. */
  psaOptions: AdapterOptions;
  /** The client options of one stored connection: psaOptions with the connection's own request budget. */
  psaOptionsFor(connectionId: string): AdapterOptions;
  adapterFor(connectionId: string): Promise<PsaAdapter>;
  annualSync(connectionId: string, options?: SyncOptions): Promise<AnnualSync>;
  azureSync(connectionId: string, options?: SyncOptions): Promise<AzureSync>;
  monthlySync(connectionId: string, options?: SyncOptions): Promise<MonthlySync<MonthlyLine>>;
  close(): Promise<void>;
};

/**
 * Warns about every connection whose stored credentials this process's key cannot decrypt (the key was
 * changed or lost), so it is said at start-up rather than as a failed sync later. Returns how many.
 */
export async function reportUnreadableCredentials(app: App, warn: Warn = warnOnConsole): Promise<number> {
  const unreadable = await app.connections.unreadableCredentials();
  for (const connection of unreadable) warn(connection.message);
  return unreadable.length;
}

/** How a sync is built (another clock, another logger): declared with Sync now, in services. */
export type { SyncOptions } from "./services/sync-now.ts";

/**
 * The transport settings every PSA client of this process gets: AdapterOptions' overrides plus the transport's
 * structured logger hook, which the clients pass through to the shared transport.
 */
type TransportSettings = NonNullable<AdapterOptions["transport"]> & {
  logger?: (event: TransportLogEvent) => void;
};

export type AppOptions = {
  databaseUrl?: string;
  env?: NodeJS.ProcessEnv;
  transport?: AdapterOptions["transport"];
  /** Where warnings about file permissions go (default: the console). */
  warn?: Warn;
  /** The logger's level and destination (default CSPSYNC_LOG_LEVEL on standard output); `false` silences it. */
  log?: false | LoggerOptions;
};

export async function createApp(options: AppOptions = {}): Promise<App> {
  const config = loadConfig(
    options.env ?? process.env,
    options.databaseUrl ? { databaseUrl: options.databaseUrl } : {},
  );
  const warn = options.warn ?? warnOnConsole;
  // The data directory is created 0700 where it is first needed (database, key file, uploads); one that
  // exists already is narrowed to that.
  if (fs.existsSync(config.dataDir)) ensurePrivateDir(config.dataDir, { tighten: true, warn });
  const store = await openStore(config.databaseUrl, { warn });
  let box;
  try {
    box = loadSecretBox(config.dataDir, config.secretKey, warn);
  } catch (error) {
    await store.close();
    throw error;
  }
  const organizationId = DEFAULT_ORGANIZATION_ID;
  const connections = new ConnectionService(store, box, organizationId);
  const mappings = new MappingService(store, organizationId);
  const sources = new SourceConnectionService(store, box, organizationId);
  const { log, secrets } =
    options.log === false ? silentLogger() : createAppLogger({ level: config.logLevel, ...options.log });
  /** Client options whose requests, retries and failures are logged on `logger` (the transport's hook). */
  const withLogger = (logger: Logger): AdapterOptions => {
    const transport: TransportSettings = {
      // No PSA request outlasts the timeout the run lock counts on (CSPSYNC_PSA_TIMEOUT_SECONDS).
      timeoutMs: config.runLock.psaTimeoutMs,
      logger: psaTransportLogger(logger),
      ...options.transport,
    };
    return { allowedHosts: config.psaAllowedHosts, transport };
  };
  const adapterOptions = withLogger(log);
  /** A stored connection's details, its secrets registered so that no log line ever carries them. */
  const detailsOf = async (connectionId: string) => {
    const details = await connections.details(connectionId);
    secrets.add(
      Object.values(details.secrets as Record<string, unknown>).filter((v) => typeof v === "string"),
    );
    return details;
  };
  // One request budget per connection in this process: a billing sync, a product sync and a lookup of the
  // same connection running at once still share one concurrency cap and one rate.
  const budgets = new RequestBudgets();
  const optionsFor = (connectionId: string, logger: Logger = log): AdapterOptions => {
    const options = withLogger(logger.child({ connectionId }));
    return { ...options, transport: { ...options.transport, budget: budgets.for(connectionId) } };
  };
  const adapterFor = async (connectionId: string) =>
    createAdapter(await detailsOf(connectionId), optionsFor(connectionId));
  return {
    config,
    log,
    logSecrets: secrets,
    store,
    organizationId,
    connections,
    mappings,
    sources,
    notifications: new NotificationService({
      store,
      box,
      organizationId,
      allowedHosts: config.notifyAllowedHosts,
      log,
    }),
    psaOptions: adapterOptions,
    psaOptionsFor: (connectionId) => optionsFor(connectionId),
    adapterFor,
    async annualSync(connectionId, { log: logger, ...options } = {}) {
      return new AnnualSync({
        ...options,
        runLock: config.runLock,
        store,
        organizationId,
        mappings,
        adapter: await createAdapter(await detailsOf(connectionId), optionsFor(connectionId, logger)),
        connectionId,
      });
    },
    async azureSync(connectionId, { log: logger, ...options } = {}) {
      return new AzureSync({
        ...options,
        runLock: config.runLock,
        store,
        organizationId,
        mappings,
        target: await createAzureTarget(await detailsOf(connectionId), optionsFor(connectionId, logger)),
        connectionId,
      });
    },
    async monthlySync(connectionId, { log: logger, ...options } = {}) {
      return new MonthlySync({
        ...options,
        runLock: config.runLock,
        store,
        organizationId,
        mappings,
        target: await createMonthlyTarget(await detailsOf(connectionId), optionsFor(connectionId, logger)),
        connectionId,
      });
    },
    close: () => store.close(),
  };
}
