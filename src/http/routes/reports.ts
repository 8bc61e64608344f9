import { PassThrough } from "node:stream";
import { z } from "zod";
import { BILLING_MOTIONS } from "../../core/billing.ts";
import { LINE_STATUSES } from "../../core/reconciliation-report.ts";
import { RenewalsService } from "../../services/renewals.ts";
import { ReportsService, writeReportCsv, writeReportJson, writeReportXlsx } from "../../services/reports.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ERROR_RESPONSES } from "../errors.ts";

/**
 * Reports and renewals (docs/reports.md): the reconciliation and margin report of an invoice with its exports,
 * the month-over-month figures, the NCE term ledger, renewals and their CSV, and the calendar feed. Viewers may
 * read everything; making a new feed token needs admin; the feed itself is public and answers only to its
 * token (calendar apps send no session).
 */

const money = z.string().meta({ description: "Decimal string" });
const figures = {
  cost: money,
  billedCost: money,
  billed: money,
  margin: money,
  marginPercent: money.nullable(),
  notBilled: money,
  lines: z.number().int(),
  unpricedLines: z.number().int(),
  byStatus: z.partialRecord(z.enum(LINE_STATUSES), z.number().int()),
};
const motion = z.enum(BILLING_MOTIONS);

const lineSchema = z.object({
  eventKey: z.string(),
  customerTenantId: z.string(),
  customerName: z.string(),
  motion,
  subscriptionId: z.string(),
  productKey: z.string(),
  productName: z.string(),
  kind: z.string(),
  chargeStart: z.string(),
  chargeEnd: z.string().nullable(),
  seats: money,
  currency: z.string(),
  cost: money,
  billedCost: money.nullable(),
  billedPrice: money.nullable(),
  margin: money.nullable(),
  notBilled: money,
  status: z.enum(LINE_STATUSES),
  reason: z.string(),
  differences: z.array(z.string()),
  writeKey: z.string().nullable(),
  psaRecordId: z.string().nullable(),
});

const reportSchema = z.object({
  invoice: z.object({
    invoiceNumber: z.string(),
    currency: z.string(),
    firstChargeDate: z.string().nullable(),
    lastChargeDate: z.string().nullable(),
  }),
  connection: z.object({ id: z.string(), name: z.string(), vendor: z.string() }).nullable(),
  totals: z.array(z.object({ currency: z.string(), ...figures })),
  groups: z.array(
    z.object({
      customerTenantId: z.string(),
      customerName: z.string(),
      motion,
      currency: z.string(),
      agreementName: z.string().nullable(),
      ...figures,
    }),
  ),
  customers: z.array(
    z.object({ customerTenantId: z.string(), customerName: z.string(), currency: z.string(), ...figures }),
  ),
  products: z.array(
    z.object({ productKey: z.string(), productName: z.string(), currency: z.string(), ...figures }),
  ),
  drift: z.array(
    z.object({
      kind: z.enum(["edited", "deleted", "not-written-by-cspsync"]),
      customerTenantId: z.string(),
      customerName: z.string(),
      motion,
      targetId: z.string(),
      recordId: z.string().nullable(),
      writeKey: z.string().nullable(),
      description: z.string(),
      detail: z.string(),
    }),
  ),
  readBack: z.object({
    done: z.boolean(),
    agreements: z.number().int(),
    errors: z.array(z.object({ targetId: z.string(), message: z.string() })),
  }),
});

const summaryPageSchema = reportSchema.extend({
  groupsTotal: z
    .number()
    .int()
    .meta({ description: "Groups matching the filters in all (groups is one page)" }),
  customersTotal: z
    .number()
    .int()
    .meta({ description: "Customers in the ranking in all (customers is its head, largest cost first)" }),
});

const linePageSchema = z.object({
  total: z.number().int().meta({ description: "How many lines match the filters in all" }),
  offset: z.number().int(),
  limit: z.number().int(),
  lines: z.array(lineSchema),
});

const feedStatusSchema = z.object({
  exists: z.boolean(),
  createdAt: z.string().nullable(),
  lastUsedAt: z.string().nullable().meta({ description: "When a calendar last read the feed" }),
});

const trendSchema = z.array(
  z.object({
    invoiceNumber: z.string(),
    period: z.string().nullable(),
    currency: z.string(),
    cost: money,
    billed: money,
    margin: money,
    notBilled: money,
  }),
);

