import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { parse as parseCsv, CsvError } from "csv-parse";
import {
  columnForHeader,
  mapHeader,
  RECON_COLUMN_NAMES,
  type HeaderMapping,
  type ReconColumn,
} from "./columns.ts";
import { RECON_DELIMITERS, ReconFileError } from "./errors.ts";
import { CsvRecordParser, CsvSyntaxError, MAX_RECORD_CHARS } from "./csv-records.ts";
import { GrowingFileFailedError, readGrowingFile, settledGrowth, type GrowthSignal } from "./growing-file.ts";

/**
 * Streams the rows of a reconciliation file without holding it in memory. Accepts the portal/distributor CSV
 * and the JSON Lines records of the Graph export (gzipped or not); the format is recognised from the bytes,
 * not the file name. Each row comes out as fields aligned with `mapping`.
 */
export type ReconFormat = "csv" | "csv.gz" | "jsonl" | "jsonl.gz";
export type ReconRow = { row: number; fields: string[] };
export type ReconFile = {
  file: string;
  format: ReconFormat;
  mapping: HeaderMapping;
  rows: AsyncIterable<ReconRow>;
  /** Compressed bytes consumed so far, for progress reporting. */
  bytesRead(): number;
  sizeBytes: number;
};

export type ReadOptions = {
  delimiter?: string;
  /** sees every raw byte of the file, e.g. to hash it */ onChunk?: (chunk: Buffer) => void;
  /**
   * The file is still being written (a download, see growing-file.ts): it is read as it grows, up to what the
   * writer has published, until the writer says it is complete or failed. Cloneable, so it reaches a reader
   * thread.
   */
  growing?: GrowthSignal;
};

/** Reasons a file holds nothing to import, which are reported rather than treated as failures. */
export class EmptyReconFileError extends ReconFileError {}

const MIN_RECOGNISED_COLUMNS = 8;

/**
 * A file is read 64 KiB at a time. Every record a chunk completes is parsed before the first of them is used, so
 * a larger chunk keeps more parsed rows alive through each young-generation collection, which then copies and
 * promotes them: at 1 MiB the bare parser took 7.1 s for a million lines and a re-import of them 36 s of CPU;
 * at 64 KiB 3.0 s and 15 s (128 KiB was as slow as 1 MiB; BENCHMARKS.md, bench:ingest).
 */
const READ_CHUNK_BYTES = 64 << 10;

export async function openReconFile(filePath: string, options: ReadOptions = {}): Promise<ReconFile> {
  const growing = options.growing;
  if (!growing)
    return openBytes(filePath, fs.createReadStream(filePath, { highWaterMark: READ_CHUNK_BYTES }), options);
  const input = readGrowingFile(filePath, growing);
  const opened = await settleFirst(growing, () =>
    openBytes(filePath, input.stream, options, input.bytesRead),
  );
  const rows = opened.rows;
  return {
    ...opened,
    rows: {
      async *[Symbol.asyncIterator]() {
        const iterator = rows[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = await settleFirst(growing, () => iterator.next());
            if (next.done) return;
            yield next.value;
          }
        } finally {
          await iterator.return?.();
        }
      },
    },
  };
}

/**
 * A file error met while the file is still being written waits for the writer: when the download then fails,
 * what was read was a download cut short, not a bad file, so the import fails (and stores nothing, not even a
 * rejection) with GrowingFileFailedError and the download's own error tells why; when the download completes,
 * the file error stands.
 */
async function settleFirst<T>(growing: GrowthSignal, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof ReconFileError)) throw error;
    if ((await settledGrowth(growing)) === "failed") throw new GrowingFileFailedError(error.file);
    throw error;
  }
}

