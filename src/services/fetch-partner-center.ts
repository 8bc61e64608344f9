import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { Dec } from "../core/money.ts";
import { ReconFileError } from "../sources/reconciliation/errors.ts";
import { GrowingFileWriter } from "../sources/reconciliation/growing-file.ts";
import { readLines } from "../sources/reconciliation/read-lines.ts";
import {
  isNewCommerceInvoice,
  PartnerCenterClient,
  type Invoice,
  type Manifest,
  type PollOptions,
} from "../sources/partner-center/client.ts";
import { findDamagedBlob, type BlobExtent } from "../sources/partner-center/blob-check.ts";
import { SourceError, type RetryPolicy, type SourceErrorKind } from "../sources/partner-center/http.ts";
import { createTokenProvider } from "../sources/partner-center/token.ts";
import type { Store } from "../store/db.ts";
import { newFetchRun, type FetchHistoryRow } from "../store/sources-repository.ts";
import type { FetchRunStatus } from "../store/schema.ts";
import { importReconFile, type ImportProgress, type ImportSummary } from "./import-recon.ts";
import type { SourceConnectionService, SourceTest, SourceView } from "./source-connections.ts";

/**
 * Fetching billing data from Microsoft Partner Center (docs/partner-center.md §5): list the invoices, export
 * each new-commerce invoice not imported yet through Graph, download its blobs into one gzipped JSON Lines file
 * and import it whole or not at all, after checking that its lines add up to the invoice's total. Every fetch
 * leaves one run record with its steps and outcome (status, error kind, message), which the daily pipeline and
 * notifications read.
 */
export type FetchApp = {
  store: Store;
  organizationId: string;
  dataDir: string;
  microsoftAllowedHosts: readonly string[];
  sources: SourceConnectionService;
};

export type FetchOptions = {
  trigger: string;
  /** Only this invoice, exported again even when known (a changed eTag is then imported). */
  invoiceId?: string;
  /** Fetch the open period's unbilled data too (default: true for the daily check). */
  unbilled?: boolean;
  /** Billed invoices (default true; false with --unbilled alone). */
  billed?: boolean;
  poll?: PollOptions;
  retry?: RetryPolicy;
  /** Per-request timeout (default 60 s). */
  timeoutMs?: number;
  /**
   * The claim's lease (default 5 min): the fetching worker heartbeats its invoice claim every fifth of it, and a
   * claim silent for longer (its worker died) is taken over, on the database's clock.
   */
  claimLeaseMs?: number;
  /** The fetch run's id (one queued by "Fetch now" is taken over); default a new one. */
  runId?: string;
  /**
   * Hears an invoice's import as it goes, while its blobs may still be downloading: the lines written so far
   * (inside its transaction, so none is stored before the last one is).
   */
  onImportProgress?: (progress: { invoiceId: string; lines: number }) => void;
};

/**
 * How long a fetch may stay queued before it is given up (docs/partner-center.md §7): far longer than a fetch
 * of the same source that it may wait behind (the job's serial key) takes, so only a fetch that no worker takes
 * (none runs, or its job was lost) reaches it.
 */
export const QUEUED_FETCH_EXPIRY_MS = 60 * 60_000;

/**
 * Fetch runs queued for longer than QUEUED_FETCH_EXPIRY_MS turn failed ("not-run") with a message that says
 * why; run before a fetch history is read. Returns how many were given up.
 */
export async function expireQueuedFetches(app: Pick<FetchApp, "sources">, now = Date.now()): Promise<number> {
  const minutes = Math.round(QUEUED_FETCH_EXPIRY_MS / 60_000);
  return app.sources.repository.expireQueuedFetchRuns(
    new Date(now - QUEUED_FETCH_EXPIRY_MS).toISOString(),
    `Partner Center: no worker took this fetch within ${minutes} minutes, so it was given up; ` +
      "start a worker (cspsync serve or cspsync worker) and fetch again",
  );
}

