import { z } from "zod";
import type { TableName } from "./resources.ts";
import { TABLE_NAMES } from "./resources.ts";

/**
 * The emulator's whole world: plain JSON (money as decimal strings, references stored as `{id}`), so it can be
 * persisted as is and reloaded after a restart.
 */
export type Info = { lastUpdated: string; updatedBy: string | null };
export type Row = { id: number; _info: Info } & Record<string, unknown>;

export type CwEmulatorData = {
  formatVersion: 1;
  /** What `/login/companyinfo` reports; a cloud upgrade changes it (docs/connectwise.md §2). */
  codebase: string;
  nextIds: Record<TableName, number>;
  tables: Record<TableName, Row[]>;
};

const rowSchema = z
  .looseObject({
    id: z.number().int(),
    _info: z.object({ lastUpdated: z.string(), updatedBy: z.string().nullable() }),
  })
  .transform((row) => row as Row);

const dataSchema = z.object({
  formatVersion: z.literal(1),
  codebase: z.string().regex(/^v[0-9_]+\/$/),
  nextIds: z.partialRecord(z.enum(TABLE_NAMES), z.number().int().positive()),
  tables: z.partialRecord(z.enum(TABLE_NAMES), z.array(rowSchema)),
});

/** Validates a persisted data file; a file from another version or a hand edit gone wrong fails loudly. */
export function parseEmulatorData(value: unknown): CwEmulatorData {
  const parsed = dataSchema.parse(value);
  const nextIds = {} as Record<TableName, number>;
  const tables = {} as Record<TableName, Row[]>;
  for (const table of TABLE_NAMES) {
    tables[table] = parsed.tables[table] ?? [];
    const highest = Math.max(0, ...tables[table].map((row) => row.id));
    nextIds[table] = Math.max(parsed.nextIds[table] ?? 1, highest + 1);
  }
  return { formatVersion: 1, codebase: parsed.codebase, nextIds, tables };
}

export function emptyData(codebase: string): CwEmulatorData {
  const nextIds = {} as Record<TableName, number>;
  const tables = {} as Record<TableName, Row[]>;
  for (const table of TABLE_NAMES) {
    nextIds[table] = 1;
    tables[table] = [];
  }
  return { formatVersion: 1, codebase, nextIds, tables };
}

export function allocateId(data: CwEmulatorData, table: TableName): number {
  const id = data.nextIds[table];
  data.nextIds[table] = id + 1;
  return id;
}

export function findRow(data: CwEmulatorData, table: TableName, id: number): Row | undefined {
  return data.tables[table].find((row) => row.id === id);
}
