import { randomUUID } from "node:crypto";
import fs from "node:fs";
import type { Kysely, Transaction } from "kysely";
import { sql } from "kysely";
import type { BillingMotion } from "../core/billing.ts";
import { buildEvent, eventKeyFor, isGroupedEventKey, type EventLine } from "../core/events.ts";
import { Dec, ExactSum } from "../core/money.ts";
import { ReconFileError, type ReconFileHint } from "../sources/reconciliation/errors.ts";
import { EmptyReconFileError, type ReconFormat } from "../sources/reconciliation/reader.ts";
import {
  readLines,
  type KnownKeysOf,
  type LineBatch,
  type ReadLine,
  type ReadLinesOptions,
} from "../sources/reconciliation/read-lines.ts";
import { readLinesInWorker } from "../sources/reconciliation/read-lines-parallel.ts";
import { readLinesSplit, SPLIT_READ_FROM_BYTES } from "../sources/reconciliation/split-read.ts";
import type { Store } from "../store/db.ts";
import { DEFAULT_ORGANIZATION_ID } from "../store/organization.ts";
import { isDeadlock } from "../store/setup-lock.ts";
import type { ChargeLinesTable, Database } from "../store/schema.ts";
import { eventRow, lineRowToEventLine } from "../store/billing-rows.ts";
import { takeExcluded, upsertRows } from "../store/bulk-insert.ts";
import type { Dialect } from "../store/db.ts";
import type { ChargeLineWriter } from "../store/line-writer.ts";
import { LineKeyCounts, packLineKeys, type KnownKeys } from "../core/line-key-counts.ts";
import type { FileTally, InvoiceLines } from "../sources/reconciliation/file-tally.ts";
import { PostgresLineWriter } from "../store/postgres-line-writer.ts";
import { SqliteLineWriter } from "../store/sqlite-line-writer.ts";

export type ImportStatus = "imported" | "rejected" | "empty";

export type ImportSummary = {
  importId: string;
  file: string;
  format: ReconFormat | "unknown";
  status: ImportStatus;
  invoices: string[];
  lines: number;
  newLines: number;
  knownLines: number;
  customers: number;
  newEvents: number;
  linesByMotion: Record<BillingMotion, number>;
  notBillable: number;
  /**
   * Why the file was rejected (or found empty): the place and the reason, and, when the user can act on it,
   * a hint as data (e.g. the separator the file uses) for each surface to word as its own action.
   */
  problem?: { row?: number; column?: string; reason: string; message: string; hint?: ReconFileHint };
};

export type ImportProgress = { bytesRead: number; sizeBytes: number; rows: number };
export type ImportOptions = {
  organizationId?: string;
  delimiter?: string;
  batchSize?: number;
  /**
   * Read the file on a worker thread while this one writes to the database. Default: for files of
   * PARALLEL_READ_FROM_BYTES or more, where it pays for the thread's start-up.
   */
  parallelRead?: boolean;
  /**
   * Read a plain CSV file in stretches, by a reader thread and, during a re-import, this one (split-read.ts). Default: for
   * files of SPLIT_READ_FROM_BYTES or more; files it cannot split are read as parallelRead says. Tests set a
   * small `stretchBytes` to have many stretches.
   */
  splitRead?: boolean | { stretchBytes: number };
  onProgress?: (progress: ImportProgress) => void;
  /** How the file itself is read, beyond its separator (see ReadOptions in the reconciliation reader). */
  read?: Omit<ReadLinesOptions, "delimiter" | "batchSize">;
  /**
   * Checked inside the transaction once every line is written, before it commits: throwing a ReconFileError
   * rejects the file and rolls everything back (a fetched invoice whose lines do not add up to its total).
   */
  verify?: (invoices: InvoiceLineTotals[]) => void;
  /**
   * Called when the file is refused, after the rollback and before the refusal is recorded: an error it
   * returns is thrown instead and nothing at all is recorded (a downloaded file refused because a blob of it
   * was cut short is a failed download, not a rejected file).
   */
  explainRefusal?: (error: ReconFileError) => Promise<Error | null>;
};

