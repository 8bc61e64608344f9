import { z } from "zod";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import { listInvoices } from "../../store/billing-repository.ts";
import { getRun, listRuns } from "../../store/runs-repository.ts";
import { appSettingsSchema } from "../../services/app-settings.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES, notFound } from "../errors.ts";
import {
  importRecordSchema,
  invoiceSchema,
  runItemSchema,
  runSchema,
  settingsSchema,
  vendorSchema,
} from "../schemas.ts";

/** Run statuses that count as a successful sync for the dashboard. */
const SUCCESSFUL = ["success", "no-change", "warning"] as const;

/** Read-mostly resources: dashboard, invoices, import history, runs, and the organization's settings. */
export function registerDataRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;
  const db = app.store.db;

  fastify.get(
    "/api/dashboard",
    {
      schema: {
        tags: ["data"],
        summary: "Per-connection sync status and billing data counts",
        response: {
          200: z.object({
            connections: z.array(
              z.object({
                id: z.string(),
                name: z.string(),
                vendor: vendorSchema,
                seatAnnualEnabled: z.boolean(),
                lastSuccessfulSync: z.string().nullable(),
                lastRun: runSchema.nullable(),
              }),
            ),
            customers: z.number(),
            invoices: z.number(),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => {
      const connections = await app.connections.list();
      const cards = [];
      for (const connection of connections) {
        const [lastRun] = await listRuns(app.store, app.organizationId, {
          connectionId: connection.id,
          limit: 1,
        });
        const success = await db
          .selectFrom("sync_runs")
          .select((eb) => eb.fn.max("finished_at").as("at"))
          .where("organization_id", "=", app.organizationId)
          .where("connection_id", "=", connection.id)
          .where("status", "in", SUCCESSFUL)
          .executeTakeFirst();
        cards.push({
          id: connection.id,
          name: connection.name,
          vendor: connection.vendor,
          seatAnnualEnabled: connection.seatAnnualEnabled,
          lastSuccessfulSync: success?.at ?? null,
          lastRun: lastRun ?? null,
        });
      }
      const count = async (table: "customers" | "invoices") =>
        Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<number>().as("n"))
              .where("organization_id", "=", app.organizationId)
              .executeTakeFirstOrThrow()
          ).n,
        );
      return { connections: cards, customers: await count("customers"), invoices: await count("invoices") };
    },
  );

  fastify.get(
    "/api/invoices",
    {
      schema: {
        tags: ["data"],
        summary: "Imported invoices with line counts and exact totals",
        response: { 200: z.object({ invoices: z.array(invoiceSchema) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ invoices: await listInvoices(app.store, app.organizationId) }),
  );

  fastify.get(
    "/api/imports",
    {
      schema: {
        tags: ["imports"],
        summary: "Import history, newest first",
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }),
        response: { 200: z.object({ imports: z.array(importRecordSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const rows = await db
        .selectFrom("imports")
        .selectAll()
        .where("organization_id", "=", app.organizationId)
        .orderBy("started_at", "desc")
        .orderBy("id")
        .limit(request.query.limit)
        .execute();
      return {
        imports: rows.map((r) => ({
          id: r.id,
          fileName: r.file_name,
          format: r.file_format,
          status: r.status,
          startedAt: r.started_at,
          lines: Number(r.line_count),
          newLines: Number(r.new_line_count),
          knownLines: Number(r.known_line_count),
          error: r.error,
        })),
      };
    },
  );

  fastify.get(
    "/api/runs",
    {
      schema: {
        tags: ["runs"],
        summary: "Sync runs, newest first",
        querystring: z.object({
          connectionId: z.string().min(1).max(MAX_ID_CHARS).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: { 200: z.object({ runs: z.array(runSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({
      runs: await listRuns(app.store, app.organizationId, {
        limit: request.query.limit,
        ...(request.query.connectionId ? { connectionId: request.query.connectionId } : {}),
      }),
    }),
  );

  fastify.get(
    "/api/runs/:id",
    {
      schema: {
        tags: ["runs"],
        summary: "One run with every item",
        params: z.object({ id: z.string().min(1) }),
        response: { 200: z.object({ run: runSchema, items: z.array(runItemSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const detail = await getRun(app.store, app.organizationId, request.params.id);
      if (!detail) throw notFound(`no run with id ${request.params.id}`);
      return detail;
    },
  );

  fastify.get(
    "/api/settings",
    {
      schema: {
        tags: ["settings"],
        summary: "When the daily sync check runs",
        response: { 200: settingsSchema, ...ERROR_RESPONSES },
      },
    },
    async () => ctx.settings.get(),
  );

  fastify.put(
    "/api/settings",
    {
      config: { access: "admin" },
      schema: {
        tags: ["settings"],
        summary: "Change when the daily sync check runs (admin)",
        body: appSettingsSchema,
        response: { 200: settingsSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const saved = await ctx.settings.set(request.body);
      await ctx.afterSettingsChange(saved);
      return saved;
    },
  );
}
