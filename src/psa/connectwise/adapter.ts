import type { BillingMotion } from "../../core/billing.ts";
import type { PlannedLine } from "../../core/annual-plan.ts";
import { matchBySkuSpellings, productNotMatched } from "../../core/product-identity.ts";
import { PsaNotFoundError } from "../shared/errors.ts";
import type {
  ConnectionTest,
  ConnectWiseAdapterSettings,
  PsaAdapter,
  PsaAgreement,
  PsaCompany,
  PsaOption,
  PsaOptionKind,
  ProductMatch,
  TargetValidity,
} from "../port.ts";
import { MAX_OPTIONS, PsaOptionKindError } from "../port.ts";
import {
  agreementBillsOneTime,
  ConnectWiseClient,
  isOneTimeBillingCycle,
  type ConnectWiseClientOptions,
} from "./client.ts";
import { CONNECTWISE_KEYED_RECORD_NAMES, ConnectWiseKeyedRecords } from "./keyed-records.ts";
import type { Agreement, BillingCycle, CatalogItem } from "./schemas.ts";

export type { ConnectWiseAdapterSettings } from "../port.ts";

/**
 * cspsync's sync engine on ConnectWise Manage: annual charges become additions on an agreement whose billing
 * cycle is One-Time (docs/sync-behaviour.md §9); the idempotency key travels in the addition's
 * `serialNumber` (see ADDITION_SYNC_KEY_FIELD), which ConnectWise does not print on invoices.
 */
export class ConnectWiseAdapter implements PsaAdapter {
  readonly vendor = "connectwise" as const;
  /**
   * The client's own connection cap; ConnectWise publishes no concurrency limit (docs/connectwise.md §7.3).
   */
  readonly writeConcurrency = 4;
  /**
   * Entries are checked as many at once as the client has connections: one entry at a time left the client's
   * request budget unspent between an entry's check and its writes (bench:daily, 2,000 customers: 1.19× the
   * rate-limit bound). The look-ups every entry shares (billing cycles, catalog items) are held as promises, so
   * entries planned together still ask once.
   */
  readonly planConcurrency = this.writeConcurrency;
  private readonly client: ConnectWiseClient;
  private readonly settings: ConnectWiseAdapterSettings;
  private readonly today: () => string;
  private cycles: Promise<BillingCycle[]> | undefined;
  private readonly catalog = new Map<string, Promise<CatalogItem[]>>();
  private readonly keyed: ConnectWiseKeyedRecords;
  readonly keyedRecordNames = CONNECTWISE_KEYED_RECORD_NAMES;

  /** On a client the connection's other targets share (the factory's), or on a client of its own. */
  constructor(
    client: ConnectWiseClient | ConnectWiseClientOptions,
    settings: ConnectWiseAdapterSettings,
    today: () => string = () => new Date().toISOString().slice(0, 10),
  ) {
    this.client = client instanceof ConnectWiseClient ? client : new ConnectWiseClient(client);
    this.keyed = new ConnectWiseKeyedRecords(this.client);
    this.settings = settings;
    this.today = today;
  }

  async testConnection(): Promise<ConnectionTest> {
    const result = await this.client.testConnection();
    const failed = result.checks.filter((c) => !c.ok);
    return {
      ok: result.ok,
      message: result.ok
        ? `Connected to ${result.companyInfo?.companyName ?? "ConnectWise"}; all required reads are allowed.`
        : failed.map((c) => c.message).join(" "),
      checks: result.checks.map((c) => ({ name: c.name, ok: c.ok, message: c.message })),
    };
  }

  async searchCompanies(name: string): Promise<PsaCompany[]> {
    const companies = await this.client.searchCompaniesByName(name, "contains");
    return companies.map((c) => ({ id: String(c.id), name: c.name, identifier: c.identifier }));
  }

  /**
   * Product subcategories and types, active only, named like `search`. Both are short lists an MSP keeps by
   * hand, so they are read whole and narrowed here rather than through a conditions string.
   */
  async listOptions(kind: PsaOptionKind, search: string): Promise<PsaOption[]> {
    let records;
    if (kind === "subcategories") records = await this.client.listProductSubcategories();
    else if (kind === "product-types") records = await this.client.listProductTypes();
    else throw new PsaOptionKindError(kind, "connectwise");
    const wanted = search.toLowerCase();
    return records
      .filter((r) => !r.inactiveFlag && r.name.toLowerCase().includes(wanted))
      .map((r) => ({ id: String(r.id), name: r.name }))
      .sort((a, b) => a.name.localeCompare(b.name))
      .slice(0, MAX_OPTIONS);
  }

