import { CompiledQuery, type Kysely } from "kysely";
import type { Dialect } from "./db.ts";
import type { Database } from "./schema.ts";

/**
 * Multi-row INSERT … ON CONFLICT DO NOTHING for the import hot path. Building the same statement through the
 * query builder for every batch of hundreds of rows costs more than running it, so the SQL text is generated
 * once per (table, columns, row count) and executed through Kysely with plain parameters. Both dialects
 * understand the statement; only the placeholder style differs.
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
    sql = `insert into "${table}" (${quoted}) values ${values} on conflict (${conflict.map((c) => `"${c}"`).join(",")}) ${update ? `do update set ${update}` : "do nothing"}`;
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
  if (rows.length === 0) return [];
  const columns = Object.keys(rows[0]!) as (keyof Database[T] & string)[];
  const result = await db.executeQuery<Record<string, string>>(
    CompiledQuery.raw(
      statement(dialect, table, columns, conflict, rows.length, returning),
      parametersOf(rows, columns),
    ),
  );
  return returning ? result.rows.map((r) => String(r[returning])) : [];
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
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!) as (keyof Database[T] & string)[];
  await db.executeQuery(
    CompiledQuery.raw(
      statement(dialect, table, columns, conflict, rows.length, undefined, update),
      parametersOf(rows, columns),
    ),
  );
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
