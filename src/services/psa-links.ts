import type { ConnectionView } from "./connections.ts";

/**
 * Links from cspsync's screens to the agreement (ConnectWise) or contract (Autotask) a line was written to,
 * built from the connection's own configured host, one function per vendor. The URL forms and why they were
 * chosen are in docs/psa-links.md. null when the connection does not say where its PSA's web app lives.
 */
export function psaAgreementLink(
  connection: Pick<ConnectionView, "vendor" | "config">,
  agreementId: string,
): string | null {
  return connection.vendor === "connectwise"
    ? connectWiseAgreementLink(connection.config, agreementId)
    : autotaskContractLink(connection.config, agreementId);
}

function originOf(value: unknown): string | null {
  if (typeof value !== "string") return null;
  try {
    return new URL(value).origin;
  } catch {
    return null;
  }
}

/**
 * ConnectWise Manage opens any record through its "open record" router under the release folder; `v4_6_release`
 * is the folder every cloud and on-premise Manage answers on today (the version number in it is historic).
 */
export function connectWiseAgreementLink(
  config: Record<string, unknown>,
  agreementId: string,
): string | null {
  const origin = originOf(config.site);
  if (!origin) return null;
  return `${connectWiseWebOrigin(origin)}/v4_6_release/services/system_io/router/openrecord.rails?recordType=AgreementFV&recid=${encodeURIComponent(agreementId)}`;
}

/**
 * People open Manage on the region's own host; the `api-` host a cloud connection may be configured with
 * serves only the API (docs/connectwise.md §2), so a link to it would not open the agreement.
 */
function connectWiseWebOrigin(origin: string): string {
  const url = new URL(origin);
  if (/^api-[^.]+\.(myconnectwise\.net|connectwisedev\.com)$/i.test(url.hostname))
    url.hostname = url.hostname.slice("api-".length);
  return url.origin;
}

/**
 * Autotask's contract detail page lives on the zone's web host (ww1…ww19.autotask.net, or the host a
 * self-hosted or test zone names). cspsync stores only where zone discovery starts (discoveryUrl), so the
 * link is built from that host when the connection sets one, and is not offered otherwise.
 */
export function autotaskContractLink(config: Record<string, unknown>, contractId: string): string | null {
  const origin = originOf(config.discoveryUrl);
  if (!origin) return null;
  return `${origin}/Mvc/Contracts/ContractDetail.mvc?contractId=${encodeURIComponent(contractId)}`;
}
