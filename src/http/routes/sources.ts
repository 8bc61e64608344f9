import { z } from "zod";
import { fetchAppOf } from "../../jobs/sync-worker.ts";
import { fetchSource, testSource, unbilledPreview } from "../../services/fetch-partner-center.ts";
import { partnerCenterConfigSchema } from "../../services/source-connections.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES } from "../errors.ts";
import { idParams, noContent } from "../schemas.ts";

/**
 * Billing-data sources (Microsoft Partner Center, docs/partner-center.md): list, fetch history and unbilled
 * preview for every role; add, test, remove and "Fetch now" for admins. Secrets go in and never come out.
 */
const sourceTestSchema = z
  .object({ at: z.string(), ok: z.boolean(), kind: z.string().nullable(), message: z.string() })
  .meta({ id: "SourceTest" });

export const sourceSchema = z
  .object({
    id: z.string(),
    kind: z.literal("partner-center"),
    name: z.string(),
    enabled: z.boolean(),
    config: z.object({
      tenantId: z.string(),
      clientId: z.string(),
      credential: z.enum(["secret", "certificate"]),
      thumbprintSha256: z.string().optional(),
      endpoints: z.object({ login: z.string(), partnerCenter: z.string(), graph: z.string() }).optional(),
      unbilledCurrencies: z.array(z.string()).optional(),
    }),
    secretsSet: z.object({ clientSecret: z.boolean(), privateKeyPem: z.boolean() }),
    credentialsReadable: z.boolean(),
    lastTest: sourceTestSchema.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Source" });

const invoiceOutcomeSchema = z.object({
  invoiceId: z.string(),
  outcome: z.enum(["imported", "unchanged", "no-data", "rejected", "failed", "claimed-elsewhere"]),
  lines: z.number().optional(),
  newLines: z.number().optional(),
  importId: z.string().optional(),
  errorKind: z.string().optional(),
  message: z.string().optional(),
});
const unbilledOutcomeSchema = z.object({
  currency: z.string(),
  outcome: z.enum(["stored", "no-data", "failed"]),
  lines: z.number().optional(),
  total: z.string().optional(),
  message: z.string().optional(),
});

export const fetchRunSchema = z
  .object({
    id: z.string(),
    sourceId: z.string(),
    trigger: z.string(),
    status: z.enum(["running", "imported", "nothing-new", "failed"]),
    errorKind: z.string().nullable(),
    message: z.string().nullable(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    steps: z.array(z.object({ at: z.string(), step: z.string(), detail: z.string() })),
    invoices: z.array(invoiceOutcomeSchema),
    unbilled: z.array(unbilledOutcomeSchema),
    syncJobs: z.array(z.object({ connectionId: z.string(), jobId: z.string().nullable() })),
  })
  .meta({ id: "FetchRun" });

const unbilledSchema = z
  .object({
    currency: z.string(),
    fetchedAt: z.string(),
    total: z.string(),
    entries: z.array(
      z.object({
        customerTenantId: z.string(),
        customerName: z.string(),
        motion: z.string(),
        total: z.string(),
        change: z.string().meta({ description: "Change since the snapshot before (decimal string)" }),
      }),
    ),
  })
  .meta({ id: "UnbilledPreview" });

const createBody = z.object({
  name: z.string().trim().min(1).max(200),
  config: partnerCenterConfigSchema,
  secrets: z.object({
    clientSecret: z.string().min(1).max(10_000).optional(),
    privateKeyPem: z.string().min(1).max(20_000).optional(),
  }),
});
const fetchBody = z
  .object({ invoiceId: z.string().trim().min(1).max(64).optional(), unbilled: z.boolean().optional() })
  .default({});
const fetchResultSchema = z.object({
  runId: z.string(),
  status: z.enum(["imported", "nothing-new", "failed"]),
  errorKind: z.string().nullable(),
  message: z.string(),
  newLines: z.number(),
  syncsQueued: z.number(),
});

export function registerSourceRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;
  const fetchApp = fetchAppOf(app);
  const repo = app.sources.repository;

  fastify.get(
    "/api/sources",
    {
      schema: {
        tags: ["sources"],
        summary: "Billing-data sources (Microsoft Partner Center)",
        response: { 200: z.object({ sources: z.array(sourceSchema) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ sources: await app.sources.list() }),
  );

  fastify.post(
    "/api/sources",
    {
      config: { access: "admin" },
      schema: {
        tags: ["sources"],
        summary: "Add a Microsoft Partner Center source (admin); the secret or key is stored encrypted",
        body: createBody,
        response: { 201: sourceSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const source = await app.sources.create(request.body);
      return reply.code(201).send(source);
    },
  );

  fastify.delete(
    "/api/sources/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["sources"],
        summary: "Remove a source (admin)",
        params: idParams,
        response: { 204: noContent, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await app.sources.remove(request.params.id);
      return reply.code(204).send();
    },
  );

  fastify.post(
    "/api/sources/:id/test",
    {
      config: { access: "admin" },
      schema: {
        tags: ["sources"],
        summary: "Test a source: tokens, invoices readable, Graph billing export allowed (admin)",
        params: idParams,
        response: { 200: sourceTestSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => testSource(fetchApp, request.params.id),
  );

  fastify.post(
    "/api/sources/:id/fetch",
    {
      config: { access: "admin" },
      schema: {
        tags: ["sources"],
        summary: "Fetch now (admin): new invoices are exported, imported, and the syncs queued",
        params: idParams,
        body: fetchBody,
        response: { 200: fetchResultSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const outcome = await fetchSource(fetchApp, request.params.id, {
        trigger: "manual",
        ...(body.invoiceId ? { invoiceId: body.invoiceId } : {}),
        unbilled: body.unbilled ?? false,
      });
      // The same follow-up as an upload: new annual or Azure lines queue the syncs.
      const queued = outcome.imports.length > 0 ? await ctx.afterImport(outcome.imports) : 0;
      return {
        runId: outcome.runId,
        status: outcome.status,
        errorKind: outcome.errorKind,
        message: outcome.message,
        newLines: outcome.newLines,
        syncsQueued: typeof queued === "number" ? queued : 0,
      };
    },
  );

  fastify.get(
    "/api/sources/:id/fetch-runs",
    {
      schema: {
        tags: ["sources"],
        summary: "A source's fetch history, newest first",
        params: idParams,
        response: { 200: z.object({ runs: z.array(fetchRunSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const source = await app.sources.view(request.params.id);
      const rows = await repo.listFetchRuns({ sourceId: source.id, limit: 50 });
      return {
        runs: rows.map((row) => {
          const summary = JSON.parse(row.summary) as { invoices?: unknown[]; unbilled?: unknown[] };
          return {
            id: row.id,
            sourceId: row.source_id,
            trigger: row.trigger,
            status: row.status,
            errorKind: row.error_kind,
            message: row.message,
            startedAt: row.started_at,
            finishedAt: row.finished_at,
            steps: JSON.parse(row.steps),
            invoices: (summary.invoices ?? []) as z.infer<typeof invoiceOutcomeSchema>[],
            unbilled: (summary.unbilled ?? []) as z.infer<typeof unbilledOutcomeSchema>[],
            syncJobs: JSON.parse(row.sync_jobs),
          };
        }),
      };
    },
  );

  fastify.get(
    "/api/sources/:id/unbilled",
    {
      schema: {
        tags: ["sources"],
        summary: "Next invoice so far (provisional unbilled data, never synced) per customer and motion",
        params: idParams,
        response: { 200: z.object({ previews: z.array(unbilledSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ previews: await unbilledPreview(fetchApp, request.params.id) }),
  );
}
