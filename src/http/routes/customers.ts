import { z } from "zod";
import { BILLING_MOTIONS, type BillingMotion } from "../../core/billing.ts";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import { DEFAULT_PRICING } from "../../core/pricing.ts";
import {
  CUSTOMER_FILTERS,
  customerNamesPage,
  customerPage,
  entryKey,
  lastSyncs,
  type CustomerFilter,
} from "../../services/customer-overview.ts";
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

export { CUSTOMER_FILTERS } from "../../services/customer-overview.ts";
type CountsShape = Record<CustomerFilter, z.ZodNumber>;

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
      const { search, status, page, pageSize } = request.query;
      await app.connections.view(connectionId);
      // The page, the total and the counts are worked out in SQL; only the page's customers are built.
      const found = await customerPage(app, connectionId, {
        search: search || undefined,
        status,
        page,
        pageSize,
      });
      const mappings = new Map(found.mappings.map((m) => [entryKey(m.customerTenantId, m.motion), m]));
      const customers = found.customers.map((c) => {
        const entries = BILLING_MOTIONS.map((motion) =>
          entryOf(
            mappings.get(entryKey(c.tenantId, motion)),
            motion,
            found.last.get(entryKey(c.tenantId, motion)),
          ),
        );
        const unmappedCharges = BILLING_MOTIONS.flatMap((motion) => {
          const totals = found.charges.get(c.tenantId)?.get(motion);
          const mapped = entries.some((e) => e.motion === motion && e.psaCompanyId !== null);
          return totals && !mapped ? [{ motion, ...totals }] : [];
        });
        return { ...c, mappings: entries, heldLines: found.held.get(c.tenantId) ?? 0, unmappedCharges };
      });
      return {
        customers,
        total: found.total,
        page,
        pageSize: pageSize ?? Math.max(found.total, 1),
        counts: found.counts,
      };
    },
  );

  fastify.get(
    "/api/customers",
    {
      schema: {
        tags: ["customers"],
        summary:
          "The billing data's customers by name, names only (for pickers), searched by name, domain or tenant id and paged",
        querystring: z.object({
          search: z.string().trim().max(200).optional(),
          offset: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(5000).default(1000),
        }),
        response: {
          200: z.object({
            customers: z.array(z.object({ tenantId: z.string(), name: z.string() })),
            total: z.number().int().meta({ description: "Customers matching the search, over all pages" }),
            offset: z.number().int(),
            limit: z.number().int(),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { search, offset, limit } = request.query;
      const found = await customerNamesPage(app.store, app.organizationId, {
        search: search || undefined,
        offset,
        limit,
      });
      return { ...found, offset, limit };
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
