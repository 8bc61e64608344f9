import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/** How long a statement waits for another process's write lock before failing with "database is locked". */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/**
 * Adapts Node's built-in `node:sqlite` to the small interface Kysely's SqliteDialect expects
 * (it was shaped after better-sqlite3). node:sqlite takes spread parameters and does not bind
 * booleans or undefined, so those are converted here once for every query.
 */
export function openNodeSqlite(filename: string): SqliteDatabase & { raw: DatabaseSync } {
  const db = new DatabaseSync(filename);
  // First, so that processes opening a new file at once wait for each other (switching it to WAL included).
  db.exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  // Imports insert many rows keyed by hashes (random B-tree positions): a 16 MB page cache keeps the hot
  // index pages in memory without letting the process grow much.
  db.exec("PRAGMA cache_size = -16384");
  db.exec("PRAGMA temp_store = MEMORY");
  const cache = new Map<string, SqliteStatement>();
  return {
    raw: db,
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (!statement) {
        statement = wrapStatement(db.prepare(sql));
        if (cache.size > 200) cache.clear();
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

function wrapStatement(statement: StatementSync): SqliteStatement {
  const reader = statement.columns().length > 0;
  return {
    reader,
    // node:sqlite returns null-prototype rows; plain objects behave like every other driver's rows.
    all: (parameters) => statement.all(...bind(parameters)).map((row) => ({ ...row })),
    run(parameters) {
      const result = statement.run(...bind(parameters));
      return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
    },
    *iterate(parameters) {
      for (const row of statement.iterate(...bind(parameters))) yield { ...row };
    },
  };
}

function bind(parameters: ReadonlyArray<unknown>): SQLInputValue[] {
  return parameters.map((value): SQLInputValue => {
    if (value === undefined) return null;
    if (typeof value === "boolean") return value ? 1 : 0;
    if (value instanceof Date) return value.toISOString();
    return value as SQLInputValue;
  });
}
