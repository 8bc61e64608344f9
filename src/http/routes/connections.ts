import { z } from "zod";
import { createAdapter } from "../../psa/factory.ts";
import {
  PSA_OPTION_KINDS,
  PsaOptionKindError,
  type ConnectionTest as PsaConnectionTest,
  type PsaAdapter,
} from "../../psa/port.ts";
import { HostNotAllowedError } from "../../security/hosts.ts";
import {
  autotaskConfigSchema,
  autotaskSecretsSchema,
  autotaskSettingsSchema,
  connectWiseConfigSchema,
  connectWiseSecretsSchema,
  connectWiseSettingsSchema,
  type ConnectionDetails,
  type ConnectionView,
} from "../../services/connections.ts";
import { PsaError } from "../../psa/shared/errors.ts";
import { lastFinishedSync } from "../../store/runs-repository.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { psaSentence } from "../../psa/shared/error-sentences.ts";
import { ApiError, ERROR_RESPONSES } from "../errors.ts";
import {
  connectionSchema,
  connectionTestSchema,
  idParams,
  noContent,
  psaAgreementSchema,
  psaCompanySchema,
} from "../schemas.ts";

const name = z.string().trim().min(1).max(200);
const createBody = z.discriminatedUnion("vendor", [
  z.object({
    vendor: z.literal("connectwise"),
    name,
    config: connectWiseConfigSchema,
    secrets: connectWiseSecretsSchema,
    settings: connectWiseSettingsSchema.optional(),
  }),
  z.object({
    vendor: z.literal("autotask"),
    name,
    config: autotaskConfigSchema,
    secrets: autotaskSecretsSchema,
    settings: autotaskSettingsSchema.optional(),
  }),
]);
const patchBody = z.object({
  name: name.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  secrets: z
    .record(z.string(), z.unknown())
    .optional()
    .meta({ description: "Only the secrets given change; omitted ones keep their stored value." }),
  settings: z.record(z.string(), z.unknown()).optional(),
  seatAnnualEnabled: z.boolean().optional(),
  test: z
    .boolean()
    .optional()
    .meta({
      description:
        "Test the new values first and save them only when the test passes (the web app's Save and test); " +
        "a failed test answers 422 (field test) and stores nothing, unless saveAnyway is also true.",
    }),
  saveAnyway: z.boolean().optional(),
});

/** A PSA record id in a path: both PSAs number their records, so anything else is the caller's mistake. */
const psaId = (field: string) =>
  z.string().regex(/^[1-9][0-9]{0,14}$/, `${field} must be a whole number greater than zero`);

/** The PSA adapter of a connection; a host the operator has not allowed is a configuration error (422). */
export async function adapterFor(ctx: ServerContext, connectionId: string): Promise<PsaAdapter> {
  const connection = await ctx.app.connections.view(connectionId);
  try {
    return await ctx.app.adapterFor(connectionId);
  } catch (error) {
    if (error instanceof HostNotAllowedError) throw hostNotAllowed(error, connection.vendor);
    throw error;
  }
}

/**
 * A connection as the API shows it: with its last sync's health beside its last test, so a PSA that stopped
 * answering shows on the connection, not only in the history.
 */
async function withHealth(ctx: ServerContext, view: ConnectionView) {
  return { ...view, lastSync: await lastFinishedSync(ctx.app.store, view.id) };
}

function hostNotAllowed(error: HostNotAllowedError, vendor: ConnectionView["vendor"]): ApiError {
  const field = vendor === "connectwise" ? "config.site" : "config.discoveryUrl";
  return new ApiError(422, "validation", error.message, field);
}

/**
 * Tests a connection's details (stored, or as they would be after an update). Building the adapter already
 * talks to Autotask (zone discovery), so its failures count too; a PSA that cannot be reached, redirects
 * elsewhere, refuses the credentials or is not an allowed host is a failed test, not a failed request.
 */
async function testConnection(ctx: ServerContext, details: ConnectionDetails): Promise<PsaConnectionTest> {
  try {
    return await (await createAdapter(details, ctx.app.psaOptions)).testConnection();
  } catch (error) {
    // A host the operator has not allowed is the request's mistake: nothing was sent (422, naming the field).
    if (error instanceof HostNotAllowedError) throw hostNotAllowed(error, details.vendor);
    if (!(error instanceof PsaError)) throw error;
    const { message, detail } = psaSentence(error);
    return { ok: false, message, detail, checks: [{ name: "connect", ok: false, message }] };
  }
}

