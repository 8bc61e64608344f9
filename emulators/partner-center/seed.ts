import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, type Gzip } from "node:zlib";
import { Dec } from "../../src/core/money.ts";
import { RECON_COLUMN_NAMES } from "../../src/sources/reconciliation/columns.ts";
import { openReconFile } from "../../src/sources/reconciliation/reader.ts";

/**
 * The emulator's billing data: invoices read from reconciliation files (any file cspsync's importer reads),
 * served as the Graph export serves them, gzipped JSON Lines with the attributes' camelCase names. Files are
 * scanned once for each invoice's totals and read again, streaming, for every blob download: an invoice of a
 * million lines costs the emulator no memory.
 */
export type SeededInvoice = {
  id: string;
  currency: string;
  total: string;
  lineCount: number;
  periodStart: string | null;
  invoiceDate: string;
  /** Changes when the "data version" changes (a fault or an admin call). */
  etagVersion: number;
  file: string;
  /** The invoice's blobs built ahead (prebuildBlobs), when the emulator was asked to. */
  blobFiles?: string[];
};

export async function scanFile(file: string): Promise<SeededInvoice[]> {
  const recon = await openReconFile(file);
  const column = (name: (typeof RECON_COLUMN_NAMES)[number]) => recon.mapping.indexOf[name];
  const byId = new Map<string, SeededInvoice & { sum: Dec }>();
  for await (const row of recon.rows) {
    const id = row.fields[column("InvoiceNumber")] ?? "";
    let invoice = byId.get(id);
    if (!invoice) {
      const start = row.fields[column("ChargeStartDate")] ?? null;
      invoice = {
        id,
        currency: (row.fields[column("Currency")] ?? "USD").toUpperCase(),
        total: "0",
        sum: new Dec(0),
        lineCount: 0,
        periodStart: start,
        invoiceDate: new Date().toISOString(),
        etagVersion: 1,
        file,
      };
      byId.set(id, invoice);
    }
    invoice.lineCount += 1;
    invoice.sum = invoice.sum.plus(row.fields[column("Total")] || "0");
  }
  return [...byId.values()].map(({ sum, ...invoice }) => ({ ...invoice, total: sum.toFixed() }));
}

const camel = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

/**
 * One blob: the invoice's lines from `from` (inclusive) to `to` (exclusive) in file order, as gzipped JSON
 * Lines. `filter` picks the lines (an invoice number, or a currency for unbilled data).
 */
export function blobStream(
  file: string,
  filter: { invoiceId?: string; currency?: string },
  from: number,
  to: number,
): Readable {
  async function* lines() {
    const recon = await openReconFile(file);
    const { indexOf } = recon.mapping;
    const columns = RECON_COLUMN_NAMES.filter((name) => indexOf[name] !== -1);
    let seen = 0;
    for await (const row of recon.rows) {
      if (filter.invoiceId !== undefined && row.fields[indexOf.InvoiceNumber] !== filter.invoiceId) continue;
      if (
        filter.currency !== undefined &&
        (row.fields[indexOf.Currency] ?? "").toUpperCase() !== filter.currency
      )
        continue;
      const index = seen++;
      if (index < from) continue;
      if (index >= to) break;
      const record: Record<string, string> = {};
      for (const name of columns) record[camel(name)] = row.fields[indexOf[name]] ?? "";
      yield JSON.stringify(record) + "\n";
    }
  }
  return Readable.from(lines()).pipe(createGzip());
}

/** Lines of a currency in a file (the unbilled data), with their total. */
export async function scanCurrency(
  file: string,
  currency: string,
): Promise<{ lines: number; total: string }> {
  const recon = await openReconFile(file);
  const { indexOf } = recon.mapping;
  let lines = 0;
  let total = new Dec(0);
  for await (const row of recon.rows) {
    if ((row.fields[indexOf.Currency] ?? "").toUpperCase() !== currency) continue;
    lines += 1;
    total = total.plus(row.fields[indexOf.Total] || "0");
  }
  return { lines, total: total.toFixed() };
}

/**
 * Builds every invoice's blobs of a file once, in one pass over it, as gzipped JSON Lines files in `dir`
 * (`<invoice>-part-NNNNN.json.gz`, `linesPerBlob` lines each), so serving a blob afterwards is a plain file read:
 * the emulator then neither re-reads the reconciliation file nor compresses while cspsync downloads (what
 * bench:fetch needs, to time cspsync and not the emulator). Returns each invoice's blob files in order.
 */
export async function prebuildBlobs(
  file: string,
  linesPerBlob: number,
  dir: string,
): Promise<Map<string, string[]>> {
  fs.mkdirSync(dir, { recursive: true });
  const recon = await openReconFile(file);
  const { indexOf } = recon.mapping;
  const columns = RECON_COLUMN_NAMES.filter((name) => indexOf[name] !== -1);
  const names = columns.map(camel);
  type Open = { gzip: Gzip; done: Promise<void>; count: number };
  const open = new Map<string, Open>();
  const blobs = new Map<string, string[]>();
  const closing: Promise<void>[] = [];
  const start = (invoiceId: string): Open => {
    const list = blobs.get(invoiceId) ?? [];
    blobs.set(invoiceId, list);
    const name = path.join(
      dir,
      `${invoiceId.replace(/[^\w.-]/g, "_")}-part-${String(list.length).padStart(5, "0")}.json.gz`,
    );
    list.push(name);
    const gzip = createGzip();
    const entry = { gzip, done: pipeline(gzip, fs.createWriteStream(name)), count: 0 };
    open.set(invoiceId, entry);
    return entry;
  };
  for await (const row of recon.rows) {
    const invoiceId = row.fields[indexOf.InvoiceNumber] ?? "";
    let entry = open.get(invoiceId) ?? start(invoiceId);
    if (entry.count === linesPerBlob) {
      entry.gzip.end();
      closing.push(entry.done);
      entry = start(invoiceId);
    }
    entry.count += 1;
    const record: Record<string, string> = {};
    for (let i = 0; i < columns.length; i++) record[names[i]!] = row.fields[indexOf[columns[i]!]] ?? "";
    if (!entry.gzip.write(JSON.stringify(record) + "\n")) await once(entry.gzip, "drain");
  }
  for (const entry of open.values()) {
    entry.gzip.end();
    closing.push(entry.done);
  }
  await Promise.all(closing);
  return blobs;
}
