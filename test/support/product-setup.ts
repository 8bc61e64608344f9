import { createCatalogTarget, productSettingsFrom, ProductSync } from "../../src/services/product-sync.ts";
import { hostOf } from "./app.ts";
import type { MappedAutotask } from "./autotask-setup.ts";

/** The id of the emulator's billing code with this name. */
export async function billingCodeId(setup: MappedAutotask, name: string): Promise<number> {
  const [code] = await setup.client.billingCodes.queryAll([setup.client.billingCodes.where.eq("name", name)]);
  return code!.id;
}

/** A product sync of every product in the data ("all") on the Autotask emulator, with these settings. */
export async function autotaskProductSync(
  setup: MappedAutotask,
  settings: Record<string, unknown>,
): Promise<ProductSync> {
  const details = await setup.app.connections.details(setup.connectionId);
  const product = await productSettingsFrom("autotask", {}, { productSyncMode: "all", ...settings });
  const target = await createCatalogTarget(details, product, {
    allowedHosts: [hostOf(setup.emulator.url)],
    transport: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 },
  });
  return new ProductSync({
    store: setup.app.store,
    organizationId: setup.app.organizationId,
    connectionId: setup.connectionId,
    target,
  });
}
