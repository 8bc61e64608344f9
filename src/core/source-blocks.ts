import { deflateRawSync, inflateRawSync } from "node:zlib";

/**
 * The rows of a reconciliation file as read (written by the reader, src/sources/reconciliation/read-lines.ts,
 * read back by the store), kept so every stored line can show exactly what Microsoft sent (docs/architecture.md,
 * the import flow). Rows are kept per batch of the import, as one compressed block: the fields of a batch's rows
 * as JSON, deflated. A row's fields repeat most of their neighbours' (customer, product, dates),
 * so a block is about a sixteenth of the JSON, and storing a block costs one database row per batch instead of
 * ~650 bytes on every line (measured: the per-line JSON halved the rate SQLite appends lines at; BENCHMARKS.md).
 * Level 1: compressing costs ~5 µs a line on the reader's thread; higher levels gain little on such text.
 */
export type SourceBlock = { firstRow: number; lastRow: number; data: Uint8Array };

type BlockJson = { rows: number[]; fields: string[][] };

export function encodeSourceBlock(rows: number[], fields: string[][]): SourceBlock {
  const json: BlockJson = { rows, fields };
  return {
    firstRow: rows[0] ?? 0,
    lastRow: rows.at(-1) ?? 0,
    data: deflateRawSync(JSON.stringify(json), { level: 1 }),
  };
}

/** The fields of `row` in a block; null when the block does not hold that row. */
export function fieldsInSourceBlock(data: Uint8Array, row: number): string[] | null {
  const block = JSON.parse(inflateRawSync(data).toString("utf8")) as BlockJson;
  const at = block.rows.indexOf(row);
  return at === -1 ? null : (block.fields[at] ?? null);
}
