/**
 * The cspsync HTTP API as the web app sees it. Its types are aliases of web/src/api-types.ts, which
 * `npm run gen:api` generates from the server's OpenAPI document (the zod route schemas), so a changed
 * route changes the web app's types and `npm test` fails while the two disagree. The few types below that
 * are narrower than the document say why. Money stays a decimal string all the way to the screen.
 */
import type { components, paths } from "./api-types.ts";

type Schemas = components["schemas"];
type Method = "get" | "post" | "put" | "patch" | "delete";
type JsonOf<R> = R extends { content: { "application/json": infer T } } ? T : never;
/** The JSON a route answers with when it succeeds (200, or 201 for creations). */
export type Reply<P extends keyof paths, M extends Method = "get"> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: infer Ok }
    ? JsonOf<Ok>
    : R extends { 201: infer Created }
      ? JsonOf<Created>
      : never
  : never;
/** The JSON body a route accepts. */
export type Body<P extends keyof paths, M extends Method> = paths[P][M] extends {
  requestBody?: infer B;
}
  ? JsonOf<NonNullable<B>>
  : never;

export type Role = Schemas["User"]["role"];
export type User = Schemas["Session"]["user"];
export type Vendor = Schemas["Connection"]["vendor"];
export type Motion = Schemas["Mapping"]["motion"];
export const MOTIONS: readonly Motion[] = ["seat-monthly", "azure", "seat-annual"];
export const MOTION_LABELS: Record<Motion, string> = {
  "seat-monthly": "Seat-based Monthly",
  azure: "Azure Plan",
  "seat-annual": "Seat-based Annual",
};
export const VENDOR_LABELS: Record<Vendor, string> = { connectwise: "ConnectWise", autotask: "Autotask" };

export type RunStatus = Schemas["Run"]["status"];
export type ItemOutcome = Schemas["RunItem"]["outcome"];
export type RunView = Schemas["Run"];
/** One page of Sync history (GET /api/runs with filters). */
export type RunPage = Reply<"/api/runs">;
/** A held item's approval as data; status is the hold as it stands now. */
export type ItemHold = NonNullable<Schemas["RunItem"]["hold"]>;
/** The run detail's totals over its written lines (exact decimals). */
export type RunTotals = Schemas["RunTotals"];
/** The price rule that set a line's sell price. */
export type PricedBy = Schemas["PricedBy"];
/** A Seat-based Monthly stretch of constant seats, product and price. */
export type MonthlySegment = Schemas["MonthlySegment"];
/** The monthly writes: a ConnectWise addition created or updated, or an Autotask unit adjustment. */
export type MonthlyAction = "create-addition" | "update-addition" | "adjust-units";

/**
 * The planned PSA line a run item or a dry run is about, whichever motion planned it: any field of an
 * annual line, an Azure month or a monthly line (fields a motion does not have are absent; empty for items
 * that never got that far). The document declares a run item's stored details only as an object.
 */
export type PlannedLineDetails = Partial<Schemas["PlannedLine"]> &
  Partial<Schemas["AzureMonthLine"]> &
  Partial<Schemas["MonthlyLine"]>;

export type RunItemView = Omit<Schemas["RunItem"], "details"> & { details: PlannedLineDetails };
export type RunDetail = Omit<Reply<"/api/runs/{id}">, "items"> & { items: RunItemView[] };
/** A Sync now run, its items' lines read as PlannedLineDetails (whichever motion planned them). */
export type RunSummary = Omit<Schemas["RunSummary"], "items"> & {
  items: (Omit<Schemas["RunSummary"]["items"][number], "line"> & { line?: PlannedLineDetails })[];
};
/** What Sync now answers: one run per motion it covered. */
export type SyncResults = { runs: RunSummary[] };

/**
 * A dry run's mapped entry, whichever motion: the document has one shape per motion (annual, Azure and
 * monthly plans differ in their lines, skipped charges and products); the pages read them as one.
 */
export type PlannedEntry = {
  mapping: Schemas["Mapping"];
  customerName: string;
  problem: string | null;
  plan: {
    lines: PlannedLineDetails[];
    skipped: {
      reason: string;
      eventKey?: string;
      subscriptionId?: string;
      month?: string;
      invoiceNumber?: string;
    }[];
  };
  /** Seat-based Annual: the PSA product each line (by write key) would be billed as, or why none matches. */
  products?: Schemas["PlannedMapping"]["products"];
  /** Azure Plan: the PSA product the months would be billed as. */
  product?: Schemas["PlannedAzureMapping"]["product"];
};
export type ProductMatch = NonNullable<Schemas["PlannedAzureMapping"]["product"]>;
/** What the hold for approval does with a line selling below cost (connections that hold such lines). */
export type PlannedHold = NonNullable<Schemas["MotionPlan"]["holds"]>[string];
/** A dry run of one motion: per mapped entry, the lines a sync would write now (nothing is written). */
export type MotionPlan = { motion: Motion; mappings: PlannedEntry[]; holds?: Record<string, PlannedHold> };
export type SyncPlans = Omit<Schemas["SyncPlans"], "plans"> & { plans: MotionPlan[] };

