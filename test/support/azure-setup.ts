import { createAutotaskAzureTarget } from "../../src/psa/autotask/azure.ts";
import { createConnectWiseAzureTarget } from "../../src/psa/connectwise/azure.ts";
import { AzureSync, type AzurePsaTarget } from "../../src/services/azure-sync.ts";
import type { App } from "../../src/app.ts";
import type { Dialect } from "../../src/store/db.ts";
import { hostOf } from "./app.ts";
import { mappedAutotask, type MappedAutotask } from "./autotask-setup.ts";
import { mappedConnectWise, type MappedConnectWise } from "./connectwise-setup.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import { baseRow, CONTOSO, writeCsv } from "./recon-builder.ts";

/** What the June sample bills Contoso for Azure: 0.12 + 69.12 − 5 at cost; list 0.045 × 3.1618 + 69.12 − 5. */
export const JUNE_AZURE = {
  month: "2024-06",
  cost: "64.24",
  price: "64.26",
  description: "Azure plan usage June 2024",
  first: "2024-06-01",
  last: "2024-06-30",
  next: "2024-07-01",
} as const;

/**
 * Contoso's Azure usage on the next invoice: 4 GB-months of tables at 0.03825 (0.153, billed 0.15; list 0.045 ×
 * 4 = 0.18) and 750 VM hours at 0.096 (72; list the same), no credit: cost 72.15, retail 72.18.
 */
export const JULY_AZURE = {
  month: "2024-07",
  cost: "72.15",
  price: "72.18",
  description: "Azure plan usage July 2024",
  first: "2024-07-01",
  last: "2024-07-31",
  next: "2024-08-01",
} as const;

function julyAzureRow(meter: {
  productId: string;
  skuId: string;
  skuName: string;
  productName: string;
  unitPrice: string;
  effectiveUnitPrice: string;
  quantity: string;
  subtotal: string;
  unitType: string;
  term: string;
}) {
  return baseRow({
    InvoiceNumber: "G100000002",
    OrderDate: "7/1/2024",
    ProductId: meter.productId,
    SkuId: meter.skuId,
    AvailabilityId: "",
    SkuName: meter.skuName,
    ProductName: meter.productName,
    ChargeType: "new",
    UnitPrice: meter.unitPrice,
    Quantity: "",
    Subtotal: meter.subtotal,
    Total: meter.subtotal,
    SubscriptionDescription: "Azure plan",
    SubscriptionId: "11111111-0000-4000-8000-00000000000a",
    ChargeStartDate: "7/1/2024",
    ChargeEndDate: "7/31/2024",
    TermAndBillingCycle: meter.term,
    EffectiveUnitPrice: meter.effectiveUnitPrice,
    UnitType: meter.unitType,
    BillableQuantity: meter.quantity,
    BillingFrequency: "",
    PCToBCExchangeRateDate: "7/1/2024",
    MeterDescription: meter.skuName,
    SubscriptionStartDate: "1/1/2024",
    SubscriptionEndDate: "",
  });
}