/** PSA connections (secrets write-only), the connection test, and PSA look-ups. */
export function registerConnectionRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { connections } = ctx.app;
  const present = (view: ConnectionView) => withHealth(ctx, view);

  fastify.get(
    "/api/connections",
    {
      schema: {
        tags: ["connections"],
        summary: "List PSA connections",
        response: { 200: z.object({ connections: z.array(connectionSchema) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ connections: await Promise.all((await connections.list()).map(present)) }),
  );

  fastify.post(
    "/api/connections",
    {
      config: { access: "admin" },
      schema: {
        tags: ["connections"],
        summary: "Create a PSA connection (admin)",
        body: createBody,
        response: { 201: z.object({ connection: connectionSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      reply.status(201).send({ connection: await present(await connections.create(request.body)) }),
  );

  fastify.get(
    "/api/connections/:id",
    {
      schema: {
        tags: ["connections"],
        summary: "One PSA connection",
        params: idParams,
        response: { 200: z.object({ connection: connectionSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ connection: await present(await connections.view(request.params.id)) }),
  );

  fastify.patch(
    "/api/connections/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["connections"],
        summary: "Change a PSA connection (admin)",
        params: idParams,
        body: patchBody,
        response: { 200: z.object({ connection: connectionSchema }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { test, saveAnyway, ...changes } = request.body;
      if (!test) return { connection: await present(await connections.update(request.params.id, changes)) };
      // Tested before saving, so a typo never replaces credentials that work.
      const result = await testConnection(ctx, await connections.detailsAfter(request.params.id, changes));
      if (!result.ok && !saveAnyway)
        throw new ApiError(
          422,
          "validation",
          `Nothing was saved: the connection test with these values failed (${result.message}). ` +
            "Correct them, or save them anyway.",
          "test",
        );
      await connections.update(request.params.id, changes);
      await connections.recordTest(request.params.id, result.ok, result.message);
      return { connection: await present(await connections.view(request.params.id)) };
    },
  );

  fastify.delete(
    "/api/connections/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["connections"],
        summary: "Delete a PSA connection with its mappings and runs (admin)",
        params: idParams,
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await connections.remove(request.params.id);
      return reply.status(204).send();
    },
  );

  fastify.post(
    "/api/connections/:id/test",
    {
      config: { access: "admin" },
      schema: {
        tags: ["connections"],
        summary: "Test the connection's credentials and permissions (admin); stored as lastTest",
        params: idParams,
        response: { 200: connectionTestSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const result = await testConnection(ctx, await connections.details(request.params.id));
      await connections.recordTest(request.params.id, result.ok, result.message);
      return result;
    },
  );

  fastify.get(
    "/api/connections/:id/psa/companies",
    {
      schema: {
        tags: ["psa"],
        summary: "Search the PSA's companies by name",
        params: idParams,
        querystring: z.object({ search: z.string().trim().min(1, "search must not be empty").max(200) }),
        response: { 200: z.object({ companies: z.array(psaCompanySchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const adapter = await adapterFor(ctx, request.params.id);
      return { companies: await adapter.searchCompanies(request.query.search) };
    },
  );

  fastify.get(
    "/api/connections/:id/psa/options/:kind",
    {
      schema: {
        tags: ["psa"],
        summary:
          "What the PSA settings pick from instead of raw ids: Autotask billing-codes, products and vendors; " +
          "ConnectWise subcategories and product-types (active ones, named like q, at most 200)",
        params: z.object({
          id: z.string().min(1),
          kind: z.enum([...PSA_OPTION_KINDS.autotask, ...PSA_OPTION_KINDS.connectwise]),
        }),
        querystring: z.object({ q: z.string().trim().max(200).default("") }),
        response: {
          200: z.object({
            options: z.array(
              z
                .object({ id: z.string(), name: z.string(), detail: z.string().optional() })
                .meta({ id: "PsaOption" }),
            ),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const adapter = await adapterFor(ctx, request.params.id);
      try {
        return { options: await adapter.listOptions(request.params.kind, request.query.q) };
      } catch (error) {
        if (error instanceof PsaOptionKindError) throw new ApiError(422, "validation", error.message, "kind");
        throw error;
      }
    },
  );

  fastify.get(
    "/api/connections/:id/psa/companies/:companyId/agreements",
    {
      schema: {
        tags: ["psa"],
        summary: "A PSA company's agreements/contracts, with the motions each can take",
        params: z.object({ id: z.string().min(1), companyId: psaId("companyId") }),
        response: { 200: z.object({ agreements: z.array(psaAgreementSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const adapter = await adapterFor(ctx, request.params.id);
      return { agreements: await adapter.listAgreements(request.params.companyId) };
    },
  );
}
