import { checkTargetFor } from "../target-check.ts";
import { nextMonthStart, type AzureMonthLine } from "../../core/azure-plan.ts";
import type {
  AdapterOptions,
  AutotaskAzureSettings,
  AzurePsaTarget,
  ProductMatch,
  PsaConnectionDetails,
} from "../port.ts";
import { AutotaskAdapter, connectAutotaskClient } from "./adapter.ts";
import type { AutotaskClient } from "./client.ts";
import { AutotaskContractServiceRecords, CONTRACT_SERVICE_RECORD_NAMES } from "./keyed-records.ts";
import type { ContractService, ContractServiceUnit, Service } from "./models.ts";

/** The Service Azure months are billed as: SKU `AZURE-PLAN`, or named like product sync names it. */
export const AZURE_SERVICE_SKU = "AZURE-PLAN";
export const AZURE_SERVICE_NAME = `PC_${AZURE_SERVICE_SKU}`;

export type { AutotaskAzureSettings } from "../port.ts";

/**
 * Azure Plan sync on Autotask (docs/sync-behaviour.md §8, §5.2): a quantity-1 contract service on the
 * mapped Recurring Service contract, priced at the month's amount, and set back to zero for the following
 * month.
 *
 * Each month gets a contract service of its own. Adjustments are create-only and two of them on one
 * contract service cannot share a day (docs/autotask.md §8.5), so a single reused contract service could not
 * take both "zero from the 1st of next month" and, a month later, "next month's amount from that same 1st".
 * A month is three steps, each done only when the PSA shows it is not yet done, so a retry or a later run
 * resumes where an interrupted one stopped and never repeats a step:
 *  1. the contract service, created with the write key in `internalDescription` (not on invoices,
 *     docs/autotask.md §6.5) and the month's description as its invoice description; found again by
 *     contract and key;
 *  2. an adjustment on the month's first day to 1 unit at the month's price and cost (§8.5); done when the
 *     service's unit row starting that day (§8.6) holds 1 unit;
 *  3. an adjustment on the next month's first day to 0 units at price and cost 0; done when the unit row
 *     starting that day holds 0 units. Skipped when the contract ends before then: nothing recurs after it.
 */
export class AutotaskAzureTarget implements AzurePsaTarget {
  readonly vendor = "autotask" as const;
  readonly writeConcurrency: number;
  private readonly client: AutotaskClient;
  private readonly keyed: AutotaskContractServiceRecords;
  readonly keyedRecordNames = CONTRACT_SERVICE_RECORD_NAMES;
  /** The annual adapter already decides which contracts take monthly charges (validFor.azure); reused. */
  private readonly contracts: AutotaskAdapter;
  private readonly settings: AutotaskAzureSettings;
  private service: Promise<ProductMatch> | undefined;

  constructor(client: AutotaskClient, settings: AutotaskAzureSettings, today?: () => string) {
    this.client = client;
    this.keyed = new AutotaskContractServiceRecords(client);
    this.settings = settings;
    this.contracts = new AutotaskAdapter(client, settings, today);
    this.writeConcurrency = this.contracts.writeConcurrency;
  }

  checkAzureTarget(companyId: string, agreementId: string) {
    return checkTargetFor(this.contracts, "azure", companyId, agreementId);
  }

  matchAzureProduct(): Promise<ProductMatch> {
    this.service ??= this.findService().catch((error: unknown) => {
      this.service = undefined; // a failed lookup is asked again, not remembered
      throw error;
    });
    return this.service;
  }

  async findAzureMonth(agreementId: string, line: AzureMonthLine) {
    const contractId = Number(agreementId);
    const service = await this.contractService(contractId, line.writeKey);
    if (!service) return null;
    const state = await this.monthState(contractId, service, line);
    return state.on && state.off ? { recordId: String(service.id) } : null;
  }

