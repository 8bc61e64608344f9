import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { BILLING_PLANS } from "../../core/price-list.ts";
import { PriceListError, PriceListService } from "../../services/price-lists.ts";
import { searchBillingProducts } from "../../store/billing-repository.ts";
import { readPriceList } from "../../sources/price-list/reader.ts";
import { ReconFileError } from "../../sources/reconciliation/errors.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ApiError, ERROR_RESPONSES, notFound } from "../errors.ts";
import { fileTooLarge, safeFileName } from "./imports.ts";

/**
 * Microsoft's new commerce price lists (docs/price-lists.md): upload a price list CSV (admin), list the
 * imports, search entries, remove an import (admin); and a search of the billing data's products by name, for
 * choosing a price rule's product. Reads need any role.
 */
const decimal = z.string().meta({ description: "Decimal string" });
const date = z.string().meta({ description: "YYYY-MM-DD" });

export const priceListImportSchema = z
  .object({
    id: z.string(),
    fileName: z.string(),
    market: z.string(),
    currency: z.string(),
    rowCount: z.number(),
    entryCount: z.number(),
    firstEffective: date,
    lastEffective: date,
    importedAt: z.string(),
    importedBy: z.string().nullable(),
  })
  .meta({ id: "PriceListImport" });

export const priceListEntrySchema = z
  .object({
    importId: z.string(),
    productId: z.string(),
    skuId: z.string(),
    productTitle: z.string(),
    skuTitle: z.string(),
    termDuration: z.string().meta({ description: "ISO-8601 period: P1M, P1Y, P3Y" }),
    billingPlan: z.enum(BILLING_PLANS),
    market: z.string(),
    currency: z.string(),
    unitPrice: decimal.meta({ description: "Partner price per unit per billing period of the plan" }),
    erpPrice: decimal.meta({ description: "Estimated retail price per unit per billing period of the plan" }),
    tierMin: decimal.nullable(),
    tierMax: decimal.nullable(),
    effectiveStart: date,
    effectiveEnd: date.nullable().meta({ description: "null: open-ended" }),
  })
  .meta({ id: "PriceListEntry" });

const importResultSchema = z.object({
  import: priceListImportSchema,
  duplicate: z.boolean().meta({ description: "the same file was imported before: nothing was added" }),
  added: z.number(),
  replaced: z.number(),
  skipped: z.record(z.string(), z.number()),
});

const billingProductSchema = z
  .object({
    productId: z.string(),
    skuId: z.string(),
    productName: z.string(),
    skuName: z.string().nullable(),
    productKey: z.string().meta({ description: "ProductId:SkuId, as a price rule names it" }),
    label: z.string().meta({ description: "Product name — SKU name (ProductId:SkuId)" }),
  })
  .meta({ id: "BillingProduct" });

export function registerPriceListRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;
  const service = new PriceListService(app.store, app.organizationId);

  fastify.get(
    "/api/price-lists",
    {
      schema: {
        tags: ["pricing"],
        summary: "Imported Microsoft price lists, newest first",
        response: { 200: z.object({ imports: z.array(priceListImportSchema) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ imports: await service.listImports() }),
  );

  fastify.post(
    "/api/price-lists",
    {
      config: { access: "admin" },
      schema: {
        tags: ["pricing"],
        summary: "Upload and import a new commerce license-based price list CSV (admin)",
        description:
          "multipart/form-data with one `file` part: the .csv extracted from Partner Center's download. The whole " +
          "file is checked first; a bad row refuses it (422, naming row and column) and stores nothing. The same " +
          "file again adds nothing (duplicate: true).",
        consumes: ["multipart/form-data"],
        body: z.unknown().meta({
          type: "object",
          properties: { file: { type: "string", format: "binary" } },
          required: ["file"],
        }),
        response: { 200: importResultSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      if (!request.isMultipart())
        throw new ApiError(
          415,
          "validation",
          "send the price list as multipart/form-data in a part named file",
          "file",
        );
      const part = await request.file();
      if (!part || part.fieldname !== "file")
        throw new ApiError(400, "validation", "no part named file in the upload", "file");
      const fileName = safeFileName(part.filename);
      let file;
      try {
        file = await readPriceList(part.file, fileName);
      } catch (error) {
        if (part.file.truncated) throw fileTooLarge(ctx, fileName);
        if (error instanceof ReconFileError) throw new ApiError(422, "validation", error.message, "file");
        throw error;
      }
      // A file cut off at the size limit must never be stored, even when what arrived parses.
      if (part.file.truncated) throw fileTooLarge(ctx, fileName);
      return service.save(file, approverOf(request));
    },
  );

  fastify.delete(
    "/api/price-lists/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["pricing"],
        summary: "Remove a price list import and the prices it set (admin)",
        params: z.object({ id: z.string().max(200) }),
        response: { 204: z.null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      try {
        await service.deleteImport(request.params.id);
      } catch (error) {
        if (error instanceof PriceListError && error.notFound) throw notFound(error.message);
        throw error;
      }
      return reply.code(204).send(null);
    },
  );

  fastify.get(
    "/api/price-lists/entries",
    {
      schema: {
        tags: ["pricing"],
        summary: "Search price list entries by ProductId[:SkuId] or by words of the product or SKU title",
        querystring: z.object({ q: z.string().trim().min(1).max(200) }),
        response: { 200: z.object({ entries: z.array(priceListEntrySchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ entries: await service.lookup(request.query.q) }),
  );

  fastify.get(
    "/api/billing-products",
    {
      schema: {
        tags: ["pricing"],
        summary: "Products of the billing data whose product or SKU name (or id) contains q, for price rules",
        querystring: z.object({ q: z.string().trim().max(200).default("") }),
        response: { 200: z.object({ products: z.array(billingProductSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const rows = await searchBillingProducts(app.store, app.organizationId, request.query.q);
      return {
        products: rows.map((r) => {
          const productKey = `${r.productId.toUpperCase()}:${r.skuId.toUpperCase()}`;
          return {
            ...r,
            productKey,
            label: `${r.productName} — ${r.skuName ?? r.productName} (${productKey})`,
          };
        }),
      };
    },
  );
}

/** Who imported: the signed-in user's e-mail, or the API token's name. */
function approverOf(request: FastifyRequest): string | null {
  const principal = request.principal;
  if (principal?.kind === "session") return principal.user.email;
  if (principal?.kind === "token") return `token ${principal.token.name}`;
  return null;
}
