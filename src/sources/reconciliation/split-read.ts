import { createHash } from "node:crypto";
import fs from "node:fs";
import { Worker } from "node:worker_threads";
import { LineKeyCounts } from "../../core/line-key-counts.ts";
import { sourceFieldNames } from "./columns.ts";
import { ReconFileError } from "./errors.ts";
import { FileTallier, type FileTally } from "./file-tally.ts";
import { revivedError, unpackBatch, type PackedBatch, type SentError } from "./read-lines-parallel.ts";
import {
  endOfFileAccessors,
  type FileEnd,
  type KnownKeysOf,
  type LineBatch,
  type LineSource,
  type ReadLinesOptions,
} from "./read-lines.ts";
import { EmptyReconFileError, readCsvHead } from "./reader.ts";
import { StretchReader } from "./split-read-stretches.ts";

/**
 * A large plain CSV file read in stretches of about a mebibyte, by a reader thread and, while the stretches hold
 * nothing new (a re-import, which writes nothing), by this thread as well, 2 stretches of every 5. One reading
 * thread was what bounded a re-import (BENCHMARKS.md, bench:ingest): parsing, typing and hashing a line cost
 * about 11 µs there while this thread waited. While stretches hold new lines, this thread is busy storing them
 * and the reader thread reads them all.
 *
 * Only this thread knows the file's order, so what depends on it happens here, stretch by stretch in file
 * order: rows are numbered (a reader numbers its rows from its stretch's start), identical rows get their
 * occurrence (a line key is `<hash>-<occurrence>`, see line-key.ts) and are recognised against the invoice's
 * stored keys, the counts are added up (the one-currency-per-invoice check included), and the first bad row
 * of the file is the error. A reader sends a stretch's content hashes, and its new lines only once told which
 * they are, so a re-import's known lines never cross threads (split-read-stretches.ts).
 *
 * A stretch starts at the first line start at or after its offset. A line break inside a quoted field could be
 * taken for one; the stretch before it then ends inside a quote, and is read again to a record end proven by
 * parsing (the stretches after it are dropped and re-planned from there), so records are always exactly the
 * ones read from the start. Only plain UTF-8 CSV with a one-character separator is split (readCsvHead);
 * gzipped, JSON Lines, UTF-16 and growing files are read by one thread (read-lines-parallel.ts).
 */
export type ChunkRequest = {
  kind: "chunk";
  seq: number;
  /** A byte offset; the stretch starts at the first line start at or after it, or there when `exactStart`. */
  start: number;
  exactStart: boolean;
  /** Likewise its end; with `provenEnd`, the end of the first record that ends at or after it. */
  end: number;
  provenEnd: boolean;
};

export type SplitWriterMessage =
  | ChunkRequest
  /** The new lines of a stretch: [index in the stretch, occurrence] pairs; rows are shifted by rowOffset. */
  | { kind: "verdict"; seq: number; rowOffset: number; newLines: number[] }
  /** A stretch none of whose lines is wanted. */
  | { kind: "drop"; seq: number };

export type ChunkRead = {
  kind: "read";
  seq: number;
  start: number;
  end: number;
  /** Lines read before the failure, if any; each one's 20-byte content hash is in `digests`. */
  lines: number;
  digests: Uint8Array<ArrayBuffer>;
  tally: FileTally;
  /** Per invoice of the tally, the index of its first line in the stretch. */
  firstIndexes: number[];
  /** The stretch's first bad row (its row counted from the stretch's start); `boundary`: see above. */
  failure: { error: SentError; boundary: boolean } | null;
};

export type SplitReaderMessage = ChunkRead | { kind: "lines"; seq: number; batch: PackedBatch };

/** Files at least this large are read by two threads when they can be (smaller ones by one; see above). */
export const SPLIT_READ_FROM_BYTES = 32 << 20;
const STRETCH_BYTES = 1 << 20;
/**
 * Stretches asked for and not yet handed on: while they hold nothing new, up to 6 of a mebibyte (only their
 * content hashes cross threads); while they hold new lines, which are kept, sent and stored, up to 3 of an
 * eighth of that (about 240 lines each, near the importer's batch of 400): 6 mebibytes of kept lines in flight
 * showed as 70 MB more peak RSS in a new import of a million lines, an eighth kept it under 300 MB.
 */
