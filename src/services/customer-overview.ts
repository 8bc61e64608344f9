import { BILLING_MOTIONS, type BillingMotion } from "../core/billing.ts";
import { Dec } from "../core/money.ts";
import type { Store } from "../store/db.ts";
import type { Mapping } from "./mappings.ts";

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
  /** Only these customers (a page); every customer without. */
  tenants?: readonly string[],
): Promise<Map<string, Map<BillingMotion, ChargeTotals>>> {
  if (tenants?.length === 0) return new Map();
  let query = store.db
    .selectFrom("charge_events")
    .select(["customer_tenant_id as tenant", "motion", "currency", "amount"])
    .where("organization_id", "=", organizationId)
    .where("is_billable", "=", 1);
  if (tenants) query = query.where("customer_tenant_id", "in", tenants);
  const rows = await query.execute();
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
export async function heldCounts(
  store: Store,
  organizationId: string,
  connectionId: string,
  /** Only these customers (a page); every customer without. */
  tenants?: readonly string[],
) {
  if (tenants?.length === 0) return new Map<string, number>();
  let query = store.db
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
    );
  if (tenants) query = query.where("customer_tenant_id", "in", tenants);
  const rows = await query.groupBy("customer_tenant_id").execute();
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
  /** Only these customers' entries (a page); every entry without. */
  tenants?: readonly string[],
): Promise<Map<string, EntrySync>> {
  const result = new Map<string, EntrySync>();
  const latestRun = await latestRuns(store, organizationId, connectionId, { tenants });
  const runIds = [...new Set([...latestRun.values()].map((run) => run.id))];
  const items = [];
  for (let i = 0; i < runIds.length; i += 500) {
    let query = store.db
      .selectFrom("sync_items")
      .select(["run_id", "customer_tenant_id as tenant", "outcome", "message"])
      .where("run_id", "in", runIds.slice(i, i + 500));
    // A page's entries need only their own items and the runs' failures as a whole (no customer).
    if (tenants)
      query = query.where((eb) =>
        eb.or([eb("customer_tenant_id", "is", null), eb("customer_tenant_id", "in", tenants)]),
      );
    items.push(...(await query.orderBy("sequence").execute()));
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

type FinishedRun = {
  id: string;
  scope: string;
  status: string;
  started_at: string;
  finished_at: string | null;
};

/**
 * The most recent finished run covering each customer entry of a connection (keyed by entryKey): its motion,
 * and every customer or this one. Entries never synced are absent.
 */
async function latestRuns(
  store: Store,
  organizationId: string,
  connectionId: string,
  only: { tenants?: readonly string[] | undefined; mappedOnly?: boolean },
): Promise<Map<string, FinishedRun>> {
  const db = store.db;
  const latestRun = new Map<string, FinishedRun>();
  if (only.tenants?.length === 0) return latestRun;
  const runs = await db
    .selectFrom("sync_runs")
    .select(["id", "scope", "status", "started_at", "finished_at"])
    .where("connection_id", "=", connectionId)
    .where("organization_id", "=", organizationId)
    .where("status", "!=", "running")
    .orderBy("started_at", "desc")
    .execute();
  if (runs.length === 0) return latestRun;
  let entryQuery = db
    .selectFrom("mappings")
    .select(["customer_tenant_id as tenant", "motion"])
    .where("connection_id", "=", connectionId);
  if (only.tenants) entryQuery = entryQuery.where("customer_tenant_id", "in", only.tenants);
  if (only.mappedOnly) entryQuery = entryQuery.where("psa_company_id", "is not", null);
  const entries = await entryQuery.execute();
  // Each run's scope is read once, not once per entry: 300 customers × 3 motions against every run.
  const scoped = runs.map((run) => ({ run, scope: parseScope(run.scope) }));
  for (const entry of entries) {
    const covering = scoped.find(({ scope }) => covers(scope, entry.tenant, entry.motion));
    if (covering) latestRun.set(entryKey(entry.tenant, entry.motion), covering.run);
  }
  return latestRun;
}

/**
 * The customers of a connection with a mapped entry whose last sync ended in error (lastSyncs' "error"): an
 * error item of theirs, or of no customer (the run failed as a whole), in the entry's latest covering run.
 * Only the error items are read.
 */
export async function erroredCustomers(
  store: Store,
  organizationId: string,
  connectionId: string,
): Promise<Set<string>> {
  const latestRun = await latestRuns(store, organizationId, connectionId, { mappedOnly: true });
  const runIds = [...new Set([...latestRun.values()].map((run) => run.id))];
  const errors = new Map<string, Set<string | null>>();
  for (let i = 0; i < runIds.length; i += 500) {
    const rows = await store.db
      .selectFrom("sync_items")
      .select(["run_id", "customer_tenant_id as tenant"])
      .distinct()
      .where("run_id", "in", runIds.slice(i, i + 500))
      .where("outcome", "=", "error")
      .execute();
    for (const row of rows) {
      let tenants = errors.get(row.run_id);
      if (!tenants) errors.set(row.run_id, (tenants = new Set()));
      tenants.add(row.tenant);
    }
  }
  const result = new Set<string>();
  for (const [key, run] of latestRun) {
    const tenant = key.split("\n")[0]!;
    const failed = errors.get(run.id);
    if (failed && (failed.has(null) || failed.has(tenant))) result.add(tenant);
  }
  return result;
}

/** The Microsoft CSP page's status filters: a customer can be in several (mapped for one motion, unmapped for another). */
export const CUSTOMER_FILTERS = ["all", "unmapped", "mapped", "error", "held"] as const;
export type CustomerFilter = (typeof CUSTOMER_FILTERS)[number];

export type CustomerRow = { tenantId: string; name: string; domain: string | null; country: string | null };

export type CustomerPage = {
  /** The page's customers by name, with everything their rows show; the maps hold only theirs. */
  customers: CustomerRow[];
  mappings: Mapping[];
  last: Map<string, EntrySync>;
  charges: Map<string, Map<BillingMotion, ChargeTotals>>;
  held: Map<string, number>;
  /** Customers matching the search and status. */
  total: number;
  /** Customers matching the search, for each status filter. */
  counts: Record<CustomerFilter, number>;
};

export type CustomerPageDeps = {
  store: Store;
  organizationId: string;
  mappings: { forCustomers(connectionId: string, tenants: readonly string[]): Promise<Mapping[]> };
};

/**
 * One page of a connection's customers (the Microsoft CSP page), searched by name, domain or tenant id and
 * filtered by status, in name order. The page, the total and each filter's count come from SQL (LIMIT/OFFSET
 * and COUNT), so the work and the memory go with the page, not with the organisation (BENCHMARKS.md, serve):
 * unmapped — billable charges in a motion with no mapped entry (what a sync would leave out); mapped — at least
 * one entry mapped; error — a mapped entry whose last sync ended in error (worked out from the runs, see
 * erroredCustomers); held — lines held for approval and not written. Without pageSize every matching customer
 * is one page.
 */
export async function customerPage(
  deps: CustomerPageDeps,
  connectionId: string,
  query: { search?: string | undefined; status: CustomerFilter; page: number; pageSize?: number | undefined },
): Promise<CustomerPage> {
  const { store, organizationId } = deps;
  const db = store.db;
  const errored = [...(await erroredCustomers(store, organizationId, connectionId))];
  const base = () => {
    let q = db.selectFrom("customers").where("customers.organization_id", "=", organizationId);
    if (query.search) {
      const pattern = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q = q.where((eb) =>
        eb.or([
          eb(eb.fn("lower", ["customers.name"]), "like", pattern),
          eb(eb.fn("lower", ["customers.domain"]), "like", pattern),
          eb("customers.tenant_id", "like", pattern),
        ]),
      );
    }
    return q;
  };
  type Base = ReturnType<typeof base>;
  const filtered = (q: Base, filter: CustomerFilter): Base => {
    switch (filter) {
      case "all":
        return q;
      case "mapped":
        return q.where((eb) =>
          eb.exists(
            eb
              .selectFrom("mappings")
              .select("mappings.customer_tenant_id")
              .where("mappings.connection_id", "=", connectionId)
              .whereRef("mappings.customer_tenant_id", "=", "customers.tenant_id")
              .where("mappings.psa_company_id", "is not", null),
          ),
        );
      case "unmapped":
        return q.where((eb) =>
          eb.exists(
            eb
              .selectFrom("charge_events")
              .select("charge_events.customer_tenant_id")
              .where("charge_events.organization_id", "=", organizationId)
              .whereRef("charge_events.customer_tenant_id", "=", "customers.tenant_id")
              .where("charge_events.is_billable", "=", 1)
              .where("charge_events.motion", "in", BILLING_MOTIONS)
              .where((inner) =>
                inner.not(
                  inner.exists(
                    inner
                      .selectFrom("mappings")
                      .select("mappings.customer_tenant_id")
                      .where("mappings.connection_id", "=", connectionId)
                      .whereRef("mappings.customer_tenant_id", "=", "charge_events.customer_tenant_id")
                      .whereRef("mappings.motion", "=", "charge_events.motion")
                      .where("mappings.psa_company_id", "is not", null),
                  ),
                ),
              ),
          ),
        );
      case "held":
        return q.where((eb) =>
          eb.exists(
            eb
              .selectFrom("price_holds")
              .select("price_holds.write_key")
              .where("price_holds.organization_id", "=", organizationId)
              .where("price_holds.connection_id", "=", connectionId)
              .whereRef("price_holds.customer_tenant_id", "=", "customers.tenant_id")
              .where("price_holds.status", "=", "held")
              .where((inner) =>
                inner.not(
                  inner.exists(
                    inner
                      .selectFrom("psa_writes")
                      .select("psa_writes.write_key")
                      .whereRef("psa_writes.connection_id", "=", "price_holds.connection_id")
                      .whereRef("psa_writes.write_key", "=", "price_holds.write_key")
                      .where("psa_writes.status", "=", "confirmed"),
                  ),
                ),
              ),
          ),
        );
      case "error":
        // The runs decide it (erroredCustomers); no customer matches an empty list.
        return q.where("customers.tenant_id", "in", errored.length === 0 ? [""] : errored);
    }
  };
  const countOf = async (filter: CustomerFilter) => {
    const row = await filtered(base(), filter)
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const counts = {} as Record<CustomerFilter, number>;
  for (const filter of CUSTOMER_FILTERS) counts[filter] = await countOf(filter);
  let pageQuery = filtered(base(), query.status)
    .select(["customers.tenant_id", "customers.name", "customers.domain", "customers.country"])
    .orderBy("customers.name")
    .orderBy("customers.tenant_id");
  if (query.pageSize !== undefined)
    pageQuery = pageQuery.limit(query.pageSize).offset((query.page - 1) * query.pageSize);
  const rows = await pageQuery.execute();
  const customers = rows.map((r) => ({
    tenantId: r.tenant_id,
    name: r.name,
    domain: r.domain,
    country: r.country,
  }));
  // Without pageSize the page is every matching customer: the queries below then read them all anyway.
  const tenants = query.pageSize === undefined ? undefined : customers.map((c) => c.tenantId);
  const [mappings, last, charges, held] = await Promise.all([
    deps.mappings.forCustomers(connectionId, tenants ?? customers.map((c) => c.tenantId)),
    lastSyncs(store, organizationId, connectionId, tenants),
    chargeTotals(store, organizationId, tenants),
    heldCounts(store, organizationId, connectionId, tenants),
  ]);
  return { customers, mappings, last, charges, held, total: counts[query.status], counts };
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

/**
 * The billing data's customers by name, only their names (the Customer pickers of Sync history and Reports),
 * searched like customerPage and paged: about 60 bytes a customer instead of a whole customer row.
 */
export async function customerNamesPage(
  store: Store,
  organizationId: string,
  query: { search?: string | undefined; offset: number; limit: number },
): Promise<{ customers: { tenantId: string; name: string }[]; total: number }> {
  let base = store.db.selectFrom("customers").where("organization_id", "=", organizationId);
  if (query.search) {
    const pattern = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    base = base.where((eb) =>
      eb.or([
        eb(eb.fn("lower", ["name"]), "like", pattern),
        eb(eb.fn("lower", ["domain"]), "like", pattern),
        eb("tenant_id", "like", pattern),
      ]),
    );
  }
  const [rows, count] = await Promise.all([
    base
      .select(["tenant_id", "name"])
      .orderBy("name")
      .orderBy("tenant_id")
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { customers: rows.map((r) => ({ tenantId: r.tenant_id, name: r.name })), total: Number(count.n) };
}
