import type { BillingMotion } from "../../core/billing.ts";
import type { PlannedLine } from "../../core/annual-plan.ts";
import { matchBySkuSpellings, productNotMatched } from "../../core/product-identity.ts";
import { assertHostAllowed } from "../../security/hosts.ts";
import type {
  AdapterOptions,
  AutotaskAdapterSettings,
  ConnectionTest,
  PsaAdapter,
  PsaAgreement,
  PsaCompany,
  PsaConnectionDetails,
  PsaOption,
  PsaOptionKind,
  ProductMatch,
  TargetValidity,
} from "../port.ts";
import { MAX_OPTIONS, PsaOptionKindError } from "../port.ts";
import { AutotaskClient, DEFAULT_DISCOVERY_BASE_URL, MAX_CONCURRENT_PER_ENDPOINT } from "./client.ts";
import {
  AutotaskChargeRecords,
  AutotaskContractServiceRecords,
  CHARGE_RECORD_NAMES,
} from "./keyed-records.ts";
import type { Contract, Product } from "./models.ts";

export type { AutotaskAdapterSettings } from "../port.ts";

/** How many lines the Autotask syncs write at once (see AutotaskAdapter.writeConcurrency). */
export const AUTOTASK_WRITE_CONCURRENCY = 2 * MAX_CONCURRENT_PER_ENDPOINT;

/**
 * cspsync's sync engine on Autotask: annual charges become contract charges on a Fixed Price contract
 * (docs/sync-behaviour.md §9), created through the contract's child URL. The idempotency key travels
 * in the charge's `internalPurchaseOrderNumber` (see idempotency.ts), which is not printed on invoices.
 * Picklist values (contract type and status, charge type) are read from the tenant's metadata.
 */
export class AutotaskAdapter implements PsaAdapter {
  readonly vendor = "autotask" as const;
  /**
   * Lines in progress at once. The client holds every endpoint to Autotask's 3 concurrent requests per
   * integration (docs/autotask.md §10); twice that many lines keep an endpoint busy while the others are
   * between requests (their ledger records, their reads on other endpoints).
   */
  readonly writeConcurrency = AUTOTASK_WRITE_CONCURRENCY;
  /** Entries whose contract is checked at once while others are written (3 requests per endpoint, §10). */
  readonly planConcurrency = MAX_CONCURRENT_PER_ENDPOINT;
  private readonly client: AutotaskClient;
  private readonly settings: AutotaskAdapterSettings;
  private readonly today: () => string;
  private readonly products = new Map<string, Promise<Product[]>>();
  private chargeProduct: Promise<string | null> | undefined;
  private readonly keyed: AutotaskChargeRecords;
  /** The contract services Azure and Seat-based Monthly write (read back with the charges for the report). */
  private readonly services: AutotaskContractServiceRecords;
  readonly keyedRecordNames = CHARGE_RECORD_NAMES;

  constructor(
    client: AutotaskClient,
    settings: AutotaskAdapterSettings,
    today: () => string = () => new Date().toISOString().slice(0, 10),
  ) {
    this.client = client;
    this.keyed = new AutotaskChargeRecords(client);
    this.services = new AutotaskContractServiceRecords(client);
    this.settings = settings;
    this.today = today;
  }

  async testConnection(): Promise<ConnectionTest> {
    const result = await this.client.testConnection();
    return {
      ok: result.ok,
      message: result.ok
        ? `Connected to Autotask (${result.zone?.name ?? result.zone?.url ?? "zone found"}); all required rights are present.`
        : result.problems.join(" "),
      checks: result.permissions.map((p) => ({
        name: p.entity,
        ok: p.missing.length === 0,
        message:
          p.missing.length === 0 ? `${p.needs.join(", ")} allowed` : `missing: ${p.missing.join(", ")}`,
      })),
    };
  }

