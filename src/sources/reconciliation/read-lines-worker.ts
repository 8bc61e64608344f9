import { parentPort, workerData } from "node:worker_threads";
import { readLines, type ReadLinesOptions } from "./read-lines.ts";
import { BATCHES_AHEAD, sendableError, type ReaderMessage } from "./read-lines-parallel.ts";

/** The worker side of readLinesInWorker: reads and posts batches while the writer has credit left. */
const { filePath, options } = workerData as { filePath: string; options: ReadLinesOptions };
const port = parentPort!;
let credit = BATCHES_AHEAD;
let wake: (() => void) | null = null;
port.on("message", () => {
  credit += 1;
  wake?.();
  wake = null;
});
const send = (message: ReaderMessage) => port.postMessage(message);

try {
  const source = await readLines(filePath, options);
  send({ kind: "opened", file: source.file, format: source.format, sizeBytes: source.sizeBytes });
  for await (const batch of source.batches) {
    while (credit === 0) await new Promise<void>((resolve) => (wake = resolve));
    credit -= 1;
    send({ kind: "batch", batch });
  }
  send({ kind: "end", sha256: source.sha256(), sourceFields: source.sourceFields() });
} catch (error) {
  send({ kind: "failed", error: sendableError(error) });
}
