/**
 * The cspsync HTTP API as the web app sees it (see the API contract). Types mirror the JSON the server
 * sends; money stays a decimal string all the way to the screen.
 */

export type Role = "admin" | "viewer";
export type User = { id: string; email: string; role: Role };
export type Vendor = "connectwise" | "autotask";
export type Motion = "seat-monthly" | "azure" | "seat-annual";
export const MOTIONS: readonly Motion[] = ["seat-monthly", "azure", "seat-annual"];
export const MOTION_LABELS: Record<Motion, string> = {
  "seat-monthly": "Seat-based Monthly",
  azure: "Azure Plan",
  "seat-annual": "Seat-based Annual",
};
export const VENDOR_LABELS: Record<Vendor, string> = { connectwise: "ConnectWise", autotask: "Autotask" };

export type RunStatus = "running" | "no-change" | "success" | "warning" | "error" | "abandoned";
export type ItemOutcome = "written" | "found-existing" | "planned" | "skipped" | "warning" | "error" | "held";

export type RunView = {
  id: string;
  connectionId: string;
  trigger: string;
  scope: Record<string, unknown>;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psaRequests: number;
  message: string | null;
  /** The one customer the run was scoped to; null for all customers. */
  customerTenantId: string | null;
  customerName: string | null;
};

/** One page of Sync history (GET /api/runs with filters). */
export type RunPage = { runs: RunView[]; total: number; offset: number; limit: number };

/** A held item's approval as data; status is the hold as it stands now. */
export type ItemHold = {
  writeKey: string;
  unitCost: string | null;
  unitPrice: string | null;
  status: "held" | "approved" | "written" | "replaced";
  approvedBy: string | null;
};

/** The run detail's totals over its written lines (exact decimals). */
export type RunTotals = {
  lines: number;
  currency: string | null;
  cost: string;
  price: string | null;
  margin: string | null;
};

export type RunDetail = {
  run: RunView;
  connection: { id: string; name: string; vendor: Vendor } | null;
  items: RunItemView[];
  totals: RunTotals;
};

/** The price rule that set a line's sell price. */
export type PricedBy = { ruleId: string; ruleName: string; description: string };

/** A Seat-based Monthly stretch of constant seats, product and price. */
export type MonthlySegment = {
  key: string;
  subscriptionId: string;
  productId: string;
  skuId: string;
  productName: string;
  start: string;
  /** Last day billed; null while the subscription runs on. */
  end: string | null;
  quantity: string;
  unitCost: string;
  unitPrice: string | null;
  pricedBy: PricedBy | null;
  priceSource?: PriceSource;
  atOrBelowCost?: boolean;
  currency: string;
  invoiceNumber: string;
};

/** The monthly writes: a ConnectWise addition created or updated, or an Autotask unit adjustment. */
export type MonthlyAction = "create-addition" | "update-addition" | "adjust-units";

/**
 * The planned PSA line a run item or a dry run is about, whichever motion planned it (fields a motion does not
 * have are absent; empty for items that never got that far).
 */
export type PlannedLineDetails = {
  writeKey?: string;
  customerTenantId?: string;
  subscriptionId?: string;
  productName?: string;
  description?: string;
  quantity?: string;
  unitCost?: string;
  unitPrice?: string | null;
  extendedCost?: string;
  extendedPrice?: string | null;
  effectiveDate?: string;
  isCredit?: boolean;
  currency?: string;
  warnings?: readonly string[];
  /** Seat-based Annual and Azure Plan lines. */
  pricedBy?: PricedBy | null;
  belowCost?: boolean;
  /** Where the price came from (docs/price-lists.md) and whether a charge sells for no more than its cost. */
  priceSource?: PriceSource;
  atOrBelowCost?: boolean;
  /** Azure Plan months. */
  month?: string;
  periodStart?: string;
  periodEnd?: string;
  /** Seat-based Monthly lines. */
  action?: MonthlyAction | string;
  segment?: MonthlySegment | null;
  unitChange?: number;
  unitsAfter?: number;
};