  async writeAzureMonth(
    agreementId: string,
    line: AzureMonthLine,
    product: Extract<ProductMatch, { ok: true }>,
  ) {
    const contractId = Number(agreementId);
    const serviceId = Number(product.productRef);
    const service =
      (await this.contractService(contractId, line.writeKey)) ??
      (await this.createContractService(contractId, serviceId, line));
    const state = await this.monthState(contractId, service, line);
    if (!state.on) {
      await this.client.contractServiceAdjustments.create({
        contractID: contractId,
        contractServiceID: service.id,
        effectiveDate: line.periodStart,
        unitChange: 1 - state.unitsOn,
        ...(line.unitPrice === null ? {} : { adjustedUnitPrice: line.unitPrice }),
        adjustedUnitCost: line.unitCost,
      });
    }
    if (!state.off) {
      await this.client.contractServiceAdjustments.create({
        contractID: contractId,
        contractServiceID: service.id,
        effectiveDate: nextMonthStart(line.month),
        // Units in force there once the month's own adjustment (just made, or made before) is counted.
        unitChange: -(state.unitsOff + (state.on ? 0 : 1 - state.unitsOn)),
        adjustedUnitPrice: "0",
        adjustedUnitCost: "0",
      });
    }
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

  private async contractService(contractId: number, writeKey: string): Promise<ContractService | null> {
    const { where } = this.client.contractServices;
    const [found] = await this.client.contractServices.queryAll([
      where.eq("contractID", contractId),
      where.eq("internalDescription", writeKey),
    ]);
    return found ?? null;
  }

  private async createContractService(
    contractId: number,
    serviceId: number,
    line: AzureMonthLine,
  ): Promise<ContractService> {
    const contract = await this.client.contracts.get(contractId);
    if (!contract)
      throw new Error(`Autotask contract ${contractId} was not found; it may have been deleted.`);
    if (
      line.periodStart < contract.startDate.slice(0, 10) ||
      line.periodStart > contract.endDate.slice(0, 10)
    ) {
      throw new Error(
        `${line.description} cannot be billed on contract "${contract.contractName}", which runs from ${contract.startDate.slice(0, 10)} to ${contract.endDate.slice(0, 10)}; extend the contract to cover ${line.periodStart}.`,
      );
    }
    const id = await this.client.contractServices.create(contractId, {
      serviceID: serviceId,
      ...(line.unitPrice === null ? {} : { adjustedPrice: line.unitPrice }),
      unitCost: line.unitCost,
      invoiceDescription: line.description,
      internalDescription: line.writeKey,
    });
    const created = await this.client.contractServices.get(id);
    if (!created) throw new Error(`Autotask did not return the contract service ${id} it just created`);
    return created;
  }

  /**
   * Which of the month's two adjustments Autotask already shows, from the service's unit rows
   * (docs/autotask.md §8.6): a row starting on the month's first day with 1 unit, and one starting on the
   * next month's first day with 0.
   */
  private async monthState(contractId: number, service: ContractService, line: AzureMonthLine) {
    const { where } = this.client.contractServiceUnits;
    const rows = await this.client.contractServiceUnits.queryAll([where.eq("contractServiceID", service.id)]);
    const next = nextMonthStart(line.month);
    const startingOn = (day: string) => rows.find((row) => row.startDate.slice(0, 10) === day);
    const unitsOn = unitsCovering(rows, line.periodStart);
    const on = startingOn(line.periodStart)?.units === 1;
    const contract = await this.client.contracts.get(contractId);
    const contractEnd = contract?.endDate.slice(0, 10) ?? next;
    // Before the month's own adjustment every row holds 0 units, so "zeroed" only counts once it is on.
    const off = next > contractEnd || (on && startingOn(next)?.units === 0);
    return { on, off, unitsOn, unitsOff: unitsCovering(rows, next) };
  }

  private async findService(): Promise<ProductMatch> {
    const services = this.client.services;
    const active = (list: Service[]) => list.filter((s) => s.isActive !== false);
    const bySku = active(await services.queryAll([services.where.eq("sku", AZURE_SERVICE_SKU)]));
    const byName =
      bySku.length > 0
        ? []
        : active(await services.queryAll([services.where.eq("name", AZURE_SERVICE_NAME)]));
    const matches = bySku.length > 0 ? bySku : byName;
    const [found] = matches;
    if (found && matches.length === 1) return { ok: true, productRef: String(found.id), label: found.name };
    if (matches.length > 1)
      return {
        ok: false,
        reason: `${matches.length} active Autotask services match ${AZURE_SERVICE_SKU}; keep one`,
      };
    if (this.settings.azureServiceId) {
      const configured = await services.get(this.settings.azureServiceId);
      if (configured && configured.isActive !== false)
        return { ok: true, productRef: String(configured.id), label: configured.name };
      return {
        ok: false,
        reason: `the Azure service ${this.settings.azureServiceId} was not found or is inactive`,
      };
    }
    return {
      ok: false,
      reason: `no Autotask service for Azure usage: create a service with SKU ${AZURE_SERVICE_SKU} (or named ${AZURE_SERVICE_NAME}) on a Recurring Contract Service billing code`,
    };
  }
}

function unitsCovering(rows: readonly ContractServiceUnit[], day: string): number {
  const row = rows.find((r) => r.startDate.slice(0, 10) <= day && day <= r.endDate.slice(0, 10));
  return row?.units ?? 0;
}

/**
 * Builds the Azure target for a stored Autotask connection on one client of its own, refusing hosts that are
 * not allowed. The app builds targets through the factory's connection (factory.ts) instead.
 */
export async function createAutotaskAzureTarget(
  details: PsaConnectionDetails,
  options: AdapterOptions,
  today?: () => string,
): Promise<AutotaskAzureTarget> {
  if (details.vendor !== "autotask") throw new Error("not an Autotask connection");
  return new AutotaskAzureTarget(await connectAutotaskClient(details, options), details.settings, today);
}
