import fs from "node:fs";
import { Readable, Writable } from "node:stream";

/**
 * A file that is read while it is still being written: a fetched invoice is imported while its blobs are still
 * downloading (docs/partner-center.md §5), instead of after the last one. The writer appends and publishes how
 * many bytes are on disk, then says the file is complete or that it failed; the reader reads up to the
 * published length, waits when it has caught up, ends at the end of a complete file and fails when the writer
 * failed, so an import of a download that broke off stores nothing.
 *
 * The signal is a SharedArrayBuffer, so it reaches a reader on another thread (the import reads large inputs on
 * a worker, whose options must survive being cloned) and both threads see every change at once through Atomics.
 */
export type GrowthSignal = SharedArrayBuffer;

/** Int32 slots: the state, and a counter bumped on every change (what a waiting reader sleeps on). */
const STATE = 0;
const CHANGES = 1;
/** Byte offset of the BigInt64 slot holding the length written so far. */
const LENGTH_OFFSET = 8;

/** Bytes the first chunk waits for (unless the file completes shorter). */
const FIRST_CHUNK = 16 << 10;

const GROWING = 0;
const COMPLETE = 1;
const FAILED = 2;

/** The writer stopped before the file was complete (the download failed or was given up). */
export class GrowingFileFailedError extends Error {
  constructor(file: string) {
    super(`${file}: its download stopped before it was complete; nothing of it is stored`);
    this.name = "GrowingFileFailedError";
  }
}

function views(signal: GrowthSignal) {
  return { ints: new Int32Array(signal, 0, 2), length: new BigInt64Array(signal, LENGTH_OFFSET, 1) };
}

/**
 * The writing side: a Writable that appends to the file, publishing each write once it is on disk; `complete()`
 * or `fail()` ends it. Whatever happens, one of the two must be called, or a reader waits for more.
 */
export class GrowingFileWriter extends Writable {
  readonly signal: GrowthSignal = new SharedArrayBuffer(16);
  private readonly fd: number;
  private written = 0;

  private constructor(fd: number) {
    super({ highWaterMark: 1 << 20 });
    this.fd = fd;
  }

  /** Creates (or empties) the file, private to this user. */
  static create(filePath: string): GrowingFileWriter {
    return new GrowingFileWriter(fs.openSync(filePath, "w", 0o600));
  }

  get bytesWritten(): number {
    return this.written;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.writeAll(chunk, 0, done);
  }

  private writeAll(chunk: Buffer, from: number, done: (error?: Error | null) => void): void {
    fs.write(this.fd, chunk, from, chunk.length - from, null, (error, bytes) => {
      if (error) return done(error);
      this.written += bytes;
      this.publish();
      if (from + bytes < chunk.length) this.writeAll(chunk, from + bytes, done);
      else done();
    });
  }

  override _final(done: (error?: Error | null) => void): void {
    fs.close(this.fd, (error) => done(error));
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (this.writableFinished) return done(error);
    fs.close(this.fd, () => done(error));
  }

  /** Every byte is written: the reader reads to the end. Call once the stream has finished. */
  complete(): void {
    this.settle(COMPLETE);
  }

  /** The file will never be complete: the reader fails (and with it the import). */
  fail(): void {
    this.settle(FAILED);
    if (!this.destroyed) this.destroy();
  }

  private settle(state: number): void {
    const { ints } = views(this.signal);
    if (Atomics.compareExchange(ints, STATE, GROWING, state) !== GROWING) return;
    Atomics.add(ints, CHANGES, 1);
    Atomics.notify(ints, CHANGES);
  }

  private publish(): void {
    const { ints, length } = views(this.signal);
    Atomics.store(length, 0, BigInt(this.written));
    Atomics.add(ints, CHANGES, 1);
    Atomics.notify(ints, CHANGES);
  }
}

/** What the writer has said so far. */
export function growthOf(signal: GrowthSignal): {
  length: number;
  state: "growing" | "complete" | "failed";
} {
  const { ints, length } = views(signal);
  const state = Atomics.load(ints, STATE);
  return {
    length: Number(Atomics.load(length, 0)),
    state: state === COMPLETE ? "complete" : state === FAILED ? "failed" : "growing",
  };
}

/**
 * Resolves once the writer has said complete or failed. Each wait is bounded so a reader left waiting looks
 * again; the writer's notify wakes it at once.
 */
export async function settledGrowth(signal: GrowthSignal): Promise<"complete" | "failed"> {
  for (;;) {
    const { ints } = views(signal);
    const seen = Atomics.load(ints, CHANGES);
    const { state } = growthOf(signal);
    if (state !== "growing") return state;
    await waitForChange(ints, seen);
  }
}

async function waitForChange(ints: Int32Array, seen: number): Promise<void> {
  const wait = Atomics.waitAsync(ints, CHANGES, seen, 1000);
  if (wait.async) await wait.value;
}

/**
 * Reads a growing file from its start: chunks as the writer publishes them, the end once it is complete, and a
 * GrowingFileFailedError once it has failed. `bytesRead` counts what was read so far.
 */
export function readGrowingFile(
  filePath: string,
  signal: GrowthSignal,
  chunkSize = 1 << 20,
): { stream: Readable; bytesRead: () => number } {
  let position = 0;
  const name = filePath.split(/[\\/]/).pop() ?? filePath;
  async function* chunks(): AsyncGenerator<Buffer> {
    const handle = await fs.promises.open(filePath, "r");
    try {
      for (;;) {
        const { ints } = views(signal);
        const seen = Atomics.load(ints, CHANGES);
        const { length, state } = growthOf(signal);
        if (state === "failed") throw new GrowingFileFailedError(name);
        // The first chunk is what the format is recognised from (the gzip magic, the first line): it waits
        // for enough bytes instead of taking the first few the writer published.
        const enough = position > 0 || length >= FIRST_CHUNK || state === "complete";
        if (position < length && enough) {
          const buffer = Buffer.allocUnsafe(Math.min(chunkSize, length - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) throw new Error(`${name}: ended before the ${length} bytes written to it`);
          position += bytesRead;
          yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
          continue;
        }
        if (state === "complete") return;
        await waitForChange(ints, seen);
      }
    } finally {
      await handle.close();
    }
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), bytesRead: () => position };
}