async function openBytes(
  filePath: string,
  raw: Readable,
  options: ReadOptions,
  readSoFar?: () => number,
): Promise<ReconFile> {
  const file = path.basename(filePath);
  // A growing file's size is what has been written when it is opened; its end comes from its writer.
  const sizeBytes = fs.statSync(filePath).size;
  const { stream: head, firstBytes } = await peek(raw, options.onChunk);
  const gzipped = firstBytes[0] === 0x1f && firstBytes[1] === 0x8b;
  const text = gzipped ? gunzip(head, file) : head;
  const { stream, firstBytes: firstText } = await peek(text).catch((error: unknown) => {
    throw streamError(error, file);
  });
  const firstChar = firstText
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart()[0];
  if (firstChar === undefined) throw new EmptyReconFileError(file, "the file is empty");
  checkIsText(firstText, firstChar, file);
  const bytesRead = readSoFar ?? (() => (raw as fs.ReadStream).bytesRead);
  if (firstChar === "{") {
    return {
      file,
      format: gzipped ? "jsonl.gz" : "jsonl",
      ...(await jsonLinesRows(stream, file)),
      bytesRead,
      sizeBytes,
    };
  }
  const delimiter = options.delimiter ?? ",";
  checkDelimiter(firstText.toString("utf8"), file, delimiter);
  // UTF-16 text and multi-character separators are rare enough to be left to csv-parse.
  const utf16 = firstText[0] === 0xff && firstText[1] === 0xfe;
  const csv =
    utf16 || delimiter.length !== 1
      ? await csvRows(stream, file, delimiter)
      : await fastCsvRows(stream, file, delimiter);
  return { file, format: gzipped ? "csv.gz" : "csv", ...csv, bytesRead, sizeBytes };
}

/**
 * The header of a plain UTF-8 CSV file with a one-character separator, checked as openReconFile checks it, and
 * the byte where its data rows start — for reading stretches of the file apart (split-read.ts). Null when the
 * file is anything else (gzipped, JSON Lines, UTF-16, binary, empty, a header that is not one line…): such
 * files are read from the start by openReconFile, which gives every reason.
 */
export function readCsvHead(
  filePath: string,
  delimiter: string,
): { file: string; mapping: HeaderMapping; fieldCount: number; dataStart: number } | null {
  if (delimiter.length !== 1) return null;
  const file = path.basename(filePath);
  const head = Buffer.alloc(HEAD_BYTES);
  const fd = fs.openSync(filePath, "r");
  let length: number;
  try {
    length = fs.readSync(fd, head, 0, HEAD_BYTES, 0);
  } finally {
    fs.closeSync(fd);
  }
  const bytes = head.subarray(0, length);
  const lineEnd = bytes.indexOf(0x0a);
  // Gzipped data and UTF-16 text (either byte order) are read from the start.
  if (lineEnd === -1 || bytes[0] === 0x1f || bytes[0] === 0xff || bytes[0] === 0xfe) return null;
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const firstChar = bytes.toString("utf8", bom, Math.min(length, bom + 64)).trimStart()[0];
  if (firstChar === undefined || firstChar === "{") return null;
  // What openReconFile refuses (a zip archive, binary data, a JSON array) it reads and refuses itself.
  try {
    checkIsText(bytes, firstChar, file);
  } catch {
    return null;
  }
  const headerText = bytes.toString("utf8", bom, lineEnd + 1);
  const records: string[][] = [];
  try {
    new CsvRecordParser(delimiter).end(headerText, records);
  } catch {
    return null;
  }
  if (records.length !== 1) return null;
  checkDelimiter(headerText, file, delimiter);
  const header = records[0]!;
  return { file, mapping: checkHeader(header, file), fieldCount: header.length, dataStart: lineEnd + 1 };
}

/** The most of a file readCsvHead looks at for its header line. */
const HEAD_BYTES = 256 << 10;

/** Decompresses; a damaged archive surfaces as an error of the returned stream, never as an unhandled one. */
function gunzip(compressed: Readable, file: string): Readable {
  const gunzipper = createGunzip();
  compressed.on("error", (error) => gunzipper.destroy(streamError(error, file)));
  return compressed.pipe(gunzipper);
}

