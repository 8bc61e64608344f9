import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { App } from "../../src/app.ts";
import { microsoftSku } from "../../src/core/product-identity.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { AutotaskClient } from "../../src/psa/autotask/client.ts";
import { startAutotaskEmulator, type AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { MonthlySync, type MonthlyLine } from "../../src/services/monthly-sync.ts";
import type { Dialect } from "../../src/store/db.ts";
import { createTestApp, hostOf } from "./app.ts";
import { CLIENT_ID } from "./connectwise-setup.ts";
import { juneMonthlyRows, julyMonthlyRows, MONTHLY_PRODUCTS } from "./monthly-data.ts";
import { CONTOSO, writeCsv, type ReconRow } from "./recon-builder.ts";

const TRANSPORT = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 };

export type MonthlyConnectWise = {
  emulator: ConnectWiseEmulator;
  app: App;
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
  connectionId: string;
  agreementId: number;
  /** Catalog item id per product of the monthly data. */
  catalog: Record<keyof typeof MONTHLY_PRODUCTS, number>;
  client: ConnectWiseClient;
  sync(): Promise<MonthlySync<MonthlyLine>>;
  importJuly(): Promise<void>;
  cleanup(): Promise<void>;
};

async function importRows(app: App, dir: string, name: string, rows: ReconRow[]): Promise<void> {
  const summary = await importReconFile(app.store, writeCsv(path.join(dir, name), rows));
  if (summary.status !== "imported") throw new Error(`import of ${name} failed: ${JSON.stringify(summary)}`);
}

/**
 * The June invoice imported, a catalog item per product (identifier = Microsoft SKU), and Contoso's
 * Seat-based Monthly entry mapped to its recurring "Microsoft CSP" agreement on a fresh demo emulator, with
 * the default start point (the most recent invoice: June). Nothing synced; July is imported on demand.
 */
