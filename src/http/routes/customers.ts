import { z } from "zod";
import { BILLING_MOTIONS, type BillingMotion } from "../../core/billing.ts";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import { DEFAULT_PRICING } from "../../core/pricing.ts";
import { listCustomers } from "../../store/billing-repository.ts";
import { chargeTotals, entryKey, heldCounts, lastSyncs } from "../../services/customer-overview.ts";
import { mappingInputSchema, type Mapping } from "../../services/mappings.ts";
import {
  customerExists,
  dryRunMotions,
  motionsToSync,
  runMotions,
  unmappedCharges,
} from "../../services/sync-now.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ApiError, ERROR_RESPONSES, notFound } from "../errors.ts";
import {
  customerSchema,
  lastSyncSchema,
  mappingSchema,
  motionPlanSchema,
  motionSchema,
  runSummarySchema,
  unmappedChargesSchema,
} from "../schemas.ts";
import { adapterFor } from "./connections.ts";

type LastSync = z.infer<typeof lastSyncSchema>;
const NEVER_SYNCED: LastSync = { lastSyncAt: null, lastStatus: null, lastMessage: null };

/** The CSP page's status filters: a customer can be in several (mapped for one motion, unmapped for another). */
export const CUSTOMER_FILTERS = ["all", "unmapped", "mapped", "error", "held"] as const;
type CustomerFilter = (typeof CUSTOMER_FILTERS)[number];
type CountsShape = Record<CustomerFilter, z.ZodNumber>;

type CustomerStatusView = {
  mappings: { psaCompanyId: string | null; lastStatus: LastSync["lastStatus"] }[];
  heldLines: number;
  unmappedCharges: unknown[];
};

/**
 * unmapped: billable charges in a motion with no mapped entry (what a sync would leave out); mapped: at least
 * one entry mapped; error: the last run covering one of its entries ended in error for it; held: lines held
 * for approval and not written.
 */
function matchesFilter(customer: CustomerStatusView, filter: CustomerFilter): boolean {
  switch (filter) {
    case "all":
      return true;
    case "unmapped":
      return customer.unmappedCharges.length > 0;
    case "mapped":
      return customer.mappings.some((m) => m.psaCompanyId !== null);
    case "error":
      return customer.mappings.some((m) => m.psaCompanyId !== null && m.lastStatus === "error");
    case "held":
      return customer.heldLines > 0;
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

/** Customers with their three mapping entries, saving a mapping, and Sync now. */
export function registerCustomerRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;

  fastify.get(
    "/api/connections/:id/customers",
    {
      schema: {
        tags: ["customers"],
        summary:
          "Customers of the billing data with their mapping entries for this connection: searched, filtered " +
          "by status and paged (without pageSize every matching customer is listed)",
        params: z.object({ id: z.string().min(1) }),
        querystring: z.object({
          search: z.string().trim().max(200).optional(),
          status: z.enum(CUSTOMER_FILTERS).default("all"),
          page: z.coerce.number().int().min(1).max(100_000).default(1),
          pageSize: z.coerce.number().int().min(1).max(500).optional(),
        }),
        response: {
          200: z.object({
            customers: z.array(customerSchema),
            total: z.number().int().meta({ description: "Customers matching the search and status" }),
            page: z.number().int(),
            pageSize: z.number().int(),
            counts: z
              .object(Object.fromEntries(CUSTOMER_FILTERS.map((f) => [f, z.number().int()])) as CountsShape)
              .meta({ description: "Customers matching the search, for each status filter" }),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const connectionId = request.params.id;
      const { search, status, page } = request.query;
      await app.connections.view(connectionId);
      // A fixed number of queries whatever the number of customers: every customer's status is needed for
      // the counts, so it is worked out for all of them in one pass and only the page is sent.
      const [customers, mappingList, last, charges, held] = await Promise.all([
        listCustomers(app.store, app.organizationId, search || undefined),
        app.mappings.forConnection(connectionId),
        lastSyncs(app.store, app.organizationId, connectionId),
        chargeTotals(app.store, app.organizationId),
        heldCounts(app.store, app.organizationId, connectionId),
      ]);
      const mappings = new Map(mappingList.map((m) => [entryKey(m.customerTenantId, m.motion), m]));
      const views = customers.map((c) => {
        const entries = BILLING_MOTIONS.map((motion) =>
          entryOf(mappings.get(entryKey(c.tenantId, motion)), motion, last.get(entryKey(c.tenantId, motion))),
        );
        const unmappedCharges = BILLING_MOTIONS.flatMap((motion) => {
          const totals = charges.get(c.tenantId)?.get(motion);
          const mapped = entries.some((e) => e.motion === motion && e.psaCompanyId !== null);
          return totals && !mapped ? [{ motion, ...totals }] : [];
        });
        return {
          tenantId: c.tenantId,
          name: c.name,
          domain: c.domain,
          country: c.country,
          mappings: entries,
          heldLines: held.get(c.tenantId) ?? 0,
          unmappedCharges,
        };
      });
      const counts = Object.fromEntries(
        CUSTOMER_FILTERS.map((f) => [f, views.filter((v) => matchesFilter(v, f)).length]),
      ) as Record<CustomerFilter, number>;
      const matching = views.filter((v) => matchesFilter(v, status));
      const pageSize = request.query.pageSize ?? Math.max(matching.length, 1);
      return {
        customers: matching.slice((page - 1) * pageSize, page * pageSize),
        total: matching.length,
        page,
        pageSize,
        counts,
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
      const last =
        (await lastSyncs(app.store, app.organizationId, id)).get(entryKey(tenantId, motion)) ?? NEVER_SYNCED;
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
            z
              .object({
                dryRun: z.literal(true),
                plans: z.array(motionPlanSchema),
                unmapped: z
                  .array(z.object({ tenantId: z.string(), name: z.string(), ...unmappedChargesSchema.shape }))
                  .optional()
                  .meta({
                    description:
                      "A dry run of every customer: the customers with billable charges in a motion that is not " +
                      "mapped, which no sync writes, and what they would bill (cost, per currency)",
                  }),
              })
              .meta({ id: "SyncPlans" }),
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
      // The syncs' PSA requests and runs are logged with this request's id.
      const options = { log: request.log };
      if (body.dryRun) {
        // A dry run records nothing: a PSA that cannot be reached is the answer itself.
        await adapterFor(ctx, connection.id);
        const plans = (await dryRunMotions(app, connection.id, motions, scope, options)).map(
          ({ failed: _failed, ...plan }) => ({ ...plan, holds: Object.fromEntries(plan.holds) }),
        );
        if (body.customerTenantId || body.motion) return { dryRun: true as const, plans };
        return { dryRun: true as const, plans, unmapped: await unmappedCharges(app, connection.id) };
      }
      return { runs: await runMotions(app, connection.id, motions, "manual", scope, options) };
    },
  );
}