  async getCompany(id: string): Promise<PsaCompany | null> {
    const numeric = Number(id);
    if (!Number.isInteger(numeric) || numeric <= 0) return null;
    try {
      const c = await this.client.getCompany(numeric);
      return { id: String(c.id), name: c.name, identifier: c.identifier };
    } catch (error) {
      if (error instanceof PsaNotFoundError) return null;
      throw error;
    }
  }

  async listAgreements(companyId: string): Promise<PsaAgreement[]> {
    const cycles = await this.billingCycles();
    const agreements = await this.client.listAgreementsForCompany(Number(companyId));
    return agreements.map((a) => this.describe(a, cycles));
  }

  async checkAnnualTarget(companyId: string, agreementId: string) {
    const numeric = Number(agreementId);
    let agreement: Agreement;
    try {
      if (!Number.isInteger(numeric) || numeric <= 0)
        throw new PsaNotFoundError({ vendor: "connectwise", method: "GET", url: "", reason: "" });
      agreement = await this.client.getAgreement(numeric);
    } catch (error) {
      if (error instanceof PsaNotFoundError)
        return {
          ok: false as const,
          reason: `ConnectWise agreement ${agreementId} was not found; it may have been deleted.`,
        };
      throw error;
    }
    const described = this.describe(agreement, await this.billingCycles());
    if (described.companyId !== companyId) {
      return {
        ok: false as const,
        reason: `Agreement "${agreement.name}" belongs to another company (${agreement.company?.name ?? "unknown"}).`,
      };
    }
    const validity = described.validFor["seat-annual"];
    return validity.ok
      ? { ok: true as const, agreement: described }
      : { ok: false as const, reason: validity.reason };
  }

  async matchProduct(
    line: Pick<PlannedLine, "productId" | "skuId">,
    spellings?: (productId: string, skuId: string) => string[],
  ): Promise<ProductMatch> {
    const { catalogMatch, fallbackCatalogItem } = this.settings;
    const lookup = async (sku: string) => [
      ...(catalogMatch !== "vendor-sku" ? await this.catalogBy("identifier", sku) : []),
      ...(catalogMatch !== "identifier" ? await this.catalogBy("vendorSku", sku) : []),
    ];
    const matches = await matchBySkuSpellings(
      line.productId,
      line.skuId,
      lookup,
      (item) => item.inactiveFlag !== true,
      spellings,
    );
    const matched = (found: CatalogItem): ProductMatch => ({
      ok: true,
      productRef: String(found.id),
      label: found.identifier,
      record: { noun: "catalog item", label: found.identifier, name: found.description ?? "" },
    });
    const [item] = matches;
    if (item && matches.length === 1) return matched(item);
    if (matches.length === 0 && fallbackCatalogItem) {
      const [fallback, ...more] = await this.catalogBy("identifier", fallbackCatalogItem);
      if (fallback && more.length === 0) return matched(fallback);
      return { ok: false, reason: `the fallback catalog item "${fallbackCatalogItem}" was not found` };
    }
    return {
      ok: false,
      reason: productNotMatched(line.productId, line.skuId, matches.length, "catalog item"),
    };
  }

  async findAnnualLine(agreementId: string, writeKey: string) {
    const [found] = await this.client.findAdditionsBySyncKey(Number(agreementId), writeKey);
    return found ? { recordId: String(found.id) } : null;
  }

  async writeAnnualLine(
    agreementId: string,
    line: PlannedLine,
    product: Extract<ProductMatch, { ok: true }>,
  ) {
    const addition = await this.client.createAddition(Number(agreementId), {
      product: { id: Number(product.productRef) },
      billCustomer: line.billable ? "Billable" : "DoNotBill",
      quantity: line.quantity,
      unitCost: line.unitCost,
      ...(line.unitPrice === null ? {} : { unitPrice: line.unitPrice }),
      effectiveDate: line.effectiveDate,
      description: line.description.slice(0, 2000),
      invoiceDescription: line.description,
      syncKey: line.writeKey,
    });
    return { recordId: String(addition.id) };
  }

