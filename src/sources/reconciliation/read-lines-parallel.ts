import { Worker } from "node:worker_threads";
import type { ChargeLine, Classification } from "../../core/billing.ts";
import type { StandaloneEventFields } from "../../core/events.ts";
import type { KnownKeys } from "../../core/line-key-counts.ts";
import { ReconFileError, type ReconFileHint } from "./errors.ts";
import { EmptyReconFileError } from "./reader.ts";
import {
  endOfFileAccessors,
  type FileEnd,
  type KnownKeysOf,
  type LineBatch,
  type ReadLine,
  type LineSource,
  type ReadLinesOptions,
} from "./read-lines.ts";

/**
 * readLines on a worker thread: parsing, typing, hashing and classifying a line cost about as much CPU as
 * storing it, so a large import reads on one core while the database is written on the other. The worker
 * reads at most a few batches ahead of what has been stored, so memory stays bounded whatever the file size;
 * file errors come back as the same ReconFileError (file, row, column) the inline reader throws.
 */
export type ReaderMessage =
  | { kind: "opened"; file: string; format: LineSource["format"]; sizeBytes: number }
  | { kind: "known-keys?"; invoiceNumber: string }
  | { kind: "batch"; batch: PackedBatch }
  | ({ kind: "end" } & FileEnd)
  | { kind: "failed"; error: SentError };

export type SentError = {
  message: string;
  stack?: string;
  reconFile?: {
    file: string;
    reason: string;
    row?: number;
    column?: string;
    hint?: ReconFileHint;
    empty: boolean;
  };
};

/** What the writer's thread sends the reader: credit for one more batch, or the stored keys it asked for. */
export type WriterMessage = "more" | { kind: "known-keys"; known: KnownKeys };

/** Batches the worker may read before the writer has taken them. */
export const BATCHES_AHEAD = 3;

/** readLines on a worker thread; `knownKeysOf` runs on this thread when the reader asks for an invoice's keys. */
export async function readLinesInWorker(
  filePath: string,
  options: ReadLinesOptions,
  knownKeysOf?: KnownKeysOf,
): Promise<LineSource> {
  const worker = new Worker(new URL("./read-lines-worker.ts", import.meta.url), {
    workerData: { filePath, options, recognise: knownKeysOf !== undefined },
    // The reader needs little heap of its own; a bounded one keeps the two threads' total predictable.
    resourceLimits: { maxOldGenerationSizeMb: 64 },
  });
  const inbox = new Inbox();
  worker.on("message", (message: ReaderMessage) => inbox.push(message));
  worker.on("error", (error) => inbox.push({ kind: "failed", error: sendableError(error) }));
  worker.on("exit", (code) =>
    inbox.push({ kind: "failed", error: { message: `the file reader thread stopped (exit code ${code})` } }),
  );
  const opened = await inbox.next();
  if (opened.kind !== "opened") {
    await worker.terminate();
    throw opened.kind === "failed" ? revivedError(opened.error) : new Error(`unexpected ${opened.kind}`);
  }
  let end: FileEnd | null = null;
  async function* batches(): AsyncGenerator<LineBatch> {
    try {
      for (;;) {
        const message = await inbox.next();
        if (message.kind === "batch") {
          worker.postMessage("more" satisfies WriterMessage);
          yield unpackBatch(message.batch);
        } else if (message.kind === "known-keys?") {
          const known = await knownKeysOf!(message.invoiceNumber);
          worker.postMessage({ kind: "known-keys", known } satisfies WriterMessage, [
            known.digests.buffer,
            known.counts.buffer,
            known.slots.buffer,
          ]);
        } else if (message.kind === "end") {
          end = message;
          return;
        } else if (message.kind === "failed") throw revivedError(message.error);
      }
    } finally {
      await worker.terminate();
    }
  }
  return {
    file: opened.file,
    format: opened.format,
    sizeBytes: opened.sizeBytes,
    batches: batches(),
    close: async () => {
      await worker.terminate();
    },
    ...endOfFileAccessors(() => end),
  };
}

export function sendableError(error: unknown): SentError {
  if (error instanceof ReconFileError) {
    return {
      message: error.message,
      reconFile: {
        file: error.file,
        reason: error.reason,
        row: error.row,
        column: error.column,
        hint: error.hint,
        empty: error instanceof EmptyReconFileError,
      },
    };
  }
  if (error instanceof Error) return { message: error.message, stack: error.stack };
  return { message: String(error) };
}

