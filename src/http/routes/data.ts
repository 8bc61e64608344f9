import { z } from "zod";
import { MAX_ID_CHARS } from "../../core/limits.ts";
import { listInvoices } from "../../store/billing-repository.ts";
import { getRun, listRuns, listRunsPage } from "../../store/runs-repository.ts";
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
          heldLines: Number(
            (
              await db
                .selectFrom("price_holds")
                .select((eb) => eb.fn.countAll<number>().as("n"))
                .where("organization_id", "=", app.organizationId)
                .where("connection_id", "=", connection.id)
                .where("status", "=", "held")
                .executeTakeFirstOrThrow()
            ).n,
          ),
          productSyncMode: String(connection.settings.productSyncMode ?? "off"),
          lastProductRun: (await listProductRuns(app.store, app.organizationId, connection.id, 1))[0] ?? null,
        });
      }
      const since = new Date(Date.now() - ERROR_WINDOW_DAYS * 86_400_000).toISOString();
      const errored = await db
        .selectFrom("sync_runs")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("organization_id", "=", app.organizationId)
        .where("status", "=", "error")
        .where("started_at", ">=", since)
        .executeTakeFirstOrThrow();
      // One query: customers with a charge line and no mapping row at all (any connection, any motion).
      const unmapped = await db
        .selectFrom("customers")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("customers.organization_id", "=", app.organizationId)
        .where(({ exists, not, selectFrom }) =>
          exists(
            selectFrom("charge_lines")
              .select("charge_lines.line_key")
              .whereRef("charge_lines.organization_id", "=", "customers.organization_id")
              .whereRef("charge_lines.customer_tenant_id", "=", "customers.tenant_id"),
          ).and(
            not(
              exists(
                selectFrom("mappings")
                  .select("mappings.motion")
                  .whereRef("mappings.organization_id", "=", "customers.organization_id")
                  .whereRef("mappings.customer_tenant_id", "=", "customers.tenant_id"),
              ),
            ),
          ),
        )
        .executeTakeFirstOrThrow();
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
      return {
        connections: cards,
        customers: await count("customers"),
        invoices: await count("invoices"),
        unmappedCustomers: Number(unmapped.n),
        erroredRuns: Number(errored.n),
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
      return { ...page, offset, limit };
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
