import type { AdapterOptions, PsaConnection, PsaConnectionDetails } from "../port.ts";
import { AutotaskAdapter, connectAutotaskClient } from "./adapter.ts";
import { AutotaskAzureTarget } from "./azure.ts";
import { AutotaskCatalogTarget } from "./catalog.ts";
import { AutotaskMonthlyTarget } from "./monthly.ts";

/**
 * A stored Autotask connection as the PSA port's PsaConnection: ONE client (one zone discovery, one set of
 * per-endpoint thread caps, one request count) under the annual adapter, the monthly and Azure targets and the
 * catalog target. Autotask's thread limit is per integration and endpoint (docs/autotask.md §10), so separate
 * clients for the motions of one connection could together exceed it.
 */
export async function connectAutotask(
  details: Extract<PsaConnectionDetails, { vendor: "autotask" }>,
  options: AdapterOptions,
  today?: () => string,
): Promise<PsaConnection> {
  const client = await connectAutotaskClient(details, options);
  return {
    vendor: "autotask",
    annual: new AutotaskAdapter(client, details.settings, today),
    monthly: new AutotaskMonthlyTarget(client, details.settings, today),
    azure: new AutotaskAzureTarget(client, details.settings, today),
    catalog(settings) {
      if (settings.vendor !== "autotask")
        throw new Error("the product settings are for another PSA than the connection");
      return new AutotaskCatalogTarget(client, settings.catalog);
    },
    requestCount: () => client.stats().requests,
  };
}
