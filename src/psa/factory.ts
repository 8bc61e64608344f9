import { assertHostAllowed } from "../security/hosts.ts";
import type { ConnectionDetails } from "../services/connections.ts";
import type { AzurePsaTarget } from "../services/azure-sync.ts";
import { ConnectWiseAdapter } from "./connectwise/adapter.ts";
import { createConnectWiseAzureTarget } from "./connectwise/azure.ts";
import { createConnectWiseMonthlyTarget } from "./connectwise/monthly.ts";
import type { MonthlyLine, MonthlyPsaTarget } from "../services/monthly-sync.ts";
import { resolveApiOrigin, type ConnectWiseClientOptions } from "./connectwise/client.ts";
import type { PsaAdapter } from "./port.ts";

export type AdapterOptions = {
  allowedHosts: readonly string[];
  /** Overrides for tests and benchmarks (retry timing); production uses the clients' defaults. */
  transport?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; timeoutMs?: number };
};

type ConnectWiseDetails = Extract<ConnectionDetails, { vendor: "connectwise" }>;

/** The client options of a stored ConnectWise connection, once its site and API hosts pass the allow-list. */
export function connectWiseClientOptions(
  details: ConnectWiseDetails,
  options: AdapterOptions,
): ConnectWiseClientOptions {
  assertHostAllowed(details.config.site, "connectwise", options.allowedHosts);
  assertHostAllowed(resolveApiOrigin(details.config.site), "connectwise", options.allowedHosts);
  return {
    siteUrl: details.config.site,
    companyId: details.config.companyId,
    publicKey: details.config.publicKey,
    privateKey: details.secrets.privateKey,
    clientId: details.config.clientId,
    // The first URL passing is not enough: every request and redirect hop is checked again before it leaves.
    checkUrl: (url) => assertHostAllowed(url, "connectwise", options.allowedHosts),
    ...(options.transport ? { transport: options.transport } : {}),
  };
}

/** Builds the PSA adapter for a stored connection, refusing hosts that are not allowed before any request. */
export async function createAdapter(
  details: ConnectionDetails,
  options: AdapterOptions,
): Promise<PsaAdapter> {
  if (details.vendor === "connectwise")
    return new ConnectWiseAdapter(connectWiseClientOptions(details, options), details.settings);
  const { createAutotaskAdapter } = await import("./autotask/adapter.ts");
  return createAutotaskAdapter(details, options);
}

/** Builds the Azure Plan target for a stored connection, under the same host allow-list as its adapter. */
export async function createAzureTarget(
  details: ConnectionDetails,
  options: AdapterOptions,
): Promise<AzurePsaTarget> {
  if (details.vendor === "connectwise") return createConnectWiseAzureTarget(details, options);
  const { createAutotaskAzureTarget } = await import("./autotask/azure.ts");
  return createAutotaskAzureTarget(details, options);
}

/** Builds the Seat-based Monthly target for a stored connection, under the same host allow-list as its adapter. */
export async function createMonthlyTarget(
  details: ConnectionDetails,
  options: AdapterOptions,
): Promise<MonthlyPsaTarget<MonthlyLine>> {
  if (details.vendor === "connectwise") return createConnectWiseMonthlyTarget(details, options);
  const { createAutotaskMonthlyTarget } = await import("./autotask/monthly.ts");
  return createAutotaskMonthlyTarget(details, options);
}
