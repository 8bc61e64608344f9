import type { App } from "../../src/app.ts";
import { AutotaskClient } from "../../src/psa/autotask/client.ts";
import { startAutotaskEmulator, type AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { Dialect } from "../../src/store/db.ts";
import { createTestApp, hostOf } from "./app.ts";
import { SAMPLE } from "./connectwise-setup.ts";
import { CONTOSO } from "./recon-builder.ts";

export type MappedAutotask = {
  emulator: AutotaskEmulator;
  app: App;
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
  connectionId: string;
  /** The Fixed Price contract Contoso's Seat-based Annual entry is mapped to. */
  contractId: string;
  billingCodeId: number;
  /** A client of its own, to look at what cspsync wrote. */
  client: AutotaskClient;
  cleanup(): Promise<void>;
};

/** A connection named "AT" to the emulator as its first user, with `chargeBillingCodeId` as the charge fallback. */
export function addAutotaskConnection(app: App, emulator: AutotaskEmulator, chargeBillingCodeId: number) {
  const user = emulator.users[0]!;
  return app.connections.create({
    vendor: "autotask",
    name: "AT",
    config: { username: user.userName, discoveryUrl: emulator.apiBaseUrl },
    secrets: { secret: user.secret, integrationCode: user.integrationCode },
    settings: { chargeBillingCodeId },
  });
}

/**
 * The June sample imported, an Autotask connection named "AT" to a fresh demo emulator with annual sync on and
 * the "Software Licences" billing code as the charge fallback, and Contoso mapped to Harborview's Fixed Price
 * contract: ready to sync, nothing synced.
 */
export async function mappedAutotask(dialect: Dialect): Promise<MappedAutotask> {
  const emulator = await startAutotaskEmulator({ seed: "demo" });
  const { app, env, databaseUrl, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]);
  try {
    const user = emulator.users[0]!;
    const client = new AutotaskClient({
      credentials: { userName: user.userName, secret: user.secret, integrationCode: user.integrationCode },
      discoveryBaseUrl: emulator.apiBaseUrl,
    });
    const [code] = await client.billingCodes.queryAll([
      client.billingCodes.where.eq("name", "Software Licences"),
    ]);
    if (!code) throw new Error("the demo seed has no Software Licences billing code");
    await importReconFile(app.store, SAMPLE);
    const connection = await addAutotaskConnection(app, emulator, code.id);
    await app.connections.update(connection.id, { seatAnnualEnabled: true });
    const adapter = await app.adapterFor(connection.id);
    const [company] = await adapter.searchCompanies("Harborview");
    if (!company) throw new Error("the demo seed has no Harborview company");
    const fixedPrice = (await adapter.listAgreements(company.id)).find((c) => c.validFor["seat-annual"].ok);
    if (!fixedPrice) throw new Error("the demo seed has no Fixed Price contract for Harborview");
    await app.mappings.save(
      connection.id,
      CONTOSO.id,
      "seat-annual",
      { psaCompanyId: company.id, agreementId: fixedPrice.id },
      adapter,
    );
    emulator.server.clearRequestLog();
    return {
      emulator,
      app,
      env,
      databaseUrl,
      connectionId: connection.id,
      contractId: fixedPrice.id,
      billingCodeId: code.id,
      client,
      async cleanup() {
        await cleanup();
        await emulator.close();
      },
    };
  } catch (error) {
    await cleanup();
    await emulator.close();
    throw error;
  }
}