const ledgerEntrySchema = z.object({
  subscriptionId: z.string(),
  customerTenantId: z.string(),
  customerName: z.string(),
  motion,
  productId: z.string(),
  skuId: z.string(),
  productName: z.string(),
  term: z.enum(["P1M", "P1Y", "P3Y"]).nullable(),
  billingPlan: z.enum(["monthly", "annual", "upfront"]).nullable(),
  termStart: z.string().nullable(),
  termEnd: z.string().nullable(),
  status: z.enum(["active", "cancelled", "lapsed-or-not-imported"]),
  seats: money,
  seatHistory: z.array(
    z.object({
      at: z.string(),
      kind: z.string(),
      delta: money,
      seats: money,
      eventKey: z.string(),
      invoiceNumber: z.string(),
    }),
  ),
  pricePerSeat: money.nullable(),
  currency: z.string(),
  changeWindow: z
    .object({
      basis: z.enum(["purchase", "renewal", "seat add"]),
      openedAt: z.string(),
      closesAt: z.string(),
      exact: z.boolean(),
      open: z.boolean(),
    })
    .nullable(),
  renewalDate: z.string().nullable(),
  nextTermValue: money.nullable(),
  autoRenew: z.null().meta({ description: "Not in the billing data: always unknown" }),
});

const renewalsSchema = z.object({
  asOf: z.string(),
  days: z.number().int(),
  renewing: z.array(ledgerEntrySchema),
  windowsClosing: z.array(ledgerEntrySchema),
  totals: z.array(
    z.object({ currency: z.string(), subscriptions: z.number().int(), seats: money, nextTermValue: money }),
  ),
  perCustomer: z.array(
    z.object({
      customerTenantId: z.string(),
      customerName: z.string(),
      subscriptions: z.number().int(),
      currency: z.string(),
      nextTermValue: money,
    }),
  ),
});

