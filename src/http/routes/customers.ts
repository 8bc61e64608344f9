import { z } from "zod";
import { BILLING_MOTIONS, type BillingMotion } from "../../core/billing.ts";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import { DEFAULT_PRICING } from "../../core/pricing.ts";
import type { App } from "../../app.ts";
import { listCustomers } from "../../store/billing-repository.ts";
import type { ConnectionView } from "../../services/connections.ts";
import { mappingInputSchema, type Mapping } from "../../services/mappings.ts";
import { enabledMotions, motionOffReason, runMotion, syncFor } from "../../services/motion-sync.ts";
import { previewHolds } from "../../services/price-holds.ts";
import type { SyncScope } from "../../services/sync-bookkeeping.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ApiError, ERROR_RESPONSES, notFound } from "../errors.ts";
import {
  customerSchema,
  lastSyncSchema,
  mappingSchema,
  motionPlanSchema,
  motionSchema,
  runSummarySchema,
} from "../schemas.ts";
import { adapterFor } from "./connections.ts";

type LastSync = z.infer<typeof lastSyncSchema>;
const NEVER_SYNCED: LastSync = { lastSyncAt: null, lastStatus: null, lastMessage: null };
const entryKey = (tenantId: string, motion: string) => `${tenantId}\n${motion}`;

/** How an entry's last sync ended, worst first when several things happened to it. */
const STATUS_RANK = { "no-change": 0, written: 1, held: 2, warning: 3, error: 4 } as const;
type EntryStatus = keyof typeof STATUS_RANK;

function statusOfItem(outcome: string): EntryStatus {
  if (outcome === "error") return "error";
  if (outcome === "warning") return "warning";
  if (outcome === "held") return "held";
  return "written";
}

/**
 * The last sync of each customer entry of a connection: the most recent run that covered it (its motion, and
 * every customer or this one), told by what that run did to it — the worst outcome among its items (error,
 * warning, held, written) with the message that explains it; when the run failed as a whole (a PSA that
 * refused the credentials, a target that is gone) that failure; and "no-change" when the run had nothing to
 * write for it. So a run that failed never leaves an entry looking synced.
 */