/** Every line of one invoice in this file (new and already known): count and sum of Total. */
export type InvoiceLineTotals = { invoiceNumber: string; currency: string; lines: number; total: string };

type FileTotals = Omit<
  ImportSummary,
  "importId" | "file" | "format" | "status" | "problem" | "invoices" | "customers"
> & {
  invoices: Map<string, InvoiceTally>;
  customers: Set<string>;
};

const DEFAULT_BATCH = 400;
export const PARALLEL_READ_FROM_BYTES = 4 << 20;

/** A subscription keeps the details of its latest term: older lines never overwrite newer ones. */
const SUBSCRIPTION_UPDATE =
  takeExcluded([
    "product_id",
    "sku_id",
    "availability_id",
    "product_name",
    "sku_name",
    "subscription_description",
    "term_start",
    "term_end",
    "billing_frequency",
    "term_and_billing_cycle",
    "updated_at",
  ]) +
  ` where ("subscriptions"."term_start" is null or excluded."term_start" >= "subscriptions"."term_start")`;

/** Written literally (not as a parameter) so the databases can use their partial indexes of pair lines. */
const PAIR_LINES = sql<boolean>`event_key like 'pair:%'`;

/**
 * What one file adds to an invoice: its date range and every line of it in the file (counted by the reader,
 * see FileTally), and the count and sums of the lines new to cspsync.
 */
type InvoiceTally = InvoiceLines & { newLines: number; subtotal: Dec; newTotal: Dec };

/** How many times an import rolled back by PostgreSQL's deadlock detector is run (see importReconFile). */
const DEADLOCK_ATTEMPTS = 3;

/**
 * Imports one reconciliation file in one transaction: either every line of the file is stored (new ones
 * appended, known ones recognised by their line key against the keys stored for their invoice, see
 * src/store/line-writer.ts) or, if any row is bad, nothing is.
 *
 * On PostgreSQL an import takes each invoice as its reader first meets it, so two files bringing the same
 * invoices in opposite order, imported at once, can each hold one and wait for the other. The server breaks
 * that deadlock by rolling one of them back; nothing of it was stored, and it is simply run again (the other
 * has committed or is about to), reading the file from its start.
 */
export async function importReconFile(
  store: Store,
  filePath: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await importOnce(store, filePath, options);
    } catch (error) {
      if (!isDeadlock(error) || attempt >= DEADLOCK_ATTEMPTS) throw error;
    }
  }
}