  listKeyedRecords(agreementId: string) {
    return this.keyed.listKeyedRecords(agreementId);
  }

  removeRecord(agreementId: string, recordId: string) {
    return this.keyed.removeRecord(agreementId, recordId);
  }

  /** Every record on the agreement/contract, keyed or not; read only (the reconciliation report). */
  listAgreementRecords(agreementId: string) {
    return this.keyed.listAgreementRecords(agreementId);
  }

  requestCount(): number {
    return this.client.transportStats().requests;
  }

  private billingCycles(): Promise<BillingCycle[]> {
    // A failed read is not cached: the next caller asks again instead of inheriting the failure.
    this.cycles ??= this.client.listBillingCycles({ orderBy: "id asc" }).catch((error: unknown) => {
      this.cycles = undefined;
      throw error;
    });
    return this.cycles;
  }

  private catalogBy(field: "identifier" | "vendorSku", value: string): Promise<CatalogItem[]> {
    const key = `${field}=${value}`;
    let found = this.catalog.get(key);
    if (!found) {
      found = (
        field === "identifier"
          ? this.client.findCatalogItemsByIdentifier(value)
          : this.client.findCatalogItemsByVendorSku(value)
      ).catch((error: unknown) => {
        this.catalog.delete(key); // a failed lookup is asked again, not remembered
        throw error;
      });
      this.catalog.set(key, found);
    }
    return found;
  }

  private describe(agreement: Agreement, cycles: readonly BillingCycle[]): PsaAgreement {
    const cycle = cycles.find((c) => c.id === agreement.billingCycle?.id);
    const oneTime = agreementBillsOneTime(agreement, cycles);
    const running = this.runningProblem(agreement);
    const annual: TargetValidity = running
      ? { ok: false, reason: running }
      : oneTime
        ? { ok: true }
        : {
            ok: false,
            reason:
              `Agreement "${agreement.name}" bills on the ${cycle?.name ?? "agreement's"} billing cycle; annual charges need an agreement whose billing cycle is One-Time. ` +
              "In ConnectWise, create an agreement for annual licences and set its billing cycle to One-Time (Invoicing › Recurring Invoice Parameters), then map it here.",
          };
    const monthly: TargetValidity = running
      ? { ok: false, reason: running }
      : oneTime
        ? {
            ok: false,
            reason: `Agreement "${agreement.name}" bills one time; monthly charges need a recurring agreement.`,
          }
        : { ok: true };
    const validFor: Record<BillingMotion, TargetValidity> = {
      "seat-annual": annual,
      "seat-monthly": monthly,
      azure: monthly,
    };
    return {
      id: String(agreement.id),
      name: agreement.name,
      companyId: String(agreement.company?.id ?? ""),
      type: agreement.type?.name ?? "Agreement",
      billingCycle: oneTime
        ? (cycles.find(isOneTimeBillingCycle)?.name ?? "One-Time")
        : (cycle?.name ?? null),
      startDate: agreement.startDate?.slice(0, 10) ?? null,
      endDate: agreement.noEndingDateFlag ? null : (agreement.endDate?.slice(0, 10) ?? null),
      status: agreement.cancelledFlag ? "Cancelled" : (agreement.agreementStatus ?? "Active"),
      validFor,
    };
  }

  /** Why an agreement cannot take new charges today: cancelled, expired, or not yet started. */
  private runningProblem(agreement: Agreement): string | null {
    const today = this.today();
    if (agreement.cancelledFlag)
      return `Agreement "${agreement.name}" is cancelled; choose an active agreement.`;
    const end = agreement.noEndingDateFlag ? null : agreement.endDate?.slice(0, 10);
    if (end && end < today)
      return `Agreement "${agreement.name}" expired on ${end}; choose an agreement that is still running.`;
    if (agreement.agreementStatus && !/^active$/i.test(agreement.agreementStatus)) {
      return `Agreement "${agreement.name}" is ${agreement.agreementStatus}, not Active.`;
    }
    return null;
  }
}
