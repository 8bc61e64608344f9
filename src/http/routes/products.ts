import { z } from "zod";
import { itemKindLabel, type ProductPlanItem } from "../../core/product-plan.ts";
import {
  getProductRun,
  listProductRuns,
  previewProducts,
  runProductSync,
} from "../../services/product-runs.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES, notFound } from "../errors.ts";
import type { productPreviewItemSchema } from "../schemas.ts";
import { productPreviewSchema, productRunItemSchema, productRunSchema } from "../schemas.ts";

const params = z.object({ id: z.string().min(1) });
const modeQuery = z.object({
  mode: z
    .enum(["all", "in-use"])
    .optional()
    .meta({ description: "Preview another mode than the saved one (nothing is saved)." }),
});
const runDetail = z.object({ run: productRunSchema, items: z.array(productRunItemSchema) });

function previewItem(
  vendor: "connectwise" | "autotask",
  item: ProductPlanItem,
): z.infer<typeof productPreviewItemSchema> {
  return {
    key: item.key,
    kind: item.kind,
    kindLabel: itemKindLabel(vendor, item.kind),
    name: item.name,
    variant: item.variant,
    action: item.action,
    recordId: item.recordId,
    recordLabel: item.recordLabel,
    price: item.product.price,
    cost: item.product.cost,
    changes: item.changes,
    reason: item.reason,
    notes: item.notes,
  };
}

/**
 * Product catalog sync of a connection: preview, sync now, and its history. The mode and the vendor
 * defaults are the connection's settings (`PATCH /api/connections/{id}` with `settings.productSyncMode`, …).
 */
export function registerProductRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;

  fastify.get(
    "/api/connections/:id/products/preview",
    {
      schema: {
        tags: ["products"],
        summary: "What a product sync would do now, per product: create, link, update, skip or conflict",
        params,
        querystring: modeQuery,
        response: { 200: z.object({ preview: productPreviewSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await app.connections.view(request.params.id);
      const overrides = request.query.mode ? { productSyncMode: request.query.mode } : {};
      const preview = await previewProducts(app, request.params.id, overrides);
      return {
        preview: {
          connectionId: preview.connectionId,
          vendor: preview.vendor,
          mode: preview.mode,
          counts: preview.plan.counts,
          items: preview.plan.items.map((item) => previewItem(preview.vendor, item)),
        },
      };
    },
  );

  fastify.post(
    "/api/connections/:id/products/sync",
    {
      config: { access: "admin" },
      schema: {
        tags: ["products"],
        summary: "Run the product catalog sync now (admin); the run is kept in the product sync history",
        params,
        body: z.object({}).strict().optional(),
        response: { 200: runDetail, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await app.connections.view(request.params.id);
      const { run, items } = await runProductSync(app, request.params.id, "manual");
      return { run, items };
    },
  );

  fastify.get(
    "/api/connections/:id/products/runs",
    {
      schema: {
        tags: ["products"],
        summary: "Product sync history of a connection, newest first",
        params,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ runs: z.array(productRunSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await app.connections.view(request.params.id);
      return {
        runs: await listProductRuns(app.store, app.organizationId, request.params.id, request.query.limit),
      };
    },
  );

  fastify.get(
    "/api/connections/:id/products/runs/:runId",
    {
      schema: {
        tags: ["products"],
        summary: "One product sync run with every product's result",
        params: z.object({ id: z.string().min(1), runId: z.string().min(1) }),
        response: { 200: runDetail, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const detail = await getProductRun(app.store, app.organizationId, request.params.runId);
      if (!detail || detail.run.connectionId !== request.params.id)
        throw notFound(`no product sync run with id ${request.params.runId} for this connection`);
      return detail;
    },
  );
}
