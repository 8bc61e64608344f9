import fs from "node:fs";
import type { ChargeLine, Classification } from "../../core/billing.ts";
import { classifyLine } from "../../core/classify.ts";
import { writeDigest } from "../../core/line-key-counts.ts";
import { encodeSourceBlock } from "../../core/source-blocks.ts";
import { CsvRecordParser, CsvSyntaxError } from "./csv-records.ts";
import { ReconFileError } from "./errors.ts";
import { FileTallier } from "./file-tally.ts";
import { contentHash } from "./line-key.ts";
import { sendableError } from "./read-lines-parallel.ts";
import { readLine, type LineBatch, type ReadLine } from "./read-lines.ts";
import { syntaxError, Utf8Chunks, type readCsvHead } from "./reader.ts";
import { toChargeLine } from "./row.ts";
import type { ChunkRead, ChunkRequest } from "./split-read.ts";

/** The header of the file as readCsvHead read it (on the main thread, which hands it to the reader thread). */
export type CsvHead = NonNullable<ReturnType<typeof readCsvHead>>;

/**
 * Reads the stretches of a file for split-read.ts, on a reader thread (split-read-worker.ts) or on the main
 * thread itself: each from a line start, every row turned into its typed line, content hash and motion and
 * counted, and the hashes handed back; a stretch's lines wait for the main thread, which numbers the hashes in
 * file order, to say which of them are new. Rows are numbered from the stretch's start here; the main thread
 * adds the rows before it.
 */
export class StretchReader {
  private readonly head: CsvHead;
  private readonly size: number;
  private readonly fd: number;
  private readonly delimiter: string;
  private readonly sourceBlocks: boolean;
  /**
   * Stretches read and waiting for their verdict: where each is in the file, and its lines when they are kept.
   * A re-import's verdicts want no lines; keeping ~2,000 lines per stretch alive until the verdict came cost
   * more in garbage collection (every young-generation collection copies what is still alive) than reading the
   * few wanted ones again. So lines are kept while verdicts want some (a new file) and not once one wanted none.
   */
  private readonly held = new Map<number, Held>();
  private keepLines = false;
  private scratch = Buffer.allocUnsafe(0);
  private readonly lineEndScratch = Buffer.allocUnsafe(BLOCK_BYTES);

  constructor(file: { path: string; head: CsvHead; size: number }, delimiter: string, sourceBlocks: boolean) {
    this.head = file.head;
    this.size = file.size;
    this.fd = fs.openSync(file.path, "r");
    this.delimiter = delimiter;
    this.sourceBlocks = sourceBlocks;
  }

