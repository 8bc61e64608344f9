import { z } from "zod";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import {
  countRows,
  countUnmappedCustomers,
  listImports,
  listInvoices,
} from "../../store/billing-repository.ts";
import {
  countErroredRunsSince,
  getRun,
  lastSyncFinishedAt,
  listRuns,
  listRunsPage,
} from "../../store/runs-repository.ts";
import { heldLineCount } from "../../services/customer-overview.ts";
import { fetchHistory } from "../../services/fetch-partner-center.ts";
import { fetchAppOf } from "../../jobs/sync-worker.ts";
import { listProductRuns } from "../../services/product-runs.ts";
import { psaAgreementLink } from "../../services/psa-links.ts";
import { appSettingsSchema } from "../../services/app-settings.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ApiError, ERROR_RESPONSES, notFound } from "../errors.ts";
import {
  importRecordSchema,
  invoiceSchema,
  productRunSchema,
  runItemSchema,
  runSchema,
  runTotalsSchema,
  settingsSchema,
  vendorSchema,
} from "../schemas.ts";

/** Run statuses that count as a successful sync for the dashboard. */
const SUCCESSFUL = ["success", "no-change", "warning"] as const;

/** How far back the dashboard counts runs with errors. */
const ERROR_WINDOW_DAYS = 7;

const DAY = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a day as YYYY-MM-DD");

