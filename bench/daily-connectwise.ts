import type { ConnectWiseEmulator } from "../emulators/connectwise/index.ts";
import { allocateId } from "../emulators/connectwise/state.ts";

/**
 * bench:daily and bench:workers on ConnectWise: each of `customers` customers gets a company with its two
 * agreements — recurring "Microsoft CSP" (Seat-based Monthly and Azure Plan) and one-time "Microsoft CSP
 * Annual" — copied from the demo's Contoso, straight into the emulator's data (no request of the set-up shows
 * in its log), plus the two catalog items the syncs bill as. Returns each customer's (1-based) company and
 * agreement ids.
 */
export function seedConnectWise(
  emulator: ConnectWiseEmulator,
  customers: number,
): Map<number, { company: string; recurring: string; annual: string }> {
  const data = emulator.data();
  const { companies, agreements, catalogItems } = data.tables;
  const contoso = companies.find((c) => c.identifier === "ContosoDental")!;
  const recurring = agreements.find(
    (a) => (a.company as { id: number }).id === contoso.id && String(a.name).startsWith("Microsoft CSP -"),
  )!;
  const annual = agreements.find(
    (a) =>
      (a.company as { id: number }).id === contoso.id && String(a.name).startsWith("Microsoft CSP Annual -"),
  )!;
  const template = catalogItems.find((item) => item.identifier === "O365-E1")!;
  const { vendorSku: _sku, manufacturerPartNumber: _part, ...fields } = template;
  for (const [identifier, description] of [
    ["CSP-LICENSE", "Microsoft CSP licence"],
    ["AZURE-PLAN", "Azure plan"],
  ] as const)
    catalogItems.push({
      ...fields,
      id: allocateId(data, "catalogItems"),
      identifier,
      description,
      customerDescription: description,
    });
  const targets = new Map<number, { company: string; recurring: string; annual: string }>();
  for (let c = 1; c <= customers; c++) {
    const companyId = allocateId(data, "companies");
    companies.push({
      ...contoso,
      id: companyId,
      identifier: `DailyCustomer${c}`,
      name: `Daily Customer ${c}`,
    });
    const recurringId = allocateId(data, "agreements");
    agreements.push({
      ...recurring,
      id: recurringId,
      company: { id: companyId },
      name: `Microsoft CSP - Daily Customer ${c}`,
    });
    const annualId = allocateId(data, "agreements");
    agreements.push({
      ...annual,
      id: annualId,
      company: { id: companyId },
      name: `Microsoft CSP Annual - Daily Customer ${c}`,
    });
    targets.set(c, { company: String(companyId), recurring: String(recurringId), annual: String(annualId) });
  }
  return targets;
}

/** Maps a customer's three motions to its seeded agreements: monthly and Azure on the recurring one. */
export async function mapThreeMotions(
  mappings: {
    save(
      connectionId: string,
      tenantId: string,
      motion: "seat-annual" | "seat-monthly" | "azure",
      target: { psaCompanyId: string; agreementId: string },
      settings: null,
    ): Promise<unknown>;
  },
  connectionId: string,
  tenantId: string,
  target: { company: string; recurring: string; annual: string },
): Promise<void> {
  const save = (motion: "seat-annual" | "seat-monthly" | "azure", agreementId: string) =>
    mappings.save(connectionId, tenantId, motion, { psaCompanyId: target.company, agreementId }, null);
  await save("seat-annual", target.annual);
  await save("seat-monthly", target.recurring);
  await save("azure", target.recurring);
}
