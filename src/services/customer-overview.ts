import { BILLING_MOTIONS, type BillingMotion } from "../core/billing.ts";
import { Dec } from "../core/money.ts";
import type { Store } from "../store/db.ts";

/** What a customer's billable charges of one motion add up to, per currency (cost, before any markup). */
export type ChargeTotals = { lines: number; totals: { currency: string; amount: string }[] };

/**
 * The billable charges of every customer by motion, in one grouped query: how many charge events and their
 * summed Subtotal per currency. The sums are done here with Dec, not in SQL, so both databases give the
 * same exact decimal strings (unrounded: the screen rounds when it shows them).
 */
export async function chargeTotals(
  store: Store,
  organizationId: string,
): Promise<Map<string, Map<BillingMotion, ChargeTotals>>> {
  const rows = await store.db
    .selectFrom("charge_events")
    .select(["customer_tenant_id as tenant", "motion", "currency", "amount"])
    .where("organization_id", "=", organizationId)
    .where("is_billable", "=", 1)
    .execute();
  const sums = new Map<string, Map<BillingMotion, { lines: number; byCurrency: Map<string, Dec> }>>();
  for (const row of rows) {
    const motion = row.motion as BillingMotion;
    if (!BILLING_MOTIONS.includes(motion)) continue;
    let perMotion = sums.get(row.tenant);
    if (!perMotion) sums.set(row.tenant, (perMotion = new Map()));
    let entry = perMotion.get(motion);
    if (!entry) perMotion.set(motion, (entry = { lines: 0, byCurrency: new Map() }));
    entry.lines += 1;
    entry.byCurrency.set(row.currency, (entry.byCurrency.get(row.currency) ?? new Dec(0)).plus(row.amount));
  }
  const result = new Map<string, Map<BillingMotion, ChargeTotals>>();
  for (const [tenant, perMotion] of sums) {
    const out = new Map<BillingMotion, ChargeTotals>();
    for (const [motion, entry] of perMotion)
      out.set(motion, {
        lines: entry.lines,
        totals: [...entry.byCurrency]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([currency, amount]) => ({ currency, amount: amount.isZero() ? "0" : amount.toFixed() })),
      });
    result.set(tenant, out);
  }
  return result;
}

/** How many lines of each customer are held for approval on a connection and not yet written. */
export async function heldCounts(store: Store, organizationId: string, connectionId: string) {
  const rows = await store.db
    .selectFrom("price_holds")
    .select(["customer_tenant_id as tenant", (eb) => eb.fn.countAll<number>().as("n")])
    .where("organization_id", "=", organizationId)
    .where("connection_id", "=", connectionId)
    .where("status", "=", "held")
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("psa_writes")
            .select("psa_writes.write_key")
            .whereRef("psa_writes.connection_id", "=", "price_holds.connection_id")
            .whereRef("psa_writes.write_key", "=", "price_holds.write_key")
            .where("psa_writes.status", "=", "confirmed"),
        ),
      ),
    )
    .groupBy("customer_tenant_id")
    .execute();
  return new Map(rows.map((r) => [r.tenant, Number(r.n)]));
}
