import { assertHostAllowed } from "../security/hosts.ts";
import type { ConnectionDetails } from "../services/connections.ts";
import { ConnectWiseAdapter } from "./connectwise/adapter.ts";
import { resolveApiOrigin } from "./connectwise/client.ts";
import type { PsaAdapter } from "./port.ts";

export type AdapterOptions = {
  allowedHosts: readonly string[];
  /** Overrides for tests and benchmarks (retry timing); production uses the clients' defaults. */
  transport?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; timeoutMs?: number };
};

/** Builds the PSA adapter for a stored connection, refusing hosts that are not allowed before any request. */
export async function createAdapter(
  details: ConnectionDetails,
  options: AdapterOptions,
): Promise<PsaAdapter> {
  if (details.vendor === "connectwise") {
    assertHostAllowed(details.config.site, "connectwise", options.allowedHosts);
    assertHostAllowed(resolveApiOrigin(details.config.site), "connectwise", options.allowedHosts);
    return new ConnectWiseAdapter(
      {
        siteUrl: details.config.site,
        companyId: details.config.companyId,
        publicKey: details.config.publicKey,
        privateKey: details.secrets.privateKey,
        clientId: details.config.clientId,
        ...(options.transport ? { transport: options.transport } : {}),
      },
      details.settings,
    );
  }
  const { createAutotaskAdapter } = await import("./autotask/adapter.ts");
  return createAutotaskAdapter(details, options);
}
