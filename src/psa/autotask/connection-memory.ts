import type { ContractWindow } from "../../core/monthly-plan.ts";
import type { RequestBudget } from "../shared/transport.ts";
import type { ZoneInformation } from "./models.ts";
import type { QuotaTracker } from "./quota.ts";

/**
 * What the Autotask clients of one stored connection remember in this process, beyond one client's life: the
 * user's zone (docs/autotask.md §2: discover it and cache it per user) and the hourly threshold's last reading
 * (docs/autotask.md §10). The app builds every client of a connection with that connection's request budget
 * (src/psa/shared/transport.ts, RequestBudgets), so the budget names the connection; a client built without
 * one (tests, the CLI's one-off clients) remembers nothing beyond itself.
 *
 * Only facts that cannot make a write wrong unnoticed are kept here: a stale zone fails authentication (401)
 * and is forgotten then; the threshold reading only paces cspsync; a Recurring Service contract's window and
 * the ids of cspsync's contract services on it are used only when the unit rows, read fresh, agree with them
 * (AutotaskMonthlyTarget). The units a plan compares with are always read fresh.
 */

/** How long a discovered zone is used without asking again (a tenant moved to another zone answers 401). */
export const ZONE_TTL_MS = 24 * 3_600_000;

/** How long a contract's window and contract services, as last read, may stand in for reading them again. */
export const CONTRACT_TTL_MS = 7 * 24 * 3_600_000;

/** A Recurring Service contract as a full read last saw it: its window, and service key → contract service id. */
export type RememberedContract = { window: ContractWindow; services: ReadonlyMap<string, number> };

export class ConnectionMemory {
  readonly #zones = new Map<string, { zone: ZoneInformation; at: number }>();
  readonly #quotas = new Map<string, QuotaTracker>();
  readonly #contracts = new Map<number, RememberedContract & { at: number }>();

  contract(contractId: number, now: number): RememberedContract | undefined {
    const known = this.#contracts.get(contractId);
    if (!known) return undefined;
    if (now - known.at >= CONTRACT_TTL_MS) {
      this.#contracts.delete(contractId);
      return undefined;
    }
    return known;
  }

  rememberContract(contractId: number, contract: RememberedContract, now: number): void {
    this.#contracts.set(contractId, { ...contract, at: now });
  }

  /** A contract service cspsync just created on a remembered contract. */
  rememberService(contractId: number, key: string, id: number): void {
    const known = this.#contracts.get(contractId);
    if (known) this.#contracts.set(contractId, { ...known, services: new Map(known.services).set(key, id) });
  }

  forgetContract(contractId: number): void {
    this.#contracts.delete(contractId);
  }

  /** The zone discovered for `user` at `discovery` within the last ZONE_TTL_MS, if any. */
  zone(discovery: string, user: string, now: number): ZoneInformation | undefined {
    const key = zoneKey(discovery, user);
    const known = this.#zones.get(key);
    if (!known) return undefined;
    if (now - known.at >= ZONE_TTL_MS) {
      this.#zones.delete(key);
      return undefined;
    }
    return known.zone;
  }

  rememberZone(discovery: string, user: string, zone: ZoneInformation, now: number): void {
    this.#zones.set(zoneKey(discovery, user), { zone, at: now });
  }

  forgetZone(discovery: string, user: string): void {
    this.#zones.delete(zoneKey(discovery, user));
  }

  /** One threshold tracker per API user (the threshold is the tenant's), made by the first client that asks. */
  quota(user: string, make: () => QuotaTracker): QuotaTracker {
    let tracker = this.#quotas.get(user);
    if (!tracker) {
      tracker = make();
      this.#quotas.set(user, tracker);
    }
    return tracker;
  }
}

function zoneKey(discovery: string, user: string): string {
  return `${discovery}\u0000${user.toLowerCase()}`;
}

const memories = new WeakMap<RequestBudget, ConnectionMemory>();

/** The memory of the connection a request budget belongs to. */
export function connectionMemory(budget: RequestBudget): ConnectionMemory {
  let memory = memories.get(budget);
  if (!memory) {
    memory = new ConnectionMemory();
    memories.set(budget, memory);
  }
  return memory;
}
