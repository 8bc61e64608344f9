import { z } from "zod";
import { randomUUID } from "node:crypto";
import { enqueueFetch, fetchAppOf, openJobQueue } from "../../jobs/sync-worker.ts";
import { sourceFetchRuns, testSource, unbilledPreview } from "../../services/fetch-partner-center.ts";
import { partnerCenterConfigSchema } from "../../services/source-connections.ts";
import { newFetchRun } from "../../store/sources-repository.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES } from "../errors.ts";
import { idParams, noContent } from "../schemas.ts";

/**
 * Billing-data sources (Microsoft Partner Center, docs/partner-center.md): list, fetch history and unbilled
 * preview for every role; add, edit, test, remove and "Fetch now" for admins. Secrets go in and never come out.
 * "Fetch now" queues a fetch-source job (a worker runs it: `cspsync serve` or `cspsync worker`) and answers
 * 202 with the fetch run's id at once; the fetch history shows it queued, running, then its outcome.
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
    status: z.enum(["queued", "running", "imported", "nothing-new", "failed"]),
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
const queuedRunMeta = { description: "The fetch run to follow; null when the fetch queued already has none" };
const queuedJobMeta = { description: "null when a fetch of this source was queued already (that one runs)" };
const fetchQueuedSchema = z.object({
  fetchRunId: z.string().nullable().meta(queuedRunMeta),
  jobId: z.string().nullable().meta(queuedJobMeta),
  status: z.literal("queued"),
  message: z.string(),
});
const editBody = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  config: z
    .object({
      clientId: z.string().optional(),
      credential: z.enum(["secret", "certificate"]).optional(),
      thumbprintSha256: z.string().optional(),
      endpoints: z.object({ login: z.string(), partnerCenter: z.string(), graph: z.string() }).optional(),
      unbilledCurrencies: z.array(z.string()).max(20).optional(),
    })
    .optional(),
  secrets: createBody.shape.secrets.optional(),
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

  fastify.patch(
    "/api/sources/:id",
    {
      config: { access: "admin" },
      schema: {
        tags: ["sources"],
        summary: "Edit a source (admin): rotate the client secret, change the certificate, rename",
        params: idParams,
        body: editBody,
        response: { 200: sourceSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => app.sources.update(request.params.id, request.body),
  );

  fastify.post(
    "/api/sources/:id/fetch",
    {
      config: { access: "admin" },
      schema: {
        tags: ["sources"],
        summary:
          "Fetch now (admin): queues a fetch; a worker exports and imports new invoices, then queues the syncs",
        params: idParams,
        body: fetchBody,
        response: { 202: fetchQueuedSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const source = await app.sources.view(request.params.id);
      const fetchRunId = randomUUID();
      // Recorded before the job is sent, so the job finds its run; removed again if the send is deduplicated.
      await repo.insertFetchRun(
        newFetchRun({ id: fetchRunId, sourceId: source.id, trigger: "manual", status: "queued" }),
      );
      const queue = openJobQueue(app);
      let jobId: string | null;
      try {
        jobId = await enqueueFetch(queue, {
          sourceId: source.id,
          trigger: "manual",
          fetchRunId,
          ...(body.invoiceId ? { invoiceId: body.invoiceId } : {}),
          unbilled: body.unbilled ?? false,
        });
      } catch (error) {
        await repo.deleteFetchRun(fetchRunId);
        throw error;
      } finally {
        await queue.stop();
      }
      if (jobId === null) {
        // A fetch of this source is waiting already: that one answers.
        await repo.deleteFetchRun(fetchRunId);
        const waiting = await repo.queuedFetchRun(source.id);
        return reply.code(202).send({
          fetchRunId: waiting?.id ?? null,
          jobId: null,
          status: "queued",
          message: `a fetch of ${source.name} is queued already`,
        });
      }
      return reply.code(202).send({
        fetchRunId,
        jobId,
        status: "queued",
        message: `fetch of ${source.name} queued; a worker runs it`,
      });
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
      return { runs: await sourceFetchRuns(fetchApp, source.id) };
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