async function importOnce(store: Store, filePath: string, options: ImportOptions): Promise<ImportSummary> {
  const organizationId = options.organizationId ?? DEFAULT_ORGANIZATION_ID;
  const importId = randomUUID();
  const startedAt = new Date().toISOString();
  let format: ReconFormat | "unknown" = "unknown";
  let fileName = filePath.split(/[\\/]/).pop() ?? filePath;
  const totals: FileTotals = {
    invoices: new Map(),
    customers: new Set(),
    lines: 0,
    newLines: 0,
    knownLines: 0,
    newEvents: 0,
    linesByMotion: { "seat-monthly": 0, azure: 0, "seat-annual": 0 },
    notBillable: 0,
  };
  try {
    const readOptions: ReadLinesOptions = {
      ...options.read,
      delimiter: options.delimiter,
      batchSize: options.batchSize ?? DEFAULT_BATCH,
    };
    const size = fileSize(filePath);
    const parallel = options.parallelRead ?? size >= PARALLEL_READ_FROM_BYTES;
    // The reader asks for an invoice's stored keys while it reads, which is inside the transaction below.
    let knownKeysOf: KnownKeysOf = () =>
      Promise.reject(new Error("the file is read in the import's transaction"));
    const askKnownKeys: KnownKeysOf = (invoice) => knownKeysOf(invoice);
    const split = options.splitRead ?? size >= SPLIT_READ_FROM_BYTES;
    const source =
      (split
        ? await readLinesSplit(
            filePath,
            { ...readOptions, stretchBytes: typeof split === "object" ? split.stretchBytes : undefined },
            askKnownKeys,
          )
        : null) ?? (await (parallel ? readLinesInWorker : readLines)(filePath, readOptions, askKnownKeys));
    format = source.format;
    fileName = source.file;
    try {
      await store.db.transaction().execute(async (trx) => {
        await insertImportRow(trx, { importId, organizationId, fileName, format: source.format, startedAt });
        const writer = new BatchWriter(trx, {
          dialect: store.dialect,
          organizationId,
          importId,
          fileLabel: source.file,
          totals,
        });
        knownKeysOf = (invoice) => writer.knownKeys(invoice);
        for await (const batch of source.batches) {
          await writer.write(batch);
          options.onProgress?.({
            bytesRead: batch.bytesRead,
            sizeBytes: source.sizeBytes,
            rows: batch.rowsRead,
          });
        }
        const tally = source.tally();
        options.onProgress?.({ bytesRead: source.sizeBytes, sizeBytes: source.sizeBytes, rows: tally.lines });
        await writer.finish(tally);
        options.verify?.(
          tally.invoices.map(({ invoiceNumber, currency, lines, total }) => ({
            invoiceNumber,
            currency,
            lines,
            total,
          })),
        );
        await trx
          .updateTable("imports")
          .set({
            finished_at: new Date().toISOString(),
            file_sha256: source.sha256(),
            source_fields: JSON.stringify(source.sourceFields()),
            line_count: totals.lines,
            new_line_count: totals.newLines,
            known_line_count: totals.knownLines,
            summary: JSON.stringify(publicTotals(totals)),
          })
          .where("id", "=", importId)
          .execute();
      });
    } finally {
      await source.close();
    }
    return { importId, file: fileName, format, status: "imported", ...publicTotals(totals) };
  } catch (error) {
    if (!(error instanceof ReconFileError)) throw error;
    const explained = await options.explainRefusal?.(error);
    if (explained) throw explained;
    const status: ImportStatus = error instanceof EmptyReconFileError ? "empty" : "rejected";
    const problem = {
      row: error.row,
      column: error.column,
      reason: error.reason,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
    };
    const emptyTotals = publicTotals({
      ...totals,
      invoices: new Map(),
      customers: new Set(),
      lines: 0,
      newLines: 0,
      knownLines: 0,
      newEvents: 0,
      notBillable: 0,
      linesByMotion: { "seat-monthly": 0, azure: 0, "seat-annual": 0 },
    });
    await store.db.transaction().execute(async (trx) => {
      await insertImportRow(trx, {
        importId,
        organizationId,
        fileName,
        format,
        startedAt,
        status,
        error: error.message,
      });
    });
    return { importId, file: fileName, format, status, ...emptyTotals, problem };
  }
}

/** Size on disk, or 0 when it cannot be read (the reader then reports why). */
function fileSize(filePath: string): number {
  try {
    return fs.statSync(filePath).size;
  } catch {
    return 0;
  }
}

function publicTotals(totals: FileTotals) {
  return {
    invoices: [...totals.invoices.keys()].sort(),
    lines: totals.lines,
    newLines: totals.newLines,
    knownLines: totals.knownLines,
    customers: totals.customers.size,
    newEvents: totals.newEvents,
    linesByMotion: { ...totals.linesByMotion },
    notBillable: totals.notBillable,
  };
}

/** The imports row an import starts with (its counts and hash are filled in when it finishes). */
export async function insertImportRow(
  trx: Kysely<Database>,
  row: {
    importId: string;
    organizationId: string;
    fileName: string;
    format: string;
    startedAt: string;
    status?: ImportStatus;
    error?: string;
  },
) {
  await trx
    .insertInto("imports")
    .values({
      id: row.importId,
      organization_id: row.organizationId,
      file_name: row.fileName,
      file_sha256: "",
      file_format: row.format,
      status: row.status ?? "imported",
      started_at: row.startedAt,
      finished_at: new Date().toISOString(),
      line_count: 0,
      new_line_count: 0,
      known_line_count: 0,
      error: row.error ?? null,
      summary: "{}",
    })
    .execute();
}

