import { parentPort, workerData } from "node:worker_threads";
import { packBatch } from "./read-lines-parallel.ts";
import type { SplitReaderMessage, SplitWriterMessage } from "./split-read.ts";
import { StretchReader, type CsvHead } from "./split-read-stretches.ts";

/** A reader thread of split-read.ts: a StretchReader answering the main thread's messages. */
const { file, delimiter, sourceBlocks } = workerData as {
  file: { path: string; head: CsvHead; size: number };
  delimiter: string;
  sourceBlocks: boolean;
};
const stretches = new StretchReader(file, delimiter, sourceBlocks);
const port = parentPort!;
const send = (message: SplitReaderMessage, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

port.on("message", (message: SplitWriterMessage) => {
  if (message.kind === "chunk") {
    const read = stretches.read(message);
    send(read, [read.digests.buffer]);
  } else if (message.kind === "drop") stretches.drop(message.seq);
  else {
    const batch = packBatch({ ...stretches.newLines(message), bytesRead: 0, rowsRead: 0 });
    send({ kind: "lines", seq: message.seq, batch });
  }
});
