import { assertHostAllowed } from "../../security/hosts.ts";
import type { AdapterOptions, PsaConnectionDetails } from "../port.ts";
import { resolveApiOrigin, type ConnectWiseClientOptions } from "./client.ts";

type ConnectWiseDetails = Extract<PsaConnectionDetails, { vendor: "connectwise" }>;

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
