import { createHash } from "node:crypto";
import type { ChargeLine, Classification } from "../../core/billing.ts";
import { classifyLine } from "../../core/classify.ts";
import { standaloneEventFields, type StandaloneEventFields } from "../../core/events.ts";
import { contentHash } from "./line-key.ts";
import { sourceFieldNames } from "./columns.ts";
import { openReconFile, type ReadOptions, type ReconFormat } from "./reader.ts";
import { toChargeLine } from "./row.ts";
import { encodeSourceBlock, type SourceBlock } from "../../core/source-blocks.ts";

/**
 * Everything about a line that needs no database: its typed fields, content hash, billing motion, and its
 * source record as it is stored (JSON). Computed in batches so the work can run on another thread than the
 * one writing to the database (see read-lines-parallel.ts).
 */
export type ReadLine = {
  line: ChargeLine;
  hash: string;
  classification: Classification;
  /** The line's fields as an event on its own; null when it is half of a credit/charge pair. */
  standalone: StandaloneEventFields | null;
};

/** A batch of lines, and their rows' fields as read (named by `sourceFields`) in one compressed block. */
export type LineBatch = { lines: ReadLine[]; sources: SourceBlock; bytesRead: number };

export type LineSource = {
  file: string;
  format: ReconFormat;
  sizeBytes: number;
  batches: AsyncIterable<LineBatch>;
  /** SHA-256 of the file's bytes; known once every batch has been read. */
  sha256(): string;
  /** The names of the stored source fields, in order; known once every batch has been read. */
  sourceFields(): string[];
  /** Stops reading (needed only when the batches are not read to their end). */
  close(): Promise<void>;
};

/** What is known of a file once it has been read to its end. */
export type FileEnd = { sha256: string; sourceFields: string[] };

export function endOfFileAccessors(end: () => FileEnd | null): Pick<LineSource, "sha256" | "sourceFields"> {
  const known = () => {
    const value = end();
    if (value === null) throw new Error("the file has not been read to its end");
    return value;
  };
  return { sha256: () => known().sha256, sourceFields: () => known().sourceFields };
}

/** What openReconFile takes (it must survive being sent to the reader thread), and the batch size. */
export type ReadLinesOptions = Omit<ReadOptions, "onChunk"> & { batchSize: number };

/** Opens a reconciliation file (errors about the file itself surface here) and reads it batch by batch. */
export async function readLines(filePath: string, options: ReadLinesOptions): Promise<LineSource> {
  const fileHash = createHash("sha256");
  let end: FileEnd | null = null;
  const { batchSize: _batchSize, ...readOptions } = options;
  const recon = await openReconFile(filePath, { ...readOptions, onChunk: (chunk) => fileHash.update(chunk) });
  async function* batches(): AsyncGenerator<LineBatch> {
    let lines: ReadLine[] = [];
    let rows: number[] = [];
    let rowFields: string[][] = [];
    const batch = (bytesRead: number): LineBatch => {
      const done = { lines, sources: encodeSourceBlock(rows, rowFields), bytesRead };
      lines = [];
      rows = [];
      rowFields = [];
      return done;
    };
    for await (const { row, fields } of recon.rows) {
      const line = toChargeLine(fields, recon.mapping, recon.file, row);
      const classification = classifyLine(line);
      lines.push({
        line,
        hash: contentHash(line, fields, recon.mapping),
        classification,
        // The line key is not known yet (it depends on earlier rows); the event fields do not depend on it.
        standalone: standaloneEventFields({ ...line, ...classification, lineKey: "" }),
      });
      rows.push(row);
      rowFields.push(fields);
      if (lines.length >= options.batchSize) yield batch(recon.bytesRead());
    }
    end = { sha256: fileHash.digest("hex"), sourceFields: sourceFieldNames(recon.mapping) };
    if (lines.length > 0) yield batch(recon.sizeBytes);
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
