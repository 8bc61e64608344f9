import path from "node:path";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { ensurePrivateDir, ensurePrivateFile, tightenIfExists, type Warn } from "../security/files.ts";
import { openNodeSqlite } from "./sqlite-driver.ts";
import type { Database } from "./schema.ts";
import { migrateToLatest } from "./migrate.ts";

export type Dialect = "sqlite" | "postgres";

export type Store = {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Human-readable location without credentials, safe for logs. */
  describe: string;
  close(): Promise<void>;
};

// PostgreSQL DATE would otherwise come back as a JS Date in local time; cspsync treats dates as plain
// `YYYY-MM-DD` strings everywhere. NUMERIC already comes back as a string.
const PG_DATE_OID = 1082;
pg.types.setTypeParser(PG_DATE_OID, (value: string) => value);
// COUNT(*) is a bigint in PostgreSQL; counts stay far below 2^53.
pg.types.setTypeParser(20, (value: string) => Number(value));

export function dialectOf(url: string): Dialect {
  return /^postgres(ql)?:\/\//i.test(url) ? "postgres" : "sqlite";
}

export function sqliteFilename(url: string): string {
  const withoutScheme = url.replace(/^sqlite:(\/\/)?/i, "").replace(/^file:(\/\/)?/i, "");
  return withoutScheme === "" ? ":memory:" : withoutScheme;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, "//$1:***@");
}

/**
 * Opens the database named by `url`, migrating it forward; refuses a schema newer than this code. `warn`
 * hears about an SQLite file whose permissions were too wide (default: the console).
 */
export async function openStore(
  url: string,
  options: { migrate?: boolean; warn?: Warn } = {},
): Promise<Store> {
  const dialect = dialectOf(url);
  if (dialect === "postgres") await probePostgres(url);
  const db =
    dialect === "postgres"
      ? new Kysely<Database>({ dialect: new PostgresDialect({ pool: postgresPool(url) }) })
      : new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteFile(url, options.warn) }) });
  const store: Store = { db, dialect, describe: redactUrl(url), close: () => db.destroy() };
  if (options.migrate !== false) {
    try {
      await migrateToLatest(store);
    } catch (error) {
      await db.destroy();
      throw error;
    }
  }
  return store;
}

/** How long opening a PostgreSQL database waits for the server to answer before giving up. */
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * Connects once before anything else, so that a server that cannot be reached (refused, unknown host, no
 * answer within CONNECT_TIMEOUT_MS, wrong database or credentials) fails the open at once with where and why,
 * rather than hanging in the pool for as long as the operating system retries.
 */
async function probePostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on("error", () => undefined); // reported through connect() below
  try {
    await client.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message || error.name : String(error);
    throw new Error(`cannot connect to the database ${redactUrl(url)}: ${reason}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A pool whose idle connections may be closed by the server (a restart, a failover, an administrator): the
 * pool drops such a connection and the next query opens a new one, so it is reported, not fatal. Without a
 * listener the error would end the process.
 */
function postgresPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on("error", (error) => {
    console.warn(`cspsync: an idle PostgreSQL connection closed (${error.message}); it will be reopened`);
  });
  return pool;
}

/**
 * The database file is created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database
 * file's mode, so they are owner-only too. A directory that has to be created is 0700; an existing file (or
 * a left-over -wal/-shm/-journal) that others may read is narrowed to 0600, with a warning.
 */
function openSqliteFile(url: string, warn?: Warn) {
  const filename = sqliteFilename(url);
  if (filename !== ":memory:") {
    ensurePrivateDir(path.dirname(path.resolve(filename)), warn ? { warn } : {});
    ensurePrivateFile(filename, warn);
    for (const suffix of ["-wal", "-shm", "-journal"]) tightenIfExists(`${filename}${suffix}`, warn);
  }
  return openNodeSqlite(filename);
}
