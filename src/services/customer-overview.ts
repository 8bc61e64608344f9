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

/** How many lines are held for approval on a connection (the dashboard's count: every hold still "held"). */
export async function heldLineCount(
  store: Store,
  organizationId: string,
  connectionId: string,
): Promise<number> {
  const row = await store.db
    .selectFrom("price_holds")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("organization_id", "=", organizationId)
    .where("connection_id", "=", connectionId)
    .where("status", "=", "held")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How a customer entry's last sync ended, worst first when several things happened to it. */
const STATUS_RANK = { "no-change": 0, written: 1, held: 2, warning: 3, error: 4 } as const;
export type EntryStatus = keyof typeof STATUS_RANK;
export type EntrySync = { lastSyncAt: string; lastStatus: EntryStatus; lastMessage: string | null };

/** The key of a customer entry (customer and motion) in the maps below. */
export const entryKey = (tenantId: string, motion: string) => `${tenantId}\n${motion}`;

function statusOfItem(outcome: string): EntryStatus {
  if (outcome === "error") return "error";
  if (outcome === "warning") return "warning";
  if (outcome === "held") return "held";
  return "written";
}

/**
 * The last sync of each customer entry of a connection (keyed by entryKey): the most recent run that covered it
 * (its motion, and every customer or this one), told by what that run did to it — the worst outcome among its
 * items (error, warning, held, written) with the message that explains it; when the run failed as a whole (a PSA
 * that refused the credentials, a target that is gone) that failure; and "no-change" when the run had nothing to
 * write for it. So a run that failed never leaves an entry looking synced. Entries never synced are absent.
 */
export async function lastSyncs(
  store: Store,
  organizationId: string,
  connectionId: string,
): Promise<Map<string, EntrySync>> {
  const db = store.db;
  const runs = await db
    .selectFrom("sync_runs")
    .select(["id", "scope", "status", "started_at", "finished_at"])
    .where("connection_id", "=", connectionId)
    .where("organization_id", "=", organizationId)
    .where("status", "!=", "running")
    .orderBy("started_at", "desc")
    .execute();
  const result = new Map<string, EntrySync>();
  if (runs.length === 0) return result;
  const entries = await db
    .selectFrom("mappings")
    .select(["customer_tenant_id as tenant", "motion"])
    .where("connection_id", "=", connectionId)
    .execute();
  // Each run's scope is read once, not once per entry: 300 customers × 3 motions against every run.
  const scoped = runs.map((run) => ({ run, scope: parseScope(run.scope) }));
  const latestRun = new Map<string, (typeof runs)[number]>();
  for (const entry of entries) {
    const covering = scoped.find(({ scope }) => covers(scope, entry.tenant, entry.motion));
    if (covering) latestRun.set(entryKey(entry.tenant, entry.motion), covering.run);
  }
  const runIds = [...new Set([...latestRun.values()].map((run) => run.id))];
  const items = [];
  for (let i = 0; i < runIds.length; i += 500) {
    items.push(
      ...(await db
        .selectFrom("sync_items")
        .select(["run_id", "customer_tenant_id as tenant", "outcome", "message"])
        .where("run_id", "in", runIds.slice(i, i + 500))
        .orderBy("sequence")
        .execute()),
    );
  }
  const itemsOf = Map.groupBy(items, (item) => item.run_id);
  for (const [key, run] of latestRun) {
    const [tenant] = key.split("\n");
    let status: EntryStatus = "no-change";
    let message: string | null = null;
    for (const item of itemsOf.get(run.id) ?? []) {
      // An item of no customer is the run failing as a whole: it concerns every entry the run covered.
      if (item.tenant !== null && item.tenant !== tenant) continue;
      const itemStatus =
        item.tenant === null && item.outcome !== "error" ? "written" : statusOfItem(item.outcome);
      if (STATUS_RANK[itemStatus] > STATUS_RANK[status]) {
        status = itemStatus;
        message = itemStatus === "written" ? null : item.message;
      }
    }
    result.set(key, {
      lastSyncAt: run.finished_at ?? run.started_at,
      lastStatus: status,
      lastMessage: message,
    });
  }
  return result;
}

type RunScope = { motion: string; customerTenantId: unknown } | null;

/** A run's stored scope (`{ motion, customerTenantId? }`); null when it cannot be read (covers nothing). */
function parseScope(scope: string): RunScope {
  try {
    const parsed = JSON.parse(scope) as { motion?: unknown; customerTenantId?: unknown };
    return {
      motion: typeof parsed.motion === "string" ? parsed.motion : "seat-annual",
      customerTenantId: parsed.customerTenantId,
    };
  } catch {
    return null;
  }
}

/** Whether a run with this scope synced the entry. */
function covers(scope: RunScope, tenant: string, motion: string): boolean {
  if (scope === null || scope.motion !== motion) return false;
  return scope.customerTenantId === undefined || scope.customerTenantId === tenant;
}
