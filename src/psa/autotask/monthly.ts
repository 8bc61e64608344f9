import { checkTargetFor } from "../target-check.ts";
import { addMonths } from "../../core/dates.ts";
import {
  periodStartOf,
  planAutotaskMonthly,
  serviceKeyOf,
  type AdjustUnitsLine,
  type ContractWindow,
  type MonthlyMapping,
  type MonthlyTimelines,
  type SyncedContractService,
} from "../../core/monthly-plan.ts";
import { microsoftSku } from "../../core/product-identity.ts";
import type {
  AdapterOptions,
  AutotaskAdapterSettings,
  MonthlyPsaTarget,
  PsaConnectionDetails,
} from "../port.ts";
import { AUTOTASK_WRITE_CONCURRENCY, AutotaskAdapter, connectAutotaskClient } from "./adapter.ts";
import { MAX_CONCURRENT_PER_ENDPOINT, type AutotaskClient } from "./client.ts";
import { MAX_OR_CONDITIONS } from "./filter.ts";
import { WRITE_KEY_PREFIX } from "../../core/write-keys.ts";
import { AutotaskContractServiceRecords, CONTRACT_SERVICE_RECORD_NAMES } from "./keyed-records.ts";
import type { Contract } from "./models.ts";

/** The Service a new contract service is made of; null when the plan found the contract service in place. */
type Prepared = { ok: true; serviceId: number | null };
type ServiceMatch = { ok: true; serviceId: number } | { ok: false; reason: string };

/** Months per billing period by contractPeriodType (docs/autotask.md §8.2). */
const PERIOD_MONTHS: Record<number, number> = { 2: 1, 3: 3, 4: 6, 5: 12 };

/**
 * Seat-based Monthly sync on Autotask (docs/sync-behaviour.md §7, §5.2; docs/autotask.md §8.4–§8.6):
 * each subscription gets a contract service of its own on the mapped Recurring Service contract, and its seats
 * move through ContractServiceAdjustments (unit deltas at effective dates, inside the contract's dates, at
 * most one per billing period). Adjustments cannot be queried, so both the plan and the lookup after a lost
 * answer read ContractServiceUnits: an adjustment is in place when the unit row from its date holds its units.
 * The contract service carries its key in `internalDescription` (not printed on invoices).
 *
 * Planning an entry reads the contract (kept from its check when there was one), the contract's keyed
 * services in one query (started beside the check) and their unit rows in one more (`in` on the service ids,
 * docs/autotask.md §5.2); a write then adjusts the contract service the plan found, or creates it when the
 * plan found none, without looking it up again.
 */
export class AutotaskMonthlyTarget implements MonthlyPsaTarget<AdjustUnitsLine, Prepared> {
  readonly vendor = "autotask" as const;
  /**
   * Lines of different entries go side by side (the client keeps each endpoint within Autotask's thread
   * limit); those of one entry one after another (dependentLines, MonthlySync).
   */
  readonly writeConcurrency = AUTOTASK_WRITE_CONCURRENCY;
  /** Entries read and compared at once while others are written (3 requests per endpoint, §10). */
  readonly planConcurrency = MAX_CONCURRENT_PER_ENDPOINT;
  /** A later adjustment needs the contract service and the units the earlier ones create. */
  readonly dependentLines = true;
  /** Adjustments cannot be read back (docs/autotask.md §8.5); units are compared instead. */
  readonly readsBackByKey = false;
  private readonly client: AutotaskClient;
  private readonly keyed: AutotaskContractServiceRecords;
  readonly keyedRecordNames = CONTRACT_SERVICE_RECORD_NAMES;
  private readonly contracts: AutotaskAdapter;
  /** Contracts their check just read, taken once by the plan that follows it. */
  private readonly checked = new Map<number, Contract>();
  /** Keyed services of a contract whose read started beside its check, taken once by the plan. */
  private readonly started = new Map<number, Promise<Map<string, number>>>();
  /**
   * Contract and service key → the contract service's id, or null when the plan found none. Set by this run's
   * plan (one run per connection at a time, so nothing else writes them meanwhile), by lookups and by creates;
   * removed while a create's outcome is unknown, so a write after it looks the service up again.
   */
  private readonly known = new Map<string, number | null>();
  /** Service keys whose contract service the last plan found (their writes need no Service). */
  private readonly found = new Set<string>();
  /** The Service each SKU is billed as, looked up once per sync. */
  private readonly skus = new Map<string, Promise<ServiceMatch>>();

