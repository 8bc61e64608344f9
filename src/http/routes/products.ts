import { z } from "zod";
import { itemKindLabel, recordOrigin, type ProductPlanItem } from "../../core/product-plan.ts";
import {
  getProductRun,
  listProductRuns,
  previewProducts,
  runProductSync,
} from "../../services/product-runs.ts";
import { notesBesideLinkedPrice, PriceConfirmationRequiredError } from "../../services/product-sync.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES, errorBodySchema, notFound } from "../errors.ts";
import type { productPreviewItemSchema } from "../schemas.ts";
import {
  priceConfirmationSchema,
  productPreviewSchema,
  productRunItemSchema,
  productRunSchema,
} from "../schemas.ts";

const params = z.object({ id: z.string().min(1) });
const modeQuery = z.object({
  mode: z
    .enum(["all", "in-use"])
    .optional()
    .meta({ description: "Preview another mode than the saved one (nothing is saved)." }),
});
/** What a written product's price and cost went from and to, so the web formats amounts, not the message. */
const itemAmounts = z
  .object({
    created: z.boolean(),
    price: z.object({ from: z.string().nullable(), to: z.string(), confirmed: z.boolean() }).optional(),
    cost: z.object({ from: z.string().nullable(), to: z.string() }).optional(),
  })
  .nullable();
const runDetail = z.object({
  run: productRunSchema,
  items: z.array(productRunItemSchema.extend({ amounts: itemAmounts })),
});
const syncBody = z
  .object({
    confirmPriceChanges: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .meta({
        description:
          "The priceConfirmation.fingerprint of the preview a person confirmed: the sell-price changes on linked " +
          "records it stands for are written, as long as the sync still finds exactly those. Without it (or when " +
          "the changes differ) a sync with such changes answers 409 listing them, and writes nothing.",
      }),
  })
  .strict();
/** 409: another run is active, or sell-price changes on linked records need confirmation (then listed). */
const syncConflict = errorBodySchema
  .extend({ priceConfirmation: priceConfirmationSchema.optional() })
  .meta({ id: "ProductSyncConflict" });

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
    recordOrigin: recordOrigin(item),
    linkedPrice: item.linkedPrice ?? null,
    current: item.current ?? null,
    reason: item.reason,
    // linkedPrice says the sell-price change as data; its sentence would repeat it with unformatted numbers.
    notes: notesBesideLinkedPrice(item),
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
          linkedPriceUpdates: preview.linkedPriceUpdates,
          items: preview.plan.items.map((item) => previewItem(preview.vendor, item)),
          priceConfirmation: preview.priceConfirmation,
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
        summary:
          "Run the product catalog sync now (admin); the run is kept in the product sync history. Sell-price " +
          "changes on linked records need confirmPriceChanges, else 409 lists them and nothing is written.",
        params,
        body: syncBody.optional(),
        response: { 200: runDetail, 409: syncConflict, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await app.connections.view(request.params.id);
      const fingerprint = request.body?.confirmPriceChanges;
      try {
        const { run, items } = await runProductSync(
          app,
          request.params.id,
          "manual",
          {},
          { unconfirmed: "refuse", ...(fingerprint ? { confirmed: { fingerprint } } : {}) },
        );
        return { run, items };
      } catch (error) {
        if (!(error instanceof PriceConfirmationRequiredError)) throw error;
        const message = `${error.message}. Confirm them by sending confirmPriceChanges: "${error.confirmation.fingerprint}".`;
        return reply.status(409).send({
          error: { code: "conflict", message, field: "confirmPriceChanges" },
          priceConfirmation: error.confirmation,
        });
      }
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
