import { createHmac, createPublicKey, randomBytes, randomUUID, verify as verifySignature } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import type { EmulatorStats, RequestLogEntry } from "../kit.ts";
import fs from "node:fs";
import { blobStream, prebuildBlobs, scanCurrency, scanFile, type SeededInvoice } from "./seed.ts";

/**
 * Microsoft Partner Center, emulated on one local HTTP server (docs/partner-center.md §8): the Entra ID token
 * endpoint (client credentials, secret or certificate), the Partner Center invoices API (v1), the Graph billing
 * reconciliation export (billed and unbilled, operations, manifests) and blob downloads with expiring SAS tokens.
 * Paths are Microsoft's, under a prefix per host (the sign-in host's at the root, as msal expects the tenant
 * first): /{tenant}/oauth2/v2.0/token, /partnercenter, /graph, /blob. Faults are set with
 * `faults` or POST /__emulator/faults; /__emulator/requests and /__emulator/stats show what was asked.
 */
export const DEMO_TENANT_ID = "5f4d7e1c-0000-4000-8000-00000000d3a0";
export const DEMO_CLIENT_ID = "8a1b2c3d-0000-4000-8000-0000000000ac";
export const DEMO_CLIENT_SECRET = "demo-client-secret";

export type EmulatedApp = {
  clientId: string;
  secret?: string;
  /** PEM certificate (or public key) whose private key signs the app's client assertions. */
  certificatePem?: string;
  secretExpired?: boolean;
  /** Admin consent given (default true). */
  consented?: boolean;
  /** PartnerBilling.Read.All granted on Graph (default true). */
  graphPermission?: boolean;
  /** Registered for Partner Center API access (default true). */
  partnerCenterAccess?: boolean;
};

const faultSchema = z.object({
  kind: z.enum([
    "rate-limit",
    "server-error",
    "slow-operation",
    "failed-operation",
    "expired-sas",
    "truncated-blob",
    "stalled-blob",
    "changed-etag",
    "partial-data",
  ]),
  method: z.string().optional(),
  /** A substring of the path the fault applies to. */
  path: z.string().optional(),
  times: z.number().int().positive().optional(),
  retryAfterSeconds: z.number().nonnegative().optional(),
  status: z.number().int().min(400).max(599).optional(),
  /** slow-operation: polls answered "running" before the operation finishes (default 3). */
  polls: z.number().int().nonnegative().optional(),
  /** failed-operation: the error code and message (default 5000, "No data available"). */
  code: z.string().optional(),
  message: z.string().optional(),
  /**
   * stalled-blob: the blob's first half is sent, then the download waits until releaseStalledBlobs() (or
   * POST /__emulator/release) — then the rest follows, or, with `cut`, the download ends there, cut short.
   */
  cut: z.boolean().optional(),
});
export type PartnerCenterFault = z.infer<typeof faultSchema>;
type ActiveFault = PartnerCenterFault & { id: string; fired: number };

export type PartnerCenterEmulatorOptions = {
  port?: number;
  host?: string;
  tenantId?: string;
  apps?: EmulatedApp[];
  /** Reconciliation files whose invoices the partner has (more can be added with addFile). */
  files?: string[];
  /** Files whose lines are the open period's unbilled data. */
  unbilledFiles?: string[];
  /** Lines per blob (default 50,000). */
  linesPerBlob?: number;
  /**
   * Build each billed invoice's gzipped blobs once, when its file is added, into this directory, and serve them
   * from there: no re-reading of the file or compressing during downloads (bench:fetch).
   */
  prebuildBlobsDir?: string;
  /** How long a manifest's SAS token is valid (default 3600 s). */
  sasSeconds?: number;
  /** Polls an export stays "running" (default 1) and the Retry-After it gives (default 0 s). */
  operationPolls?: number;
  retryAfterSeconds?: number;
  faults?: PartnerCenterFault[];
};

