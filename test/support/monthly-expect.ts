import assert from "node:assert/strict";
import type { ExpectedSegment } from "./monthly-data.ts";
import type { MonthlyAutotask, MonthlyConnectWise } from "./monthly-setup.ts";

/**
 * What the monthly e2e and fault suites compare the PSA with: the agreement's additions as ConnectWise bills
 * them, and the contract's unit rows as Autotask bills them, each in a stable order.
 */

export async function additions(s: Pick<MonthlyConnectWise, "client" | "agreementId">) {
  const rows = await s.client.listAdditions(s.agreementId);
  return rows
    .map((a) => ({
      product: a.product?.id,
      quantity: a.quantity,
      cost: a.unitCost,
      price: a.unitPrice,
      from: a.effectiveDate?.slice(0, 10),
      to: a.cancelledDate?.slice(0, 10) ?? null,
      billCustomer: a.billCustomer,
    }))
    .sort((a, b) => (a.product ?? 0) - (b.product ?? 0) || a.from!.localeCompare(b.from!));
}

export function expectedAdditions(s: Pick<MonthlyConnectWise, "catalog">, segments: ExpectedSegment[]) {
  return segments
    .map((e) => ({
      product: s.catalog[e.sub],
      quantity: e.quantity,
      cost: e.cost,
      price: e.price,
      from: e.from,
      to: e.to,
      billCustomer: "Billable",
    }))
    .sort((a, b) => a.product - b.product || a.from.localeCompare(b.from));
}

/** Units per contract service (by product) from May to September 2024, as Autotask bills them. */
export async function units(s: Pick<MonthlyAutotask, "client" | "contractId" | "services">) {
  const { contractServices, contractServiceUnits } = s.client;
  const services = await contractServices.queryAll([contractServices.where.eq("contractID", s.contractId)]);
  const byProduct: Record<string, string[]> = {};
  for (const [product, serviceId] of Object.entries(s.services)) {
    const service = services.filter((cs) => cs.serviceID === serviceId);
    assert.ok(service.length <= 1, `one contract service for ${product}`);
    if (!service[0]) continue;
    const rows = await contractServiceUnits.queryAll([
      contractServiceUnits.where.eq("contractServiceID", service[0].id),
    ]);
    byProduct[product] = rows
      .map((r) => ({ day: r.startDate.slice(0, 10), units: r.units, price: r.price, cost: r.cost }))
      .filter((r) => r.day >= "2024-05-01" && r.day < "2024-10-01")
      .sort((a, b) => a.day.localeCompare(b.day))
      .map((r) => `${r.day} ${r.units} @${r.price}/${r.cost}`);
  }
  return byProduct;
}

const MONTHS = ["2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"];
function rows(at: Record<string, number>, price: string, extra: Record<string, number> = {}): string[] {
  const all = { ...Object.fromEntries(MONTHS.map((m) => [m, 0])), ...extra };
  let current = 0;
  return Object.keys(all)
    .sort()
    .map((day) => {
      if (day in at) current = at[day]!;
      if (day in extra) current = extra[day]!;
      return `${day} ${current} @${price}/${price}`;
    });
}

// One adjustment per billing period (the emulator is set to refuse a second one): a change in a period that
// already has one is billed from the next period.
export const UNITS_AFTER_JUNE = {
  standard: rows({ "2024-06-01": 10, "2024-07-01": 15 }, "12.5"),
  premium: rows({ "2024-06-01": 5 }, "22"),
  exchange: rows({ "2024-06-01": 3 }, "4"),
  visio: rows({}, "8", { "2024-06-20": 2 }),
};
export const UNITS_AFTER_JULY = {
  standard: rows({ "2024-06-01": 10, "2024-07-01": 15, "2024-08-01": 12 }, "12.5"),
  premium: rows({ "2024-06-01": 5 }, "22", { "2024-07-16": 7 }),
  exchange: rows({ "2024-06-01": 3, "2024-07-01": 0 }, "4"),
  teams: rows({}, "4", { "2024-07-10": 4 }),
  visio: rows({ "2024-07-01": 0 }, "8", { "2024-06-20": 2 }),
};