/** Default lease of an invoice claim: several heartbeats, far shorter than an export may take. */
export const CLAIM_LEASE_MS = 5 * 60_000;

export type InvoiceOutcome = {
  invoiceId: string;
  outcome: "imported" | "unchanged" | "no-data" | "rejected" | "failed" | "claimed-elsewhere";
  lines?: number;
  newLines?: number;
  importId?: string;
  errorKind?: SourceErrorKind;
  message?: string;
};

export type UnbilledOutcome = {
  currency: string;
  outcome: "stored" | "no-data" | "failed";
  lines?: number;
  total?: string;
  message?: string;
};

export type FetchOutcome = {
  runId: string;
  sourceId: string;
  sourceName: string;
  status: Exclude<FetchRunStatus, "running">;
  /** The first failure's kind (null when nothing failed): what notifications act on. */
  errorKind: SourceErrorKind | null;
  message: string;
  /** A failure worth retrying soon (throttled, Microsoft down, a blob cut short). */
  transient: boolean;
  invoices: InvoiceOutcome[];
  unbilled: UnbilledOutcome[];
  newLines: number;
  imports: ImportSummary[];
};

type Step = { at: string; step: string; detail: string };

function clientFor(
  app: FetchApp,
  view: SourceView,
  secrets: { clientSecret?: string; privateKeyPem?: string },
  options: Pick<FetchOptions, "retry" | "timeoutMs">,
) {
  const http = { allowedHosts: app.microsoftAllowedHosts, timeoutMs: options.timeoutMs ?? 60_000 };
  const tokens = createTokenProvider({
    tenantId: view.config.tenantId,
    clientId: view.config.clientId,
    credential:
      view.config.credential === "certificate"
        ? {
            kind: "certificate",
            privateKeyPem: secrets.privateKeyPem ?? "",
            thumbprintSha256: view.config.thumbprintSha256 ?? "",
          }
        : { kind: "secret", clientSecret: secrets.clientSecret ?? "" },
    ...(view.config.endpoints ? { loginBase: view.config.endpoints.login } : {}),
    http,
  });
  return new PartnerCenterClient({
    http,
    tokens,
    retry: options.retry ?? {},
    ...(view.config.endpoints
      ? {
          endpoints: {
            partnerCenter: view.config.endpoints.partnerCenter,
            graph: view.config.endpoints.graph,
          },
        }
      : {}),
  });
}

/**
 * Test connection: a token for each API, then one call to each, so every way it fails is named (wrong tenant,
 * secret expired, consent missing, permission missing). Stored as the source's last test.
 */
export async function testSource(
  app: FetchApp,
  idOrName: string,
  options: Pick<FetchOptions, "retry" | "timeoutMs"> = {},
): Promise<SourceTest> {
  const { view, secrets } = await app.sources.details(idOrName);
  const client = clientFor(app, view, secrets, { retry: { attempts: 2, ...options.retry }, ...options });
  let test: SourceTest;
  try {
    await client.listInvoices();
    await client.checkGraphAccess();
    test = {
      at: new Date().toISOString(),
      ok: true,
      kind: null,
      message: "tokens for Partner Center and Graph; invoices readable; billing export allowed",
    };
  } catch (error) {
    if (!(error instanceof SourceError)) throw error;
    test = { at: new Date().toISOString(), ok: false, kind: error.reason, message: error.message };
  }
  await app.sources.recordTest(view.id, test);
  return test;
}