export type PartnerCenterEmulator = {
  url: string;
  /** The endpoint bases cspsync is pointed at. */
  endpoints: { login: string; partnerCenter: string; graph: string };
  tenantId: string;
  clientId: string;
  clientSecret: string;
  invoices(): SeededInvoice[];
  addFile(file: string): Promise<SeededInvoice[]>;
  /** A new "data version" of the invoice: its manifest's eTag changes. */
  changeEtag(invoiceId: string): void;
  addFaults(faults: PartnerCenterFault | PartnerCenterFault[]): void;
  clearFaults(): void;
  /** Lets every download held by a stalled-blob fault go on (the rest of its blob, or its cut). */
  releaseStalledBlobs(): void;
  /** Resolves once a download is held by a stalled-blob fault (its first half sent). */
  blobStalled(): Promise<void>;
  requestLog(): RequestLogEntry[];
  clearRequestLog(): void;
  stats(): EmulatorStats;
  close(): Promise<void>;
};

type Operation = {
  id: string;
  pollsLeft: number;
  retryAfter: number;
  failure?: { code: string; message: string };
  manifest?: {
    invoiceId?: string;
    currency?: string;
    file: string;
    lines: number;
    etag: string;
    /** The manifest leaves out its last blob: data missing without an error, as Microsoft has done. */
    partial?: boolean;
    /** Blobs built ahead (prebuildBlobsDir). */
    blobFiles?: string[];
  };
};

type Grant = { scope: "graph" | "partnercenter"; app: EmulatedApp; expires: number };