async function lastSyncs(app: App, connectionId: string): Promise<Map<string, LastSync>> {
  const db = app.store.db;
  const runs = await db
    .selectFrom("sync_runs")
    .select(["id", "scope", "status", "started_at", "finished_at"])
    .where("connection_id", "=", connectionId)
    .where("organization_id", "=", app.organizationId)
    .where("status", "!=", "running")
    .orderBy("started_at", "desc")
    .execute();
  const result = new Map<string, LastSync>();
  if (runs.length === 0) return result;
  const entries = await db
    .selectFrom("mappings")
    .select(["customer_tenant_id as tenant", "motion"])
    .where("connection_id", "=", connectionId)
    .execute();
  const latestRun = new Map<string, (typeof runs)[number]>();
  for (const entry of entries) {
    const covering = runs.find((run) => covers(run.scope, entry.tenant, entry.motion));
    if (covering) latestRun.set(entryKey(entry.tenant, entry.motion), covering);
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

/** Whether a run with this stored scope (`{ motion, customerTenantId? }`) synced the entry. */
function covers(scope: string, tenant: string, motion: string): boolean {
  try {
    const parsed = JSON.parse(scope) as { motion?: unknown; customerTenantId?: unknown };
    const runMotion = typeof parsed.motion === "string" ? parsed.motion : "seat-annual";
    if (runMotion !== motion) return false;
    return parsed.customerTenantId === undefined || parsed.customerTenantId === tenant;
  } catch {
    return false;
  }
}

function entryOf(mapping: Mapping | undefined, motion: BillingMotion, last: LastSync | undefined) {
  return {
    motion,
    psaCompanyId: mapping?.psaCompanyId ?? null,
    psaCompanyName: mapping?.psaCompanyName ?? null,
    agreementId: mapping?.agreementId ?? null,
    agreementName: mapping?.agreementName ?? null,
    syncDate: mapping?.syncDate ?? null,
    // An unmapped motion reads like MappingService.forCustomer's empty entry: default pricing, disabled.
    pricing: mapping?.pricing ?? DEFAULT_PRICING,
    enabled: mapping?.enabled ?? false,
    startPoint: mapping?.startPoint ?? "most-recent",
    startInvoice: mapping?.startInvoice ?? null,
    ...(last ?? NEVER_SYNCED),
  };
}

async function customerExists(app: App, tenantId: string): Promise<boolean> {
  const row = await app.store.db
    .selectFrom("customers")
    .select("tenant_id")
    .where("organization_id", "=", app.organizationId)
    .where("tenant_id", "=", tenantId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Customers with their three mapping entries, saving a mapping, and Sync now. */
export function registerCustomerRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;

  fastify.get(
    "/api/connections/:id/customers",
    {
      schema: {
        tags: ["customers"],
        summary: "Customers of the billing data with their mapping entries for this connection",
        params: z.object({ id: z.string().min(1) }),
        querystring: z.object({ search: z.string().trim().max(200).optional() }),
        response: { 200: z.object({ customers: z.array(customerSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const connectionId = request.params.id;
      await app.connections.view(connectionId);
      const customers = await listCustomers(app.store, app.organizationId, request.query.search || undefined);
      const mappings = new Map(
        (await app.mappings.forConnection(connectionId)).map((m) => [
          entryKey(m.customerTenantId, m.motion),
          m,
        ]),
      );
      const last = await lastSyncs(app, connectionId);
      return {
        customers: customers.map((c) => ({
          tenantId: c.tenantId,
          name: c.name,
          domain: c.domain,
          country: c.country,
          mappings: BILLING_MOTIONS.map((motion) =>
            entryOf(
              mappings.get(entryKey(c.tenantId, motion)),
              motion,
              last.get(entryKey(c.tenantId, motion)),
            ),
          ),
        })),
      };
    },
  );

  fastify.put(
    "/api/connections/:id/customers/:tenantId/mappings/:motion",
    {
      config: { access: "admin" },
      schema: {
        tags: ["customers"],
        summary:
          "Save one mapping entry (admin); the agreement/contract is checked in the PSA for the motion first",
        params: z.object({ id: z.string().min(1), tenantId: z.string().min(1), motion: motionSchema }),
        body: mappingInputSchema,
        response: {
          200: z.object({ mapping: z.object({ ...mappingSchema.shape, ...lastSyncSchema.shape }) }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { id, tenantId, motion } = request.params;
      await app.connections.view(id);
      if (!(await customerExists(app, tenantId)))
        throw notFound(`no customer with tenant id ${tenantId} in the billing data`);
      const adapter = await adapterFor(ctx, id);
      const mapping = await app.mappings.save(id, tenantId, motion, request.body, adapter);
      const last = (await lastSyncs(app, id)).get(entryKey(tenantId, motion)) ?? NEVER_SYNCED;
      return { mapping: { ...mapping, ...last } };
    },
  );

  fastify.post(
    "/api/connections/:id/sync",
    {
      config: { access: "admin" },
      schema: {
        tags: ["sync"],
        summary:
          "Sync now (admin): one motion, or every motion switched on for the connection (or for the customer); " +
          "dryRun shows what would be written",
        params: z.object({ id: z.string().min(1) }),
        body: z
          .object({
            customerTenantId: z.string().trim().min(1).max(MAX_ID_CHARS).optional(),
            motion: motionSchema.optional(),
            dryRun: z.boolean().optional(),
          })
          .optional(),
        response: {
          200: z.union([
            z.object({ runs: z.array(runSummarySchema) }).meta({ id: "SyncResults" }),
            z.object({ dryRun: z.literal(true), plans: z.array(motionPlanSchema) }).meta({ id: "SyncPlans" }),
          ]),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const connection = await app.connections.view(request.params.id);
      if (body.customerTenantId && !(await customerExists(app, body.customerTenantId)))
        throw new ApiError(
          422,
          "validation",
          `no customer with tenant id ${body.customerTenantId} in the billing data`,
          "customerTenantId",
        );
      const motions = await motionsToSync(app, connection, body.motion, body.customerTenantId);
      const scope = body.customerTenantId ? { customerTenantId: body.customerTenantId } : {};
      if (body.dryRun) {
        // A dry run records nothing: a PSA that cannot be reached is the answer itself.
        await adapterFor(ctx, connection.id);
        const plans = [];
        for (const motion of motions) plans.push(await dryRun(app, connection.id, motion, scope));
        return { dryRun: true as const, plans };
      }
      const runs = [];
      for (const motion of motions) {
        // A sync that cannot start is recorded as a failed run, like every attempt, and answered as one.
        const summary = await runMotion(app, motion, connection.id, "manual", scope);
        runs.push({ motion, ...summary });
      }
      return { runs };
    },
  );
}

/**
 * The motions a Sync now covers. A motion asked for must be switched on; without one, every motion that is
 * on — for a customer, those of its entries that are enabled. Nothing to sync is a validation error.
 */
async function motionsToSync(
  app: App,
  connection: ConnectionView,
  motion: BillingMotion | undefined,
  customerTenantId: string | undefined,
): Promise<BillingMotion[]> {
  if (motion) {
    const off = await motionOffReason(app, connection, motion);
    if (off) throw new ApiError(422, "validation", off.message, off.field);
    return [motion];
  }
  let motions = await enabledMotions(app, connection);
  if (customerTenantId) {
    const entries = await app.mappings.forCustomer(connection.id, customerTenantId);
    motions = motions.filter((m) => entries.some((e) => e.motion === m && e.enabled));
  }
  if (motions.length === 0)
    throw new ApiError(
      422,
      "validation",
      customerTenantId
        ? "this customer has no enabled entry whose motion is switched on; map one, or turn Seat-based Annual subscription sync on"
        : `nothing to sync on ${connection.name}: turn Seat-based Annual subscription sync on, or map a Seat-based Monthly or Azure Plan entry`,
      "motion",
    );
  return motions;
}

/** One motion's dry run, with what the hold for approval would do with each below-cost line (by write key). */
async function dryRun(app: App, connectionId: string, motion: BillingMotion, scope: SyncScope) {
  const plan = await motionPlan(app, connectionId, motion, scope);
  const lines = (plan.mappings as { plan: { lines: object[] } }[]).flatMap((m) => m.plan.lines);
  return { ...plan, holds: Object.fromEntries(await previewHolds(app.store, connectionId, lines)) };
}

async function motionPlan(app: App, connectionId: string, motion: BillingMotion, scope: SyncScope) {
  if (motion === "seat-monthly") {
    const sync = await syncFor(app, "seat-monthly", connectionId);
    return { motion, mappings: await sync.plan(scope) };
  }
  if (motion === "azure") {
    const sync = await syncFor(app, "azure", connectionId);
    return { motion, mappings: await sync.plan(scope, { resolveProducts: true }) };
  }
  const sync = await syncFor(app, "seat-annual", connectionId);
  return { motion, mappings: await sync.plan(scope, { resolveProducts: true }) };
}