  constructor(client: AutotaskClient, settings: AutotaskAdapterSettings, today?: () => string) {
    this.client = client;
    this.keyed = new AutotaskContractServiceRecords(client);
    this.contracts = new AutotaskAdapter(client, settings, today);
  }

  async checkMonthlyTarget(companyId: string, agreementId: string) {
    const contractId = Number(agreementId);
    const valid = Number.isSafeInteger(contractId) && contractId > 0;
    // The plan after a sound check reads the contract's services: started now, beside the check.
    const services = valid ? this.keyedServices(contractId) : null;
    services?.catch(() => undefined); // a failed read is the plan's to report, if it comes to planning
    const result = await checkTargetFor(
      this.contracts.agreementsKeeping(contractId, this.checked),
      "seat-monthly",
      companyId,
      agreementId,
    );
    if (result.ok && services) this.started.set(contractId, services);
    else this.checked.delete(contractId);
    return result;
  }

  async planMonthly(mapping: MonthlyMapping, agreementId: string | null, timelines: MonthlyTimelines) {
    const monthly: MonthlyMapping = {
      connectionId: mapping.connectionId,
      customerTenantId: mapping.customerTenantId,
      startPoint: mapping.startPoint,
      startInvoice: mapping.startInvoice,
      pricing: mapping.pricing,
    };
    const services = new Map<string, SyncedContractService>();
    if (!agreementId || timelines.timelines.length === 0) {
      const window: ContractWindow = { start: "0000-01-01", end: "9999-12-31", periodMonths: 1 };
      return planAutotaskMonthly(monthly, timelines.timelines, window, services);
    }
    const contractId = Number(agreementId);
    const checked = this.checked.get(contractId);
    this.checked.delete(contractId);
    const started = this.started.get(contractId);
    this.started.delete(contractId);
    const keys = timelines.timelines.map(
      (t) => [t.subscriptionId, serviceKeyOf(monthly, t.subscriptionId)] as const,
    );
    // Without a check just now (the daily check took the target as checked), a contract this process read in
    // full before costs only its unit rows, when they agree with what was read (see remembered).
    const remembered = checked || started ? null : await this.remembered(contractId, keys);
    let window: ContractWindow;
    let keyed: ReadonlyMap<string, number>;
    let rows: Map<number, UnitRow[]>;
    if (remembered) {
      ({ window, services: keyed, rows } = remembered);
    } else {
      const [contract, read] = await Promise.all([
        checked ?? this.client.contracts.get(contractId),
        started ?? this.keyedServices(contractId),
      ]);
      // The contract is the comparison's first read: one gone since fails here, and the sync then checks it.
      if (!contract)
        throw new Error(`Autotask contract ${agreementId} was not found; it may have been deleted.`);
      window = windowOf(contract);
      keyed = read;
      rows = await this.unitRows(keys.flatMap(([, key]) => (read.has(key) ? [read.get(key)!] : [])));
      this.client
        .connectionMemory()
        ?.rememberContract(contractId, { window, services: read }, this.client.now());
    }
    for (const [subscriptionId, key] of keys) {
      const id = keyed.get(key) ?? null;
      this.known.set(knownKey(contractId, key), id);
      if (id === null) this.found.delete(key);
      else this.found.add(key);
      services.set(
        subscriptionId,
        id === null ? null : { contractServiceId: String(id), rows: rows.get(id) ?? [] },
      );
    }
    return planAutotaskMonthly(monthly, timelines.timelines, window, services);
  }

  /**
   * The contract's window and its subscriptions' contract services as a full read in this process last saw
   * them (connection-memory.ts), with their unit rows read now in one query — or null, and the contract is read
   * in full, when one of the subscriptions had no contract service then (another process may have created
   * it since), or when the rows disagree with what was remembered: a service without rows (deleted), rows that
   * do not span the remembered window or whose periods are not its periods (the contract was changed).
   */
  private async remembered(
    contractId: number,
    keys: readonly (readonly [string, string])[],
  ): Promise<{
    window: ContractWindow;
    services: ReadonlyMap<string, number>;
    rows: Map<number, UnitRow[]>;
  } | null> {
    const memory = this.client.connectionMemory();
    const known = memory?.contract(contractId, this.client.now());
    if (!memory || !known) return null;
    const ids = keys.map(([, key]) => known.services.get(key));
    if (ids.some((id) => id === undefined)) return null;
    const rows = await this.unitRows(ids as number[]);
    if ((ids as number[]).every((id) => rowsFit(rows.get(id), known.window))) return { ...known, rows };
    memory.forgetContract(contractId);
    return null;
  }

