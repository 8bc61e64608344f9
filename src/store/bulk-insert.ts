import { CompiledQuery, type Kysely } from "kysely";
import type { Dialect } from "./db.ts";
import type { Database } from "./schema.ts";

/**
 * Multi-row INSERT (plain, or … ON CONFLICT DO NOTHING / DO UPDATE) for the import hot path. Building the
 * same statement through the query builder for every batch of hundreds of rows costs more than running it, so the SQL text is generated
 * once per (table, columns, row count) and executed through Kysely with plain parameters. Both dialects
 * understand the statement; only the placeholder style differs.
 *
 * Rows go in chunks of power-of-two sizes (at most 256), so a table sees at most nine statement shapes
 * however its batches vary: SQLite keeps every prepared statement, and one for each row count from 1 to
 * 400 held about 100 MB.
 */
const statements = new Map<string, string>();

function statement(
  dialect: Dialect,
  table: string,
  columns: readonly string[],
  conflict: readonly string[],
  rows: number,
  returning?: string,
  update?: string,
) {
  const key = `${dialect}|${table}|${columns.join(",")}|${rows}|${returning ?? ""}|${update ?? ""}`;
  let sql = statements.get(key);
  if (!sql) {
    let n = 0;
    const placeholder = dialect === "postgres" ? () => `$${++n}` : () => "?";
    const tuple = () => `(${columns.map(placeholder).join(",")})`;
    const values = Array.from({ length: rows }, tuple).join(",");
    const quoted = columns.map((c) => `"${c}"`).join(",");
    sql = `insert into "${table}" (${quoted}) values ${values}`;
    if (conflict.length > 0)
      sql += ` on conflict (${conflict.map((c) => `"${c}"`).join(",")}) ${update ? `do update set ${update}` : "do nothing"}`;
    if (returning) sql += ` returning "${returning}"`;
    if (statements.size > 64) statements.clear();
    statements.set(key, sql);
  }
  return sql;
}

export async function insertIgnoringConflicts<T extends keyof Database & string>(
  db: Kysely<Database>,
  dialect: Dialect,
  table: T,
  rows: readonly Database[T][],
  conflict: readonly (keyof Database[T] & string)[],
  returning?: keyof Database[T] & string,
): Promise<string[]> {
  return insertInChunks(db, dialect, table, rows, conflict, { returning });
}

/**
 * Multi-row INSERT of rows known to be new (no conflict clause): the import's append of charge lines, which
 * has no unique index to check (see line-writer.ts).
 */
export async function appendRows<T extends keyof Database & string>(
  db: Kysely<Database>,
  dialect: Dialect,
  table: T,
  rows: readonly Database[T][],
): Promise<void> {
  await insertInChunks(db, dialect, table, rows, [], {});
}

/**
 * Multi-row INSERT … ON CONFLICT DO UPDATE SET `update` (SQL text both dialects read, e.g.
 * `"name" = excluded."name"`, optionally followed by `where …`). Rows must not repeat a conflict key.
 */
export async function upsertRows<T extends keyof Database & string>(
  db: Kysely<Database>,
  dialect: Dialect,
  table: T,
  rows: readonly Database[T][],
  conflict: readonly (keyof Database[T] & string)[],
  update: string,
): Promise<void> {
  await insertInChunks(db, dialect, table, rows, conflict, { update });
}

/** The rows in power-of-two chunks through the cached statement; the `returning` column's values, in order. */
async function insertInChunks<T extends keyof Database & string>(
  db: Kysely<Database>,
  dialect: Dialect,
  table: T,
  rows: readonly Database[T][],
  conflict: readonly (keyof Database[T] & string)[],
  options: { returning?: keyof Database[T] & string; update?: string },
): Promise<string[]> {
  if (rows.length === 0) return [];
  const columns = Object.keys(rows[0]!) as (keyof Database[T] & string)[];
  const returned: string[] = [];
  for (const chunk of chunks(rows)) {
    const result = await db.executeQuery<Record<string, string>>(
      CompiledQuery.raw(
        statement(dialect, table, columns, conflict, chunk.length, options.returning, options.update),
        parametersOf(chunk, columns),
      ),
    );
    if (options.returning) for (const r of result.rows) returned.push(String(r[options.returning]));
  }
  return returned;
}

const MAX_CHUNK = 256;

/** Consecutive slices of the largest power-of-two length that fits (400 rows: 256, 128, 16). */
function* chunks<R>(rows: readonly R[]): Generator<readonly R[]> {
  let start = 0;
  while (start < rows.length) {
    let size = MAX_CHUNK;
    while (size > rows.length - start) size >>>= 1;
    yield rows.slice(start, start + size);
    start += size;
  }
}

/** `"column" = excluded."column"` for each column, the usual update part of an upsert. */
export function takeExcluded(columns: readonly string[]): string {
  return columns.map((c) => `"${c}" = excluded."${c}"`).join(", ");
}

function parametersOf<R>(rows: readonly R[], columns: readonly (keyof R)[]): unknown[] {
  const parameters = new Array<unknown>(rows.length * columns.length);
  let i = 0;
  for (const row of rows) for (const column of columns) parameters[i++] = row[column];
  return parameters;
}