  async searchCompanies(name: string): Promise<PsaCompany[]> {
    const companies = await this.client.companies.queryAll([
      this.client.companies.where.contains("companyName", name),
    ]);
    return companies
      .filter((c) => c.isActive !== false)
      .map((c) => ({
        id: String(c.id),
        name: c.companyName,
        ...(c.companyNumber ? { identifier: c.companyNumber } : {}),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Billing codes (with their use type, the allocation-code kind), products (with their SKU) and vendors
   * (companies whose type is the picklist's Vendor), active only, named like `search`, at most 200.
   */
  async listOptions(kind: PsaOptionKind, search: string): Promise<PsaOption[]> {
    let options: PsaOption[];
    if (kind === "billing-codes") {
      const codes = await this.client.billingCodes.queryAll([
        this.client.billingCodes.where.eq("isActive", true),
        ...(search ? [this.client.billingCodes.where.contains("name", search)] : []),
      ]);
      const labels = new Map(
        (await this.client.picklists.entries("BillingCodes", "useType")).map((e) => [e.value, e.label]),
      );
      options = codes.map((c) => {
        const use = c.useType === undefined || c.useType === null ? undefined : labels.get(c.useType);
        return { id: String(c.id), name: c.name ?? `#${c.id}`, ...(use ? { detail: use } : {}) };
      });
    } else if (kind === "products") {
      const products = await this.client.products.queryAll([
        this.client.products.where.eq("isActive", true),
        ...(search ? [this.client.products.where.contains("name", search)] : []),
      ]);
      options = products.map((p) => ({
        id: String(p.id),
        name: p.name,
        ...(p.sku ? { detail: p.sku } : {}),
      }));
    } else if (kind === "vendors") {
      const vendorType = await this.client.picklists.value("Companies", "companyType", "Vendor");
      const companies = await this.client.companies.queryAll([
        this.client.companies.where.eq("companyType", vendorType),
        ...(search ? [this.client.companies.where.contains("companyName", search)] : []),
      ]);
      options = companies
        .filter((c) => c.isActive !== false)
        .map((c) => ({
          id: String(c.id),
          name: c.companyName,
          ...(c.companyNumber ? { detail: c.companyNumber } : {}),
        }));
    } else {
      throw new PsaOptionKindError(kind, "autotask");
    }
    return options.sort((a, b) => a.name.localeCompare(b.name)).slice(0, MAX_OPTIONS);
  }

  async getCompany(id: string): Promise<PsaCompany | null> {
    const numeric = Number(id);
    if (!Number.isInteger(numeric) || numeric <= 0) return null;
    const company = await this.client.companies.get(numeric);
    return company ? { id: String(company.id), name: company.companyName } : null;
  }

  async listAgreements(companyId: string): Promise<PsaAgreement[]> {
    return (await this.contractsOf(companyId)).map((c) => c.agreement);
  }

  /**
   * The company's contracts as read, each beside its description: the recurring targets' checks keep the
   * contract they checked, so planning right after does not read it again.
   */
  async contractsOf(companyId: string): Promise<{ contract: Contract; agreement: PsaAgreement }[]> {
    const contracts = await this.client.contracts.queryAll([
      this.client.contracts.where.eq("companyID", Number(companyId)),
    ]);
    return Promise.all(
      contracts.map(async (contract) => ({ contract, agreement: await this.describe(contract) })),
    );
  }

  /**
   * The company's agreements for a target check (checkTargetFor), keeping the contract `contractId` as read
   * in `checked` — or forgetting it when the company has no such contract — so that planning right after a
   * sound check does not read it again.
   */
  agreementsKeeping(
    contractId: number,
    checked: Map<number, Contract>,
  ): Pick<PsaAdapter, "vendor" | "listAgreements"> {
    return {
      vendor: "autotask",
      listAgreements: async (companyId) => {
        const found = await this.contractsOf(companyId);
        const mine = found.find((c) => c.contract.id === contractId);
        if (mine) checked.set(contractId, mine.contract);
        else checked.delete(contractId);
        return found.map((c) => c.agreement);
      },
    };
  }

  async checkAnnualTarget(companyId: string, agreementId: string) {
    const numeric = Number(agreementId);
    const contract =
      Number.isInteger(numeric) && numeric > 0 ? await this.client.contracts.get(numeric) : null;
    if (!contract)
      return {
        ok: false as const,
        reason: `Autotask contract ${agreementId} was not found; it may have been deleted.`,
      };
    if (String(contract.companyID) !== companyId) {
      return {
        ok: false as const,
        reason: `Contract "${contract.contractName}" belongs to another company.`,
      };
    }
    const described = await this.describe(contract);
    const validity = described.validFor["seat-annual"];
    return validity.ok
      ? { ok: true as const, agreement: described }
      : { ok: false as const, reason: validity.reason };
  }

  async matchProduct(
    line: Pick<PlannedLine, "productId" | "skuId">,
    spellings?: (productId: string, skuId: string) => string[],
  ): Promise<ProductMatch> {
    const matches = await matchBySkuSpellings(
      line.productId,
      line.skuId,
      (sku) => this.productsBySku(sku),
      (p) => p.isActive !== false,
      spellings,
    );
    const [product] = matches;
    if (product && matches.length === 1)
      return {
        ok: true,
        productRef: `product:${product.id}`,
        label: product.name,
        record: { noun: "Autotask product", label: product.name, name: product.name },
      };
    if (matches.length === 0 && this.settings.chargeProductId) {
      const id = this.settings.chargeProductId;
      const name = await this.chargeProductName(id);
      return {
        ok: true,
        productRef: `product:${id}`,
        label: `product ${id}`,
        ...(name ? { record: { noun: "Autotask product", label: `product ${id}`, name } } : {}),
      };
    }
    if (matches.length === 0 && this.settings.chargeBillingCodeId) {
      const id = this.settings.chargeBillingCodeId;
      return { ok: true, productRef: `billingCode:${id}`, label: `billing code ${id}` };
    }
    const reason = productNotMatched(line.productId, line.skuId, matches.length, "Autotask product");
    return {
      ok: false,
      reason:
        matches.length === 0
          ? `${reason}; set a charge product or billing code in the connection settings`
          : reason,
    };
  }

  async findAnnualLine(agreementId: string, writeKey: string) {
    const charge = await this.client.contractCharges.findByIdempotencyKey(writeKey);
    return charge && String(charge.contractID) === agreementId ? { recordId: String(charge.id) } : null;
  }

  async writeAnnualLine(
    agreementId: string,
    line: PlannedLine,
    product: Extract<ProductMatch, { ok: true }>,
  ) {
    const [kind, id] = product.productRef.split(":");
    const chargeType = await this.defaultChargeType();
    const recordId = await this.client.contractCharges.create(
      Number(agreementId),
      {
        name: line.productName.slice(0, 100),
        datePurchased: line.effectiveDate,
        chargeType,
        unitQuantity: line.quantity,
        unitCost: line.unitCost,
        ...(line.unitPrice === null ? {} : { unitPrice: line.unitPrice }),
        description: line.description,
        isBillableToCompany: line.billable,
        ...(kind === "product" ? { productID: Number(id) } : { billingCodeID: Number(id) }),
      },
      { idempotencyKey: line.writeKey },
    );
    return { recordId: String(recordId) };
  }

  listKeyedRecords(agreementId: string) {
    return this.keyed.listKeyedRecords(agreementId);
  }

  removeRecord(agreementId: string, recordId: string) {
    return this.keyed.removeRecord(agreementId, recordId);
  }

  /**
   * Every record on the contract, keyed or not; read only (the reconciliation report): its contract charges
   * (Seat-based Annual) and its contract services (Azure months, Seat-based Monthly subscriptions).
   */
  async listAgreementRecords(agreementId: string) {
    const [charges, services] = await Promise.all([
      this.keyed.listAgreementRecords(agreementId),
      this.services.listAgreementRecords(agreementId),
    ]);
    return [...charges, ...services];
  }

  requestCount(): number {
    return this.client.stats().requests;
  }

  /**
   * The configured charge product's name, read once, for the product-name check; null when it cannot be read
   * (the check is then skipped: the write itself reports a product that is gone).
   */
  private chargeProductName(id: number): Promise<string | null> {
    this.chargeProduct ??= this.client.products.get(id).then(
      (product) => product?.name ?? null,
      () => {
        this.chargeProduct = undefined; // a failed read is asked again next time, not remembered
        return null;
      },
    );
    return this.chargeProduct;
  }

  private productsBySku(sku: string): Promise<Product[]> {
    let found = this.products.get(sku);
    if (!found) {
      found = this.client.products
        .queryAll([this.client.products.where.eq("sku", sku)])
        .catch((error: unknown) => {
          this.products.delete(sku); // a failed lookup is asked again, not remembered
          throw error;
        });
      this.products.set(sku, found);
    }
    return found;
  }

  /**
   * Charge types are a tenant picklist (docs/autotask.md §7.2): use its default, else its first active value.
   */
  private async defaultChargeType(): Promise<number> {
    const entries = (await this.client.picklists.entries("ContractCharges", "chargeType")).filter(
      (e) => e.isActive,
    );
    const chosen = entries.find((e) => e.isDefault) ?? entries[0];
    if (!chosen) throw new Error("Autotask has no active ContractCharges.chargeType picklist value");
    return chosen.value;
  }

  private async describe(contract: Contract): Promise<PsaAgreement> {
    const type =
      (await this.client.picklists.label("Contracts", "contractType", contract.contractType)) ??
      `type ${contract.contractType}`;
    const status =
      (await this.client.picklists.label("Contracts", "status", contract.status)) ??
      `status ${contract.status}`;
    const start = contract.startDate.slice(0, 10);
    const end = contract.endDate.slice(0, 10);
    let running: string | null = null;
    if (!/^(active|in effect)$/i.test(status))
      running = `Contract "${contract.contractName}" is ${status}, not active.`;
    else if (end < this.today())
      running = `Contract "${contract.contractName}" ended on ${end}; choose a contract that is still in effect.`;
    const fixedPrice = /fixed price/i.test(type);
    const recurring = /recurring service/i.test(type);
    const annual: TargetValidity = running
      ? { ok: false, reason: running }
      : fixedPrice
        ? { ok: true }
        : {
            ok: false,
            reason:
              `Contract "${contract.contractName}" is a ${type} contract; annual charges need a Fixed Price contract. ` +
              "In Autotask, create a Fixed Price contract for the customer's annual licences (activate the Fixed Price contract type under Admin › Contracts if it is not offered), then map it here.",
          };
    const monthly: TargetValidity = running
      ? { ok: false, reason: running }
      : recurring
        ? { ok: true }
        : {
            ok: false,
            reason: `Contract "${contract.contractName}" is a ${type} contract; monthly charges need a Recurring Service contract.`,
          };
    const validFor: Record<BillingMotion, TargetValidity> = {
      "seat-annual": annual,
      "seat-monthly": monthly,
      azure: monthly,
    };
    return {
      id: String(contract.id),
      name: contract.contractName,
      companyId: String(contract.companyID),
      type,
      billingCycle: null,
      startDate: start,
      endDate: end,
      status,
      validFor,
    };
  }
}

/**
 * A client for a stored Autotask connection, refusing hosts that are not allowed: the discovery host before
 * any request, and the zone host (which comes from the PSA itself) before credentials go there. The client
 * checks every later URL too (paging URLs and redirect targets also come from the PSA).
 */
export async function connectAutotaskClient(
  details: Extract<PsaConnectionDetails, { vendor: "autotask" }>,
  options: AdapterOptions,
): Promise<AutotaskClient> {
  const discovery = details.config.discoveryUrl ?? DEFAULT_DISCOVERY_BASE_URL;
  assertHostAllowed(discovery, "autotask", options.allowedHosts);
  const client = new AutotaskClient({
    credentials: {
      userName: details.config.username,
      secret: details.secrets.secret,
      integrationCode: details.secrets.integrationCode,
    },
    discoveryBaseUrl: discovery,
    checkUrl: (url) => assertHostAllowed(url, "autotask", options.allowedHosts),
    ...(options.transport ? { transport: options.transport } : {}),
  });
  const zone = await client.zone();
  assertHostAllowed(zone.url, "autotask", options.allowedHosts);
  return client;
}

export async function createAutotaskAdapter(
  details: PsaConnectionDetails,
  options: AdapterOptions,
): Promise<PsaAdapter> {
  if (details.vendor !== "autotask") throw new Error("not an Autotask connection");
  return new AutotaskAdapter(await connectAutotaskClient(details, options), details.settings);
}