  async prepareMonthly(line: AdjustUnitsLine): Promise<Prepared | { ok: false; reason: string }> {
    // A contract service the plan found needs no Service: the adjustment names the contract service.
    if (this.found.has(line.serviceKey)) return { ok: true, serviceId: null };
    const match = await this.serviceFor(line);
    return match.ok ? { ok: true, serviceId: match.serviceId } : match;
  }

  async findMonthly(agreementId: string, line: AdjustUnitsLine) {
    const service = await this.contractService(Number(agreementId), line.serviceKey);
    if (service === null) return null;
    const rows = (await this.unitRows([service])).get(service) ?? [];
    const row = rows.find((r) => r.start === line.effectiveDate);
    return row?.units === line.unitsAfter ? { recordId: String(service) } : null;
  }

  async writeMonthly(agreementId: string, line: AdjustUnitsLine, prepared: Prepared) {
    const contractId = Number(agreementId);
    const key = knownKey(contractId, line.serviceKey);
    let service = this.known.get(key);
    if (service === undefined) service = await this.contractService(contractId, line.serviceKey);
    if (service === null) service = await this.createContractService(contractId, line, prepared.serviceId);
    await this.client.contractServiceAdjustments.create({
      contractID: contractId,
      contractServiceID: service,
      effectiveDate: line.effectiveDate,
      unitChange: line.unitChange,
      ...(line.unitPrice === null ? {} : { adjustedUnitPrice: line.unitPrice }),
      ...(line.unitCost === null ? {} : { adjustedUnitCost: line.unitCost }),
    });
    return { recordId: String(service) };
  }

  listKeyedRecords(agreementId: string) {
    return this.keyed.listKeyedRecords(agreementId);
  }

  removeRecord(agreementId: string, recordId: string) {
    return this.keyed.removeRecord(agreementId, recordId);
  }

  requestCount(): number {
    return this.client.stats().requests;
  }

  private keyedServices(contractId: number): Promise<Map<string, number>> {
    return keyedServicesOf(this.client, contractId);
  }

  /** The contract service carrying `key` on the contract (looked up, and remembered), or null. */
  private async contractService(contractId: number, key: string): Promise<number | null> {
    const { where } = this.client.contractServices;
    const [found] = await this.client.contractServices.select(
      [where.eq("contractID", contractId), where.eq("internalDescription", key)],
      ["internalDescription"],
    );
    const id = found?.id ?? null;
    this.known.set(knownKey(contractId, key), id);
    return id;
  }

  private async createContractService(
    contractId: number,
    line: AdjustUnitsLine,
    serviceId: number | null,
  ): Promise<number> {
    let service = serviceId;
    if (service === null) {
      const match = await this.serviceFor(line);
      if (!match.ok) throw new Error(match.reason);
      service = match.serviceId;
    }
    const key = knownKey(contractId, line.serviceKey);
    // Until Autotask answers, whether the service exists is unknown: a write after a lost answer looks it up.
    this.known.delete(key);
    const id = await this.client.contractServices.create(contractId, {
      serviceID: service,
      ...(line.unitPrice === null ? {} : { adjustedPrice: line.unitPrice }),
      ...(line.unitCost === null ? {} : { unitCost: line.unitCost }),
      invoiceDescription: line.invoiceDescription,
      internalDescription: line.serviceKey,
    });
    this.known.set(key, id);
    this.client.connectionMemory()?.rememberService(contractId, line.serviceKey, id);
    return id;
  }