/** Writes parsed lines batch by batch; memory stays bounded by the batch, whatever the file size. */
class BatchWriter {
  private readonly trx: Transaction<Database>;
  private readonly organizationId: string;
  private readonly importId: string;
  private readonly totals: FileTotals;
  private readonly dialect: Dialect;
  /** The file's name, for errors that point at a row. */
  private readonly fileLabel: string;
  private readonly now = new Date().toISOString();
  private readonly lines: ChargeLineWriter;
  /** The count and sums of this file's new lines, per invoice. */
  private readonly newByInvoice = new Map<string, { lines: number; subtotal: ExactSum; total: ExactSum }>();

  constructor(
    trx: Transaction<Database>,
    context: {
      dialect: Dialect;
      organizationId: string;
      importId: string;
      fileLabel: string;
      totals: FileTotals;
    },
  ) {
    this.trx = trx;
    this.dialect = context.dialect;
    this.organizationId = context.organizationId;
    this.importId = context.importId;
    this.fileLabel = context.fileLabel;
    this.totals = context.totals;
    this.lines =
      context.dialect === "postgres"
        ? new PostgresLineWriter(trx, context.organizationId)
        : new SqliteLineWriter(trx, context.organizationId);
  }

  /**
   * Takes the invoice for this transaction and reads its stored keys for the reader, which then passes on
   * only the lines of it that are not stored (see src/store/line-writer.ts).
   */
  async knownKeys(invoiceNumber: string): Promise<KnownKeys> {
    const counts = new LineKeyCounts();
    await this.lines.takeInvoice(invoiceNumber, counts);
    return counts.knownKeys();
  }

  /** Stores a batch's new lines (the reader has left out the known ones). */
  async write({ lines: read, sources }: LineBatch): Promise<void> {
    if (read.length === 0) return;
    if (!sources) throw new Error("a batch of new lines came without its rows as read");
    const rows = read.map((r) => this.lineRow(r));
    // Appended in import order: the table and its index by invoice grow at their ends. The rows as read go
    // with them, one block per batch.
    await this.lines.append(rows, {
      import_id: this.importId,
      first_row: sources.firstRow,
      last_row: sources.lastRow,
      data: sources.data,
    });
    await this.appendKeyBlocks(rows);
    this.totals.newLines += rows.length;
    // A line that is an event on its own is read as one through the charge_events view.
    for (const row of rows) if (!isGroupedEventKey(row.event_key)) this.totals.newEvents += 1;
    for (const { line } of read) {
      let sums = this.newByInvoice.get(line.invoiceNumber);
      if (!sums) {
        sums = { lines: 0, subtotal: new ExactSum(), total: new ExactSum() };
        this.newByInvoice.set(line.invoiceNumber, sums);
      }
      sums.lines += 1;
      sums.subtotal.add(line.subtotal);
      sums.total.add(line.total);
    }
    // A known line's customer and subscription fields were stored with it (they are part of its hash).
    const lines = read.map((r) => r.line);
    await this.upsertCustomers(lines);
    await this.upsertSubscriptions(lines);
  }

  /** The batch's new keys, packed per invoice, so that a later import reads them at once (migration 0022). */
  private async appendKeyBlocks(rows: readonly ChargeLinesTable[]): Promise<void> {
    const byInvoice = new Map<string, string[]>();
    for (const row of rows) {
      const keys = byInvoice.get(row.invoice_number);
      if (keys) keys.push(row.line_key);
      else byInvoice.set(row.invoice_number, [row.line_key]);
    }
    await this.trx
      .insertInto("charge_line_key_blocks")
      .values(
        [...byInvoice].map(([invoiceNumber, keys]) => ({
          organization_id: this.organizationId,
          invoice_number: invoiceNumber,
          import_id: this.importId,
          key_count: keys.length,
          data: packLineKeys(keys),
        })),
      )
      .execute();
  }