export async function fetchSource(
  app: FetchApp,
  idOrName: string,
  options: FetchOptions,
): Promise<FetchOutcome> {
  const { view, secrets } = await app.sources.details(idOrName);
  const repo = app.sources.repository;
  const runId = options.runId ?? randomUUID();
  const steps: Step[] = [];
  const step = (name: string, detail: string) =>
    steps.push({ at: new Date().toISOString(), step: name, detail });
  await repo.startFetchRun(
    newFetchRun({ id: runId, sourceId: view.id, trigger: options.trigger, status: "running" }),
  );
  const invoices: InvoiceOutcome[] = [];
  const unbilled: UnbilledOutcome[] = [];
  const imports: ImportSummary[] = [];
  let failure: SourceError | null = null;
  const client = clientFor(app, view, secrets, options);
  const currencies = new Set<string>();
  try {
    if (options.billed !== false) {
      const listed = options.invoiceId
        ? [await client.getInvoice(options.invoiceId)]
        : await client.listInvoices();
      const modern = listed.filter((i) => isNewCommerceInvoice(i.id));
      for (const i of modern) if (i.currency) currencies.add(i.currency);
      step("invoices", `${listed.length} invoice(s) listed, ${modern.length} new commerce`);
      for (const invoice of modern.sort((a, b) => (a.id < b.id ? -1 : 1))) {
        const outcome = await fetchInvoice(app, client, view, invoice, options, imports);
        if (outcome === null) continue;
        invoices.push(outcome);
        step(`invoice ${invoice.id}`, outcome.message ?? outcome.outcome);
        if (outcome.outcome === "failed" || outcome.outcome === "rejected")
          failure ??= new SourceError(outcome.errorKind ?? "protocol", outcome.message ?? "failed");
      }
    }
    if (options.unbilled) {
      if (currencies.size === 0) for (const c of view.config.unbilledCurrencies ?? ["USD"]) currencies.add(c);
      for (const currency of [...currencies].sort()) {
        const outcome = await fetchUnbilled(app, client, view, currency, options);
        unbilled.push(outcome);
        step(`unbilled ${currency}`, outcome.message ?? `${outcome.outcome}: ${outcome.lines ?? 0} line(s)`);
      }
    }
  } catch (error) {
    if (!(error instanceof SourceError)) {
      await repo.updateFetchRun(runId, {
        status: "failed",
        error_kind: "protocol",
        message: String(error),
        steps: JSON.stringify(steps),
        finished_at: new Date().toISOString(),
      });
      throw error;
    }
    failure = error;
    step("failed", error.message);
  }
  const newLines = imports.reduce((n, s) => n + s.newLines, 0);
  const imported = invoices.filter((i) => i.outcome === "imported");
  const status: FetchOutcome["status"] = failure
    ? "failed"
    : imported.length > 0
      ? "imported"
      : "nothing-new";
  const message = failure
    ? failure.message
    : imported.length > 0
      ? `Partner Center: ${imported.length} new invoice(s) ${imported.map((i) => `${i.invoiceId} (${(i.lines ?? 0).toLocaleString("en-US")} lines)`).join(", ")}`
      : "Partner Center: nothing new";
  await repo.updateFetchRun(runId, {
    status,
    error_kind: failure?.reason ?? null,
    message,
    steps: JSON.stringify(steps),
    summary: JSON.stringify({ invoices, unbilled, newLines }),
    finished_at: new Date().toISOString(),
  });
  return {
    runId,
    sourceId: view.id,
    sourceName: view.name,
    status,
    errorKind: failure?.reason ?? null,
    message,
    transient: failure?.transient ?? false,
    invoices,
    unbilled,
    newLines,
    imports,
  };
}

/** Records the sync jobs the pipeline queued after this fetch (the link from fetch to syncs). */
export async function linkSyncJobs(
  app: FetchApp,
  runId: string,
  jobs: { connectionId: string; jobId: string | null }[],
) {
  await app.sources.repository.updateFetchRun(runId, { sync_jobs: JSON.stringify(jobs) });
}