/** Errors of the byte stream itself (unreadable file, damaged gzip) as a file error with a readable reason. */
function streamError(error: unknown, file: string): ReconFileError {
  if (error instanceof ReconFileError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new ReconFileError(file, `the gzip data is damaged or truncated (${message})`);
  }
  return new ReconFileError(file, `the file could not be read (${message})`);
}

/**
 * Files that are plainly something else get a reason a user can act on, instead of a CSV quoting error on
 * row 1: a spreadsheet saved as .xlsx (a zip archive), any other binary data, or one JSON array rather than
 * JSON Lines. UTF-16 text with its byte order mark is left to the CSV parser, which decodes it.
 */
function checkIsText(firstText: Buffer, firstChar: string, file: string) {
  if (firstText[0] === 0x50 && firstText[1] === 0x4b && firstText[2] === 0x03 && firstText[3] === 0x04) {
    throw new ReconFileError(
      file,
      "this is a zip archive (an Excel .xlsx workbook?), not a CSV or JSON Lines file; save or export it as CSV",
      { row: 1 },
    );
  }
  const utf16 =
    (firstText[0] === 0xff && firstText[1] === 0xfe) || (firstText[0] === 0xfe && firstText[1] === 0xff);
  if (!utf16 && firstText.includes(0)) {
    throw new ReconFileError(file, "this is binary data, not a CSV or JSON Lines text file", { row: 1 });
  }
  if (firstChar === "[") {
    throw new ReconFileError(
      file,
      "this is a JSON array; cspsync reads JSON Lines (one JSON object per line), as the Graph billing export writes them",
      { row: 1 },
    );
  }
}

/** Reads the first chunk of a stream and gives back a stream that still starts at the beginning. */
async function peek(
  stream: Readable,
  onChunk?: (chunk: Buffer) => void,
): Promise<{ stream: Readable; firstBytes: Buffer }> {
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  const firstBytes: Buffer = first.done ? Buffer.alloc(0) : Buffer.from(first.value as Buffer);
  async function* replay() {
    if (first.done) return;
    onChunk?.(firstBytes);
    yield firstBytes;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      onChunk?.(next.value as Buffer);
      yield next.value as Buffer;
    }
  }
  return { stream: Readable.from(replay(), { objectMode: false }), firstBytes };
}

/**
 * A file written with another separator (a spreadsheet's regional setting) would otherwise fail later with
 * a confusing quoting error, so the header line is checked for the expected separator up front.
 */
function checkDelimiter(firstChunk: string, file: string, delimiter: string) {
  const headerLine = firstChunk.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0] ?? "";
  const count = (d: string) => headerLine.split(d).length - 1;
  if (count(delimiter) >= MIN_RECOGNISED_COLUMNS - 1) return;
  const other = RECON_DELIMITERS.find((d) => d !== delimiter && count(d) >= MIN_RECOGNISED_COLUMNS - 1);
  if (!other) return;
  const shown = (d: string) => (d === "\t" ? "tab" : `"${d}"`);
  // The sentence names no option: the CLI, the API and the web app each word how to choose the separator
  // from the hint.
  throw new ReconFileError(file, `fields are separated by ${shown(other)}, expected ${shown(delimiter)}`, {
    row: 1,
    hint: { kind: "delimiter", detected: other, expected: delimiter },
  });
}

/** Reads records with cspsync's own parser; they come out in order, then the first error, if any. */
async function fastCsvRows(
  stream: Readable,
  file: string,
  delimiter: string,
): Promise<{ mapping: HeaderMapping; rows: AsyncIterable<ReconRow> }> {
  const parser = new CsvRecordParser(delimiter);
  const decoder = new Utf8Chunks();
  const chunks: AsyncIterator<Buffer> = stream[Symbol.asyncIterator]();
  let pending: string[][] = [];
  let index = 0;
  let done = false;
  let failure: ReconFileError | null = null;
  const next = async (): Promise<string[] | null> => {
    while (index >= pending.length) {
      if (failure) throw failure;
      if (done) return null;
      pending = [];
      index = 0;
      const chunk = await chunks.next().catch((error: unknown) => {
        throw streamError(error, file);
      });
      try {
        if (chunk.done) {
          done = true;
          parser.end(decoder.end(), pending);
        } else parser.push(decoder.write(chunk.value), pending);
      } catch (error) {
        if (!(error instanceof CsvSyntaxError)) throw error;
        failure = syntaxError(error, file);
      }
    }
    return pending[index++]!;
  };
  const header = await next();
  if (!header) throw new EmptyReconFileError(file, "the file is empty");
  const mapping = checkHeader(header, file);
  let row = 1;
  const rows = {
    async *[Symbol.asyncIterator]() {
      for (let fields = await next(); fields; fields = await next()) {
        row += 1;
        yield { row, fields };
      }
      if (row === 1) throw new EmptyReconFileError(file, "the file has a header but no data rows");
    },
  };
  return { mapping, rows };
}

