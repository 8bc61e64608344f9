import type {
  AdapterOptions,
  AzurePsaTarget,
  MonthlyLine,
  MonthlyPsaTarget,
  PsaAdapter,
  PsaConnection,
  PsaConnectionDetails,
} from "./port.ts";
import { connectConnectWise } from "./connectwise/connection.ts";

export type { AdapterOptions } from "./port.ts";
export { connectWiseClientOptions } from "./connectwise/client-options.ts";

/**
 * The one place a stored connection becomes a PSA connection: one client per connection (one rate and
 * concurrency budget) under every motion's target and the catalog, with hosts that are not allowed refused
 * before any request. Autotask's modules load only when an Autotask connection is used.
 */
export async function createConnection(
  details: PsaConnectionDetails,
  options: AdapterOptions,
  today?: () => string,
): Promise<PsaConnection> {
  if (details.vendor === "connectwise") return connectConnectWise(details, options, today);
  const { connectAutotask } = await import("./autotask/connection.ts");
  return connectAutotask(details, options, today);
}

/** The annual adapter of a stored connection (connection-level reads: test, companies, agreements, pick lists). */
export async function createAdapter(
  details: PsaConnectionDetails,
  options: AdapterOptions,
): Promise<PsaAdapter> {
  return (await createConnection(details, options)).annual;
}

/** The Azure Plan target of a stored connection. */
export async function createAzureTarget(
  details: PsaConnectionDetails,
  options: AdapterOptions,
): Promise<AzurePsaTarget> {
  return (await createConnection(details, options)).azure;
}

/** The Seat-based Monthly target of a stored connection. */
export async function createMonthlyTarget(
  details: PsaConnectionDetails,
  options: AdapterOptions,
): Promise<MonthlyPsaTarget<MonthlyLine>> {
  return (await createConnection(details, options)).monthly;
}
