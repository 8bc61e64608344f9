import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import { PRICE_RULE_KINDS } from "../../core/pricing.ts";
import { BELOW_COST_ACTIONS, PricingError, PricingService } from "../../services/pricing.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ApiError, ERROR_RESPONSES, notFound } from "../errors.ts";
import { idParams, noContent } from "../schemas.ts";

/**
 * Pricing and margin per connection: price rules (CRUD), what a sell price below cost does, and the lines held
 * for approval. Reads need any role; changes and approvals need admin.
 */
const date = z.string().meta({ description: "YYYY-MM-DD", example: "2024-07-01" });
const decimal = z.string().meta({ description: "exact decimal number as a string", example: "12.5" });
const instant = z.string().meta({ description: "ISO-8601 instant, UTC" });

const pricedBySchema = z
  .object({ ruleId: z.string(), ruleName: z.string(), description: z.string() })
  .meta({ id: "PricedBy", description: "The price rule that set a line's sell price." });

export const priceRuleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    productKey: z
      .string()
      .nullable()
      .meta({ description: "ProductId, ProductId:SkuId or AZURE-PLAN; null: any" }),
    customerTenantId: z.string().nullable().meta({ description: "null: any customer" }),
    kind: z.enum(PRICE_RULE_KINDS),
    value: decimal.meta({ description: "markup: percent on cost; fixed: sell price per unit" }),
    effectiveFrom: date,
    effectiveTo: date
      .nullable()
      .meta({ description: "last day the rule applies, inclusive; null: open-ended" }),
    description: z.string(),
    productName: z.string().nullable().meta({
      description: "The product's name in the billing data (SKU name for a SKU); null: unknown or any",
    }),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: "PriceRule" });

const priceRuleBody = z
  .object({
    name: z.string().max(200).optional(),
    productKey: z.string().max(MAX_ID_CHARS).nullable().optional(),
    customerTenantId: z.string().max(MAX_ID_CHARS).nullable().optional(),
    kind: z.enum(PRICE_RULE_KINDS),
    value: z.string().max(MAX_ID_CHARS),
    effectiveFrom: z.string().max(MAX_ID_CHARS),
    effectiveTo: z.string().max(MAX_ID_CHARS).nullable().optional(),
  })
  .meta({
    description:
      "A rule needs productKey, customerTenantId or both. The most specific rule wins (customer and product, " +
      "then product, then customer), then the latest effectiveFrom on or before the charge's date.",
  });

export const holdSchema = z
  .object({
    writeKey: z.string(),
    motion: z.string(),
    customerTenantId: z.string(),
    customerName: z.string().nullable(),
    eventKey: z.string(),
    description: z.string(),
    unitCost: decimal,
    unitPrice: decimal,
    pricedBy: pricedBySchema.nullable(),
    status: z.enum(["held", "approved"]),
    heldAt: instant,
    approvedBy: z.string().nullable(),
    approvedAt: instant.nullable(),
  })
  .meta({ id: "HeldLine" });

const pricingSettingsSchema = z
  .object({ belowCost: z.enum(BELOW_COST_ACTIONS) })
  .meta({ id: "PricingSettings", description: "warn: written with a warning; hold: held for approval" });

const pricingSettingsBody = z.object({ belowCost: z.enum(BELOW_COST_ACTIONS) });

const approveBody = z
  .union([
    z.object({
      writeKeys: z.array(z.string().min(1).max(MAX_ID_CHARS)).min(1, "writeKeys must name at least one line"),
    }),
    z.object({ all: z.literal(true) }),
  ])
  .meta({ description: "The held lines to approve by write key, or every held line with all: true." });

const ruleParams = z.object({ id: z.string().min(1), ruleId: z.string().min(1) });

function toApi(error: unknown): never {
  if (error instanceof PricingError) {
    if (error.notFound) throw notFound(error.message);
    throw new ApiError(422, "validation", error.message, error.field);
  }
  throw error;
}

/** Who approves: the signed-in user's e-mail, or the API token's name. */
function approver(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind === "session") return principal.user.email;
  if (principal?.kind === "token") return `token ${principal.token.name}`;
  return "unknown";
}