export type PriceRuleKind = Schemas["PriceRule"]["kind"];
export type PriceRule = Schemas["PriceRule"];
/** Where a price came from (docs/price-lists.md). */
export type PriceSource = NonNullable<Schemas["PlannedLine"]["priceSource"]>;
/** An imported Microsoft price list (docs/price-lists.md). */
export type PriceListImport = Schemas["PriceListImport"];
export type PriceListImportResult = Reply<"/api/price-lists", "post">;
export type PriceListEntry = Schemas["PriceListEntry"];
export type BillingProduct = Schemas["BillingProduct"];
export type PriceRuleInput = Body<"/api/connections/{id}/price-rules", "post">;
export type BelowCostAction = Schemas["PricingSettings"]["belowCost"];
export type HeldLine = Schemas["HeldLine"];

export type ProductAction = Schemas["ProductPreviewItem"]["action"];
export type ProductItemKind = Schemas["ProductPreviewItem"]["kind"];
export type ProductPreviewItem = Schemas["ProductPreviewItem"];
export type LinkedPriceUpdates = Schemas["ProductPreview"]["linkedPriceUpdates"];
/** Sell-price changes on linked records that a sync writes only with their fingerprint as confirmation. */
export type PriceConfirmation = Schemas["PriceConfirmation"];
export type ProductPreview = Schemas["ProductPreview"];
export type ProductRun = Schemas["ProductRun"];
export type ProductRunDetail = Reply<"/api/connections/{id}/products/runs/{runId}">;
export type ProductRunItem = ProductRunDetail["items"][number];

/** A connection; its last sync's status is a run status (the document declares it only as a string). */
export type ConnectionView = Omit<Schemas["Connection"], "lastSync"> & {
  lastSync: (NonNullable<Schemas["Connection"]["lastSync"]> & { status: RunStatus }) | null;
};
export type ConnectionTest = Schemas["ConnectionTest"];
export type DashboardView = Reply<"/api/dashboard">;
export type InvoiceSummary = Schemas["InvoiceSummary"];

export type PsaCompany = Schemas["PsaCompany"];
export type PsaAgreement = Schemas["PsaAgreement"];
export type TargetValidity = PsaAgreement["validFor"][Motion];

export type Pricing = Schemas["Mapping"]["pricing"];
export type PricingName = Pricing["strategy"];
export type StartPoint = Schemas["Mapping"]["startPoint"];
export type CustomerMapping = Schemas["MappingEntry"];
/** A motion with billable charges and no mapped entry: how many charges and their cost per currency. */
export type UnmappedCharges = Schemas["UnmappedCharges"];
export type CustomerView = Schemas["CustomerWithMappings"];

/** The PSA lists settings pick from (GET /api/connections/:id/psa/options/:kind). */
export type PsaOptionKind =
  paths["/api/connections/{id}/psa/options/{kind}"]["get"]["parameters"]["path"]["kind"];
export type PsaOption = Schemas["PsaOption"];

/** One page of the Microsoft CSP page, with a count per status filter. */
export type CustomerPage = Reply<"/api/connections/{id}/customers">;
/** The billing data's customers, names only (the Customer pickers). */
export type CustomerNames = Reply<"/api/customers">;
export type CustomerFilter = keyof CustomerPage["counts"];
export type MappingInput = Body<"/api/connections/{id}/customers/{tenantId}/mappings/{motion}", "put">;

export type ImportSummary = Schemas["ImportSummary"];
/** What the user can do about a rejected file, as data: the separator the file uses. */
export type ImportHint = NonNullable<NonNullable<ImportSummary["problem"]>["hint"]>;
/**
 * The CSV separators an upload can be read with; "auto" reads commas and reports another separator. A
 * multipart field, which the document does not describe.
 */
export type ImportDelimiter = "auto" | "comma" | "semicolon" | "tab" | "pipe";
export type ImportRecord = Schemas["ImportRecord"];

export type SyncSettings = Schemas["Settings"];
export type ApiTokenStatus = Schemas["ApiToken"]["status"];
export type ApiToken = Schemas["ApiToken"];
export type UserRecord = Schemas["User"];