/** Decodes UTF-8 chunk by chunk, carrying a character split across two chunks over to the next one. */
export class Utf8Chunks {
  private carry: Buffer | null = null;

  write(chunk: Buffer): string {
    const bytes = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    let cut = bytes.length;
    // Step back over continuation bytes (10xxxxxx) to the start of the last character, if it is cut short.
    let start = cut - 1;
    while (start > 0 && start > cut - 4 && (bytes[start]! & 0xc0) === 0x80) start -= 1;
    const lead = bytes[start] ?? 0;
    const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (start + needed > cut) cut = start;
    this.carry = cut < bytes.length ? Buffer.from(bytes.subarray(cut)) : null;
    return bytes.toString("utf8", 0, cut);
  }

  end(): string {
    const rest = this.carry ? this.carry.toString("utf8") : "";
    this.carry = null;
    return rest;
  }
}

export function syntaxError(error: CsvSyntaxError, file: string): ReconFileError {
  const where = { row: error.record };
  switch (error.problem) {
    case "field-count":
      return new ReconFileError(
        file,
        `expected ${error.expectedFields} fields but found ${error.foundFields} (truncated or malformed row)`,
        where,
      );
    case "unclosed-quote":
      return new ReconFileError(file, "a quoted field is never closed (the file looks truncated)", where);
    case "stray-quote":
      return new ReconFileError(file, 'a quote inside a field is not escaped as ""', where);
    case "record-too-long":
      return new ReconFileError(file, RECORD_TOO_LONG, where);
  }
}

const RECORD_TOO_LONG =
  "the row runs on for over a million characters without ending; a quote that is never closed is the usual cause";

async function csvRows(
  stream: Readable,
  file: string,
  delimiter: string,
): Promise<{ mapping: HeaderMapping; rows: AsyncIterable<ReconRow> }> {
  const parser = parseCsv({
    bom: true,
    delimiter,
    // Files pieced together from several exports can mix Windows and Unix line ends.
    record_delimiter: ["\r\n", "\n"],
    skip_empty_lines: true,
    // A spreadsheet that saved a CSV often leaves rows holding only separators at the end.
    skip_records_with_empty_values: true,
    relax_column_count: false,
    relax_quotes: false,
    max_record_size: MAX_RECORD_CHARS,
  });
  // pipe() does not pass errors on: without this, a damaged gzip stream would crash the process.
  stream.on("error", (error) => parser.destroy(streamError(error, file)));
  stream.pipe(parser);
  const iterator: AsyncIterator<string[]> = parser[Symbol.asyncIterator]();
  const header = await nextCsvRecord(iterator, file, 0);
  if (!header) throw new EmptyReconFileError(file, "the file is empty");
  const mapping = checkHeader(header, file);
  let row = 1;
  const rows = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const fields = await nextCsvRecord(iterator, file, header.length);
        if (!fields) break;
        row += 1;
        yield { row, fields };
      }
      if (row === 1) throw new EmptyReconFileError(file, "the file has a header but no data rows");
    },
  };
  return { mapping, rows };
}

async function nextCsvRecord(
  iterator: AsyncIterator<string[]>,
  file: string,
  headerFields: number,
): Promise<string[] | null> {
  try {
    const next = await iterator.next();
    return next.done ? null : next.value;
  } catch (error) {
    throw csvError(error, file, headerFields);
  }
}