  /** The unit rows of each contract service, by its id, sorted by start: one query per 500 services. */
  private async unitRows(serviceIds: readonly number[]): Promise<Map<number, UnitRow[]>> {
    const rows = new Map<number, UnitRow[]>();
    if (serviceIds.length === 0) return rows;
    const units = this.client.contractServiceUnits;
    for (let i = 0; i < serviceIds.length; i += MAX_OR_CONDITIONS) {
      const chunk = serviceIds.slice(i, i + MAX_OR_CONDITIONS);
      const found = await units.select(
        [units.where.in("contractServiceID", chunk)],
        ["contractServiceID", "startDate", "endDate", "units"],
      );
      for (const r of found) {
        const list = rows.get(r.contractServiceID) ?? [];
        list.push({ start: r.startDate.slice(0, 10), end: r.endDate.slice(0, 10), units: r.units });
        rows.set(r.contractServiceID, list);
      }
    }
    for (const list of rows.values()) list.sort((a, b) => a.start.localeCompare(b.start));
    return rows;
  }

  /** The active Service with the line's SKU (or named PC_<SKU>), once per SKU; a failed lookup is asked again. */
  private serviceFor(line: Pick<AdjustUnitsLine, "productId" | "skuId">): Promise<ServiceMatch> {
    const sku = microsoftSku(line.productId, line.skuId);
    let match = this.skus.get(sku);
    if (!match) {
      match = this.findService(sku).catch((error: unknown) => {
        this.skus.delete(sku);
        throw error;
      });
      this.skus.set(sku, match);
    }
    return match;
  }

  private async findService(sku: string): Promise<ServiceMatch> {
    const { services } = this.client;
    const active = (await services.queryAll([services.where.eq("sku", sku)])).filter(
      (s) => s.isActive !== false,
    );
    const named =
      active.length > 0
        ? active
        : (await services.queryAll([services.where.eq("name", `PC_${sku}`)])).filter(
            (s) => s.isActive !== false,
          );
    const [service] = named;
    if (service && named.length === 1) return { ok: true, serviceId: service.id };
    const detail =
      named.length === 0
        ? `no active Autotask service has SKU ${sku}`
        : `${named.length} Autotask services match ${sku}`;
    return { ok: false, reason: `Could not find source product or multiple matches (${detail})` };
  }
}

/** Every contract service on the contract that carries a cspsync key: key → id, in one query. */
export async function keyedServicesOf(
  client: AutotaskClient,
  contractId: number,
): Promise<Map<string, number>> {
  const { contractServices } = client;
  const { where } = contractServices;
  const found = await contractServices.select(
    [where.eq("contractID", contractId), where.beginsWith("internalDescription", WRITE_KEY_PREFIX)],
    ["internalDescription"],
  );
  const keyed = new Map<string, number>();
  for (const service of found)
    if (service.internalDescription && !keyed.has(service.internalDescription))
      keyed.set(service.internalDescription, service.id);
  return keyed;
}

type UnitRow = { start: string; end: string; units: number };

/**
 * Whether a contract service's unit rows (docs/autotask.md §8.6: one per billing period, split where an
 * adjustment takes effect) belong to this window: they run from its start to its end, every period of it
 * starts a row, and a row starting elsewhere changes the units.
 */
function rowsFit(rows: readonly UnitRow[] | undefined, window: ContractWindow): boolean {
  if (!rows || rows.length === 0) return false;
  if (rows[0]!.start !== window.start || rows.at(-1)!.end !== window.end) return false;
  const starts = new Set(rows.map((r) => r.start));
  for (let i = 0; ; i++) {
    const period = addMonths(window.start, i * window.periodMonths);
    if (period > window.end) break;
    if (!starts.has(period)) return false;
  }
  return rows.every(
    (row, i) => i === 0 || periodStartOf(window, row.start) === row.start || row.units !== rows[i - 1]!.units,
  );
}

function knownKey(contractId: number, serviceKey: string): string {
  return `${contractId}\u0000${serviceKey}`;
}

function windowOf(contract: Contract): ContractWindow {
  return {
    start: contract.startDate.slice(0, 10),
    end: contract.endDate.slice(0, 10),
    periodMonths: PERIOD_MONTHS[contract.contractPeriodType ?? 2] ?? 1,
  };
}

/**
 * Builds the monthly target for a stored Autotask connection on one client of its own, refusing hosts that are
 * not allowed. The app builds targets through the factory's connection (factory.ts) instead.
 */
export async function createAutotaskMonthlyTarget(
  details: PsaConnectionDetails,
  options: AdapterOptions,
  today?: () => string,
): Promise<AutotaskMonthlyTarget> {
  if (details.vendor !== "autotask") throw new Error("not an Autotask connection");
  return new AutotaskMonthlyTarget(await connectAutotaskClient(details, options), details.settings, today);
}