/** Imports JULY_AZURE as a reconciliation file of its own, in the real column layout. */
export async function importJulyAzure(app: App): Promise<void> {
  const rows = [
    julyAzureRow({
      productId: "DZH318Z0BNZ5",
      skuId: "006G",
      skuName: "Tables - LRS",
      productName: "Tables",
      unitPrice: "0.045",
      effectiveUnitPrice: "0.03825",
      quantity: "4",
      subtotal: "0.15",
      unitType: "1 GB/Month",
      term: "Data Stored (GB/Month)",
    }),
    julyAzureRow({
      productId: "DZH318Z0BPS6",
      skuId: "0070",
      skuName: "D2 v3",
      productName: "Virtual Machines Dv3 Series",
      unitPrice: "0.096",
      effectiveUnitPrice: "0.096",
      quantity: "750",
      subtotal: "72",
      unitType: "1 Hour",
      term: "One-Month commitment for monthly billing",
    }),
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-azure-"));
  try {
    const summary = await importReconFile(app.store, writeCsv(path.join(dir, "july-azure.csv"), rows));
    if (summary.status !== "imported")
      throw new Error(`July Azure import failed: ${JSON.stringify(summary)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const TRANSPORT = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 };

function azureSync(app: App, connectionId: string, target: AzurePsaTarget): AzureSync {
  return new AzureSync({
    store: app.store,
    organizationId: app.organizationId,
    mappings: app.mappings,
    target,
    connectionId,
  });
}

export type AzureConnectWise = MappedConnectWise & {
  /** Contoso's monthly (recurring) agreement, which its Azure Plan entry is mapped to. */
  monthlyAgreementId: string;
  catalogItemId: number;
  sync(): Promise<AzureSync>;
};

/**
 * The June sample on a fresh ConnectWise demo emulator, a catalog item `AZURE-PLAN`, and Contoso's Azure Plan
 * entry mapped to its recurring "Microsoft CSP" agreement: ready to sync, nothing synced.
 */
export async function azureConnectWise(dialect: Dialect): Promise<AzureConnectWise> {
  const base = await mappedConnectWise(dialect);
  try {
    const { app, client, connectionId } = base;
    const adapter = await app.adapterFor(connectionId);
    const [company] = await adapter.searchCompanies("Contoso");
    const monthly = (await adapter.listAgreements(company!.id)).find((a) => a.validFor.azure.ok);
    if (!monthly) throw new Error("the demo seed has no recurring agreement for Contoso");
    await app.mappings.save(
      connectionId,
      CONTOSO.id,
      "azure",
      { psaCompanyId: company!.id, agreementId: monthly.id },
      adapter,
    );
    const [type] = await client.listProductTypes();
    const [subcategory] = await client.listProductSubcategories();
    const item = await client.createCatalogItem({
      identifier: "AZURE-PLAN",
      description: "Azure plan",
      customerDescription: "Microsoft Azure plan usage",
      subcategory: { id: subcategory!.id },
      type: { id: type!.id },
      productClass: "NonInventory",
    });
    const details = await app.connections.details(connectionId);
    return {
      ...base,
      monthlyAgreementId: monthly.id,
      catalogItemId: item.id,
      async sync() {
        const target = createConnectWiseAzureTarget(details, {
          allowedHosts: [hostOf(base.emulator.url)],
          transport: TRANSPORT,
        });
        return azureSync(app, connectionId, target);
      },
    };
  } catch (error) {
    await base.cleanup();
    throw error;
  }
}

export type AzureAutotask = MappedAutotask & {
  /** A Recurring Service contract for Harborview covering 2024, which Contoso's Azure Plan entry is mapped to. */
  recurringContractId: number;
  azureServiceId: number;
  sync(): Promise<AzureSync>;
};

/**
 * The June sample on a fresh Autotask demo emulator, a Service with SKU `AZURE-PLAN` on the "Azure
 * Consumption" billing code, and Contoso's Azure Plan entry mapped to a Recurring Service contract of
 * Harborview's running from 2024: ready to sync, nothing synced.
 */
export async function azureAutotask(dialect: Dialect): Promise<AzureAutotask> {
  const base = await mappedAutotask(dialect);
  try {
    const { app, client, connectionId } = base;
    const adapter = await app.adapterFor(connectionId);
    const [company] = await adapter.searchCompanies("Harborview");
    const recurringContractId = await client.contracts.create({
      companyID: Number(company!.id),
      contractName: "Microsoft Azure",
      contractType: 7,
      status: 1,
      startDate: "2024-01-01",
      endDate: "2027-12-31",
      contractPeriodType: 2,
      timeReportingRequiresStartAndStopTimes: 0,
    });
    const [code] = await client.billingCodes.queryAll([
      client.billingCodes.where.eq("name", "Azure Consumption"),
    ]);
    const azureServiceId = await client.services.create({
      name: "Azure plan",
      sku: "AZURE-PLAN",
      billingCodeID: code!.id,
      periodType: 2,
      unitPrice: "0",
      unitCost: "0",
    });
    await app.mappings.save(
      connectionId,
      CONTOSO.id,
      "azure",
      { psaCompanyId: company!.id, agreementId: String(recurringContractId) },
      adapter,
    );
    const details = await app.connections.details(connectionId);
    base.emulator.server.clearRequestLog();
    return {
      ...base,
      recurringContractId,
      azureServiceId,
      async sync() {
        const target = await createAutotaskAzureTarget(details, {
          allowedHosts: [hostOf(base.emulator.url)],
          transport: TRANSPORT,
        });
        return azureSync(app, connectionId, target);
      },
    };
  } catch (error) {
    await base.cleanup();
    throw error;
  }
}