  /** A stretch none of whose lines is wanted. */
  drop(seq: number): void {
    this.held.delete(seq);
    this.keepLines = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
  private closed = false;

  /** Reads the stretch asked for; its lines are kept for the verdict when verdicts have lately wanted lines. */
  read(request: ChunkRequest): ChunkRead {
    const start = request.exactStart ? request.start : this.lineStartFrom(request.start);
    const reading = new StretchReading(this.head, this.keepLines);
    const onRecords = (records: string[][]) => reading.add(records);
    // A guessed end is the first line start after the offset; a proven one is where parsing finds it.
    const guessedEnd = request.provenEnd ? null : this.lineStartFrom(request.end);
    let end = guessedEnd ?? this.size;
    let syntax: CsvSyntaxError | null = null;
    try {
      if (guessedEnd === null) end = this.parseToRecordEnd(start, request.end, onRecords);
      else this.parseRange(this.readBytes(start, guessedEnd), onRecords);
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      syntax = error;
    }
    let failure: ChunkRead["failure"] = reading.failure
      ? { error: sendableError(reading.failure), boundary: false }
      : null;
    if (!failure && syntax) {
      // A stretch whose end was guessed (the first line end after a byte offset) and that ends inside a quoted
      // field was cut at a line break within that field: the main thread reads it again to a proven record end.
      const boundary = syntax.problem === "unclosed-quote" && guessedEnd !== null && end < this.size;
      failure = { error: sendableError(syntaxError(syntax, this.head.file)), boundary };
    }
    if (!failure) this.held.set(request.seq, { start, end, kept: reading.kept });
    const tally = reading.tallier.tally();
    return {
      kind: "read",
      seq: request.seq,
      start,
      end,
      lines: reading.lines,
      digests: reading.digests.slice(0, reading.lines * 20),
      tally,
      firstIndexes: tally.invoices.map((invoice) => reading.firstIndexes.get(invoice.invoiceNumber)!),
      failure,
    };
  }

  /** The lines the main thread found new, numbered in the file and keyed, with their rows as read. */
  newLines(verdict: {
    seq: number;
    rowOffset: number;
    newLines: number[];
  }): Pick<LineBatch, "lines" | "sources"> {
    const stretch = this.held.get(verdict.seq)!;
    this.held.delete(verdict.seq);
    this.keepLines = true;
    const lines: ReadLine[] = [];
    const rows: number[] = [];
    const rowFields: string[][] = [];
    const records: string[][] = [];
    if (!stretch.kept)
      this.parseRange(this.readBytes(stretch.start, stretch.end), (more) => records.push(...more));
    for (let at = 0; at < verdict.newLines.length; at += 2) {
      const index = verdict.newLines[at]!;
      const fields = stretch.kept ? stretch.kept.fields[index]! : records[index]!;
      const line =
        stretch.kept?.lines[index] ?? toChargeLine(fields, this.head.mapping, this.head.file, index + 1);
      const classification = stretch.kept?.classifications[index] ?? classifyLine(line);
      const hash = stretch.kept?.hashes[index] ?? contentHash(line, fields, this.head.mapping);
      line.sourceRow += verdict.rowOffset;
      lines.push(readLine(line, hash, verdict.newLines[at + 1]!, classification));
      rows.push(line.sourceRow);
      rowFields.push(fields);
    }
    const sources = this.sourceBlocks && lines.length > 0 ? encodeSourceBlock(rows, rowFields) : null;
    return { lines, sources };
  }

  /** Where the line holding byte `at` − 1 ends: the start of the first line at or after `at` (the file's size if none). */
  private lineStartFrom(at: number): number {
    if (at >= this.size) return this.size;
    for (let position = at - 1; position < this.size; position += BLOCK_BYTES) {
      const length = fs.readSync(this.fd, this.lineEndScratch, 0, BLOCK_BYTES, position);
      const lf = this.lineEndScratch.subarray(0, length).indexOf(LF);
      if (lf !== -1) return position + lf + 1;
    }
    return this.size;
  }

  /**
   * Bytes [start, end) of the file, in a buffer reused from stretch to stretch (valid until the next call): a new
   * mebibyte per stretch is memory outside V8's heap that it frees only lazily, which showed as tens of MB of
   * peak RSS.
   */
  private readBytes(start: number, end: number): Buffer {
    if (end - start > this.scratch.length) this.scratch = Buffer.allocUnsafe(end - start);
    const bytes = this.scratch.subarray(0, end - start);
    fs.readSync(this.fd, bytes, 0, bytes.length, start);
    return bytes;
  }

  /**
   * Parses whole lines 64 KiB at a time, cut at line ends so no character is split, and hands each piece's
   * records on before parsing the next: a larger piece keeps more parsed rows alive at once (see READ_CHUNK_BYTES
   * in reader.ts).
   */
  private parseRange(bytes: Buffer, onRecords: (records: string[][]) => void): void {
    const parser = new CsvRecordParser(this.delimiter, this.head.fieldCount);
    let from = 0;
    while (from < bytes.length) {
      let to = Math.min(from + BLOCK_BYTES, bytes.length);
      if (to < bytes.length) {
        const lf = bytes.indexOf(LF, to - 1);
        to = lf === -1 ? bytes.length : lf + 1;
      }
      const records: string[][] = [];
      parser.push(bytes.toString("utf8", from, to), records);
      onRecords(records);
      from = to;
    }
    const records: string[][] = [];
    parser.end("", records);
    onRecords(records);
  }

  /**
   * Parses from `start` (a record start) through the first record that ends at or after `atLeast`, or to the end
   * of the file: a stretch whose end is a record end for certain, used where a guessed end fell inside a quoted
   * field.
   */
  private parseToRecordEnd(start: number, atLeast: number, onRecords: (records: string[][]) => void): number {
    const parser = new CsvRecordParser(this.delimiter, this.head.fieldCount);
    const decoder = new Utf8Chunks();
    // Pieces no longer than the stretch asked for, so that a small stretch (as in tests) stays small.
    const block = Buffer.allocUnsafe(Math.min(BLOCK_BYTES, Math.max(256, atLeast - start)));
    let position = start;
    for (;;) {
      const length = fs.readSync(this.fd, block, 0, block.length, position);
      const records: string[][] = [];
      if (length === 0) {
        parser.end(decoder.end(), records);
        onRecords(records);
        return this.size;
      }
      // Pieces end at a line end where there is one, so the parser can be idle after one.
      const lf = block.subarray(0, length).lastIndexOf(LF);
      const take = lf === -1 || position + length >= this.size ? length : lf + 1;
      parser.push(decoder.write(block.subarray(0, take)), records);
      onRecords(records);
      position += take;
      if (position >= atLeast && parser.idle) return position;
    }
  }
}

type Held = { start: number; end: number; kept: Kept | null };
type Kept = { lines: ChargeLine[]; fields: string[][]; hashes: string[]; classifications: Classification[] };

const BLOCK_BYTES = 64 << 10;
const LF = 0x0a;

/** What reading a stretch gathers, record by record as they are parsed. */
class StretchReading {
  lines = 0;
  digests = new Uint8Array(20 << 10);
  readonly tallier: FileTallier;
  readonly firstIndexes = new Map<string, number>();
  failure: ReconFileError | null = null;
  readonly kept: Kept | null;
  private readonly head: CsvHead;

  constructor(head: CsvHead, keep: boolean) {
    this.head = head;
    this.tallier = new FileTallier(head.file);
    this.kept = keep ? { lines: [], fields: [], hashes: [], classifications: [] } : null;
  }

  add(records: string[][]): void {
    for (const fields of records) {
      if (this.failure) return;
      try {
        this.addRecord(fields);
      } catch (error) {
        if (!(error instanceof ReconFileError)) throw error;
        this.failure = error;
      }
    }
  }

  private addRecord(fields: string[]): void {
    const index = this.lines;
    const line = toChargeLine(fields, this.head.mapping, this.head.file, index + 1);
    const classification = classifyLine(line);
    if (!this.firstIndexes.has(line.invoiceNumber)) this.firstIndexes.set(line.invoiceNumber, index);
    this.tallier.add(line, classification);
    const hash = contentHash(line, fields, this.head.mapping);
    if ((index + 1) * 20 > this.digests.length) {
      const grown = new Uint8Array(this.digests.length * 2);
      grown.set(this.digests);
      this.digests = grown;
    }
    writeDigest(hash, this.digests, index * 20);
    this.lines += 1;
    if (this.kept) {
      this.kept.lines.push(line);
      this.kept.fields.push(fields);
      this.kept.hashes.push(hash);
      this.kept.classifications.push(classification);
    }
  }
}
