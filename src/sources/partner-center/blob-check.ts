import fs from "node:fs";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { SourceError } from "./http.ts";

/** Where one downloaded blob's bytes lie in the file its export was appended into (`end` exclusive). */
export type BlobExtent = { name: string; start: number; end: number };

/** A blob whose bytes broke off or do not decompress to their end; nothing of the export is stored. */
export function corruptBlob(blobName: string, error: unknown): SourceError {
  const message = error instanceof Error ? error.message : String(error);
  return new SourceError(
    "corrupt-blob",
    `blob ${blobName} is truncated or corrupt (${message}); nothing of it was stored`,
    {
      cause: error,
    },
  );
}

/**
 * Inflates each blob's bytes of `file` on their own, to the end of their gzip checksum, and returns the first blob
 * that does not decompress whole as a `corrupt-blob` error (null when every one does). Run only when an import of
 * the file failed: the import inflates the same bytes as one stream and cannot tell which blob was damaged, nor
 * whether garbage it could not read as lines came from a blob cut short.
 */
export async function findDamagedBlob(
  file: string,
  blobs: readonly BlobExtent[],
): Promise<SourceError | null> {
  for (const blob of blobs) {
    try {
      if (blob.end <= blob.start) throw new Error("the blob is empty");
      await pipeline(
        fs.createReadStream(file, { start: blob.start, end: blob.end - 1 }),
        createGunzip(),
        new Writable({ write: (_chunk, _encoding, done) => done() }),
      );
    } catch (error) {
      return corruptBlob(blob.name, error);
    }
  }
  return null;
}
