import type { ConnectionDetails } from "../../services/connections.ts";
import type { MonthlyLine, MonthlyPsaTarget } from "../../services/monthly-sync.ts";
import type { AdapterOptions } from "../factory.ts";

/** Seat-based Monthly sync on Autotask: not available yet. */
export async function createAutotaskMonthlyTarget(
  details: ConnectionDetails,
  _options: AdapterOptions,
): Promise<MonthlyPsaTarget<MonthlyLine>> {
  if (details.vendor !== "autotask") throw new Error("not an Autotask connection");
  throw new Error("the Seat-based Monthly sync is not available for Autotask yet");
}
