import path from "node:path";
import type { App } from "../../src/app.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { allocateId } from "../../emulators/connectwise/state.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { Dialect } from "../../src/store/db.ts";
import { createTestApp, hostOf } from "./app.ts";
import { CONTOSO } from "./recon-builder.ts";

export const SAMPLE = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");
export const CLIENT_ID = "00000000-0000-4000-8000-00000000c11e";

export type MappedConnectWise = {
  emulator: ConnectWiseEmulator;
  app: App;
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
  connectionId: string;
  agreementId: string;
  /** A client of its own, to look at what cspsync wrote. */
  client: ConnectWiseClient;
  cleanup(): Promise<void>;
};

/**
 * The fallback catalog item: a catch-all named for no product in particular. (A fallback named after one
 * product, such as the demo's O365-E1, would bill the sample's Visio and Windows Server charges as Office 365 E1,
 * and the sync warns about that.)
 */
export const FALLBACK_ITEM = "CSP-LICENSE";

/** Adds the catch-all item to the emulator's data directly, so no request of the set-up shows in its log. */
export function addCatchAllItem(emulator: ConnectWiseEmulator): void {
  const data = emulator.data();
  const template = data.tables.catalogItems.find((item) => item.identifier === "O365-E1")!;
  const { vendorSku: _sku, manufacturerPartNumber: _part, ...fields } = template;
  data.tables.catalogItems.push({
    ...fields,
    id: allocateId(data, "catalogItems"),
    identifier: FALLBACK_ITEM,
    description: "Microsoft CSP licence",
    customerDescription: "Microsoft CSP licence",
  });
}

/**
 * A ConnectWise connection named `name` to `emulator` (a demo seed) with annual sync on and the fallback
 * catalog item, and Contoso mapped to its One-Time agreement.
 */
export async function connectContosoAnnual(app: App, emulator: ConnectWiseEmulator, name: string) {
  const { companyId, publicKey, privateKey } = emulator.credentials;
  const connection = await app.connections.create({
    vendor: "connectwise",
    name,
    config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
    secrets: { privateKey },
    settings: { fallbackCatalogItem: FALLBACK_ITEM },
  });
  await app.connections.update(connection.id, { seatAnnualEnabled: true });
  const adapter = await app.adapterFor(connection.id);
  const [company] = await adapter.searchCompanies("Contoso");
  const annual = (await adapter.listAgreements(company!.id)).find((a) => a.validFor["seat-annual"].ok)!;
  await app.mappings.save(
    connection.id,
    CONTOSO.id,
    "seat-annual",
    { psaCompanyId: company!.id, agreementId: annual.id },
    adapter,
  );
  return { connection, annual };
}

/**
 * The June sample imported, a ConnectWise connection to a fresh demo emulator with annual sync on and a
 * fallback catalog item, and Contoso mapped to its One-Time agreement: ready to sync, nothing synced.
 */
export async function mappedConnectWise(dialect: Dialect): Promise<MappedConnectWise> {
  const emulator = await startConnectWiseEmulator({ seed: "demo" });
  const { app, env, databaseUrl, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]);
  const { companyId, publicKey, privateKey } = emulator.credentials;
  addCatchAllItem(emulator);
  await importReconFile(app.store, SAMPLE);
  const { connection, annual } = await connectContosoAnnual(app, emulator, "CW");
  return {
    emulator,
    app,
    env,
    databaseUrl,
    connectionId: connection.id,
    agreementId: annual.id,
    client: new ConnectWiseClient({
      siteUrl: emulator.url,
      companyId,
      publicKey,
      privateKey,
      clientId: CLIENT_ID,
    }),
    async cleanup() {
      await cleanup();
      await emulator.close();
    },
  };
}

/** Contoso's annual additions as ConnectWise holds them: description → [unit cost, unit price]. */
export async function annualPrices(s: MappedConnectWise): Promise<Record<string, [string, string]>> {
  const additions = await s.client.listAdditions(Number(s.agreementId), { orderBy: "id asc" });
  return Object.fromEntries(
    additions.map((a) => [
      a.description ?? "",
      [String(a.unitCost), String(a.unitPrice)] as [string, string],
    ]),
  );
}

/** The June sample's Seat-based Annual charges for Contoso, as their additions are described. */
export const VISIO = "Visio Plan 2: 2 seats, renewal for the term 2024-06-01 to 2025-05-31";
export const PREMIUM = "Microsoft 365 Business Premium: 5 seats, annual term 2024-06-05 to 2025-06-04";
export const EXO = "Exchange Online (Plan 1): 3 seats, annual term 2024-06-10 to 2025-06-09";
export const EXO_REFUND =
  "Exchange Online (Plan 1): cancellation refund for 3 seats, 2024-06-12 to 2025-06-09";
export const SERVER =
  "Windows Server 2022 Standard - 16 Core License Pack: 1 × one-time purchase on 2024-06-18";
export const PREMIUM_UP =
  "Microsoft 365 Business Premium: +2 seats (now 7), prorated 2024-06-25 to 2025-06-04 (345 days of the term)";
export const PREMIUM_DOWN =
  "Microsoft 365 Business Premium: −1 seat (now 6), prorated 2024-06-27 to 2025-06-04 (343 days of the term)";
export const E3 = "Microsoft 365 E3: 3 seats billed annually, 2024-07-01 to 2025-05-31";
