import type { AutotaskEmulator } from "../emulators/autotask/index.ts";
import type { NewRow, Row } from "../emulators/autotask/store.ts";
import { microsoftSku } from "../src/core/product-identity.ts";
import { MONTHLY } from "./daily-data.ts";

/**
 * bench:daily on Autotask: each customer gets a company with a Recurring Service contract (monthly periods,
 * Seat-based Monthly and Azure Plan) and a Fixed Price contract (Seat-based Annual), copied from the demo's
 * first customer's and dated from January 2024 so June 2024's usage falls inside them; one Service per monthly
 * SKU of the data. All of it goes straight into the emulator's store (no request of the set-up is logged or
 * counted against its hourly threshold). Annual purchases and Azure meters bill as charges with the
 * "Software Licences" billing code (the connection's chargeBillingCodeId).
 */
export function seedAutotask(
  emulator: AutotaskEmulator,
  customers: number,
): { targets: Map<number, { company: string; recurring: string; annual: string }>; billingCodeId: number } {
  const { store } = emulator.state;
  const contracts = store.all("Contracts");
  const recurring = contracts.find((c) => c.contractName === "Managed Services & Microsoft Cloud")!;
  const fixed = contracts.find(
    (c) => c.contractName === "Microsoft Annual Subscriptions" && c.companyID === recurring.companyID,
  )!;
  const company = store.get("Companies", Number(recurring.companyID))!;
  const code = store.all("BillingCodes").find((b) => b.name === "Software Licences")!;
  const service = store.all("Services")[0]!;
  const dates = { startDate: "2024-01-01T00:00:00", endDate: "2027-12-31T00:00:00" };
  const copy = (row: Row): NewRow => {
    const { id: _id, ...fields } = row;
    return fields;
  };
  // Azure Plan usage bills on the contract as the AZURE-PLAN service.
  for (const p of [...MONTHLY, { ProductId: "AZURE-PLAN", SkuId: "", price: "0" }]) {
    const sku = p.SkuId ? microsoftSku(p.ProductId, p.SkuId) : p.ProductId;
    if (store.all("Services").some((s) => s.sku === sku)) continue;
    store.insert("Services", { ...copy(service), name: `PC_${sku}`, sku, unitPrice: p.price, unitCost: "0" });
  }
  const targets = new Map<number, { company: string; recurring: string; annual: string }>();
  for (let c = 1; c <= customers; c++) {
    const companyRow = store.insert("Companies", {
      ...copy(company),
      companyName: `Daily Customer ${c}`,
      companyNumber: `D${String(c).padStart(5, "0")}`,
      userDefinedFields: [],
    });
    const recurringRow = store.insert("Contracts", {
      ...copy(recurring),
      ...dates,
      companyID: companyRow.id,
      contractNumber: `DAILY-RS-${c}`,
    });
    const fixedRow = store.insert("Contracts", {
      ...copy(fixed),
      ...dates,
      companyID: companyRow.id,
      contractNumber: `DAILY-FP-${c}`,
    });
    targets.set(c, {
      company: String(companyRow.id),
      recurring: String(recurringRow.id),
      annual: String(fixedRow.id),
    });
  }
  return { targets, billingCodeId: code.id };
}