  /**
   * Takes the file's counts of every line from the reader, builds the events of paired lines (only possible
   * when both halves are stored, possibly from an earlier file) and adds the file to its invoices.
   */
  async finish(tally: FileTally): Promise<void> {
    this.totals.lines = tally.lines;
    this.totals.knownLines = tally.lines - this.totals.newLines;
    this.totals.linesByMotion = { ...tally.linesByMotion };
    this.totals.notBillable = tally.notBillable;
    this.totals.customers = new Set(tally.customers);
    for (const invoice of tally.invoices) {
      const added = this.newByInvoice.get(invoice.invoiceNumber);
      this.totals.invoices.set(invoice.invoiceNumber, {
        ...invoice,
        newLines: added?.lines ?? 0,
        subtotal: new Dec(added?.subtotal.value() ?? 0),
        newTotal: new Dec(added?.total.value() ?? 0),
      });
    }
    await this.lines.finish();
    let after = "";
    for (;;) {
      const page = await this.trx
        .selectFrom("charge_lines")
        .select("event_key")
        .distinct()
        .where("import_id", "=", this.importId)
        .where("event_key", ">", after)
        .where(PAIR_LINES)
        .orderBy("event_key")
        .limit(200)
        .execute();
      if (page.length === 0) break;
      after = page.at(-1)!.event_key;
      await this.rebuildEvents(page.map((r) => r.event_key));
    }
    await this.upsertInvoices();
  }

  private async rebuildEvents(eventKeys: string[]): Promise<void> {
    const lines = await this.trx
      .selectFrom("charge_lines")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("event_key", "in", eventKeys)
      .where(PAIR_LINES)
      .execute();
    const byEvent = new Map<string, EventLine[]>();
    for (const line of lines) {
      const group = byEvent.get(line.event_key) ?? [];
      group.push(lineRowToEventLine(line));
      byEvent.set(line.event_key, group);
    }
    const events = [...byEvent].map(([key, group]) => buildEvent(key, group));
    const rows = events
      .map((event) => eventRow(this.organizationId, event))
      .sort((a, b) => (a.event_key < b.event_key ? -1 : 1));
    const changed = Object.keys(rows[0] ?? {}).filter((c) => c !== "organization_id" && c !== "event_key");
    await upsertRows(
      this.trx,
      this.dialect,
      "charge_pair_events",
      rows,
      ["organization_id", "event_key"],
      takeExcluded(changed),
    );
    this.totals.newEvents += events.length;
  }

  private lineRow({ line, lineKey: key, classification, standalone }: ReadLine): ChargeLinesTable {
    return {
      organization_id: this.organizationId,
      line_key: key,
      import_id: this.importId,
      source_row: line.sourceRow,
      invoice_number: line.invoiceNumber,
      customer_tenant_id: line.customerTenantId,
      subscription_id: line.subscriptionId,
      event_key: eventKeyFor({ ...line, lineKey: key }),
      motion: classification.motion,
      is_billable: classification.billable ? 1 : 0,
      classification: classification.reason,
      charge_type: line.chargeType,
      order_date: line.orderDate,
      charge_start: line.chargeStart,
      charge_end: line.chargeEnd,
      subscription_start: line.subscriptionStart,
      subscription_end: line.subscriptionEnd,
      product_id: line.productId,
      sku_id: line.skuId,
      availability_id: line.availabilityId,
      product_name: line.productName,
      sku_name: line.skuName,
      billing_frequency: line.billingFrequency,
      unit_price: line.unitPrice,
      effective_unit_price: line.effectiveUnitPrice,
      quantity: line.quantity,
      billable_quantity: line.billableQuantity,
      subtotal: line.subtotal,
      tax_total: line.taxTotal,
      total: line.total,
      currency: line.currency,
      reference_id: line.referenceId,
      // The row as read is in the batch's source block (charge_line_sources).
      source: "",
      kind: standalone?.kind ?? null,
      seat_delta: standalone?.seatDelta ?? null,
      seats_after: standalone?.seatsAfter ?? null,
    };
  }