export async function monthlyConnectWise(dialect: Dialect): Promise<MonthlyConnectWise> {
  const emulator = await startConnectWiseEmulator({ seed: "demo" });
  const { app, env, databaseUrl, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-monthly-"));
  const done = async () => {
    await cleanup();
    await emulator.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await importRows(app, dir, "june.csv", juneMonthlyRows());
    const { companyId, publicKey, privateKey } = emulator.credentials;
    const connection = await app.connections.create({
      vendor: "connectwise",
      name: "CW",
      config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
      secrets: { privateKey },
      settings: {},
    });
    const client = new ConnectWiseClient({
      siteUrl: emulator.url,
      companyId,
      publicKey,
      privateKey,
      clientId: CLIENT_ID,
    });
    const [type] = await client.listProductTypes();
    const [subcategory] = await client.listProductSubcategories();
    const catalog = {} as Record<keyof typeof MONTHLY_PRODUCTS, number>;
    for (const [name, product] of Object.entries(MONTHLY_PRODUCTS)) {
      // The demo catalog already sells some of the SKUs; the others are added, named by their SKU.
      const sku = microsoftSku(product.ProductId, product.SkuId);
      const [existing] = await client.findCatalogItemsByVendorSku(sku);
      const item =
        existing ??
        (await client.createCatalogItem({
          identifier: sku,
          description: product.SkuName,
          customerDescription: product.SkuName,
          subcategory: { id: subcategory!.id },
          type: { id: type!.id },
          productClass: "NonInventory",
        }));
      catalog[name as keyof typeof MONTHLY_PRODUCTS] = item.id;
    }
    const adapter = await app.adapterFor(connection.id);
    const [company] = await adapter.searchCompanies("Contoso");
    const monthly = (await adapter.listAgreements(company!.id)).find(
      (a) => a.validFor["seat-monthly"].ok && a.name.startsWith("Microsoft CSP -"),
    );
    if (!monthly) throw new Error("the demo seed has no recurring agreement for Contoso");
    await app.mappings.save(
      connection.id,
      CONTOSO.id,
      "seat-monthly",
      { psaCompanyId: company!.id, agreementId: monthly.id },
      adapter,
    );
    const details = await app.connections.details(connection.id);
    const { createConnectWiseMonthlyTarget } = await import("../../src/psa/connectwise/monthly.ts");
    return {
      emulator,
      app,
      env,
      databaseUrl,
      connectionId: connection.id,
      agreementId: Number(monthly.id),
      catalog,
      client,
      async sync() {
        const target = createConnectWiseMonthlyTarget(details, {
          allowedHosts: [hostOf(emulator.url)],
          transport: TRANSPORT,
        });
        return new MonthlySync({
          store: app.store,
          organizationId: app.organizationId,
          mappings: app.mappings,
          target,
          connectionId: connection.id,
        });
      },
      importJuly: () => importRows(app, dir, "july.csv", julyMonthlyRows()),
      cleanup: done,
    };
  } catch (error) {
    await done();
    throw error;
  }
}

export type MonthlyAutotask = {
  emulator: AutotaskEmulator;
  app: App;
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
  connectionId: string;
  contractId: number;
  client: AutotaskClient;
  /** Service id per product of the monthly data. */
  services: Record<keyof typeof MONTHLY_PRODUCTS, number>;
  sync(): Promise<MonthlySync<MonthlyLine>>;
  importJuly(): Promise<void>;
  cleanup(): Promise<void>;
};

/**
 * The June invoice imported, a Service per product (SKU = Microsoft SKU), and Contoso's Seat-based Monthly
 * entry mapped to a Recurring Service contract of Harborview (monthly periods, 2024–2027) on a fresh demo
 * emulator that refuses two adjustments of one contract service in one period. Nothing synced.
 */
export async function monthlyAutotask(dialect: Dialect): Promise<MonthlyAutotask> {
  const emulator = await startAutotaskEmulator({
    seed: "demo",
    switches: { duplicateAdjustment: "same-period" },
  });
  const { app, env, databaseUrl, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-monthly-"));
  const done = async () => {
    await cleanup();
    await emulator.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await importRows(app, dir, "june.csv", juneMonthlyRows());
    const user = emulator.users[0]!;
    const client = new AutotaskClient({
      credentials: { userName: user.userName, secret: user.secret, integrationCode: user.integrationCode },
      discoveryBaseUrl: emulator.apiBaseUrl,
    });
    const connection = await app.connections.create({
      vendor: "autotask",
      name: "AT",
      config: { username: user.userName, discoveryUrl: emulator.apiBaseUrl },
      secrets: { secret: user.secret, integrationCode: user.integrationCode },
      settings: {},
    });
    const adapter = await app.adapterFor(connection.id);
    const [company] = await adapter.searchCompanies("Harborview");
    const contractId = await client.contracts.create({
      companyID: Number(company!.id),
      contractName: "Microsoft 365 monthly",
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
    const services = {} as Record<keyof typeof MONTHLY_PRODUCTS, number>;
    for (const [name, product] of Object.entries(MONTHLY_PRODUCTS)) {
      // The demo catalog already has services for some of the SKUs; the others are added.
      const sku = microsoftSku(product.ProductId, product.SkuId);
      const [existing] = await client.services.queryAll([client.services.where.eq("sku", sku)]);
      services[name as keyof typeof MONTHLY_PRODUCTS] =
        existing?.id ??
        (await client.services.create({
          name: `PC_${sku}`,
          sku,
          billingCodeID: code!.id,
          periodType: 2,
          unitPrice: "0",
          unitCost: "0",
        }));
    }
    await app.mappings.save(
      connection.id,
      CONTOSO.id,
      "seat-monthly",
      { psaCompanyId: company!.id, agreementId: String(contractId) },
      adapter,
    );
    const details = await app.connections.details(connection.id);
    const { createAutotaskMonthlyTarget } = await import("../../src/psa/autotask/monthly.ts");
    emulator.server.clearRequestLog();
    return {
      emulator,
      app,
      env,
      databaseUrl,
      connectionId: connection.id,
      contractId,
      client,
      services,
      async sync() {
        const target = await createAutotaskMonthlyTarget(details, {
          allowedHosts: [hostOf(emulator.url)],
          transport: TRANSPORT,
        });
        return new MonthlySync({
          store: app.store,
          organizationId: app.organizationId,
          mappings: app.mappings,
          target,
          connectionId: connection.id,
        });
      },
      importJuly: () => importRows(app, dir, "july.csv", julyMonthlyRows()),
      cleanup: done,
    };
  } catch (error) {
    await done();
    throw error;
  }
}
