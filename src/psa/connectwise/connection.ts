import type { AdapterOptions, PsaConnection, PsaConnectionDetails } from "../port.ts";
import { ConnectWiseAdapter } from "./adapter.ts";
import { ConnectWiseAzureTarget } from "./azure.ts";
import { ConnectWiseCatalogTarget } from "./catalog.ts";
import { ConnectWiseClient } from "./client.ts";
import { connectWiseClientOptions } from "./client-options.ts";
import { ConnectWiseMonthlyTarget } from "./monthly.ts";

/**
 * A stored ConnectWise connection as the PSA port's PsaConnection: ONE client (one request pacing, one
 * concurrency cap, one request count) under the annual adapter, the monthly and Azure targets and the catalog
 * target, so syncing several motions of one connection never multiplies the load ConnectWise sees.
 */
export function connectConnectWise(
  details: Extract<PsaConnectionDetails, { vendor: "connectwise" }>,
  options: AdapterOptions,
  today?: () => string,
): PsaConnection {
  const client = new ConnectWiseClient(connectWiseClientOptions(details, options));
  const annual = new ConnectWiseAdapter(client, details.settings, today);
  return {
    vendor: "connectwise",
    annual,
    monthly: new ConnectWiseMonthlyTarget(client, annual),
    azure: new ConnectWiseAzureTarget(client, annual, details.settings),
    catalog(settings) {
      if (settings.vendor !== "connectwise")
        throw new Error("the product settings are for another PSA than the connection");
      return new ConnectWiseCatalogTarget(client, settings.catalog);
    },
    requestCount: () => client.transportStats().requests,
  };
}