/** The parser reads ahead, so the failing row comes from its own record count (header = row 1). */
function csvError(error: unknown, file: string, headerFields: number): ReconFileError {
  if (!(error instanceof CsvError)) return streamError(error, file);
  const records = (error as unknown as { records?: number }).records;
  const where = { row: typeof records === "number" ? records + 1 : undefined };
  switch (error.code) {
    case "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH": {
      const found = Array.isArray(error.record) ? error.record.length : "a different number of";
      const reason = `expected ${headerFields} fields but found ${found} (truncated or malformed row)`;
      return new ReconFileError(file, reason, where);
    }
    case "CSV_QUOTE_NOT_CLOSED":
      return new ReconFileError(file, "a quoted field is never closed (the file looks truncated)", where);
    case "CSV_MAX_RECORD_SIZE":
      return new ReconFileError(file, RECORD_TOO_LONG, where);
    case "CSV_INVALID_CLOSING_QUOTE":
    case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE":
    case "INVALID_OPENING_QUOTE":
      return new ReconFileError(file, 'a quote inside a field is not escaped as ""', where);
    default:
      return new ReconFileError(file, error.message, where);
  }
}

function checkHeader(header: string[], file: string): HeaderMapping {
  const mapping = mapHeader(header);
  if (mapping.recognized < MIN_RECOGNISED_COLUMNS) {
    throw new ReconFileError(
      file,
      `this is not an NCE invoice reconciliation file: the header has ${mapping.recognized} of the ${RECON_COLUMN_NAMES.length} known columns`,
      { row: 1 },
    );
  }
  if (mapping.missingRequired.length > 0) {
    throw new ReconFileError(
      file,
      `required column(s) missing from the header: ${mapping.missingRequired.join(", ")}`,
      { row: 1 },
    );
  }
  if (mapping.duplicates.length > 0) {
    throw new ReconFileError(file, `column(s) appear twice in the header: ${mapping.duplicates.join(", ")}`, {
      row: 1,
    });
  }
  return mapping;
}

/** JSON Lines records carry the same attributes as keys; every record is laid out on the canonical columns. */
async function jsonLinesRows(
  stream: Readable,
  file: string,
): Promise<{ mapping: HeaderMapping; rows: AsyncIterable<ReconRow> }> {
  const mapping = mapHeader(RECON_COLUMN_NAMES);
  let lineNumber = 0;
  const lines = textLines(stream, () => {
    throw new ReconFileError(file, RECORD_TOO_LONG, { row: lineNumber + 1 });
  });
  const nextRecord = async (): Promise<{ row: number; record: Record<string, unknown> } | null> => {
    for (;;) {
      const next = await lines.next().catch((error: unknown) => {
        throw streamError(error, file);
      });
      if (next.done) return null;
      lineNumber += 1;
      const text = (next.value as string).replace(/^\uFEFF/, "").trim();
      if (text === "") continue;
      return { row: lineNumber, record: parseJsonRecord(text, file, lineNumber) };
    }
  };
  const first = await nextRecord();
  if (!first) throw new EmptyReconFileError(file, "the file is empty");
  const keyMapping = mapHeader(Object.keys(first.record));
  if (keyMapping.recognized < MIN_RECOGNISED_COLUMNS) {
    throw new ReconFileError(
      file,
      "this is not an NCE reconciliation export: the records lack the known attributes",
      { row: first.row },
    );
  }
  if (keyMapping.missingRequired.length > 0) {
    throw new ReconFileError(
      file,
      `required attribute(s) missing: ${keyMapping.missingRequired.join(", ")}`,
      { row: first.row },
    );
  }
  const rows = {
    async *[Symbol.asyncIterator]() {
      for (let current: typeof first | null = first; current; current = await nextRecord()) {
        yield { row: current.row, fields: recordFields(current.record, mapping) };
      }
    },
  };
  return { mapping, rows };
}