export function revivedError(sent: SentError): Error {
  const recon = sent.reconFile;
  if (recon) {
    const ErrorType = recon.empty ? EmptyReconFileError : ReconFileError;
    return new ErrorType(recon.file, recon.reason, {
      row: recon.row,
      column: recon.column,
      hint: recon.hint,
    });
  }
  const error = new Error(sent.message);
  if (sent.stack) error.stack = sent.stack;
  return error;
}

/**
 * A batch as it crosses between the threads: every line's values in one flat array, in a fixed order. Cloning
 * objects writes and reads every property name of every line; a flat array of the same values clones about
 * three times faster (measured with v8.serialize on 20,000 generated lines: 160 ms against 491 ms, and the
 * reading side likewise), which matters because the reader's thread is the busier one.
 */
export type PackedBatch = Omit<LineBatch, "lines"> & { values: unknown[] };

const LINE_FIELDS = [
  "sourceRow",
  "partnerId",
  "customerTenantId",
  "customerName",
  "customerDomain",
  "customerCountry",
  "invoiceNumber",
  "orderId",
  "orderDate",
  "productId",
  "skuId",
  "availabilityId",
  "productName",
  "skuName",
  "chargeType",
  "unitPrice",
  "quantity",
  "subtotal",
  "taxTotal",
  "total",
  "currency",
  "publisherName",
  "subscriptionDescription",
  "subscriptionId",
  "chargeStart",
  "chargeEnd",
  "termAndBillingCycle",
  "effectiveUnitPrice",
  "unitType",
  "billableQuantity",
  "billingFrequency",
  "meterDescription",
  "reservationOrderId",
  "subscriptionStart",
  "subscriptionEnd",
  "referenceId",
  "productQualifiers",
  "promotionId",
] as const satisfies readonly (keyof ChargeLine)[];
// Every field of a ChargeLine crosses: this fails to compile when one is added to ChargeLine and not above.
const everyLineField: Exclude<keyof ChargeLine, (typeof LINE_FIELDS)[number]> extends never ? true : never =
  true;
void everyLineField;
/**
 * Values per line: the ChargeLine's, then hash, line key, the classification's three, and whether the line
 * is an event on its own with that event's three fields.
 */
const VALUES_PER_LINE = LINE_FIELDS.length + 9;

export function packBatch({ lines, ...rest }: LineBatch): PackedBatch {
  const values: unknown[] = [];
  for (const { line, hash, lineKey, classification, standalone } of lines) {
    for (const field of LINE_FIELDS) values.push(line[field]);
    values.push(hash, lineKey, classification.motion, classification.billable, classification.reason);
    values.push(standalone !== null, standalone?.kind, standalone?.seatDelta, standalone?.seatsAfter);
  }
  return { ...rest, values };
}

export function unpackBatch({ values, ...rest }: PackedBatch): LineBatch {
  const lines: ReadLine[] = [];
  for (let at = 0; at < values.length; at += VALUES_PER_LINE) {
    const line = {} as Record<string, unknown>;
    LINE_FIELDS.forEach((field, i) => (line[field] = values[at + i]));
    let i = at + LINE_FIELDS.length;
    const hash = values[i++] as string;
    const lineKey = values[i++] as string;
    const classification = {
      motion: values[i++],
      billable: values[i++],
      reason: values[i++],
    } as Classification;
    const isStandalone = values[i++] as boolean;
    const kind = values[i++];
    const seatDelta = values[i++];
    const seatsAfter = values[i++];
    lines.push({
      line: line as ChargeLine,
      hash,
      lineKey,
      classification,
      standalone: isStandalone ? ({ kind, seatDelta, seatsAfter } as StandaloneEventFields) : null,
    });
  }
  return { ...rest, lines };
}

/** Messages in arrival order, awaited one at a time. */
class Inbox {
  private readonly queue: ReaderMessage[] = [];
  private waiting: ((message: ReaderMessage) => void) | null = null;

  push(message: ReaderMessage): void {
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) waiting(message);
    else this.queue.push(message);
  }

  next(): Promise<ReaderMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}