/** null: known and unchanged, nothing asked of Microsoft. */
async function fetchInvoice(
  app: FetchApp,
  client: PartnerCenterClient,
  view: SourceView,
  invoice: Invoice,
  options: FetchOptions,
  imports: ImportSummary[],
): Promise<InvoiceOutcome | null> {
  const repo = app.sources.repository;
  const known = await repo.invoice(invoice.id);
  const settled = known && (known.status === "imported" || known.status === "no-data");
  // A known invoice is exported again only when asked for by id or when its total changed (an amendment):
  // the daily check asks nothing of Graph for invoices it has (docs/partner-center.md §5).
  const totalChanged =
    known?.invoice_total !== null &&
    known?.invoice_total !== undefined &&
    invoice.totalCharges !== null &&
    !new Dec(known.invoice_total).eq(invoice.totalCharges);
  if (settled && !options.invoiceId && !totalChanged) return null;
  const token = randomUUID();
  const lease = options.claimLeaseMs ?? CLAIM_LEASE_MS;
  // A settled invoice is claimed again only when asked for by id or when its total changed; otherwise a worker
  // that read the list before another one settled the invoice finds it settled here and leaves it.
  const claimed = await repo.claimInvoice(
    invoice.id,
    view.id,
    token,
    lease,
    { currency: invoice.currency, invoice_total: invoice.totalCharges, period_start: invoice.periodStart },
    { reclaimSettled: options.invoiceId !== undefined },
  );
  if (!claimed) {
    const now = await repo.invoice(invoice.id);
    if (now && (now.status === "imported" || now.status === "no-data") && !options.invoiceId) return null;
    return {
      invoiceId: invoice.id,
      outcome: "claimed-elsewhere",
      message: `${invoice.id} is being fetched by another worker`,
    };
  }
  // The heartbeat keeps the claim while the export runs; a worker that dies stops it and loses the claim
  // after the lease (docs/partner-center.md §6).
  let lost = false;
  const heartbeat = setInterval(
    () => {
      repo.heartbeatClaim(invoice.id, token).then(
        (held) => (lost ||= !held),
        () => undefined,
      );
    },
    Math.max(10, Math.floor(lease / 5)),
  );
  heartbeat.unref();
  try {
    return await fetchClaimedInvoice(app, client, view, invoice, known, options, imports, token, () => lost);
  } finally {
    clearInterval(heartbeat);
  }
}