const STRETCHES_AHEAD = 6;
const STORING_AHEAD = 3;

export type SplitReadOptions = ReadLinesOptions & {
  /** Bytes per stretch; tests make it small to have many. */
  stretchBytes?: number;
};

/** Null when the file cannot be split (see above): the caller reads it another way. */
export async function readLinesSplit(
  filePath: string,
  options: SplitReadOptions,
  knownKeysOf?: KnownKeysOf,
): Promise<LineSource | null> {
  if (options.growing) return null;
  const delimiter = options.delimiter ?? ",";
  const head = readCsvHead(filePath, delimiter);
  if (!head) return null;
  const size = fs.statSync(filePath).size;
  const sha256 = hashFile(filePath);
  sha256.catch(() => {}); // awaited at the end; an error before then is not also an unhandled one
  // The readers take the header as read here rather than read and check it again.
  const file = { path: filePath, head, size };
  const sourceBlocks = options.sourceBlocks ?? true;
  const thread = new ThreadReader(file, delimiter, sourceBlocks);
  const here = new MainThreadReader(file, delimiter, sourceBlocks);
  const stretchBytes = options.stretchBytes ?? STRETCH_BYTES;
  let end: FileEnd | null = null;

  async function* batches(): AsyncGenerator<LineBatch> {
    const tallier = new FileTallier(head!.file);
    const keys = new LineKeyCounts();
    const asked = new Set<string>();
    type Asked = { request: ChunkRequest; reader: StretchSource };
    /** Stretches asked for and not yet numbered, in file order. */
    const pending: Asked[] = [];
    /** Numbered stretches whose new lines are still to come, in file order. */
    const numbered: { read: ChunkRead; rowsRead: number; lines: Promise<NewLines> | null }[] = [];
    let seq = 0;
    // The next stretch to ask for; null while one is being read to a proven end, whose end it starts at.
    let next: { start: number; exact: boolean } | null = { start: head!.dataStart, exact: true };
    let rowsRead = 0;
    // Whether the last stretch numbered held new lines: then this thread is busy storing them, and the reader
    // thread reads every stretch; while stretches hold nothing new (a re-import), this thread reads some itself.
    let storing = true;
    const ask = () => {
      // Stretches of new lines are smaller and fewer are read ahead (see STORING_AHEAD).
      const ahead = storing ? STORING_AHEAD : STRETCHES_AHEAD;
      while (next && next.start < size && pending.length + numbered.length < ahead) {
        const request: ChunkRequest = {
          kind: "chunk",
          seq: seq++,
          start: next.start,
          exactStart: next.exact,
          end: next.start + Math.max(1, storing ? Math.round(stretchBytes / 8) : stretchBytes),
          provenEnd: false,
        };
        // This thread reads 2 stretches of every 5: it also hashes the file and numbers every stretch (a re-import
        // of a million lines: 2.3 s of its CPU besides reading, against 5.9 s for the reader thread's half).
        const reader = !storing && (request.seq % 5) % 2 === 1 ? here : thread;
        reader.post(request);
        pending.push({ request, reader });
        next = { start: request.end, exact: false };
      }
    };
    const number = async (read: ChunkRead, reader: StretchSource): Promise<void> => {
      const rowOffset = rowsRead + 1;
      tallier.merge(
        read.tally,
        read.firstIndexes.map((index) => index + 1 + rowOffset),
      );
      if (read.failure) throw withRowOffset(revivedError(read.failure.error), rowOffset);
      for (const invoice of read.tally.invoices) {
        if (!knownKeysOf || asked.has(invoice.invoiceNumber)) continue;
        asked.add(invoice.invoiceNumber);
        keys.addKnownKeys(await knownKeysOf(invoice.invoiceNumber));
      }
      const newLines: number[] = [];
      for (let i = 0; i < read.lines; i++) {
        const { occurrence, stored } = keys.nextDigest(read.digests, i * 20);
        if (!stored) newLines.push(i, occurrence);
      }
      rowsRead += read.lines;
      storing = newLines.length > 0;
      if (newLines.length === 0) {
        reader.post({ kind: "drop", seq: read.seq });
        numbered.push({ read, rowsRead, lines: null });
      } else {
        reader.post({ kind: "verdict", seq: read.seq, rowOffset, newLines });
        numbered.push({ read, rowsRead, lines: reader.linesOf(read.seq) });
      }
    };

    ask();
    for (;;) {
      // Number every stretch already read, so the readers learn which lines to send while the writer writes.
      while (
        pending.length > 0 &&
        (numbered.length === 0 || pending[0]!.reader.hasRead(pending[0]!.request.seq))
      ) {
        const { request, reader } = pending.shift()!;
        const read = await reader.readOf(request.seq);
        if (read.failure?.boundary) {
          // Cut inside a quoted field: read it again to a proven end and re-plan the rest from there.
          for (const dropped of pending.splice(0)) dropped.reader.forget(dropped.request.seq);
          const again: ChunkRequest = {
            ...request,
            seq: seq++,
            start: read.start,
            exactStart: true,
            provenEnd: true,
          };
          thread.post(again);
          pending.push({ request: again, reader: thread });
          next = null;
          continue;
        }
        if (request.provenEnd) next = { start: read.end, exact: true };
        await number(read, reader);
        ask();
      }
      const done = numbered.shift();
      if (!done) break;
      const { lines, sources } = done.lines ? await done.lines : { lines: [], sources: null };
      ask();
      yield { lines, sources, bytesRead: done.read.end, rowsRead: done.rowsRead };
    }
    if (rowsRead === 0) throw new EmptyReconFileError(head!.file, "the file has a header but no data rows");
    end = { sha256: await sha256, sourceFields: sourceFieldNames(head!.mapping), tally: tallier.tally() };
  }

  const close = async () => {
    await Promise.all([thread.stop(), here.stop()]);
  };
  const reading = batches();
  return {
    file: head.file,
    format: "csv",
    sizeBytes: size,
    batches: (async function* () {
      try {
        yield* reading;
      } finally {
        await close();
      }
    })(),
    close,
    ...endOfFileAccessors(() => end),
  };
}