/** A fetch of billing data in Sync history, with the sync runs it led to (docs/partner-center.md §7). */
const historyFetchMeta = {
  id: "HistoryFetch",
  description: "A fetch of billing data (Partner Center) and the sync runs it led to",
} as const;
const historyFetchSchema = z
  .object({
    id: z.string(),
    sourceId: z.string(),
    sourceName: z.string().nullable(),
    trigger: z.string(),
    status: z.enum(["queued", "running", "imported", "nothing-new", "failed"]),
    errorKind: z.string().nullable(),
    message: z.string().nullable(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    line: z.string(),
    syncRuns: z.array(
      z.object({
        id: z.string(),
        connectionId: z.string(),
        connectionName: z.string().nullable(),
        motion: z.string().nullable(),
        status: z.string(),
        written: z.number(),
        errors: z.number(),
        startedAt: z.string(),
      }),
    ),
  })
  .meta(historyFetchMeta);
const fetchesMeta = {
  description:
    "Fetches started within this page's span of time (none when filtered by connection, motion, status or customer)",
} as const;

/** Read-mostly resources: dashboard, invoices, import history, runs, and the organization's settings. */
export function registerDataRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;

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
                heldLines: z.number().meta({ description: "Lines held for approval, not yet approved" }),
                productSyncMode: z.string(),
                lastProductRun: productRunSchema.nullable(),
              }),
            ),
            customers: z.number(),
            invoices: z.number(),
            unmappedCustomers: z.number().meta({
              description: "Customers with charges and no entry on any connection (enabled or not)",
            }),
            erroredRuns: z
              .number()
              .meta({ description: `Runs with errors in the last ${ERROR_WINDOW_DAYS} days` }),
            erroredRunsSince: z.string(),
            heldLines: z.number(),
            dailySync: settingsSchema,
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
        cards.push({
          id: connection.id,
          name: connection.name,
          vendor: connection.vendor,
          seatAnnualEnabled: connection.seatAnnualEnabled,
          lastSuccessfulSync: await lastSyncFinishedAt(
            app.store,
            app.organizationId,
            connection.id,
            SUCCESSFUL,
          ),
          lastRun: lastRun ?? null,
          heldLines: await heldLineCount(app.store, app.organizationId, connection.id),
          productSyncMode: String(connection.settings.productSyncMode ?? "off"),
          lastProductRun: (await listProductRuns(app.store, app.organizationId, connection.id, 1))[0] ?? null,
        });
      }
      const since = new Date(Date.now() - ERROR_WINDOW_DAYS * 86_400_000).toISOString();
      const errored = await countErroredRunsSince(app.store, app.organizationId, since);
      const unmapped = await countUnmappedCustomers(app.store, app.organizationId);
      return {
        connections: cards,
        customers: await countRows(app.store, app.organizationId, "customers"),
        invoices: await countRows(app.store, app.organizationId, "invoices"),
        unmappedCustomers: unmapped,
        erroredRuns: errored,
        erroredRunsSince: since,
        heldLines: cards.reduce((n, c) => n + c.heldLines, 0),
        dailySync: await ctx.settings.get(),
      };
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
    async (request) => ({ imports: await listImports(app.store, app.organizationId, request.query.limit) }),
  );

  fastify.get(
    "/api/runs",
    {
      schema: {
        tags: ["runs"],
        summary: "Sync runs, newest first, filtered and paged",
        querystring: z.object({
          connectionId: z.string().min(1).max(MAX_ID_CHARS).optional(),
          motion: z.enum(["seat-monthly", "azure", "seat-annual"]).optional(),
          status: runSchema.shape.status.optional(),
          customerTenantId: z
            .string()
            .min(1)
            .max(MAX_ID_CHARS)
            .optional()
            .meta({ description: "Runs scoped to this customer or with an item of it" }),
          from: DAY.optional().meta({ description: "Started on or after this day (UTC)" }),
          to: DAY.optional().meta({ description: "Started on or before this day (UTC)" }),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: {
          200: z.object({
            runs: z.array(runSchema),
            total: z.number().meta({ description: "Runs matching the filters, over all pages" }),
            offset: z.number(),
            limit: z.number(),
            fetches: z.array(historyFetchSchema).meta(fetchesMeta),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { connectionId, motion, status, customerTenantId, from, to, limit, offset } = request.query;
      if (from && to && from > to) throw new ApiError(400, "validation", "from must not be after to", "from");
      const page = await listRunsPage(app.store, app.organizationId, {
        limit,
        offset,
        ...(connectionId ? { connectionId } : {}),
        ...(motion ? { motion } : {}),
        ...(status ? { status } : {}),
        ...(customerTenantId ? { customerTenantId } : {}),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
      });
      // The fetches among these runs: from the page's oldest run (the last page: from `from`) up to the oldest
      // run of the page before (the first page: up to `to`), so every fetch is on exactly one page.
      const filtered = Boolean(connectionId || motion || status || customerTenantId);
      const last = offset + page.runs.length >= page.total;
      const lower = last ? from : page.runs.at(-1)?.startedAt;
      const dayAfter = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString();
      const upper =
        offset === 0
          ? to && dayAfter(to)
          : (
              await listRuns(app.store, app.organizationId, {
                offset: offset - 1,
                limit: 1,
                ...(from ? { from } : {}),
                ...(to ? { to } : {}),
              })
            )[0]?.startedAt;
      const fetches =
        filtered || (offset > 0 && page.runs.length === 0)
          ? []
          : await fetchHistory(fetchAppOf(app), {
              ...(lower ? { from: lower } : {}),
              ...(upper ? { before: upper } : {}),
              limit,
            });
      return { ...page, offset, limit, fetches };
    },
  );

  fastify.get(
    "/api/runs/:id",
    {
      schema: {
        tags: ["runs"],
        summary: "One run with every item",
        params: z.object({ id: z.string().min(1) }),
        response: {
          200: z.object({
            run: runSchema,
            connection: z.object({ id: z.string(), name: z.string(), vendor: vendorSchema }).nullable(),
            items: z.array(runItemSchema),
            totals: runTotalsSchema,
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const detail = await getRun(app.store, app.organizationId, request.params.id);
      if (!detail) throw notFound(`no run with id ${request.params.id}`);
      const connection = (await app.connections.list()).find((c) => c.id === detail.run.connectionId);
      return {
        ...detail,
        connection: connection
          ? { id: connection.id, name: connection.name, vendor: connection.vendor }
          : null,
        items: detail.items.map((item) =>
          item.target
            ? {
                ...item,
                target: {
                  ...item.target,
                  link:
                    connection && item.target.agreementId
                      ? psaAgreementLink(connection, item.target.agreementId)
                      : null,
                },
              }
            : item,
        ),
      };
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