  private async upsertInvoices(): Promise<void> {
    for (const [invoiceNumber, seen] of this.totals.invoices) {
      const existing = await this.trx
        .selectFrom("invoices")
        .selectAll()
        .where("organization_id", "=", this.organizationId)
        .where("invoice_number", "=", invoiceNumber)
        .executeTakeFirst();
      if (existing && existing.currency !== seen.currency) {
        throw new ReconFileError(
          this.fileLabel,
          `invoice ${invoiceNumber} was imported earlier in ${existing.currency}; this file has it in ${seen.currency}`,
          { column: "Currency" },
        );
      }
      if (!existing) {
        const fileName = await this.fileName();
        await this.trx
          .insertInto("invoices")
          .values({
            organization_id: this.organizationId,
            invoice_number: invoiceNumber,
            currency: seen.currency,
            first_charge_date: seen.first,
            last_charge_date: seen.last,
            line_count: seen.newLines,
            subtotal: seen.subtotal.toFixed(),
            total: seen.newTotal.toFixed(),
            source_file: fileName,
            first_import_id: this.importId,
            created_at: this.now,
            updated_at: this.now,
          })
          .execute();
        continue;
      }
      const first =
        existing.first_charge_date && existing.first_charge_date < seen.first
          ? existing.first_charge_date
          : seen.first;
      const last =
        existing.last_charge_date && existing.last_charge_date > seen.last
          ? existing.last_charge_date
          : seen.last;
      await this.trx
        .updateTable("invoices")
        .set({
          first_charge_date: first,
          last_charge_date: last,
          line_count: Number(existing.line_count) + seen.newLines,
          subtotal: seen.subtotal.plus(existing.subtotal).toFixed(),
          total: seen.newTotal.plus(existing.total).toFixed(),
          updated_at: this.now,
        })
        .where("organization_id", "=", this.organizationId)
        .where("invoice_number", "=", invoiceNumber)
        .execute();
    }
  }

  private async fileName(): Promise<string> {
    const row = await this.trx
      .selectFrom("imports")
      .select("file_name")
      .where("id", "=", this.importId)
      .executeTakeFirstOrThrow();
    return row.file_name;
  }

  private async upsertCustomers(lines: ReadLine["line"][]): Promise<void> {
    const latest = new Map<string, ReadLine["line"]>();
    for (const line of lines) latest.set(line.customerTenantId, line);
    const rows = [...latest.values()].map((line) => ({
      organization_id: this.organizationId,
      tenant_id: line.customerTenantId,
      name: line.customerName,
      domain: line.customerDomain,
      country: line.customerCountry,
      created_at: this.now,
      updated_at: this.now,
    }));
    await upsertRows(
      this.trx,
      this.dialect,
      "customers",
      rows,
      ["organization_id", "tenant_id"],
      `"name" = excluded."name", "domain" = coalesce(excluded."domain", "customers"."domain"), ` +
        `"country" = coalesce(excluded."country", "customers"."country"), "updated_at" = excluded."updated_at"`,
    );
  }

  /** A subscription keeps the details of its latest term (renewals move the term dates forward). */
  private async upsertSubscriptions(lines: ReadLine["line"][]): Promise<void> {
    const latest = new Map<string, ReadLine["line"]>();
    for (const line of lines) {
      const known = latest.get(line.subscriptionId);
      if (!known || (line.subscriptionStart ?? "") >= (known.subscriptionStart ?? ""))
        latest.set(line.subscriptionId, line);
    }
    const rows = [...latest.values()].map((line) => ({
      organization_id: this.organizationId,
      subscription_id: line.subscriptionId,
      customer_tenant_id: line.customerTenantId,
      product_id: line.productId,
      sku_id: line.skuId,
      availability_id: line.availabilityId,
      product_name: line.productName,
      sku_name: line.skuName,
      subscription_description: line.subscriptionDescription,
      term_start: line.subscriptionStart,
      term_end: line.subscriptionEnd,
      billing_frequency: line.billingFrequency,
      term_and_billing_cycle: line.termAndBillingCycle,
      created_at: this.now,
      updated_at: this.now,
    }));
    await upsertRows(
      this.trx,
      this.dialect,
      "subscriptions",
      rows,
      ["organization_id", "subscription_id"],
      SUBSCRIPTION_UPDATE,
    );
  }
}