type NewLines = Pick<LineBatch, "lines" | "sources">;
type StretchFile = ConstructorParameters<typeof StretchReader>[0];

/** What reads stretches: a reader thread, or this thread itself. */
interface StretchSource {
  post(message: SplitWriterMessage): void;
  /** Whether the stretch can be had without waiting for another thread. */
  hasRead(seq: number): boolean;
  /** A stretch asked for and no longer wanted. */
  forget(seq: number): void;
  readOf(seq: number): Promise<ChunkRead>;
  linesOf(seq: number): Promise<NewLines>;
  stop(): Promise<void>;
}

/**
 * Stretches read on this thread, when it is asked for them: this thread has nothing else to do while a
 * re-import recognises every line, and a second reader thread would cost its own heap (about 45 MB of peak
 * RSS, measured, against the goal of 300 MB for the whole import; BENCHMARKS.md bench:ingest).
 */
class MainThreadReader implements StretchSource {
  private readonly stretches: StretchReader;
  private readonly asked: ChunkRequest[] = [];
  private readonly reads = new Map<number, ChunkRead>();
  private readonly lines = new Map<number, NewLines>();

  constructor(file: StretchFile, delimiter: string, sourceBlocks: boolean) {
    this.stretches = new StretchReader(file, delimiter, sourceBlocks);
  }

  post(message: SplitWriterMessage): void {
    if (message.kind === "chunk") this.asked.push(message);
    else if (message.kind === "drop") this.stretches.drop(message.seq);
    else this.lines.set(message.seq, this.stretches.newLines(message));
  }

