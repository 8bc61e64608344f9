import { checkTargetFor } from "../target-check.ts";
import type { AzureMonthLine } from "../../core/azure-plan.ts";
import type {
  AdapterOptions,
  AzurePsaTarget,
  ConnectWiseAdapterSettings,
  ProductMatch,
  PsaAdapter,
  PsaConnectionDetails,
} from "../port.ts";
import { ConnectWiseAdapter } from "./adapter.ts";
import { ConnectWiseClient } from "./client.ts";
import { connectWiseClientOptions } from "./client-options.ts";
import { CONNECTWISE_KEYED_RECORD_NAMES, ConnectWiseKeyedRecords } from "./keyed-records.ts";
import type { CatalogItem } from "./schemas.ts";

/** The catalog item Azure months are billed as, by identifier or vendor SKU, unless a fallback is set. */
export const AZURE_CATALOG_SKU = "AZURE-PLAN";

/**
 * Azure Plan sync on ConnectWise Manage (docs/sync-behaviour.md §8, §5.1): each month of Azure usage is
 * one addition on the mapped recurring agreement, quantity 1, dated from the first to the last day of the
 * month (effectiveDate / cancelledDate), carrying the month's cost and price. Like annual lines, the write key
 * travels in the addition's `serialNumber` (ADDITION_SYNC_KEY_FIELD, docs/connectwise.md §9.3), so a lost
 * response is resolved by looking the key up (§5.1 conditions).
 */
export class ConnectWiseAzureTarget implements AzurePsaTarget {
  readonly vendor = "connectwise" as const;
  readonly writeConcurrency: number;
  /** As many entries planned at once as the annual adapter (see ConnectWiseAdapter.planConcurrency). */
  readonly planConcurrency: number;
  private readonly client: ConnectWiseClient;
  private readonly keyed: ConnectWiseKeyedRecords;
  readonly keyedRecordNames = CONNECTWISE_KEYED_RECORD_NAMES;
  /**
   * The annual adapter already decides which agreements take monthly charges (validFor.azure); reused. The
   * factory builds it on the same client as this target (one connection, one rate and concurrency budget).
   */
  private readonly agreements: PsaAdapter;
  private readonly settings: ConnectWiseAdapterSettings;
  private product: Promise<ProductMatch> | undefined;

  constructor(client: ConnectWiseClient, agreements: PsaAdapter, settings: ConnectWiseAdapterSettings) {
    this.client = client;
    this.keyed = new ConnectWiseKeyedRecords(client);
    this.agreements = agreements;
    this.settings = settings;
    this.writeConcurrency = agreements.writeConcurrency;
    this.planConcurrency = agreements.planConcurrency ?? 1;
  }

  checkAzureTarget(companyId: string, agreementId: string) {
    return checkTargetFor(this.agreements, "azure", companyId, agreementId);
  }

  matchAzureProduct(): Promise<ProductMatch> {
    // One product for every month; a failed lookup is asked again, not remembered.
    this.product ??= this.findProduct().catch((error: unknown) => {
      this.product = undefined;
      throw error;
    });
    return this.product;
  }

  async findAzureMonth(agreementId: string, line: AzureMonthLine) {
    const [found] = await this.client.findAdditionsBySyncKey(Number(agreementId), line.writeKey);
    return found ? { recordId: String(found.id) } : null;
  }

  async writeAzureMonth(
    agreementId: string,
    line: AzureMonthLine,
    product: Extract<ProductMatch, { ok: true }>,
  ) {
    const addition = await this.client.createAddition(Number(agreementId), {
      product: { id: Number(product.productRef) },
      billCustomer: "Billable",
      quantity: line.quantity,
      unitCost: line.unitCost,
      ...(line.unitPrice === null ? {} : { unitPrice: line.unitPrice }),
      effectiveDate: line.periodStart,
      cancelledDate: line.periodEnd,
      description: line.description,
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

  /** The client's requests: the agreements adapter shares the client, so they are counted once. */
  requestCount(): number {
    return this.client.transportStats().requests;
  }

  private async findProduct(): Promise<ProductMatch> {
    const usable = (item: CatalogItem) => item.inactiveFlag !== true && item.productClass !== "Bundle";
    const byId = new Map<number, CatalogItem>();
    for (const item of [
      ...(await this.client.findCatalogItemsByIdentifier(AZURE_CATALOG_SKU)),
      ...(await this.client.findCatalogItemsByVendorSku(AZURE_CATALOG_SKU)),
    ])
      if (usable(item)) byId.set(item.id, item);
    const matches = [...byId.values()];
    const [item] = matches;
    if (item && matches.length === 1)
      return { ok: true, productRef: String(item.id), label: item.identifier };
    if (matches.length > 1)
      return {
        ok: false,
        reason: `${matches.length} active catalog items have the identifier or vendor SKU ${AZURE_CATALOG_SKU}; keep one`,
      };
    const fallback = this.settings.fallbackCatalogItem;
    if (fallback) {
      const [found, ...more] = (await this.client.findCatalogItemsByIdentifier(fallback)).filter(usable);
      if (found && more.length === 0)
        return { ok: true, productRef: String(found.id), label: found.identifier };
      return { ok: false, reason: `the fallback catalog item "${fallback}" was not found` };
    }
    return {
      ok: false,
      reason: `no catalog item for Azure usage: create one with the identifier or vendor SKU ${AZURE_CATALOG_SKU}, or set a fallback catalog item on the connection`,
    };
  }
}

/**
 * Builds the Azure target for a stored ConnectWise connection on one client of its own, refusing hosts that are
 * not allowed. The app builds targets through the factory's connection (factory.ts) instead.
 */
export function createConnectWiseAzureTarget(
  details: PsaConnectionDetails,
  options: AdapterOptions,
  today?: () => string,
): ConnectWiseAzureTarget {
  if (details.vendor !== "connectwise") throw new Error("not a ConnectWise connection");
  const client = new ConnectWiseClient(connectWiseClientOptions(details, options));
  return new ConnectWiseAzureTarget(
    client,
    new ConnectWiseAdapter(client, details.settings, today),
    details.settings,
  );
}
