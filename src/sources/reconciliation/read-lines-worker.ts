import { parentPort, workerData } from "node:worker_threads";
import type { KnownKeys } from "../../core/line-key-counts.ts";
import { readLines, type ReadLinesOptions } from "./read-lines.ts";
import {
  BATCHES_AHEAD,
  packBatch,
  sendableError,
  type ReaderMessage,
  type WriterMessage,
} from "./read-lines-parallel.ts";

/**
 * The worker side of readLinesInWorker: reads and posts batches while the writer has credit left, and asks the
 * writer for an invoice's stored keys when the import recognises known lines.
 */
const { filePath, options, recognise } = workerData as {
  filePath: string;
  options: ReadLinesOptions;
  recognise: boolean;
};
const port = parentPort!;
let credit = BATCHES_AHEAD;
let wake: (() => void) | null = null;
let keysArrived: ((known: KnownKeys) => void) | null = null;
port.on("message", (message: WriterMessage) => {
  if (message === "more") {
    credit += 1;
    wake?.();
    wake = null;
  } else {
    keysArrived?.(message.known);
    keysArrived = null;
  }
});
const send = (message: ReaderMessage) => port.postMessage(message);
const knownKeysOf = (invoiceNumber: string) =>
  new Promise<KnownKeys>((resolve) => {
    keysArrived = resolve;
    send({ kind: "known-keys?", invoiceNumber });
  });

try {
  const source = await readLines(filePath, options, recognise ? knownKeysOf : undefined);
  send({ kind: "opened", file: source.file, format: source.format, sizeBytes: source.sizeBytes });
  for await (const batch of source.batches) {
    while (credit === 0) await new Promise<void>((resolve) => (wake = resolve));
    credit -= 1;
    send({ kind: "batch", batch: packBatch(batch) });
  }
  send({ kind: "end", sha256: source.sha256(), sourceFields: source.sourceFields(), tally: source.tally() });
} catch (error) {
  send({ kind: "failed", error: sendableError(error) });
}
