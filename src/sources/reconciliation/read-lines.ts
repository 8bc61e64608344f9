import { createHash } from "node:crypto";
import type { ChargeLine, Classification } from "../../core/billing.ts";
import { classifyLine } from "../../core/classify.ts";
import { standaloneEventFields, type StandaloneEventFields } from "../../core/events.ts";
import { LineKeyCounts, type KnownKeys } from "../../core/line-key-counts.ts";
import { FileTallier, type FileTally } from "./file-tally.ts";
import { contentHash, lineKey } from "./line-key.ts";
import { sourceFieldNames } from "./columns.ts";
import { openReconFile, type ReadOptions, type ReconFormat } from "./reader.ts";
import { toChargeLine } from "./row.ts";
import { encodeSourceBlock, type SourceBlock } from "../../core/source-blocks.ts";

/**
 * Everything about a line that needs no database: its typed fields, content hash and line key, billing motion.
 * Computed in batches so the work can run on another thread than the one writing to the database (see
 * read-lines-parallel.ts).
 */
export type ReadLine = {
  line: ChargeLine;
  hash: string;
  /** `<hash>-<occurrence>`: the occurrence counts earlier rows of this file with the same content. */
  lineKey: string;
  classification: Classification;
  /** The line's fields as an event on its own; null when it is half of a credit/charge pair. */
  standalone: StandaloneEventFields | null;
};

/** A new line as the writer takes it: keyed by its hash and occurrence, with its fields as an event of its own. */
export function readLine(
  line: ChargeLine,
  hash: string,
  occurrence: number,
  classification: Classification,
): ReadLine {
  const key = lineKey(hash, occurrence);
  return {
    line,
    hash,
    lineKey: key,
    classification,
    standalone: standaloneEventFields({ ...line, ...classification, lineKey: key }),
  };
}

/**
 * A batch of rows read: the lines among them cspsync does not hold yet (every line, when the reader was not
 * given the stored keys) and, when there are any and `sourceBlocks` is not off, their rows as read (named by
 * `sourceFields`) in one compressed block. `rowsRead` counts every row of the file read so far, known or new.
 */
export type LineBatch = {
  lines: ReadLine[];
  sources: SourceBlock | null;
  bytesRead: number;
  rowsRead: number;
};

/**
 * The stored keys of an invoice. The reader asks once per invoice, the first time a row of it comes, and
 * from then on passes on only the lines that are not stored: known lines never leave the reading thread.
 */
export type KnownKeysOf = (invoiceNumber: string) => Promise<KnownKeys>;

export type LineSource = {
  file: string;
  format: ReconFormat;
  sizeBytes: number;
  batches: AsyncIterable<LineBatch>;
  /** SHA-256 of the file's bytes; known once every batch has been read. */
  sha256(): string;
  /** The names of the stored source fields, in order; known once every batch has been read. */
  sourceFields(): string[];
  /** Every line of the file counted (known and new); known once every batch has been read. */
  tally(): FileTally;
  /** Stops reading (needed only when the batches are not read to their end). */
  close(): Promise<void>;
};

/** What is known of a file once it has been read to its end. */
export type FileEnd = { sha256: string; sourceFields: string[]; tally: FileTally };

export function endOfFileAccessors(
  end: () => FileEnd | null,
): Pick<LineSource, "sha256" | "sourceFields" | "tally"> {
  const known = () => {
    const value = end();
    if (value === null) throw new Error("the file has not been read to its end");
    return value;
  };
  return {
    sha256: () => known().sha256,
    sourceFields: () => known().sourceFields,
    tally: () => known().tally,
  };
}

/**
 * What openReconFile takes (it must survive being sent to the reader thread), the batch size, and whether the
 * batches carry their rows as read (default yes; a reader that only sums lines, e.g. the unbilled preview,
 * says no and compresses nothing).
 */
export type ReadLinesOptions = Omit<ReadOptions, "onChunk"> & { batchSize: number; sourceBlocks?: boolean };

/**
 * Opens a reconciliation file (errors about the file itself surface here) and reads it batch by batch. Given
 * `knownKeysOf`, batches hold only the lines not stored yet.
 */
export async function readLines(
  filePath: string,
  options: ReadLinesOptions,
  knownKeysOf?: KnownKeysOf,
): Promise<LineSource> {
  const fileHash = createHash("sha256");
  let end: FileEnd | null = null;
  const { batchSize: _batchSize, sourceBlocks = true, ...readOptions } = options;
  const recon = await openReconFile(filePath, { ...readOptions, onChunk: (chunk) => fileHash.update(chunk) });
  const keys = new LineKeyCounts();
  const askedInvoices = new Set<string>();
  const tallier = new FileTallier(recon.file);
  async function* batches(): AsyncGenerator<LineBatch> {
    let lines: ReadLine[] = [];
    let rows: number[] = [];
    let rowFields: string[][] = [];
    let rowsRead = 0;
    let rowsInBatch = 0;
    const batch = (bytesRead: number): LineBatch => {
      const sources = sourceBlocks && lines.length > 0 ? encodeSourceBlock(rows, rowFields) : null;
      const done = { lines, sources, bytesRead, rowsRead };
      lines = [];
      rows = [];
      rowFields = [];
      rowsInBatch = 0;
      return done;
    };
    for await (const { row, fields } of recon.rows) {
      const line = toChargeLine(fields, recon.mapping, recon.file, row);
      const classification = classifyLine(line);
      tallier.add(line, classification);
      rowsRead += 1;
      rowsInBatch += 1;
      if (knownKeysOf && !askedInvoices.has(line.invoiceNumber)) {
        askedInvoices.add(line.invoiceNumber);
        keys.addKnownKeys(await knownKeysOf(line.invoiceNumber));
      }
      const hash = contentHash(line, fields, recon.mapping);
      const { occurrence, stored } = keys.next(hash);
      if (!stored) {
        lines.push(readLine(line, hash, occurrence, classification));
        if (sourceBlocks) {
          rows.push(row);
          rowFields.push(fields);
        }
      }
      if (rowsInBatch >= options.batchSize) yield batch(recon.bytesRead());
    }
    end = {
      sha256: fileHash.digest("hex"),
      sourceFields: sourceFieldNames(recon.mapping),
      tally: tallier.tally(),
    };
    if (rowsInBatch > 0) yield batch(recon.sizeBytes);
  }
  const reading = batches();
  return {
    file: recon.file,
    format: recon.format,
    sizeBytes: recon.sizeBytes,
    batches: reading,
    close: async () => {
      await reading.return(undefined);
    },
    ...endOfFileAccessors(() => end),
  };
}
