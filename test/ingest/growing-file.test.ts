import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setImmediate as turn, setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import {
  GrowingFileFailedError,
  GrowingFileWriter,
  readGrowingFile,
} from "../../src/sources/reconciliation/growing-file.ts";
import { ReconFileError } from "../../src/sources/reconciliation/errors.ts";
import { openReconFile } from "../../src/sources/reconciliation/reader.ts";

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cspsync-growing-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `chunks` one by one, letting the reader run between them. */
async function writeSlowly(out: GrowingFileWriter, chunks: Buffer[]) {
  for (const chunk of chunks) {
    await new Promise<void>((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve())));
    await turn();
  }
}

const end = (out: GrowingFileWriter) =>
  new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe("growing file: read while it is written", () => {
  it("reads every byte exactly once, in order, and ends only once the writer says it is complete", async () => {
    const temp = tempDir();
    try {
      const file = path.join(temp.dir, "growing.bin");
      const out = GrowingFileWriter.create(file);
      const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(1 + ((i * 7919) % 50_000)));
      const reader = readGrowingFile(file, out.signal, 4096);
      let ended = false;
      const read = collect(reader.stream).finally(() => (ended = true));
      await writeSlowly(out, chunks);
      await end(out);
      for (let i = 0; i < 20; i += 1) await turn();
      assert.equal(ended, false, "all bytes are written but the file is not complete yet: the reader waits");
      out.complete();
      const bytes = await read;
      assert.ok(bytes.equals(Buffer.concat(chunks)));
      assert.equal(reader.bytesRead(), bytes.length);
    } finally {
      temp.remove();
    }
  });

  it("a writer that fails fails the reader, whatever it has read", async () => {
    const temp = tempDir();
    try {
      const file = path.join(temp.dir, "growing.bin");
      const out = GrowingFileWriter.create(file);
      const reader = readGrowingFile(file, out.signal, 4096);
      const read = collect(reader.stream);
      await writeSlowly(out, [randomBytes(100_000)]);
      out.fail();
      await assert.rejects(read, GrowingFileFailedError);
    } finally {
      temp.remove();
    }
  });

  it("a file error met while the file grows waits for the writer: a failed download, not a bad file", async () => {
    const temp = tempDir();
    try {
      for (const outcome of ["failed", "complete"] as const) {
        const file = path.join(temp.dir, `${outcome}.jsonl.gz`);
        const out = GrowingFileWriter.create(file);
        // What a broken download can look like: records that are not reconciliation lines, then bytes that are
        // not gzip data. Either is a file error, which must not be reported before the download's outcome.
        const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ n: i, pad: "x".repeat(200) }));
        const good = gzipSync(`${lines.join("\n")}\n`);
        await writeSlowly(out, [good.subarray(0, good.length - 20), randomBytes(30_000)]);
        const opening = openReconFile(file, { growing: out.signal }).then(
          async (recon) => {
            for await (const _row of recon.rows);
          },
          (error: unknown) => {
            throw error;
          },
        );
        let settled = false;
        void opening.catch(() => undefined).finally(() => (settled = true));
        // Long enough for the reader to meet the damaged bytes; it must not report them yet.
        await sleep(200);
        assert.equal(settled, false, "the reader waits for the writer before it reports a file error");
        if (outcome === "failed") {
          out.fail();
          await assert.rejects(opening, GrowingFileFailedError);
        } else {
          await end(out);
          out.complete();
          await assert.rejects(opening, (error) => error instanceof ReconFileError);
        }
      }
    } finally {
      temp.remove();
    }
  });
});
