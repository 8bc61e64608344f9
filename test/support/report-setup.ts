import type { App } from "../../src/app.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { PricingService } from "../../src/services/pricing.ts";
import type { Dialect } from "../../src/store/db.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { CONTOSO, importTwoMonths } from "../reports/fixture.ts";
import { createTestApp, hostOf } from "./app.ts";
import { CLIENT_ID } from "./connectwise-setup.ts";

/**
 * The reconciliation report's scenario (docs/reports.md §1, §3), shared by the report's service test and its
 * browser walk: June and July 2024 imported (test/reports/fixture.ts), one ConnectWise connection "CW" on
 * the emulator, Contoso's Seat-based Annual mapped from Jun 8 at 20 % markup with two price rules (Premium at
 * 300, Business Central at 700, below cost held), its Seat-based Monthly mapped and turned off, Fabrikam never
 * mapped; an annual sync run; then, by hand in ConnectWise through its HTTP API, the seat add's price edited
 * (283.5616 → 250), the Exchange purchase deleted, and an addition of the same catalog item added that
 * cspsync did not write.
 */
export const PREMIUM_ADD =
  "Microsoft 365 Business Premium: +2 seats (now 7), prorated 2024-06-25 to 2025-06-04 (345 days of the term)";

export type ReportScenario = {
  app: App;
  emulator: ConnectWiseEmulator;
  client: ConnectWiseClient;
  connectionId: string;
  agreementId: string;
  /** Run annual syncs found errors in (0 expected). */
  syncErrors: number;
  cleanup(): Promise<void>;
};

export async function reportScenario(dialect: Dialect): Promise<ReportScenario> {
  const emulator = await startConnectWiseEmulator({ seed: "demo" });
  const { app, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]);
  await importTwoMonths(app.store);
  const { companyId, publicKey, privateKey } = emulator.credentials;
  const connection = await app.connections.create({
    vendor: "connectwise",
    name: "CW",
    config: { site: emulator.url, companyId, publicKey, clientId: CLIENT_ID },
    secrets: { privateKey },
    settings: { fallbackCatalogItem: "O365-E1" },
  });
  const connectionId = connection.id;
  await app.connections.update(connectionId, { seatAnnualEnabled: true });
  const adapter = await app.adapterFor(connectionId);
  const [company] = await adapter.searchCompanies("Contoso");
  const agreements = await adapter.listAgreements(company!.id);
  const agreementId = agreements.find((a) => a.validFor["seat-annual"].ok)!.id;
  const monthly = agreements.find((a) => a.validFor["seat-monthly"].ok)!;
  // Annual: from Jun 8 (the Premium purchase of Jun 5 is before it), 20 % markup.
  await app.mappings.save(
    connectionId,
    CONTOSO.id,
    "seat-annual",
    {
      psaCompanyId: company!.id,
      agreementId,
      syncDate: "2024-06-08",
      pricing: "markup",
      markupPercent: "20",
    },
    adapter,
  );
  // Monthly: mapped, turned off.
  await app.mappings.save(
    connectionId,
    CONTOSO.id,
    "seat-monthly",
    { psaCompanyId: company!.id, agreementId: monthly.id, enabled: false },
    adapter,
  );
  const pricing = new PricingService(app.store, app.organizationId);
  await pricing.addRule(connectionId, {
    name: "Premium at 300",
    productKey: "cfq7ttc0lchc",
    kind: "fixed",
    value: "300",
    effectiveFrom: "2024-01-01",
  });
  await pricing.addRule(connectionId, {
    name: "Business Central at 700",
    productKey: "cfq7ttc0lh1m",
    kind: "fixed",
    value: "700",
    effectiveFrom: "2024-01-01",
  });
  await pricing.setBelowCost(connectionId, "hold");
  const run = await (await app.annualSync(connectionId)).run("manual");

  // By hand in ConnectWise, through its HTTP API: the seat add's price edited, the Exchange purchase
  // deleted, and an addition of the same catalog item that cspsync did not write.
  const client = new ConnectWiseClient({
    siteUrl: emulator.url,
    companyId,
    publicKey,
    privateKey,
    clientId: CLIENT_ID,
  });
  const additions = await client.listAdditions(Number(agreementId), { orderBy: "id asc" });
  const add = additions.find((a) => a.description === PREMIUM_ADD)!;
  await client.patchAddition(Number(agreementId), add.id, [{ op: "replace", path: "unitPrice", value: 250 }]);
  const exo = additions.find((a) => a.description?.startsWith("Exchange Online (Plan 1): 3 seats"))!;
  await client.deleteAddition(Number(agreementId), exo.id);
  await client.createAddition(Number(agreementId), {
    product: { identifier: "M365-PREM-ANNUAL" },
    billCustomer: "Billable",
    quantity: "2",
    unitPrice: "20",
    unitCost: "10",
    effectiveDate: "2024-06-20",
    description: '=HYPERLINK("http://x") added by hand',
  });
  return {
    app,
    emulator,
    client,
    connectionId,
    agreementId,
    syncErrors: run.errors,
    async cleanup() {
      await cleanup();
      await emulator.close();
    },
  };
}