/**
 * The lines of a text stream (`\n` or `\r\n`), each without its line end. A line longer than
 * MAX_RECORD_CHARS calls `tooLong` as soon as that is certain, instead of waiting for a line end that may never
 * come.
 */
async function* textLines(stream: Readable, tooLong: () => never): AsyncGenerator<string> {
  const decoder = new Utf8Chunks();
  let pending = "";
  const complete = function* (text: string) {
    const lines = (pending + text).split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.length > MAX_RECORD_CHARS) tooLong();
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
    if (pending.length > MAX_RECORD_CHARS) tooLong();
  };
  for await (const chunk of stream) yield* complete(decoder.write(chunk as Buffer));
  yield* complete(decoder.end());
  if (pending !== "") yield pending;
}

function parseJsonRecord(text: string, file: string, row: number): Record<string, unknown> {
  return parseFlatRecord(text) ?? parseAnyRecord(text, file, row);
}

/**
 * A number written as an attribute's value (`:` then a number as JSON writes one, then `,` `}` or `]`), for
 * quoting it so that it parses as the string of its own source text. Only JSON's own number form is matched:
 * text like `1-2` or `01` stays as it is and fails to parse, as it would through the reviver.
 */
const NUMBER_VALUE = /:(\s*)(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=\s*[,}\]])/g;

/**
 * The usual record, parsed six times faster than through a reviver (JSON.parse with a reviver took 19 µs a
 * record of 1,500 characters, without one 3 µs: 16 s of the reader thread's time per million lines): every
 * number that is an attribute's value is quoted in the text first, so it arrives as its source text, exactly
 * what the reviver would have kept. The few records this cannot read the same way are left to parseAnyRecord
 * (null): a text that no longer parses (the pattern matched inside a string, which always leaves a string
 * followed by a number) and records holding objects, or arrays of anything but strings, whose numbers the
 * reviver path turns back into numbers.
 */
function parseFlatRecord(text: string): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(NUMBER_VALUE, ':$1"$2"'));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  for (const value of Object.values(parsed)) {
    if (typeof value !== "object" || value === null) continue;
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) return null;
  }
  return parsed as Record<string, unknown>;
}

function parseAnyRecord(text: string, file: string, row: number): Record<string, unknown> {
  let parsed: unknown;
  try {
    // Keep each number's source text so money never passes through a float.
    parsed = JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
      typeof value === "number" && context?.source !== undefined ? { __number: context.source } : value,
    );
  } catch (error) {
    throw new ReconFileError(
      file,
      `not valid JSON (${error instanceof Error ? error.message : String(error)})`,
      { row },
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ReconFileError(file, "each line must be one JSON object", { row });
  }
  return parsed as Record<string, unknown>;
}

const CANONICAL_INDEX = new Map<ReconColumn, number>(RECON_COLUMN_NAMES.map((name, index) => [name, index]));

/**
 * Lays a record out on the canonical columns. Attributes that are not reconciliation columns are kept like a
 * CSV's extra columns: each new one gets the next field slot in `mapping.extras`, so later records find it.
 */
function recordFields(record: Record<string, unknown>, mapping: HeaderMapping): string[] {
  const fields = new Array<string>(RECON_COLUMN_NAMES.length + mapping.extras.length).fill("");
  for (const [key, value] of Object.entries(record)) {
    const column = columnForHeader(key);
    if (column) {
      fields[CANONICAL_INDEX.get(column)!] = jsonValueText(value);
      continue;
    }
    let extra = mapping.extras.find((e) => e.name === key);
    if (!extra) {
      extra = { index: RECON_COLUMN_NAMES.length + mapping.extras.length, name: key };
      mapping.extras.push(extra);
    }
    fields[extra.index] = jsonValueText(value);
  }
  return fields;
}

function jsonValueText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && "__number" in value)
    return String((value as { __number: string }).__number);
  if (typeof value === "boolean") return String(value);
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "object" && v !== null && "__number" in v ? Number((v as { __number: string }).__number) : v,
  );
}