  hasRead(): boolean {
    return true;
  }

  forget(seq: number): void {
    const at = this.asked.findIndex((request) => request.seq === seq);
    if (at !== -1) this.asked.splice(at, 1);
    else if (this.reads.delete(seq)) this.stretches.drop(seq);
  }

  async readOf(seq: number): Promise<ChunkRead> {
    while (!this.reads.has(seq)) {
      const request = this.asked.shift();
      if (!request) throw new Error(`stretch ${seq} was not asked for`);
      // A turn of the event loop first: reading synchronously stretch after stretch would leave V8 no turn to
      // finish its garbage collections (the heap, and peak RSS, grew by tens of MB).
      await new Promise(setImmediate);
      this.reads.set(request.seq, this.stretches.read(request));
    }
    const read = this.reads.get(seq)!;
    this.reads.delete(seq);
    return read;
  }

  async linesOf(seq: number): Promise<NewLines> {
    const lines = this.lines.get(seq)!;
    this.lines.delete(seq);
    return lines;
  }

  async stop(): Promise<void> {
    this.stretches.close();
  }
}

/** A reader thread and what it has sent, by stretch. */
class ThreadReader implements StretchSource {
  private readonly worker: Worker;
  private readonly reads = new Map<number, ChunkRead>();
  private readonly lines = new Map<number, PackedBatch>();
  private readonly forgotten = new Set<number>();
  /** Whoever awaits a message of this reader (the next read, and the new lines of a numbered stretch). */
  private waiting: (() => void)[] = [];
  private failure: Error | null = null;
  private stopped = false;

  constructor(file: StretchFile, delimiter: string, sourceBlocks: boolean) {
    this.worker = new Worker(new URL("./split-read-worker.ts", import.meta.url), {
      workerData: { file, delimiter, sourceBlocks },
      resourceLimits: { maxOldGenerationSizeMb: 64 },
    });
    this.worker.on("message", (message: SplitReaderMessage) => {
      if (this.forgotten.delete(message.seq)) {
        if (message.kind === "read") this.post({ kind: "drop", seq: message.seq });
        return;
      }
      if (message.kind === "read") this.reads.set(message.seq, message);
      else this.lines.set(message.seq, message.batch);
      this.wake();
    });
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", (code) => {
      if (!this.stopped) this.fail(new Error(`a file reader thread stopped (exit code ${code})`));
    });
  }

  post(message: SplitWriterMessage): void {
    this.worker.postMessage(message);
  }

  hasRead(seq: number): boolean {
    return this.reads.has(seq);
  }

  /** A stretch asked for and no longer wanted: the reader drops it once read. */
  forget(seq: number): void {
    if (this.reads.delete(seq)) this.post({ kind: "drop", seq });
    else this.forgotten.add(seq);
  }

  async readOf(seq: number): Promise<ChunkRead> {
    const read = await this.until(() => this.reads.get(seq));
    this.reads.delete(seq);
    return read;
  }

  async linesOf(seq: number): Promise<NewLines> {
    const batch = await this.until(() => this.lines.get(seq));
    this.lines.delete(seq);
    return unpackBatch(batch);
  }

  private async until<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      if (this.failure) throw this.failure;
      const value = take();
      if (value !== undefined) return value;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.worker.terminate();
  }
}

/** A reader's error, its row moved from the stretch's count to the file's. */
function withRowOffset(error: Error, rowOffset: number): Error {
  if (!(error instanceof ReconFileError) || error.row === undefined) return error;
  const ErrorType = error instanceof EmptyReconFileError ? EmptyReconFileError : ReconFileError;
  return new ErrorType(error.file, error.reason, {
    row: error.row + rowOffset,
    column: error.column,
    hint: error.hint,
  });
}

/** SHA-256 of the file's bytes, read on this thread beside the readers (it is one pass of ~2 GB/s). */
async function hashFile(filePath: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fs.createReadStream(filePath, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest("hex");
}
