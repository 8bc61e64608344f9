import { Readable, Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { z } from "zod";
import {
  microsoftFetch,
  responseError,
  retryAfterSeconds,
  sleep,
  SourceError,
  withRetries,
  type MicrosoftHttpOptions,
  type RetryPolicy,
} from "./http.ts";
import { corruptBlob } from "./blob-check.ts";
import { GRAPH_SCOPE, PARTNER_CENTER_SCOPE, type TokenProvider } from "./token.ts";

/**
 * The Partner Center invoices API (v1) and the Graph billing reconciliation export (v2), as cspsync uses them
 * (docs/partner-center.md §3–§5). Every request goes through the allow-listed fetch with retries on 429/5xx.
 */
export const PARTNER_CENTER_BASE = "https://api.partnercenter.microsoft.com";
export const GRAPH_BASE = "https://graph.microsoft.com";

const MONEY_KEYS = new Set(["totalCharges", "paidAmount"]);

export type Endpoints = { partnerCenter?: string; graph?: string };

const amount = z.union([z.string(), z.number()]).transform((v) => String(v));
const invoiceSchema = z.looseObject({
  id: z.string().min(1).max(64),
  invoiceDate: z.string().optional(),
  billingPeriodStartDate: z.string().optional(),
  billingPeriodEndDate: z.string().optional(),
  totalCharges: amount.optional(),
  currencyCode: z.string().min(3).max(3).optional(),
  invoiceType: z.string().optional(),
  documentType: z.string().optional(),
});
export type Invoice = {
  id: string;
  invoiceDate: string | null;
  periodStart: string | null;
  periodEnd: string | null;
  totalCharges: string | null;
  currency: string | null;
};
const invoiceListSchema = z.looseObject({ items: z.array(invoiceSchema).default([]) });

const operationSchema = z.looseObject({
  id: z.string().optional(),
  status: z.enum(["notStarted", "running", "succeeded", "failed"]),
  "resourceLocation@odata.navigationLink": z.string().optional(),
  error: z
    .looseObject({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() })
    .optional(),
});
export const manifestSchema = z.looseObject({
  id: z.string(),
  eTag: z.string().optional(),
  rootDirectory: z.string(),
  sasToken: z.string(),
  blobCount: z.number().int().nonnegative().optional(),
  blobs: z.array(z.looseObject({ name: z.string(), partitionValue: z.string().optional() })),
});
export type Manifest = z.infer<typeof manifestSchema>;

export type ExportRequest =
  | { kind: "billed"; invoiceId: string }
  | { kind: "unbilled"; currencyCode: string; billingPeriod: "current" | "last" };

export type PollOptions = {
  /** Wait between polls when Microsoft gives no Retry-After (default 10 s). */
  pollIntervalMs?: number;
  /** Longest wait for one operation before it is reported as never finishing (default 30 min). */
  maxWaitMs?: number;
};

export type ExportResult = { kind: "ready"; manifest: Manifest } | { kind: "no-data"; message: string };

export class PartnerCenterClient {
  private readonly http: MicrosoftHttpOptions;
  private readonly tokens: TokenProvider;
  private readonly retry: RetryPolicy;
  private readonly pcBase: string;
  private readonly graphBase: string;

  constructor(options: {
    http: MicrosoftHttpOptions;
    tokens: TokenProvider;
    retry?: RetryPolicy;
    endpoints?: Endpoints;
  }) {
    this.http = options.http;
    this.tokens = options.tokens;
    this.retry = options.retry ?? {};
    this.pcBase = (options.endpoints?.partnerCenter ?? PARTNER_CENTER_BASE).replace(/\/$/, "");
    this.graphBase = (options.endpoints?.graph ?? GRAPH_BASE).replace(/\/$/, "");
  }

  /** GET /v1/invoices: the partner's invoices (new commerce invoices ignore paging, docs/partner-center.md §3). */
  async listInvoices(): Promise<Invoice[]> {
    const body = await this.json(
      "GET",
      `${this.pcBase}/v1/invoices`,
      PARTNER_CENTER_SCOPE,
      "listing invoices",
    );
    return invoiceListSchema.parse(body).items.map(toInvoice);
  }

  async getInvoice(id: string): Promise<Invoice> {
    const body = await this.json(
      "GET",
      `${this.pcBase}/v1/invoices/${encodeURIComponent(id)}`,
      PARTNER_CENTER_SCOPE,
      `reading invoice ${id}`,
    );
    return toInvoice(invoiceSchema.parse(body));
  }

  /** Checks that Graph accepts the app for billing exports: asks for an operation that cannot exist. */
  async checkGraphAccess(): Promise<void> {
    const url = `${this.graphBase}/v1.0/reports/partners/billing/operations/00000000-0000-0000-0000-000000000000`;
    const response = await withRetries(this.retry, () => this.send("GET", url, GRAPH_SCOPE));
    if (response.status === 404 || response.ok) {
      await response.body?.cancel();
      return;
    }
    const error = await responseError(response, "Microsoft Graph billing");
    if (response.status === 403 || response.status === 401)
      throw new SourceError(
        "permission-missing",
        "Microsoft Graph refused the billing export: the app needs the PartnerBilling.Read.All application permission with admin consent",
        { status: response.status },
      );
    throw error;
  }

  /** Requests the export, polls the operation (honouring Retry-After) and reads the manifest. */
  async export(request: ExportRequest, poll: PollOptions = {}): Promise<ExportResult> {
    const path =
      request.kind === "billed"
        ? "/v1.0/reports/partners/billing/reconciliation/billed/export"
        : "/v1.0/reports/partners/billing/reconciliation/unbilled/export";
    const body =
      request.kind === "billed"
        ? { invoiceId: request.invoiceId, attributeSet: "full" }
        : { currencyCode: request.currencyCode, billingPeriod: request.billingPeriod, attributeSet: "full" };
    const what =
      request.kind === "billed"
        ? `export of invoice ${request.invoiceId}`
        : `unbilled export (${request.currencyCode})`;
    const accepted = await withRetries(this.retry, async () => {
      const response = await this.send("POST", `${this.graphBase}${path}`, GRAPH_SCOPE, body);
      if (response.status !== 202 && !response.ok)
        throw await responseError(response, `requesting the ${what}`);
      await response.body?.cancel();
      const location = response.headers.get("location");
      if (!location)
        throw new SourceError("protocol", `requesting the ${what}: no operation location came back`);
      return {
        location: new URL(location, this.graphBase).toString(),
        retryAfter: retryAfterSeconds(response),
      };
    });
    const interval = poll.pollIntervalMs ?? 10_000;
    const deadline = Date.now() + (poll.maxWaitMs ?? 30 * 60_000);
    let wait = accepted.retryAfter !== undefined ? accepted.retryAfter * 1000 : interval;
    for (;;) {
      if (Date.now() + Math.min(wait, interval) > deadline)
        throw new SourceError(
          "operation-timeout",
          `the ${what} did not finish within ${Math.round((poll.maxWaitMs ?? 1_800_000) / 1000)} s`,
        );
      await sleep(Math.min(wait, interval));
      const { operation, retryAfter } = await withRetries(this.retry, async () => {
        const response = await this.send("GET", accepted.location, GRAPH_SCOPE);
        if (!response.ok) throw await responseError(response, `polling the ${what}`);
        return {
          operation: operationSchema.parse(await response.json()),
          retryAfter: retryAfterSeconds(response),
        };
      });
      if (operation.status === "failed") {
        const code = String(operation.error?.code ?? "");
        const message = operation.error?.message ?? "no reason given";
        // 5000 "No data available": nothing to import, not a failure (docs/partner-center.md §5).
        if (code === "5000") return { kind: "no-data", message: `${what}: ${message} (code 5000)` };
        throw new SourceError(
          "operation-failed",
          `the ${what} failed: ${message}${code ? ` (code ${code})` : ""}`,
        );
      }
      if (operation.status === "succeeded") {
        const link = operation["resourceLocation@odata.navigationLink"];
        if (!link) throw new SourceError("protocol", `the ${what} succeeded without a manifest link`);
        const manifestUrl = new URL(link, this.graphBase).toString();
        const manifest = await this.json(
          "GET",
          manifestUrl,
          GRAPH_SCOPE,
          `reading the manifest of the ${what}`,
        );
        return { kind: "ready", manifest: manifestSchema.parse(manifest) };
      }
      wait = retryAfter !== undefined ? retryAfter * 1000 : interval;
    }
  }

  /**
   * Appends one blob's gzip bytes to `out` as they arrive (gzip members may follow each other in one file) and
   * returns how many were appended. A download that breaks off is a `corrupt-blob` failure here; whether the
   * bytes that did arrive decompress to the end is checked by the import, which inflates every member and its
   * checksum anyway (a second inflate here cost the fetch 5 s and 40–50 MB per million lines, BENCHMARKS.md
   * bench:fetch); `findDamagedBlob` names the blob when the import finds damage. The SAS is sent to the blob
   * host only, never a token.
   */
  async appendBlob(manifest: Manifest, blobName: string, out: Writable): Promise<number> {
    const root = manifest.rootDirectory.replace(/\/$/, "");
    const sas = manifest.sasToken.replace(/^\?/, "");
    const url = `${root}/${blobName.split("/").map(encodeURIComponent).join("/")}?${sas}`;
    const response = await withRetries(this.retry, async () => {
      const r = await microsoftFetch(url, { method: "GET" }, this.http);
      if (r.ok) return r;
      const text = await r.text().catch(() => "");
      if (r.status === 403 && /expired|AuthenticationFailed/i.test(text))
        throw new SourceError("sas-expired", `blob ${blobName}: its download link (SAS) has expired`, {
          status: 403,
        });
      throw await responseError(
        new Response(text, { status: r.status, headers: r.headers }),
        `downloading blob ${blobName}`,
      );
    });
    if (!response.body) throw new SourceError("corrupt-blob", `blob ${blobName} came without a body`);
    let appended = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        appended += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream), count, out, { end: false });
    } catch (error) {
      if (error instanceof SourceError) throw error;
      throw corruptBlob(blobName, error);
    }
    return appended;
  }

  private async json(method: "GET" | "POST", url: string, scope: string, what: string, body?: unknown) {
    return withRetries(this.retry, async () => {
      const response = await this.send(method, url, scope, body);
      if (!response.ok) throw await responseError(response, what);
      const text = (await response.text()).replace(/^\uFEFF/, "");
      try {
        // Amounts are kept as their exact text, never read through a float.
        return JSON.parse(text, (key, value, context?: { source?: string }) =>
          typeof value === "number" && MONEY_KEYS.has(key) && context?.source ? context.source : value,
        ) as unknown;
      } catch {
        throw new SourceError("protocol", `${what}: the answer is not JSON`);
      }
    });
  }

  private async send(method: "GET" | "POST", url: string, scope: string, body?: unknown): Promise<Response> {
    const token = await this.tokens.token(scope);
    return microsoftFetch(
      url,
      {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      this.http,
    );
  }
}

function toInvoice(raw: z.infer<typeof invoiceSchema>): Invoice {
  return {
    id: raw.id,
    invoiceDate: raw.invoiceDate ?? null,
    periodStart: raw.billingPeriodStartDate?.slice(0, 10) ?? null,
    periodEnd: raw.billingPeriodEndDate?.slice(0, 10) ?? null,
    totalCharges: raw.totalCharges ?? null,
    currency: raw.currencyCode?.toUpperCase() ?? null,
  };
}

/** New commerce invoices carry G-numbers; legacy D-invoices are not served by the export (docs/partner-center.md §3). */
export function isNewCommerceInvoice(id: string): boolean {
  return /^G\d+$/i.test(id);
}