export type RunItemView = {
  sequence: number;
  customerTenantId: string | null;
  customerName: string | null;
  motion: string | null;
  subscriptionId: string | null;
  eventKey: string | null;
  writeKey: string | null;
  outcome: ItemOutcome;
  psaRecordId: string | null;
  message: string | null;
  details: PlannedLineDetails;
  hold?: ItemHold;
  target?: {
    companyName: string | null;
    agreementId: string | null;
    agreementName: string | null;
    link: string | null;
  };
};

export type RunSummary = {
  motion: Motion;
  runId: string;
  status: RunStatus;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psaRequests: number;
  items: (Omit<RunItemView, "sequence" | "customerName" | "motion" | "details"> & {
    line?: PlannedLineDetails;
  })[];
};

/** What Sync now answers: one run per motion it covered. */
export type SyncResults = { runs: RunSummary[] };

/** A dry run of one motion: per mapped entry, the lines a sync would write now (nothing is written). */
export type PlannedEntry = {
  mapping: { customerTenantId: string; motion: Motion; enabled: boolean };
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
  products?: Record<string, ProductMatch>;
  /** Azure Plan: the PSA product the months would be billed as. */
  product?: ProductMatch;
};
export type ProductMatch = { ok: true; productRef: string; label: string } | { ok: false; reason: string };
/** What the hold for approval does with a line selling below cost (connections that hold such lines). */
export type PlannedHold = "would hold" | "held" | "approved";
export type MotionPlan = { motion: Motion; mappings: PlannedEntry[]; holds?: Record<string, PlannedHold> };
export type SyncPlans = {
  dryRun: true;
  plans: MotionPlan[];
  /** Dry run of every customer: customers with charges in a motion no mapping covers, and what they would bill. */
  unmapped?: (UnmappedCharges & { tenantId: string; name: string })[];
};

export type PriceRuleKind = "markup" | "fixed";
export type PriceRule = {
  id: string;
  name: string;
  /** ProductId, ProductId:SkuId or AZURE-PLAN; null: any product. */
  productKey: string | null;
  /** null: any customer. */
  customerTenantId: string | null;
  kind: PriceRuleKind;
  /** markup: percent on cost; fixed: sell price per unit. */
  value: string;
  effectiveFrom: string;
  effectiveTo: string | null;
  description: string;
  /** The product's name in the billing data; null for no product or an unknown one. */
  productName?: string | null;
  createdAt: string;
  updatedAt: string;
};
export type PriceSource =
  "price-list" | "fallback-markup" | "microsoft-list" | "price-rule" | "markup" | "cost-only";
/** An imported Microsoft price list (docs/price-lists.md). */
export type PriceListImport = {
  id: string;
  fileName: string;
  market: string;
  currency: string;
  rowCount: number;
  entryCount: number;
  firstEffective: string;
  lastEffective: string;
  importedAt: string;
  importedBy: string | null;
};
export type PriceListImportResult = {
  import: PriceListImport;
  duplicate: boolean;
  added: number;
  replaced: number;
  skipped: Record<string, number>;
};
export type PriceListEntry = {
  productId: string;
  skuId: string;
  productTitle: string;
  skuTitle: string;
  termDuration: string;
  billingPlan: string;
  currency: string;
  unitPrice: string;
  erpPrice: string;
  tierMin: string | null;
  tierMax: string | null;
  effectiveStart: string;
  effectiveEnd: string | null;
};
export type BillingProduct = { productKey: string; label: string };
export type PriceRuleInput = {
  name?: string;
  productKey: string | null;
  customerTenantId: string | null;
  kind: PriceRuleKind;
  value: string;
  effectiveFrom: string;
  effectiveTo: string | null;
};
export type BelowCostAction = "warn" | "hold";
export type HeldLine = {
  writeKey: string;
  motion: string;
  customerTenantId: string;
  customerName: string | null;
  eventKey: string;
  description: string;
  unitCost: string;
  unitPrice: string;
  pricedBy: PricedBy | null;
  status: "held" | "approved";
  heldAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
};