async function fetchClaimedInvoice(
  app: FetchApp,
  client: PartnerCenterClient,
  view: SourceView,
  invoice: Invoice,
  known: Awaited<ReturnType<FetchApp["sources"]["repository"]["invoice"]>>,
  options: FetchOptions,
  imports: ImportSummary[],
  token: string,
  claimLost: () => boolean,
): Promise<InvoiceOutcome | null> {
  const repo = app.sources.repository;
  try {
    let result = await client.export({ kind: "billed", invoiceId: invoice.id }, options.poll);
    if (result.kind === "no-data") {
      await repo.settleInvoice(invoice.id, token, {
        status: "no-data",
        message: result.message,
        fetched_at: new Date().toISOString(),
      });
      return { invoiceId: invoice.id, outcome: "no-data", message: result.message };
    }
    if (known?.status === "imported" && known.etag && known.etag === result.manifest.eTag) {
      await repo.settleInvoice(invoice.id, token, { status: "imported" });
      return {
        invoiceId: invoice.id,
        outcome: "unchanged",
        message: `${invoice.id}: same data version (eTag), nothing downloaded`,
      };
    }
    const dir = fs.mkdtempSync(path.join(ensureDir(path.join(app.dataDir, "fetch")), "invoice-"));
    const file = path.join(dir, `${invoice.id}.jsonl.gz`);
    const claimedElsewhere: InvoiceOutcome = {
      invoiceId: invoice.id,
      outcome: "claimed-elsewhere",
      message: `${invoice.id}: another worker took the claim over while this one was silent; it imports it`,
    };
    try {
      // Taken over while this worker was silent for longer than the lease (a long export): the other worker
      // imports it.
      if (claimLost() || !(await repo.holdsClaim(invoice.id, token))) return claimedElsewhere;
      const claim = { lost: claimLost, held: () => repo.holdsClaim(invoice.id, token) };
      let fetched: FetchedFile;
      try {
        fetched = await downloadAndImport(app, client, invoice, result.manifest, file, claim, options);
      } catch (error) {
        // A SAS that expired before the download: a new export gives a new one, once. Whatever the first
        // attempt had imported was rolled back with it.
        if (!(error instanceof SourceError && error.reason === "sas-expired")) throw error;
        result = await client.export({ kind: "billed", invoiceId: invoice.id }, options.poll);
        if (result.kind === "no-data") throw error;
        fetched = await downloadAndImport(app, client, invoice, result.manifest, file, claim, options);
      }
      if (fetched === "claim-lost") return claimedElsewhere;
      const { summary, incomplete } = fetched;
      imports.push(summary);
      if (summary.status !== "imported") {
        const kind: SourceErrorKind = incomplete ? "incomplete" : "rejected";
        const message = incomplete ?? summary.problem?.message ?? `${invoice.id} was ${summary.status}`;
        await repo.settleInvoice(invoice.id, token, {
          status: "rejected",
          error_kind: kind,
          message,
          import_id: summary.importId,
        });
        return {
          invoiceId: invoice.id,
          outcome: "rejected",
          errorKind: kind,
          message,
          importId: summary.importId,
        };
      }
      const mine = summary.lines;
      await repo.settleInvoice(invoice.id, token, {
        status: "imported",
        etag: result.manifest.eTag ?? null,
        import_id: summary.importId,
        line_count: mine,
        line_total: invoice.totalCharges,
        error_kind: null,
        message: null,
        fetched_at: new Date().toISOString(),
      });
      return {
        invoiceId: invoice.id,
        outcome: "imported",
        lines: summary.lines,
        newLines: summary.newLines,
        importId: summary.importId,
        message: `${invoice.id}: ${summary.lines} line(s), ${summary.newLines} new`,
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } catch (error) {
    const failure = error instanceof SourceError ? error : null;
    await repo.settleInvoice(invoice.id, token, {
      status: "failed",
      error_kind: failure?.reason ?? "protocol",
      message: error instanceof Error ? error.message : String(error),
    });
    if (!failure) throw error;
    return { invoiceId: invoice.id, outcome: "failed", errorKind: failure.reason, message: failure.message };
  }
}

/** The claim was taken over by another worker while this one downloaded or imported (docs/partner-center.md §6). */
class ClaimLostError extends Error {}

type FetchedFile = { summary: ImportSummary; incomplete: string | null } | "claim-lost";

/**
 * Downloads the export's blobs into one gzipped JSON Lines file and imports it at the same time: the import
 * reads the file as it grows (src/sources/reconciliation/growing-file.ts) instead of waiting for the last blob,
 * in one transaction as before. The download's failure wins: a blob that breaks off (or any other download
 * error) fails the growing file, the import then fails and rolls back, storing nothing, and the download's error
 * is what the fetch reports (and retries). Lines of other invoices or a sum short of the invoice total reject
 * the import inside its transaction (`incomplete` says why).
 */
async function downloadAndImport(
  app: FetchApp,
  client: PartnerCenterClient,
  invoice: Invoice,
  manifest: Manifest,
  file: string,
  claim: { lost: () => boolean; held: () => Promise<boolean> },
  options: Pick<FetchOptions, "onImportProgress">,
): Promise<FetchedFile> {
  const out = GrowingFileWriter.create(file);
  const blobs: BlobExtent[] = [];
  let importEnded = false;
  const download = (async () => {
    try {
      for (const blob of manifest.blobs) {
        // The import ended before the download (it failed): the rest is not needed. What was appended is kept
        // on disk whole, for findDamagedBlob to name a blob that was cut short.
        if (importEnded) {
          await endWriting(out);
          return out.fail();
        }
        blobs.push(await appendExtent(client, manifest, blob.name, out, blobs));
      }
      await endWriting(out);
      // The import cannot commit before the file is complete, so this is the last moment to learn that another
      // worker took the claim over. Only on PostgreSQL: SQLite's one connection is the import's until it commits
      // (the query would wait for it), and no other process can take the claim while the import holds the
      // database's write lock.
      if (app.store.dialect === "postgres" && !(await claim.held())) throw new ClaimLostError();
      out.complete();
    } catch (error) {
      out.fail();
      throw error;
    }
  })();
  let incomplete: string | null = null;
  const importing = importReconFile(app.store, file, {
    organizationId: app.organizationId,
    // The size is not known up front: read on a worker thread, as a large file import does.
    parallelRead: true,
    read: { growing: out.signal },
    ...(options.onImportProgress
      ? {
          onProgress: (p: ImportProgress) =>
            options.onImportProgress?.({ invoiceId: invoice.id, lines: p.rows }),
        }
      : {}),
    verify: (seen) => {
      if (claim.lost()) throw new ClaimLostError();
      const mine = seen.find((s) => s.invoiceNumber === invoice.id);
      const others = seen.filter((s) => s.invoiceNumber !== invoice.id).map((s) => s.invoiceNumber);
      if (others.length > 0)
        incomplete = `the export of ${invoice.id} holds lines of other invoices (${others.join(", ")})`;
      else if (invoice.totalCharges !== null && invoice.currency && mine) {
        if (mine.currency !== invoice.currency || !new Dec(mine.total).eq(invoice.totalCharges))
          incomplete =
            `${invoice.id} is incomplete: its ${mine.lines} line(s) add up to ${mine.total} ${mine.currency}, ` +
            `but the invoice total is ${invoice.totalCharges} ${invoice.currency}; nothing was stored`;
      }
      if (incomplete) throw new ReconFileError(`${invoice.id}.jsonl.gz`, incomplete);
    },
    // Damaged gzip or lines that cannot be read: a blob that does not decompress whole is the reason, and then
    // nothing is recorded. The download stops after the blob it is appending and is waited for, so every blob
    // appended so far is on disk whole (its own failure wins, as below).
    explainRefusal: async () => {
      if (incomplete) return null;
      importEnded = true;
      try {
        await download;
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
      return findDamagedBlob(file, blobs);
    },
  }).finally(() => {
    importEnded = true;
  });
  const [downloaded, imported] = await Promise.allSettled([download, importing]);
  const failure =
    downloaded.status === "rejected"
      ? (downloaded.reason as unknown)
      : imported.status === "rejected"
        ? (imported.reason as unknown)
        : null;
  if (failure instanceof ClaimLostError) return "claim-lost";
  if (failure !== null) throw failure;
  return { summary: (imported as PromiseFulfilledResult<ImportSummary>).value, incomplete };
}

/** Appends one blob after those already in `before` and says where its bytes lie in the file. */
async function appendExtent(
  client: PartnerCenterClient,
  manifest: Manifest,
  name: string,
  out: Writable,
  before: readonly BlobExtent[],
): Promise<BlobExtent> {
  const start = before.at(-1)?.end ?? 0;
  return { name, start, end: start + (await client.appendBlob(manifest, name, out)) };
}

function endWriting(out: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

/** Downloads every blob into `file`; returns where each blob's bytes lie in it. */
async function downloadAll(
  client: PartnerCenterClient,
  manifest: Manifest,
  file: string,
): Promise<BlobExtent[]> {
  const out = fs.createWriteStream(file, { flags: "w" });
  const opened = new Promise<void>((resolve, reject) => {
    out.once("open", () => resolve());
    out.once("error", reject);
  });
  await opened;
  const blobs: BlobExtent[] = [];
  try {
    for (const blob of manifest.blobs)
      blobs.push(await appendExtent(client, manifest, blob.name, out, blobs));
  } finally {
    await endWriting(out);
  }
  return blobs;
}

function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The open period so far, per customer and motion: stored as a provisional snapshot, never imported or synced. */
async function fetchUnbilled(
  app: FetchApp,
  client: PartnerCenterClient,
  view: SourceView,
  currency: string,
  options: FetchOptions,
): Promise<UnbilledOutcome> {
  try {
    const result = await client.export(
      { kind: "unbilled", currencyCode: currency, billingPeriod: "current" },
      options.poll,
    );
    if (result.kind === "no-data") return { currency, outcome: "no-data", message: result.message };
    const dir = fs.mkdtempSync(path.join(ensureDir(path.join(app.dataDir, "fetch")), "unbilled-"));
    const file = path.join(dir, `unbilled-${currency}.jsonl.gz`);
    try {
      const blobs = await downloadAll(client, result.manifest, file);
      const groups = new Map<
        string,
        { customerTenantId: string; customerName: string; motion: string; lines: number; total: Dec }
      >();
      let lines = 0;
      let total = new Dec(0);
      let period = "";
      // Garbage or damaged gzip in the file: a blob that does not decompress whole is the reason.
      const blameBlob = async (error: unknown): Promise<never> => {
        throw error instanceof ReconFileError ? ((await findDamagedBlob(file, blobs)) ?? error) : error;
      };
      const source = await readLines(file, { batchSize: 500, sourceBlocks: false }).catch(blameBlob);
      try {
        for await (const batch of source.batches)
          for (const { line, classification } of batch.lines) {
            lines += 1;
            total = total.plus(line.total);
            if (!period || line.chargeStart.slice(0, 7) > period) period = line.chargeStart.slice(0, 7);
            const key = `${line.customerTenantId}|${classification.motion}`;
            const group = groups.get(key) ?? {
              customerTenantId: line.customerTenantId,
              customerName: line.customerName,
              motion: classification.motion,
              lines: 0,
              total: new Dec(0),
            };
            group.lines += 1;
            group.total = group.total.plus(line.total);
            groups.set(key, group);
          }
      } catch (error) {
        await blameBlob(error);
      } finally {
        await source.close();
      }
      await app.sources.repository.insertUnbilled({
        id: randomUUID(),
        source_id: view.id,
        currency,
        billing_period: period,
        line_count: lines,
        total: total.toFixed(),
        by_customer: JSON.stringify([...groups.values()].map((g) => ({ ...g, total: g.total.toFixed() }))),
        fetched_at: new Date().toISOString(),
      });
      return { currency, outcome: "stored", lines, total: total.toFixed() };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } catch (error) {
    if (error instanceof SourceError || error instanceof ReconFileError)
      return { currency, outcome: "failed", message: error.message };
    throw error;
  }
}

export type UnbilledPreview = {
  currency: string;
  fetchedAt: string;
  total: string;
  /** "next invoice so far" per customer and motion, with the change since the snapshot before. */
  entries: {
    customerTenantId: string;
    customerName: string;
    motion: string;
    total: string;
    change: string;
  }[];
};

export async function unbilledPreview(app: FetchApp, idOrName: string): Promise<UnbilledPreview[]> {
  const view = await app.sources.view(idOrName);
  const repo = app.sources.repository;
  const previews: UnbilledPreview[] = [];
  for (const currency of await repo.unbilledCurrencies(view.id)) {
    const [latest, before] = await repo.latestUnbilled(view.id, currency, 2);
    if (!latest) continue;
    type Entry = { customerTenantId: string; customerName: string; motion: string; total: string };
    const earlier = new Map(
      ((before ? JSON.parse(before.by_customer) : []) as Entry[]).map((e) => [
        `${e.customerTenantId}|${e.motion}`,
        e.total,
      ]),
    );
    previews.push({
      currency,
      fetchedAt: latest.fetched_at,
      total: latest.total,
      entries: (JSON.parse(latest.by_customer) as Entry[]).map((e) => ({
        ...e,
        change: new Dec(e.total).minus(earlier.get(`${e.customerTenantId}|${e.motion}`) ?? "0").toFixed(),
      })),
    });
  }
  return previews;
}

/** A fetch run as its source's history shows it: the steps it took and what it fetched. */
export type SourceFetchRun = {
  id: string;
  sourceId: string;
  trigger: string;
  status: FetchRunStatus;
  errorKind: string | null;
  message: string | null;
  startedAt: string;
  finishedAt: string | null;
  steps: Step[];
  invoices: InvoiceOutcome[];
  unbilled: UnbilledOutcome[];
  syncJobs: { connectionId: string; jobId: string | null }[];
};

/** A source's fetch runs, newest first; fetches queued too long without a worker are given up first. */
export async function sourceFetchRuns(
  app: Pick<FetchApp, "sources">,
  sourceId: string,
  limit = 50,
): Promise<SourceFetchRun[]> {
  await expireQueuedFetches(app);
  const rows = await app.sources.repository.listFetchRuns({ sourceId, limit });
  return rows.map((row) => {
    const summary = JSON.parse(row.summary) as { invoices?: InvoiceOutcome[]; unbilled?: UnbilledOutcome[] };
    return {
      id: row.id,
      sourceId: row.source_id,
      trigger: row.trigger,
      status: row.status,
      errorKind: row.error_kind,
      message: row.message,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      steps: JSON.parse(row.steps) as Step[],
      invoices: summary.invoices ?? [],
      unbilled: summary.unbilled ?? [],
      syncJobs: JSON.parse(row.sync_jobs) as SourceFetchRun["syncJobs"],
    };
  });
}

/** A fetch in Sync history: its outcome line and the sync runs it led to (docs/partner-center.md §7). */
export type FetchHistoryEntry = {
  id: string;
  sourceId: string;
  sourceName: string | null;
  trigger: string;
  status: FetchRunStatus;
  errorKind: string | null;
  message: string | null;
  startedAt: string;
  finishedAt: string | null;
  syncRuns: FetchHistoryRow["sync_runs"];
  /** "Partner Center: 1 new invoice(s) G… (12,345 lines) → seat-annual sync on CW: 8 written". */
  line: string;
};

const MOTION_NAMES: Record<string, string> = {
  "seat-annual": "annual",
  "seat-monthly": "monthly",
  azure: "Azure",
};

/** The one line that tells a fetch and what it led to. */
export function pipelineLine(row: FetchHistoryRow): string {
  const head =
    row.message ?? (row.status === "queued" ? "Partner Center: fetch queued" : "Partner Center: fetching…");
  if (row.sync_runs.length === 0) return head;
  const syncs = row.sync_runs.map((r) => {
    const what = `${r.motion ? (MOTION_NAMES[r.motion] ?? r.motion) : "billing"} sync${r.connectionName ? ` on ${r.connectionName}` : ""}`;
    if (r.status === "running") return `${what}: running`;
    return `${what}: ${r.written} written${r.errors > 0 ? `, ${r.errors} error(s)` : ""} (${r.status})`;
  });
  return `${head} → ${syncs.join("; ")}`;
}

export async function fetchHistory(
  app: FetchApp,
  window: { from?: string; before?: string; limit?: number } = {},
): Promise<FetchHistoryEntry[]> {
  await expireQueuedFetches(app);
  const rows = await app.sources.repository.fetchHistory(window);
  return rows.map((row) => ({
    id: row.id,
    sourceId: row.source_id,
    sourceName: row.source_name,
    trigger: row.trigger,
    status: row.status,
    errorKind: row.error_kind,
    message: row.message,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    syncRuns: row.sync_runs,
    line: pipelineLine(row),
  }));
}
