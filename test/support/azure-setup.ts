import { createAutotaskAzureTarget } from "../../src/psa/autotask/azure.ts";
import { createConnectWiseAzureTarget } from "../../src/psa/connectwise/azure.ts";
import { AzureSync, type AzurePsaTarget } from "../../src/services/azure-sync.ts";
import type { App } from "../../src/app.ts";
import type { Dialect } from "../../src/store/db.ts";
import { hostOf } from "./app.ts";
import { mappedAutotask, type MappedAutotask } from "./autotask-setup.ts";
import { mappedConnectWise, type MappedConnectWise } from "./connectwise-setup.ts";
import { CONTOSO } from "./recon-builder.ts";

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