export type ProductAction = "create" | "link" | "update" | "skip" | "conflict";
export type ProductItemKind = "catalog" | "charge-product";
export type ProductPreviewItem = {
  key: string;
  kind: ProductItemKind;
  /** "Catalog item", "Service" or "Product (for contract charges)". */
  kindLabel: string;
  name: string;
  variant: string;
  action: ProductAction;
  recordId: string | null;
  recordLabel: string | null;
  price: string | null;
  cost: string | null;
  changes: { price?: string; cost?: string };
  /** cspsync: created by cspsync; linked: an existing record cspsync only linked (the MSP's own); null: none. */
  recordOrigin: "cspsync" | "linked" | null;
  /** A linked record's sell price that differs from the billing data's: kept, or written once confirmed. */
  linkedPrice: { from: string | null; to: string; handling: "kept" | "needs-confirmation" } | null;
  /** The PSA record's price and cost now; null when there is no record yet. */
  current: { price: string | null; cost: string | null } | null;
  reason: string;
  notes: string[];
};
export type LinkedPriceUpdates = "never" | "confirm";
/** Sell-price changes on linked records that a sync writes only with their fingerprint as confirmation. */
export type PriceConfirmation = {
  fingerprint: string;
  changes: {
    key: string;
    kind: ProductItemKind;
    name: string;
    recordId: string;
    recordLabel: string | null;
    from: string | null;
    to: string;
    direction: "decrease" | "increase";
  }[];
};
export type ProductPreview = {
  connectionId: string;
  vendor: Vendor;
  mode: "all" | "in-use";
  linkedPriceUpdates: LinkedPriceUpdates;
  counts: Record<ProductAction, number>;
  items: ProductPreviewItem[];
  priceConfirmation: PriceConfirmation;
};
export type ProductRun = {
  id: string;
  connectionId: string;
  trigger: string;
  mode: string;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  written: number;
  unchanged: number;
  conflicts: number;
  failed: number;
  psaRequests: number;
  message: string | null;
};
export type ProductRunItem = {
  sequence: number;
  key: string;
  kind: ProductItemKind;
  name: string;
  action: ProductAction;
  status: "written" | "unchanged" | "conflict" | "failed";
  recordId: string | null;
  message: string;
  notes: string[];
  /** A written product's price and cost, from → to (from null for a new record); null when nothing was written. */
  amounts: {
    created: boolean;
    price?: { from: string | null; to: string; confirmed: boolean };
    cost?: { from: string | null; to: string };
  } | null;
};
export type ProductRunDetail = { run: ProductRun; items: ProductRunItem[] };

export type ConnectionView = {
  id: string;
  vendor: Vendor;
  name: string;
  config: Record<string, unknown>;
  secretsSet: Record<string, boolean>;
  /** False when the server's secret key cannot decrypt the stored credentials: they have to be entered again. */
  credentialsReadable: boolean;
  settings: Record<string, unknown>;
  seatAnnualEnabled: boolean;
  lastTest: { at: string; ok: boolean; message: string } | null;
  /** The most recent finished sync run, with its first error when it failed. */
  lastSync: { at: string; runId: string; status: RunStatus; message: string | null } | null;
  createdAt: string;
  updatedAt: string;
};

export type ConnectionTest = {
  ok: boolean;
  message: string;
  /** A failed test's technical account, for a Details disclosure. */
  detail?: string;
  checks: { name: string; ok: boolean; message: string }[];
};

export type DashboardView = {
  connections: {
    id: string;
    name: string;
    vendor: Vendor;
    seatAnnualEnabled: boolean;
    lastSuccessfulSync: string | null;
    lastRun: RunView | null;
    heldLines: number;
    productSyncMode: string;
    lastProductRun: ProductRun | null;
  }[];
  customers: number;
  invoices: number;
  unmappedCustomers: number;
  erroredRuns: number;
  erroredRunsSince: string;
  heldLines: number;
  dailySync: { dailySyncTime: string; timeZone: string };
};

export type InvoiceSummary = {
  invoiceNumber: string;
  currency: string;
  firstChargeDate: string | null;
  lastChargeDate: string | null;
  lines: number;
  subtotal: string;
  total: string;
  sourceFile: string;
};