/** The reconciliation and margin report of one invoice (docs/reports.md §1). */
export type ReconciliationReport = Reply<"/api/reports/reconciliation">;
export type ReportFigures = ReconciliationReport["totals"][number];
/** One page of the report's lines (the drill-down, filtered by customer, motion and status). */
export type ReportLinePage = Reply<"/api/reports/reconciliation/lines">;
export type ReportLine = ReportLinePage["lines"][number];
export type ReportLineStatus = ReportLine["status"];
export type ReportDrift = ReconciliationReport["drift"][number];
/** Cost, billed, margin and not billed per invoice, oldest first (the month-over-month chart). */
export type ReportTrend = Reply<"/api/reports/trend">;
/** Renewals of the next N days and change windows closing soon (docs/reports.md §2). */
export type RenewalsView = Reply<"/api/renewals">;
export type LedgerEntry = RenewalsView["renewing"][number];
export type FeedToken = Reply<"/api/renewals/feed-token", "post">;
/** Whether a calendar feed address exists and when it was made (never the token). */
export type FeedStatus = Reply<"/api/renewals/feed-token">;

/** Notification channels, their deliveries and settings, and subject health (docs/notifications.md). */
export type NotificationChannel = Schemas["NotificationChannel"];
export type ChannelKind = NotificationChannel["kind"];
export type Severity = NotificationChannel["minSeverity"];
export type KindOverrides = NotificationChannel["overrides"];
export type NotificationChannelInput = Body<"/api/notifications/channels", "post">;
export type NotificationChannelChanges = Body<"/api/notifications/channels/{id}", "patch">;
export type NotificationDelivery = Schemas["NotificationDelivery"];
export type DeliveryStatus = NotificationDelivery["status"];
export type NotificationSettings = Reply<"/api/notifications/settings">;
export type SendTestResult = Reply<"/api/notifications/channels/{id}/test", "post">;
export type SubjectHealth = Schemas["SubjectHealth"];

/**
 * The views above that read the document's per-motion shapes as one must still accept what the server
 * sends: these assignments stop the type check when a regenerated document no longer fits them.
 */
type Accepts<View, Sent extends View> = Sent;
type _ViewsFitTheDocument = [
  Accepts<SyncPlans, Schemas["SyncPlans"]>,
  Accepts<SyncResults, Schemas["SyncResults"]>,
  Accepts<RunDetail, Reply<"/api/runs/{id}">>,
];

/** An error reply from the API: its code, a message meant for people, and the field it is about. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  /** The whole reply, for the few errors that carry more than the message (a product sync's price changes). */
  readonly body: unknown;
  constructor(status: number, code: string, message: string, field?: string, body?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.body = body;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the session has ended on the server (expired, or logged out elsewhere). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy error page, for instance): fall back to the status text.
  }
  const error = (body as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  const retryAfter = response.headers.get("Retry-After");
  let message = error?.message ?? (response.statusText || `The server answered ${response.status}`);
  if (response.status === 429 && retryAfter) message = `${message} Try again in ${retryAfter} seconds.`;
  return new ApiError(response.status, error?.code ?? "internal", message, error?.field, body);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, "network", "cspsync could not be reached. Check your connection and try again.");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !path.startsWith("/api/session") && !path.startsWith("/api/setup"))
      onUnauthorized();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, body),
  delete: <T = void>(path: string) => request<T>("DELETE", path),
};

export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}

export type UploadProgress = { loaded: number; total: number };

/** Uploads one Microsoft price list CSV (multipart, part "file"); errors come back as ApiError. */
export async function uploadPriceList(file: File): Promise<PriceListImportResult> {
  const form = new FormData();
  form.append("file", file, file.name);
  const headers: Record<string, string> = { Accept: "application/json" };
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch("/api/price-lists", {
    method: "POST",
    body: form,
    headers,
    credentials: "same-origin",
  });
  const body = (await response.json().catch(() => null)) as
    (PriceListImportResult & { error?: { code?: string; message?: string; field?: string } }) | null;
  if (response.ok && body) return body;
  if (response.status === 401) onUnauthorized();
  throw new ApiError(
    response.status,
    body?.error?.code ?? "internal",
    body?.error?.message ?? `The upload failed (${response.status} ${response.statusText})`,
    body?.error?.field,
  );
}

/** Uploads files as multipart/form-data with XHR, whose upload events give real progress. */
export function uploadFiles(
  files: File[],
  onProgress: (progress: UploadProgress) => void,
  options: { delimiter?: ImportDelimiter } = {},
): Promise<{ files: ImportSummary[] }> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    // Before the files, so the server knows it before it reads them.
    if (options.delimiter && options.delimiter !== "auto") form.append("delimiter", options.delimiter);
    for (const file of files) form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/imports");
    xhr.setRequestHeader("Accept", "application/json");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress({ loaded: event.loaded, total: event.total });
    });
    xhr.addEventListener("load", () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // handled below
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        resolve(body as { files: ImportSummary[] });
        return;
      }
      const error = (body as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
      if (xhr.status === 401) onUnauthorized();
      reject(
        new ApiError(
          xhr.status,
          error?.code ?? "internal",
          error?.message ?? `The upload failed (${xhr.status} ${xhr.statusText})`,
          error?.field,
        ),
      );
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network", "The upload was interrupted. Check your connection and try again.")),
    );
    xhr.send(form);
  });
}
