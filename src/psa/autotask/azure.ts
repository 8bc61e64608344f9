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
import type { Contract, ContractServiceUnit, Service } from "./models.ts";
import { keyedServicesOf } from "./monthly.ts";

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
  readonly planConcurrency: number;
  private readonly client: AutotaskClient;
  private readonly keyed: AutotaskContractServiceRecords;
  readonly keyedRecordNames = CONTRACT_SERVICE_RECORD_NAMES;
  /** The annual adapter already decides which contracts take monthly charges (validFor.azure); reused. */
  private readonly contracts: AutotaskAdapter;
  private readonly settings: AutotaskAzureSettings;
  private service: Promise<ProductMatch> | undefined;
  /** Contracts as their check (or a write) in this sync read them: their dates bound the months. */
  private readonly checked = new Map<number, Contract>();
  /** A contract's keyed services (key → id), read beside its check. */
  private readonly snapshots = new Map<number, Promise<Map<string, number>>>();
  /**
   * Per contract, write key → the month's contract service id, null when none, "ask" while a create's outcome
   * is unknown (a write after a lost answer looks it up again). A check of the contract starts it afresh.
   */
  private readonly known = new Map<number, Map<string, number | null | "ask">>();

  constructor(client: AutotaskClient, settings: AutotaskAzureSettings, today?: () => string) {
    this.client = client;
    this.keyed = new AutotaskContractServiceRecords(client);
    this.settings = settings;
    this.contracts = new AutotaskAdapter(client, settings, today);
    this.writeConcurrency = this.contracts.writeConcurrency;
    this.planConcurrency = this.contracts.planConcurrency;
  }

  async checkAzureTarget(companyId: string, agreementId: string) {
    const contractId = Number(agreementId);
    const valid = Number.isSafeInteger(contractId) && contractId > 0;
    // The months written after a sound check look their contract services up on this contract: read now, in
    // one query beside the check.
    const services = valid ? keyedServicesOf(this.client, contractId) : null;
    services?.catch(() => undefined); // a failed read is looked up again by each write
    this.known.delete(contractId);
    const result = await checkTargetFor(
      this.contracts.agreementsKeeping(contractId, this.checked),
      "azure",
      companyId,
      agreementId,
    );
    if (result.ok && services) this.snapshots.set(contractId, services);
    else this.snapshots.delete(contractId);
    return result;
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
    const service = await this.lookUp(contractId, line.writeKey);
    if (service === null) return null;
    const state = await this.monthState(contractId, service, line);
    return state.on && state.off ? { recordId: String(service) } : null;
  }

  async writeAzureMonth(
    agreementId: string,
    line: AzureMonthLine,
    product: Extract<ProductMatch, { ok: true }>,
  ) {
    const contractId = Number(agreementId);
    const serviceId = Number(product.productRef);
    const found = await this.contractService(contractId, line.writeKey);
    const service = found ?? (await this.createContractService(contractId, serviceId, line));
    // A contract service created just now has no adjustment yet: nothing to read.
    const state =
      found === null
        ? {
            on: false,
            off: await this.endsBefore(contractId, nextMonthStart(line.month)),
            unitsOn: 0,
            unitsOff: 0,
          }
        : await this.monthState(contractId, found, line);
    if (!state.on) {
      await this.client.contractServiceAdjustments.create({
        contractID: contractId,
        contractServiceID: service,
        effectiveDate: line.periodStart,
        unitChange: 1 - state.unitsOn,
        ...(line.unitPrice === null ? {} : { adjustedUnitPrice: line.unitPrice }),
        adjustedUnitCost: line.unitCost,
      });
    }
    if (!state.off) {
      await this.client.contractServiceAdjustments.create({
        contractID: contractId,
        contractServiceID: service,
        effectiveDate: nextMonthStart(line.month),
        // Units in force there once the month's own adjustment (just made, or made before) is counted.
        unitChange: -(state.unitsOff + (state.on ? 0 : 1 - state.unitsOn)),
        adjustedUnitPrice: "0",
        adjustedUnitCost: "0",
      });
    }
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

  /**
   * The month's contract service: as this sync last saw it (its create, a lookup, or the contract's keyed
   * services read beside the check — one run per connection at a time, so nothing else writes them), else
   * looked up.
   */
  private async contractService(contractId: number, writeKey: string): Promise<number | null> {
    const known = this.known.get(contractId)?.get(writeKey);
    if (typeof known === "number" || known === null) return known;
    if (known === undefined) {
      const snapshot = await this.snapshots.get(contractId)?.catch(() => undefined);
      if (snapshot) return snapshot.get(writeKey) ?? null;
    }
    return this.lookUp(contractId, writeKey);
  }

  /** Looks the month's contract service up in Autotask now, and remembers it. */
  private async lookUp(contractId: number, writeKey: string): Promise<number | null> {
    const { where } = this.client.contractServices;
    const [found] = await this.client.contractServices.select(
      [where.eq("contractID", contractId), where.eq("internalDescription", writeKey)],
      ["internalDescription"],
    );
    const id = found?.id ?? null;
    this.remember(contractId, writeKey, id);
    return id;
  }

  private async createContractService(
    contractId: number,
    serviceId: number,
    line: AzureMonthLine,
  ): Promise<number> {
    const contract = await this.contract(contractId);
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
    // Until Autotask answers, whether the service exists is unknown: a write after a lost answer looks it up.
    this.remember(contractId, line.writeKey, "ask");
    const id = await this.client.contractServices.create(contractId, {
      serviceID: serviceId,
      ...(line.unitPrice === null ? {} : { adjustedPrice: line.unitPrice }),
      unitCost: line.unitCost,
      invoiceDescription: line.description,
      internalDescription: line.writeKey,
    });
    this.remember(contractId, line.writeKey, id);
    return id;
  }

  private remember(contractId: number, writeKey: string, id: number | null | "ask"): void {
    let known = this.known.get(contractId);
    if (!known) {
      known = new Map();
      this.known.set(contractId, known);
    }
    known.set(writeKey, id);
  }

  /** The contract as its check in this sync read it, else read now. */
  private async contract(contractId: number): Promise<Contract | null> {
    const checked = this.checked.get(contractId);
    if (checked) return checked;
    const contract = await this.client.contracts.get(contractId);
    if (contract) this.checked.set(contractId, contract);
    return contract;
  }

  /** Whether the contract ends before `day` (nothing recurs after it, so nothing is set back to zero there). */
  private async endsBefore(contractId: number, day: string): Promise<boolean> {
    const contract = await this.contract(contractId);
    return day > (contract?.endDate.slice(0, 10) ?? day);
  }

  /**
   * Which of the month's two adjustments Autotask already shows, from the service's unit rows
   * (docs/autotask.md §8.6): a row starting on the month's first day with 1 unit, and one starting on the
   * next month's first day with 0.
   */
  private async monthState(contractId: number, service: number, line: AzureMonthLine) {
    const { where } = this.client.contractServiceUnits;
    const rows = await this.client.contractServiceUnits.queryAll([where.eq("contractServiceID", service)]);
    const next = nextMonthStart(line.month);
    const startingOn = (day: string) => rows.find((row) => row.startDate.slice(0, 10) === day);
    const unitsOn = unitsCovering(rows, line.periodStart);
    const on = startingOn(line.periodStart)?.units === 1;
    // Before the month's own adjustment every row holds 0 units, so "zeroed" only counts once it is on.
    const off = (await this.endsBefore(contractId, next)) || (on && startingOn(next)?.units === 0);
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