const reportQuery = z.object({
  invoice: z.string().trim().min(1).max(200),
  connection: z.string().trim().min(1).max(200).optional(),
  readBack: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
});
const linesQuery = reportQuery.extend({
  customer: z.string().trim().min(1).max(200).optional(),
  motion: motion.optional(),
  status: z.enum(LINE_STATUSES).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
const summaryQuery = reportQuery.extend({
  customer: z.string().trim().min(1).max(200).optional(),
  motion: motion.optional(),
  status: z.enum(LINE_STATUSES).optional(),
  groupsOffset: z.coerce.number().int().min(0).default(0),
  groupsLimit: z.coerce.number().int().min(1).max(1000).default(100),
  customersLimit: z.coerce.number().int().min(1).max(1000).default(50),
});
const daysQuery = z.object({ days: z.coerce.number().int().min(1).max(3660).default(90) });

/** A file download (CSV, XLSX, JSON or iCalendar): sent as it is, not serialized. */
const FILE = z.unknown().meta({ description: "The file" });

const CONTENT_TYPES = {
  csv: "text/csv; charset=utf-8",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  json: "application/json; charset=utf-8",
} as const;

function fileName(invoice: string, extension: string): string {
  return `reconciliation-${invoice.replace(/[^A-Za-z0-9_-]/g, "_")}.${extension}`;
}

export function registerReportRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  const { app } = ctx;
  const reports = new ReportsService({
    store: app.store,
    organizationId: app.organizationId,
    adapterFor: app.adapterFor,
  });
  const renewals = new RenewalsService(app.store, app.organizationId);

  fastify.get(
    "/api/reports/reconciliation",
    {
      schema: {
        tags: ["reports"],
        summary:
          "The reconciliation and margin report of one invoice without its lines: totals, products and drift, " +
          "one page of the customer × motion groups (filtered by customer, motion and status) and the head of " +
          "the customer ranking; the PSA read back (read only)",
        querystring: summaryQuery,
        response: { 200: summaryPageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { invoice, connection, readBack, ...paging } = request.query;
      return reports.summaryPage({ invoice, connectionId: connection, readBack }, paging);
    },
  );

  fastify.get(
    "/api/reports/reconciliation/lines",
    {
      schema: {
        tags: ["reports"],
        summary:
          "One page of the report's lines (the drill-down), filtered by customer, motion and status; with a customer only its agreements are read back",
        querystring: linesQuery,
        response: { 200: linePageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { invoice, connection, readBack, customer, motion, status, offset, limit } = request.query;
      return reports.lines(
        { invoice, connectionId: connection, readBack, customer },
        { motion, status },
        offset,
        limit,
      );
    },
  );

  fastify.get(
    "/api/reports/reconciliation/export",
    {
      schema: {
        tags: ["reports"],
        summary:
          "The report's lines as CSV or the whole report as XLSX or JSON (formula-safe cells), streamed as the lines are built",
        querystring: reportQuery.extend({ format: z.enum(["csv", "xlsx", "json"]).default("csv") }),
        response: { 200: FILE, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { invoice, connection, readBack, format } = request.query;
      // An unknown invoice or connection fails here, before the download starts.
      const { source } = await reports.open({ invoice, connectionId: connection, readBack });
      const body = new PassThrough();
      const write =
        format === "xlsx" ? writeReportXlsx : format === "json" ? writeReportJson : writeReportCsv;
      write(source, body).catch((error: unknown) => {
        request.log.error({ err: error }, "the report export failed midway");
        body.destroy(error instanceof Error ? error : new Error(String(error)));
      });
      return reply
        .header("content-type", CONTENT_TYPES[format])
        .header("content-disposition", `attachment; filename="${fileName(invoice, format)}"`)
        .send(body);
    },
  );

  fastify.get(
    "/api/reports/trend",
    {
      schema: {
        tags: ["reports"],
        summary: "Cost, billed, margin and not billed of the last 12 invoices, oldest first",
        querystring: z.object({ connection: z.string().trim().min(1).max(200).optional() }),
        response: { 200: trendSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => reports.trend(request.query.connection),
  );

  fastify.get(
    "/api/renewals/ledger",
    {
      schema: {
        tags: ["renewals"],
        summary:
          "The NCE term ledger: every seat-based subscription's term, seats, change window and renewal",
        querystring: z.object({ customer: z.string().trim().min(1).max(200).optional() }),
        response: { 200: z.array(ledgerEntrySchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => renewals.ledger(request.query.customer),
  );

  fastify.get(
    "/api/renewals",
    {
      schema: {
        tags: ["renewals"],
        summary: "Subscriptions renewing in the next N days (default 90) and change windows closing soon",
        querystring: daysQuery,
        response: { 200: renewalsSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => renewals.renewals(request.query.days),
  );

  fastify.get(
    "/api/renewals/export",
    {
      schema: {
        tags: ["renewals"],
        summary: "The renewals of the next N days as CSV",
        querystring: daysQuery,
        response: { 200: FILE, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      reply
        .header("content-type", CONTENT_TYPES.csv)
        .header("content-disposition", `attachment; filename="renewals-${request.query.days}-days.csv"`)
        .send(await renewals.renewalsCsv(request.query.days)),
  );

  fastify.get(
    "/api/renewals/feed-token",
    {
      config: { access: "admin" },
      schema: {
        tags: ["renewals"],
        summary:
          "Whether a calendar feed address exists, when it was made and last read (admin); never the token",
        response: { 200: feedStatusSchema, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const info = await renewals.feedTokenInfo();
      return info
        ? { exists: true, createdAt: info.createdAt, lastUsedAt: info.lastUsedAt }
        : { exists: false, createdAt: null, lastUsedAt: null };
    },
  );

  fastify.post(
    "/api/renewals/feed-token",
    {
      config: { access: "admin" },
      schema: {
        tags: ["renewals"],
        summary: "A new calendar feed token (admin); the previous one stops working. Shown once.",
        // Nothing to send: an empty object, or no body at all.
        body: z.object({}).strict().optional(),
        response: {
          200: z.object({ token: z.string(), path: z.string(), createdAt: z.string() }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const principal = request.principal;
      const by =
        principal?.kind === "session"
          ? principal.user.email
          : principal
            ? `token ${principal.token.name}`
            : null;
      const { token, createdAt } = await renewals.rotateFeedToken(by);
      return { token, path: `/api/renewals/feed/${token}.ics`, createdAt };
    },
  );

  fastify.get(
    "/api/renewals/feed/:file",
    {
      config: { access: "public" },
      schema: {
        tags: ["renewals"],
        summary: "The iCalendar feed of renewals and change-window ends; the token is the URL's last part",
        params: z.object({ file: z.string().min(1).max(200) }),
        response: { 200: FILE, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const token = request.params.file.replace(/\.ics$/, "");
      const calendar = await renewals.feedForToken(token);
      return reply
        .header("content-type", "text/calendar; charset=utf-8")
        .header("cache-control", "private, max-age=300")
        .send(calendar);
    },
  );
}
