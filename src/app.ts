import { loadConfig, type AppConfig } from "./config.ts";
import { createAdapter, createAzureTarget, createMonthlyTarget, type AdapterOptions } from "./psa/factory.ts";
import type { PsaAdapter } from "./psa/port.ts";
import fs from "node:fs";
import { ensurePrivateDir, warnOnConsole, type Warn } from "./security/files.ts";
import { parseAllowedHosts } from "./security/hosts.ts";
import { loadSecretBox } from "./security/secrets.ts";
import { AnnualSync } from "./services/annual-sync.ts";
import { AzureSync } from "./services/azure-sync.ts";
import { ConnectionService } from "./services/connections.ts";
import { MappingService } from "./services/mappings.ts";
import { MonthlySync, type MonthlyLine } from "./services/monthly-sync.ts";
import { openStore, type Store } from "./store/db.ts";
import { DEFAULT_ORGANIZATION_ID } from "./store/organization.ts";

/**
 * Everything a cspsync process needs, wired once: the store, the secret box, the services, and adapters
 * for stored PSA connections. The CLI, the HTTP API and the workers all start from here.
 */
export type App = {
  config: AppConfig;
  store: Store;
  organizationId: string;
  connections: ConnectionService;
  mappings: MappingService;
  /** The PSA host allow-list and transport settings every PSA client of this process is built with. */
  psaOptions: AdapterOptions;
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

/** A clock other than the system's, for looking at a sync from a later moment (tests, replays). */
export type SyncOptions = { now?: () => Date };

export type AppOptions = {
  databaseUrl?: string;
  env?: NodeJS.ProcessEnv;
  transport?: AdapterOptions["transport"];
  /** Where warnings about file permissions go (default: the console). */
  warn?: Warn;
};

export async function createApp(options: AppOptions = {}): Promise<App> {
  const env = options.env ?? process.env;
  const config = loadConfig(env, options.databaseUrl ? { databaseUrl: options.databaseUrl } : {});
  const warn = options.warn ?? warnOnConsole;
  // The data directory is created 0700 where it is first needed (database, key file, uploads); one that
  // exists already is narrowed to that.
  if (fs.existsSync(config.dataDir)) ensurePrivateDir(config.dataDir, { tighten: true, warn });
  const store = await openStore(config.databaseUrl, { warn });
  let box;
  try {
    box = loadSecretBox(config.dataDir, env.CSPSYNC_SECRET_KEY, warn);
  } catch (error) {
    await store.close();
    throw error;
  }
  const organizationId = DEFAULT_ORGANIZATION_ID;
  const connections = new ConnectionService(store, box, organizationId);
  const mappings = new MappingService(store, organizationId);
  const adapterOptions: AdapterOptions = {
    allowedHosts: parseAllowedHosts(env.CSPSYNC_PSA_ALLOWED_HOSTS),
    // No PSA request outlasts the timeout the run lock counts on (CSPSYNC_PSA_TIMEOUT_SECONDS).
    transport: { timeoutMs: config.runLock.psaTimeoutMs, ...options.transport },
  };
  const adapterFor = async (connectionId: string) =>
    createAdapter(await connections.details(connectionId), adapterOptions);
  return {
    config,
    store,
    organizationId,
    connections,
    mappings,
    psaOptions: adapterOptions,
    adapterFor,
    async annualSync(connectionId, options = {}) {
      return new AnnualSync({
        ...options,
        runLock: config.runLock,
        store,
        organizationId,
        mappings,
        adapter: await adapterFor(connectionId),
        connectionId,
      });
    },
    async azureSync(connectionId, options = {}) {
      return new AzureSync({
        ...options,
        runLock: config.runLock,
        store,
        organizationId,
        mappings,
        target: await createAzureTarget(await connections.details(connectionId), adapterOptions),
        connectionId,
      });
    },
    async monthlySync(connectionId, options = {}) {
      return new MonthlySync({
        ...options,
        runLock: config.runLock,
        store,
        organizationId,
        mappings,
        target: await createMonthlyTarget(await connections.details(connectionId), adapterOptions),
        connectionId,
      });
    },
    close: () => store.close(),
  };
}
