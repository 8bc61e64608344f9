import { checkTargetFor } from "../target-check.ts";
import {
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
import { AutotaskAdapter, connectAutotaskClient } from "./adapter.ts";
import type { AutotaskClient } from "./client.ts";
import { AutotaskContractServiceRecords, CONTRACT_SERVICE_RECORD_NAMES } from "./keyed-records.ts";
import type { Contract, ContractService } from "./models.ts";

type Prepared = { ok: true; serviceId: number };

/** Months per billing period by contractPeriodType (docs/autotask.md §8.2). */
const PERIOD_MONTHS: Record<number, number> = { 2: 1, 3: 3, 4: 6, 5: 12 };

/**
 * Seat-based Monthly sync on Autotask (docs/sync-behaviour.md §7, §5.2; docs/autotask.md §8.4–§8.6):
 * each subscription gets a contract service of its own on the mapped Recurring Service contract, and its seats
 * move through ContractServiceAdjustments (unit deltas at effective dates, inside the contract's dates, at
 * most one per billing period). Adjustments cannot be queried, so both the plan and the lookup after a lost
 * answer read ContractServiceUnits: an adjustment is in place when the unit row from its date holds its units.
 * The contract service carries its key in `internalDescription` (not printed on invoices).
 */
export class AutotaskMonthlyTarget implements MonthlyPsaTarget<AdjustUnitsLine, Prepared> {
  readonly vendor = "autotask" as const;
  /** Each adjustment is computed from the units the ones before it left: they go one at a time. */
  readonly writeConcurrency = 1;
  /** A later adjustment needs the contract service and the units the earlier ones create. */
  readonly dependentLines = true;
  /** Adjustments cannot be read back (docs/autotask.md §8.5); units are compared instead. */
  readonly readsBackByKey = false;
  private readonly client: AutotaskClient;
  private readonly keyed: AutotaskContractServiceRecords;
  readonly keyedRecordNames = CONTRACT_SERVICE_RECORD_NAMES;
  private readonly contracts: AutotaskAdapter;

  constructor(client: AutotaskClient, settings: AutotaskAdapterSettings, today?: () => string) {
    this.client = client;
    this.keyed = new AutotaskContractServiceRecords(client);
    this.contracts = new AutotaskAdapter(client, settings, today);
  }

  checkMonthlyTarget(companyId: string, agreementId: string) {
    return checkTargetFor(this.contracts, "seat-monthly", companyId, agreementId);
  }

  async planMonthly(mapping: MonthlyMapping, agreementId: string | null, timelines: MonthlyTimelines) {
    const monthly: MonthlyMapping = {
      connectionId: mapping.connectionId,
      customerTenantId: mapping.customerTenantId,
      startPoint: mapping.startPoint,
      startInvoice: mapping.startInvoice,
      pricing: mapping.pricing,
    };
    const contract = agreementId ? await this.client.contracts.get(Number(agreementId)) : null;
    const window: ContractWindow = contract
      ? windowOf(contract)
      : { start: "0000-01-01", end: "9999-12-31", periodMonths: 1 };
    const services = new Map<string, SyncedContractService>();
    for (const timeline of timelines.timelines) {
      const found = contract
        ? await this.contractService(contract.id, serviceKeyOf(monthly, timeline.subscriptionId))
        : null;
      services.set(timeline.subscriptionId, found ? await this.unitRows(found) : null);
    }
    return planAutotaskMonthly(monthly, timelines.timelines, window, services);
  }

  async prepareMonthly(line: AdjustUnitsLine): Promise<Prepared | { ok: false; reason: string }> {
    const sku = microsoftSku(line.productId, line.skuId);
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

  async findMonthly(agreementId: string, line: AdjustUnitsLine) {
    const service = await this.contractService(Number(agreementId), line.serviceKey);
    if (!service) return null;
    const { rows } = await this.unitRows(service);
    const row = rows.find((r) => r.start === line.effectiveDate);
    return row?.units === line.unitsAfter ? { recordId: String(service.id) } : null;
  }

  async writeMonthly(agreementId: string, line: AdjustUnitsLine, prepared: Prepared) {
    const contractId = Number(agreementId);
    const service =
      (await this.contractService(contractId, line.serviceKey)) ??
      (await this.createContractService(contractId, line, prepared.serviceId));
    await this.client.contractServiceAdjustments.create({
      contractID: contractId,
      contractServiceID: service.id,
      effectiveDate: line.effectiveDate,
      unitChange: line.unitChange,
      ...(line.unitPrice === null ? {} : { adjustedUnitPrice: line.unitPrice }),
      ...(line.unitCost === null ? {} : { adjustedUnitCost: line.unitCost }),
    });
    return { recordId: String(service.id) };
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

  private async contractService(contractId: number, key: string): Promise<ContractService | null> {
    const { where } = this.client.contractServices;
    const [found] = await this.client.contractServices.queryAll([
      where.eq("contractID", contractId),
      where.eq("internalDescription", key),
    ]);
    return found ?? null;
  }

  private async createContractService(
    contractId: number,
    line: AdjustUnitsLine,
    serviceId: number,
  ): Promise<ContractService> {
    const id = await this.client.contractServices.create(contractId, {
      serviceID: serviceId,
      ...(line.unitPrice === null ? {} : { adjustedPrice: line.unitPrice }),
      ...(line.unitCost === null ? {} : { unitCost: line.unitCost }),
      invoiceDescription: line.invoiceDescription,
      internalDescription: line.serviceKey,
    });
    const created = await this.client.contractServices.get(id);
    if (!created) throw new Error(`Autotask did not return the contract service ${id} it just created`);
    return created;
  }

  private async unitRows(
    service: ContractService,
  ): Promise<{ contractServiceId: string; rows: { start: string; end: string; units: number }[] }> {
    const { where } = this.client.contractServiceUnits;
    const rows = await this.client.contractServiceUnits.queryAll([where.eq("contractServiceID", service.id)]);
    return {
      contractServiceId: String(service.id),
      rows: rows
        .map((r) => ({ start: r.startDate.slice(0, 10), end: r.endDate.slice(0, 10), units: r.units }))
        .sort((a, b) => a.start.localeCompare(b.start)),
    };
  }
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