export function registerPricingRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;
  const pricing = new PricingService(app.store, app.organizationId);
  // Every route is about one connection: an unknown id is a 404 before anything else.
  const connection = (id: string) => app.connections.view(id);

  fastify.get(
    "/api/connections/:id/price-rules",
    {
      schema: {
        tags: ["pricing"],
        summary: "The connection's price rules",
        params: idParams,
        response: { 200: z.object({ rules: z.array(priceRuleSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await connection(request.params.id);
      return { rules: await pricing.listRules(request.params.id) };
    },
  );

  fastify.post(
    "/api/connections/:id/price-rules",
    {
      config: { access: "admin" },
      schema: {
        tags: ["pricing"],
        summary: "Add a price rule (admin)",
        params: idParams,
        body: priceRuleBody,
        response: { 201: z.object({ rule: priceRuleSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await connection(request.params.id);
      const rule = await pricing.addRule(request.params.id, request.body).catch(toApi);
      return reply.status(201).send({ rule });
    },
  );

  fastify.put(
    "/api/connections/:id/price-rules/:ruleId",
    {
      config: { access: "admin" },
      schema: {
        tags: ["pricing"],
        summary: "Replace a price rule (admin); lines already written keep their price",
        params: ruleParams,
        body: priceRuleBody,
        response: { 200: z.object({ rule: priceRuleSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await connection(request.params.id);
      const { id, ruleId } = request.params;
      return { rule: await pricing.updateRule(id, ruleId, request.body).catch(toApi) };
    },
  );

  fastify.delete(
    "/api/connections/:id/price-rules/:ruleId",
    {
      config: { access: "admin" },
      schema: {
        tags: ["pricing"],
        summary: "Remove a price rule (admin)",
        params: ruleParams,
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await connection(request.params.id);
      await pricing.removeRule(request.params.id, request.params.ruleId).catch(toApi);
      return reply.status(204).send();
    },
  );

  fastify.get(
    "/api/connections/:id/pricing",
    {
      schema: {
        tags: ["pricing"],
        summary: "What a sell price below cost does on this connection",
        params: idParams,
        response: { 200: pricingSettingsSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await connection(request.params.id);
      return { belowCost: await pricing.belowCost(request.params.id) };
    },
  );

  fastify.put(
    "/api/connections/:id/pricing",
    {
      config: { access: "admin" },
      schema: {
        tags: ["pricing"],
        summary: "Set what a sell price below cost does: warn or hold for approval (admin)",
        params: idParams,
        body: pricingSettingsBody,
        response: { 200: pricingSettingsSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await connection(request.params.id);
      return {
        belowCost: await pricing.setBelowCost(request.params.id, request.body.belowCost).catch(toApi),
      };
    },
  );

  fastify.get(
    "/api/connections/:id/holds",
    {
      schema: {
        tags: ["pricing"],
        summary:
          "Lines held for approval because they sell below cost (and approved ones not yet written); " +
          "customerTenantId lists one customer's",
        params: idParams,
        querystring: z.object({ customerTenantId: z.string().trim().min(1).max(200).optional() }),
        response: { 200: z.object({ holds: z.array(holdSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await connection(request.params.id);
      const holds = await pricing.listHolds(request.params.id);
      const tenant = request.query.customerTenantId;
      return { holds: tenant ? holds.filter((h) => h.customerTenantId === tenant) : holds };
    },
  );

  fastify.post(
    "/api/connections/:id/holds/approve",
    {
      config: { access: "admin" },
      schema: {
        tags: ["pricing"],
        summary: "Approve held lines at their held price (admin); the next sync writes them",
        params: idParams,
        body: approveBody,
        response: { 200: z.object({ approved: z.array(holdSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await connection(request.params.id);
      const which = "all" in request.body ? { all: true as const } : { writeKeys: request.body.writeKeys };
      return { approved: await pricing.approve(request.params.id, which, approver(request)).catch(toApi) };
    },
  );
}