export type PsaCompany = { id: string; name: string; identifier?: string };
export type TargetValidity = { ok: true } | { ok: false; reason: string };
export type PsaAgreement = {
  id: string;
  name: string;
  companyId: string;
  type: string;
  billingCycle: string | null;
  startDate: string | null;
  endDate: string | null;
  status: string;
  validFor: Record<Motion, TargetValidity>;
};

export type PricingName = "cost-and-retail" | "cost-only" | "markup";
export type Pricing = { strategy: PricingName; markupPercent?: string; fallbackMarkupPercent?: string };

export type CustomerMapping = {
  motion: Motion;
  psaCompanyId: string | null;
  psaCompanyName: string | null;
  agreementId: string | null;
  agreementName: string | null;
  syncDate: string | null;
  pricing: Pricing;
  enabled: boolean;
  /** Seat-based Monthly: sync from the most recent invoice when enabled, or from the next one. */
  startPoint: StartPoint;
  startInvoice: string | null;
  lastSyncAt: string | null;
  /** How the last run that covered the entry ended for it; null: never synced. */
  lastStatus: "no-change" | "written" | "held" | "warning" | "error" | null;
  lastMessage: string | null;
};

/** A motion with billable charges and no mapped entry: how many charges and their cost per currency. */
export type UnmappedCharges = {
  motion: Motion;
  lines: number;
  totals: { currency: string; amount: string }[];
};

export type CustomerView = {
  tenantId: string;
  name: string;
  domain: string | null;
  country: string | null;
  mappings: CustomerMapping[];
  /** Lines held for approval on the connection and not yet written. */
  heldLines: number;
  unmappedCharges: UnmappedCharges[];
};

/** The PSA lists settings pick from (GET /api/connections/:id/psa/options/:kind). */
export type PsaOptionKind = "billing-codes" | "products" | "vendors" | "subcategories" | "product-types";
export type PsaOption = { id: string; name: string; detail?: string };

/** The Microsoft CSP page's status filters. */
export type CustomerFilter = "all" | "unmapped" | "mapped" | "error" | "held";
export type CustomerPage = {
  customers: CustomerView[];
  total: number;
  page: number;
  pageSize: number;
  counts: Record<CustomerFilter, number>;
};

export type MappingInput = {
  psaCompanyId: string;
  agreementId: string;
  syncDate: string | null;
  pricing: PricingName;
  markupPercent?: string;
  fallbackMarkupPercent?: string;
  enabled: boolean;
  startPoint?: StartPoint;
};

export type StartPoint = "most-recent" | "next";

export type ImportSummary = {
  importId: string;
  file: string;
  format: string;
  status: "imported" | "rejected" | "empty";
  invoices: string[];
  lines: number;
  newLines: number;
  knownLines: number;
  customers: number;
  newEvents: number;
  linesByMotion: Record<Motion, number>;
  notBillable: number;
  problem?: { row?: number; column?: string; reason: string; message: string; hint?: ImportHint };
};

/** What the user can do about a rejected file, as data: the separator the file uses. */
export type ImportHint = { kind: "delimiter"; detected: string; expected: string };

/** The CSV separators an upload can be read with; "auto" reads commas and reports another separator. */
export type ImportDelimiter = "auto" | "comma" | "semicolon" | "tab" | "pipe";

export type ImportRecord = {
  id: string;
  fileName: string;
  format: string;
  status: string;
  startedAt: string;
  lines: number;
  newLines: number;
  knownLines: number;
  error: string | null;
};

export type SyncSettings = { dailySyncTime: string; timeZone: string };
export type ApiTokenStatus = "active" | "expired" | "owner-deleted" | "owner-demoted";
export type ApiToken = {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  lastUsedAt: string | null;
  /** null: never expires. */
  expiresAt: string | null;
  /** The user the token acts for; null once that user is deleted. */
  owner: { id: string; email: string } | null;
  status: ApiTokenStatus;
};
export type UserRecord = User & { createdAt?: string; lastLoginAt?: string | null };

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