export async function startPartnerCenterEmulator(
  options: PartnerCenterEmulatorOptions = {},
): Promise<PartnerCenterEmulator> {
  const tenantId = options.tenantId ?? DEMO_TENANT_ID;
  const apps = options.apps ?? [{ clientId: DEMO_CLIENT_ID, secret: DEMO_CLIENT_SECRET }];
  const linesPerBlob = options.linesPerBlob ?? 50_000;
  const sasSeconds = options.sasSeconds ?? 3600;
  const sasKey = randomBytes(32);
  const invoices = new Map<string, SeededInvoice>();
  const operations = new Map<string, Operation>();
  const manifests = new Map<string, Required<Operation>["manifest"] & { id: string; expires: number }>();
  const grants = new Map<string, Grant>();
  let faults: ActiveFault[] = [];
  /** Downloads held by a stalled-blob fault, and whoever waits for one to be held. */
  const stalls: (() => void)[] = [];
  const stallWaiters: (() => void)[] = [];
  const releaseStalledBlobs = () => {
    for (const release of stalls.splice(0)) release();
  };
  let nextFault = 1;
  let log: RequestLogEntry[] = [];
  const stats: EmulatorStats = { total: 0, byMethod: {}, byRoute: {}, byStatus: {}, writes: 0 };
  let nextRequest = 1;
  let base = "";

  const addFile = async (file: string) => {
    const found = await scanFile(file);
    if (options.prebuildBlobsDir) {
      const built = await prebuildBlobs(file, linesPerBlob, options.prebuildBlobsDir);
      for (const invoice of found) invoice.blobFiles = built.get(invoice.id) ?? [];
    }
    // An invoice seeded again is a new data version of it: its manifest's eTag changes.
    for (const invoice of found) {
      const before = invoices.get(invoice.id);
      if (before) invoice.etagVersion = before.etagVersion + 1;
      invoices.set(invoice.id, invoice);
    }
    return found;
  };
  for (const file of options.files ?? []) await addFile(file);

  const addFaults = (input: PartnerCenterFault | PartnerCenterFault[]) => {
    for (const rule of Array.isArray(input) ? input : [input])
      faults.push({ ...faultSchema.parse(rule), id: `fault-${nextFault++}`, fired: 0 });
  };
  addFaults(options.faults ?? []);

  /** The first live fault of these kinds that matches the request, counted as fired. */
  const takeFault = (kinds: PartnerCenterFault["kind"][], method: string, path: string) => {
    const fault = faults.find(
      (f) =>
        kinds.includes(f.kind) &&
        (f.times === undefined || f.fired < f.times) &&
        (!f.method || f.method.toUpperCase() === method) &&
        (!f.path || path.includes(f.path)),
    );
    if (fault) fault.fired += 1;
    return fault;
  };

  const sas = (manifestId: string, expires: number) => {
    const se = new Date(expires).toISOString();
    const sig = createHmac("sha256", sasKey).update(`${manifestId}|${se}`).digest("base64url");
    return `sv=2023-11-03&sr=c&sp=rl&se=${encodeURIComponent(se)}&sig=${sig}`;
  };

  type Reply = {
    status: number;
    body?: unknown;
    headers?: Record<string, string>;
    stream?: NodeJS.ReadableStream;
    truncate?: boolean;
    stall?: { cut: boolean };
  };
  const json = (status: number, body?: unknown, headers?: Record<string, string>): Reply => ({
    status,
    body,
    headers: headers ?? {},
  });
  const graphError = (status: number, code: string, message: string) =>
    json(status, { error: { code, message } });

  function bearer(req: IncomingMessage, scope: Grant["scope"]): Grant | Reply {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const grant = token ? grants.get(token) : undefined;
    if (!grant || grant.expires < Date.now())
      return graphError(401, "InvalidAuthenticationToken", "Access token is empty, invalid or expired.");
    if (grant.scope !== scope) return graphError(401, "InvalidAuthenticationToken", "Invalid audience.");
    return grant;
  }

  function token(form: URLSearchParams, tenant: string): Reply {
    const aad = (status: number, code: string, text: string, error = "invalid_client") =>
      json(status, { error, error_description: `AADSTS${code}: ${text}`, error_codes: [Number(code)] });
    if (tenant !== tenantId)
      return aad(
        400,
        "90002",
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID.`,
        "invalid_request",
      );
    if (form.get("grant_type") !== "client_credentials")
      return aad(400, "70003", "The app requested an unsupported grant type.", "unsupported_grant_type");
    const app = apps.find((a) => a.clientId === form.get("client_id"));
    if (!app)
      return aad(
        400,
        "700016",
        `Application with identifier '${form.get("client_id")}' was not found in the directory.`,
        "unauthorized_client",
      );
    const assertion = form.get("client_assertion");
    if (assertion) {
      if (!app.certificatePem || !verifyAssertion(assertion, app.certificatePem, app.clientId))
        return aad(401, "700027", "Client assertion failed signature validation.");
    } else if (app.secretExpired) {
      return aad(401, "7000222", "The provided client secret keys for app are expired.");
    } else if (!app.secret || form.get("client_secret") !== app.secret) {
      return aad(401, "7000215", "Invalid client secret provided.");
    }
    const scope = form.get("scope") ?? "";
    const target = scope.startsWith("https://graph.microsoft.com/")
      ? "graph"
      : scope.startsWith("https://api.partnercenter.microsoft.com/")
        ? "partnercenter"
        : null;
    if (!target)
      return aad(
        400,
        "500011",
        `The resource principal named ${scope} was not found in the tenant.`,
        "invalid_resource",
      );
    if (app.consented === false)
      return aad(
        400,
        "65001",
        "The user or administrator has not consented to use the application.",
        "invalid_grant",
      );
    if (target === "partnercenter" && app.partnerCenterAccess === false)
      return aad(
        400,
        "500011",
        "The resource principal named https://api.partnercenter.microsoft.com was not found in the tenant.",
        "invalid_resource",
      );
    const accessToken = `emu.${randomBytes(24).toString("base64url")}`;
    grants.set(accessToken, { scope: target, app, expires: Date.now() + 3600_000 });
    return json(200, {
      token_type: "Bearer",
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: accessToken,
    });
  }

  const invoiceBody = (invoice: SeededInvoice) => ({
    id: invoice.id,
    invoiceDate: invoice.invoiceDate,
    billingPeriodStartDate: invoice.periodStart,
    totalCharges: Number(invoice.total),
    paidAmount: 0,
    currencyCode: invoice.currency,
    invoiceType: "OneTime",
    documentType: "invoice",
    attributes: { objectType: "Invoice" },
  });

  async function route(
    req: IncomingMessage,
    method: string,
    url: URL,
    raw: string,
  ): Promise<{ reply: Reply; route: string }> {
    const path = url.pathname;
    let m: RegExpExecArray | null;
    if (method === "POST" && (m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path)))
      return {
        route: "POST /:tenant/oauth2/v2.0/token",
        reply: token(new URLSearchParams(raw), decodeURIComponent(m[1]!)),
      };
    if (path.startsWith("/partnercenter/")) {
      const grant = bearer(req, "partnercenter");
      const r = (reply: Reply, name: string) => ({ reply, route: name });
      if ("status" in grant) return r(grant, `${method} /partnercenter`);
      if (method === "GET" && path === "/partnercenter/v1/invoices") {
        const items = [...invoices.values()].map(invoiceBody);
        return r(
          json(200, { totalCount: items.length, items, attributes: { objectType: "Collection" } }),
          "GET /v1/invoices",
        );
      }
      if (method === "GET" && (m = /^\/partnercenter\/v1\/invoices\/([^/]+)$/.exec(path))) {
        const invoice = invoices.get(decodeURIComponent(m[1]!));
        return r(
          invoice
            ? json(200, invoiceBody(invoice))
            : json(404, { code: 2000, description: "Invoice not found" }),
          "GET /v1/invoices/:id",
        );
      }
      return r(json(404, { description: "no such route" }), `${method} /partnercenter (no route)`);
    }
    if (path.startsWith("/graph/")) {
      const grant = bearer(req, "graph");
      const r = (reply: Reply, name: string) => ({ reply, route: name });
      if ("status" in grant) return r(grant, `${method} /graph`);
      if (grant.app.graphPermission === false)
        return r(
          graphError(
            403,
            "Forbidden",
            "Missing role permissions on the request. API requires one of 'PartnerBilling.Read.All'.",
          ),
          `${method} /graph`,
        );
      const billing = "/graph/v1.0/reports/partners/billing";
      if (
        method === "POST" &&
        (m = /\/reconciliation\/(billed|unbilled)\/export$/.exec(path)) &&
        path.startsWith(billing)
      ) {
        const body = JSON.parse(raw || "{}") as Record<string, unknown>;
        const op: Operation = {
          id: randomUUID(),
          pollsLeft: options.operationPolls ?? 1,
          retryAfter: options.retryAfterSeconds ?? 0,
        };
        if (body.attributeSet !== "full" && body.attributeSet !== "basic")
          return r(graphError(400, "BadRequest", "attributeSet must be full or basic"), `POST ${m[0]}`);
        const slow = takeFault(["slow-operation"], method, path);
        if (slow) {
          op.pollsLeft = slow.polls ?? 3;
          op.retryAfter = slow.retryAfterSeconds ?? op.retryAfter;
        }
        const failed = takeFault(["failed-operation"], method, path);
        if (m[1] === "billed") {
          const invoice = invoices.get(String(body.invoiceId ?? ""));
          if (takeFault(["changed-etag"], method, path) && invoice) invoice.etagVersion += 1;
          if (failed)
            op.failure = { code: failed.code ?? "5000", message: failed.message ?? "No data available" };
          else if (!invoice || !/^G/i.test(invoice.id))
            op.failure = { code: "5000", message: "No data available" };
          else
            op.manifest = {
              invoiceId: invoice.id,
              file: invoice.file,
              lines: invoice.lineCount,
              etag: etagOf(invoice),
              partial: Boolean(takeFault(["partial-data"], method, path)),
              ...(invoice.blobFiles ? { blobFiles: invoice.blobFiles } : {}),
            };
        } else {
          const currency = String(body.currencyCode ?? "").toUpperCase();
          const file = options.unbilledFiles?.[0];
          const scanned = file ? await scanCurrency(file, currency) : { lines: 0, total: "0" };
          if (failed)
            op.failure = { code: failed.code ?? "5000", message: failed.message ?? "No data available" };
          else if (!file || scanned.lines === 0) op.failure = { code: "5000", message: "No data available" };
          else op.manifest = { currency, file, lines: scanned.lines, etag: `unbilled-${Date.now()}` };
        }
        operations.set(op.id, op);
        return r(
          json(202, undefined, {
            location: `${base}${billing}/operations/${op.id}`,
            "retry-after": String(op.retryAfter),
          }),
          `POST ${billing.slice(6)}/reconciliation/${m[1]}/export`,
        );
      }
      if (
        method === "GET" &&
        (m = /^\/graph\/v1\.0\/reports\/partners\/billing\/operations\/([^/]+)$/.exec(path))
      ) {
        const name = "GET /v1.0/reports/partners/billing/operations/:id";
        const op = operations.get(m[1]!);
        if (!op) return r(graphError(404, "NotFound", "Operation not found"), name);
        const common = {
          id: op.id,
          createdDateTime: new Date().toISOString(),
          lastActionDateTime: new Date().toISOString(),
        };
        if (op.pollsLeft > 0) {
          op.pollsLeft -= 1;
          return r(
            json(
              200,
              {
                "@odata.type": "#microsoft.graph.partners.billing.runningOperation",
                ...common,
                status: "running",
              },
              { "retry-after": String(op.retryAfter) },
            ),
            name,
          );
        }
        if (op.failure)
          return r(
            json(200, {
              "@odata.type": "#microsoft.graph.partners.billing.failedOperation",
              ...common,
              status: "failed",
              error: op.failure,
            }),
            name,
          );
        let manifestId = [...manifests.entries()].find(
          ([, mf]) => mf === (op as { made?: unknown }).made,
        )?.[0];
        if (!manifestId) {
          manifestId = randomUUID();
          const made = { ...op.manifest!, id: manifestId, expires: Date.now() + sasSeconds * 1000 };
          manifests.set(manifestId, made);
          (op as { made?: unknown }).made = made;
        }
        return r(
          json(200, {
            "@odata.type": "#microsoft.graph.partners.billing.exportSuccessOperation",
            ...common,
            status: "succeeded",
            "resourceLocation@odata.navigationLink": `${base}${billing}/manifests/${manifestId}`,
          }),
          name,
        );
      }
      if (
        method === "GET" &&
        (m = /^\/graph\/v1\.0\/reports\/partners\/billing\/manifests\/([^/]+)$/.exec(path))
      ) {
        const name = "GET /v1.0/reports/partners/billing/manifests/:id";
        const mf = manifests.get(m[1]!);
        if (!mf) return r(graphError(404, "NotFound", "Manifest not found"), name);
        const all = Math.max(1, Math.ceil(mf.lines / linesPerBlob));
        const count = mf.partial && all > 1 ? all - 1 : all;
        return r(
          json(200, {
            id: mf.id,
            schemaVersion: "2",
            dataFormat: "compressedJSON",
            createdDateTime: new Date().toISOString(),
            eTag: mf.etag,
            partnerTenantId: tenantId,
            rootDirectory: `${base}/blob/billingreconciliation/${mf.id}`,
            sasToken: sas(mf.id, mf.expires),
            partitionType: "Default",
            blobCount: count,
            blobs: Array.from({ length: count }, (_, i) => ({
              name: `part-${String(i).padStart(5, "0")}.json.gz`,
              partitionValue: "default",
            })),
          }),
          name,
        );
      }
      return r(graphError(404, "NotFound", "no such route"), `${method} /graph (no route)`);
    }
    if (
      method === "GET" &&
      (m = /^\/blob\/billingreconciliation\/([^/]+)\/part-(\d+)\.json\.gz$/.exec(path))
    ) {
      const name = "GET /blob/:manifest/:blob";
      const mf = manifests.get(m[1]!);
      const se = url.searchParams.get("se") ?? "";
      const expected = mf ? sas(mf.id, mf.expires) : "";
      const given = new URLSearchParams(expected);
      const sasOk =
        mf && url.searchParams.get("sig") === given.get("sig") && se === new Date(mf.expires).toISOString();
      if (!mf || !sasOk)
        return {
          route: name,
          reply: json(403, {
            code: "AuthenticationFailed",
            message: "Server failed to authenticate the request.",
          }),
        };
      if (mf.expires < Date.now() || takeFault(["expired-sas"], method, path))
        return {
          route: name,
          reply: json(403, {
            code: "AuthenticationFailed",
            message: "Signed expiry time must be after signed start time: the SAS has expired.",
          }),
        };
      const index = Number(m[2]);
      const prebuilt = mf.blobFiles?.[index];
      const stream = prebuilt
        ? fs.createReadStream(prebuilt)
        : blobStream(
            mf.file,
            mf.invoiceId !== undefined ? { invoiceId: mf.invoiceId } : { currency: mf.currency! },
            index * linesPerBlob,
            (index + 1) * linesPerBlob,
          );
      const truncate = Boolean(takeFault(["truncated-blob"], method, path));
      const stalled = takeFault(["stalled-blob"], method, path);
      return {
        route: name,
        reply: {
          status: 200,
          headers: { "content-type": "application/octet-stream" },
          stream,
          truncate,
          ...(stalled ? { stall: { cut: stalled.cut ?? false } } : {}),
        },
      };
    }
    return { route: `${method} (no route)`, reply: json(404, { message: `no route for ${path}` }) };
  }

  function record(
    entry: Omit<RequestLogEntry, "id" | "at" | "durationMs" | "write">,
    id: number,
    started: number,
  ) {
    log.push({
      id,
      at: new Date().toISOString(),
      ...entry,
      write: false,
      durationMs: Math.round(performance.now() - started),
    });
    stats.total += 1;
    stats.byMethod[entry.method] = (stats.byMethod[entry.method] ?? 0) + 1;
    const key = `${entry.method} ${entry.route ?? "(no route)"}`;
    stats.byRoute[key] = (stats.byRoute[key] ?? 0) + 1;
    stats.byStatus[String(entry.status)] = (stats.byStatus[String(entry.status)] ?? 0) + 1;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    if (url.pathname.startsWith("/__emulator/")) return admin(method, url, raw, res);
    const id = nextRequest++;
    const started = performance.now();
    // The SAS signature is a credential: the log keeps the path only.
    const logged = {
      method,
      path: url.pathname.startsWith("/blob/") ? url.pathname : `${url.pathname}${url.search}`,
    };
    const fault = /\/oauth2\//.test(url.pathname)
      ? undefined
      : takeFault(["rate-limit", "server-error"], method, url.pathname);
    if (fault) {
      const status = fault.kind === "rate-limit" ? 429 : (fault.status ?? 503);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (fault.kind === "rate-limit") headers["retry-after"] = String(fault.retryAfterSeconds ?? 1);
      res.writeHead(status, headers);
      res.end(
        JSON.stringify(
          status === 429
            ? {
                statusCode: 429,
                message: `Rate limit is exceeded. Try again in ${fault.retryAfterSeconds ?? 1} seconds.`,
              }
            : { error: { code: "ServiceUnavailable", message: "Service unavailable (emulated)" } },
        ),
      );
      return record(
        { ...logged, status, fault: fault.kind === "rate-limit" ? "rate-limit" : "server-error" },
        id,
        started,
      );
    }
    const { reply, route: name } = await route(req, method, url, raw);
    if (reply.stream) {
      res.writeHead(reply.status, reply.headers);
      if (reply.truncate) {
        // Half the first chunk, then the end: the gzip stream stops in the middle, as a cut download does.
        const chunks: Buffer[] = [];
        for await (const chunk of reply.stream) chunks.push(chunk as Buffer);
        const all = Buffer.concat(chunks);
        res.end(all.subarray(0, Math.floor(all.length / 2)));
      } else if (reply.stall) {
        // Half the blob, then a wait until released (a slow or stuck download), then the rest or the cut.
        const chunks: Buffer[] = [];
        for await (const chunk of reply.stream) chunks.push(chunk as Buffer);
        const all = Buffer.concat(chunks);
        const half = Math.floor(all.length / 2);
        res.write(all.subarray(0, half));
        const released = new Promise<void>((resolve) => stalls.push(resolve));
        for (const waiter of stallWaiters.splice(0)) waiter();
        await released;
        if (reply.stall.cut) res.destroy();
        else res.end(all.subarray(half));
      } else {
        for await (const chunk of reply.stream)
          if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
        res.end();
      }
    } else {
      res.writeHead(reply.status, {
        ...(reply.body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
        ...reply.headers,
      });
      res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
    }
    record({ ...logged, route: name, status: reply.status }, id, started);
  }

  function admin(method: string, url: URL, raw: string, res: ServerResponse) {
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const action = `${method} ${url.pathname.slice("/__emulator/".length).replace(/\/$/, "")}`;
    switch (action) {
      case "GET health":
        return send(200, { ok: true, name: "partner-center" });
      case "GET requests":
        return send(
          200,
          log.filter((e) => e.id > Number(url.searchParams.get("since") ?? 0)),
        );
      case "DELETE requests":
        log = [];
        return send(204);
      case "GET stats":
        return send(200, stats);
      case "GET faults":
        return send(200, faults);
      case "POST faults":
        addFaults(JSON.parse(raw) as PartnerCenterFault);
        return send(201, faults);
      case "POST release":
        releaseStalledBlobs();
        return send(204);
      case "DELETE faults":
        faults = [];
        return send(204);
      case "GET invoices":
        return send(200, [...invoices.values()]);
      case "POST etag": {
        const invoice = invoices.get(String((JSON.parse(raw) as { invoiceId?: string }).invoiceId));
        if (!invoice) return send(404, { message: "no such invoice" });
        invoice.etagVersion += 1;
        return send(200, { eTag: etagOf(invoice) });
      }
      default:
        return send(404, { message: `unknown admin endpoint ${action}` });
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((error: unknown) => {
        if (error instanceof z.ZodError || error instanceof SyntaxError) {
          if (!res.headersSent) res.writeHead(400, { "content-type": "application/json" });
          return res.end(JSON.stringify({ message: String(error) }));
        }
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "InternalServerError", message: String(error) } }));
      });
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    endpoints: { login: base, partnerCenter: `${base}/partnercenter`, graph: `${base}/graph` },
    tenantId,
    clientId: apps[0]!.clientId,
    clientSecret: apps[0]!.secret ?? "",
    invoices: () => [...invoices.values()].map((i) => ({ ...i })),
    addFile,
    changeEtag(invoiceId) {
      const invoice = invoices.get(invoiceId);
      if (invoice) invoice.etagVersion += 1;
    },
    addFaults,
    clearFaults: () => {
      faults = [];
    },
    releaseStalledBlobs,
    blobStalled: () =>
      stalls.length > 0 ? Promise.resolve() : new Promise<void>((resolve) => stallWaiters.push(resolve)),
    requestLog: () => structuredClone(log),
    clearRequestLog: () => {
      log = [];
    },
    stats: () => structuredClone(stats),
    close: () =>
      new Promise<void>((resolve, reject) => {
        releaseStalledBlobs();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function etagOf(invoice: SeededInvoice): string {
  return `"${invoice.id}-v${invoice.etagVersion}"`;
}

/** A client assertion (JWT) signed with the certificate's private key, for this app, not expired. */
function verifyAssertion(jwt: string, certificatePem: string, clientId: string): boolean {
  const [head, payload, signature] = jwt.split(".");
  if (!head || !payload || !signature) return false;
  try {
    const header = JSON.parse(Buffer.from(head, "base64url").toString("utf8")) as { alg?: string };
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      sub?: string;
      exp?: number;
    };
    if (claims.sub !== clientId || (claims.exp ?? 0) * 1000 < Date.now()) return false;
    const key = createPublicKey(certificatePem);
    const data = Buffer.from(`${head}.${payload}`);
    const sig = Buffer.from(signature, "base64url");
    if (header.alg === "RS256") return verifySignature("sha256", data, key, sig);
    if (header.alg === "PS256")
      return verifySignature("sha256", data, { key, padding: 6, saltLength: 32 }, sig);
    return false;
  } catch {
    return false;
  }
}
