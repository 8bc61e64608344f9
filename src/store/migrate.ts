import { Migrator, sql, type Migration, type MigrationProvider } from "kysely";
import type { Store } from "./db.ts";
import { migrations } from "./migrations/index.ts";
import { columnTypes } from "./migrations/types.ts";
import { SETUP_LOCK_SQL, SETUP_LOCK_WAIT_MS, SETUP_UNLOCK_SQL } from "./setup-lock.ts";
import { SQLITE_BUSY_TIMEOUT_MS } from "./sqlite-driver.ts";

const MIGRATION_TABLE = "cspsync_migration";
const MIGRATION_LOCK_TABLE = "cspsync_migration_lock";

export class SchemaTooNewError extends Error {
  constructor(unknown: string[]) {
    super(
      `The database schema is newer than this version of cspsync (unknown migrations: ${unknown.join(", ")}). ` +
        "Upgrade cspsync before using this database; it was not changed.",
    );
    this.name = "SchemaTooNewError";
  }
}

function migrator(store: Store): Migrator {
  const types = columnTypes(store.dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      const entries: Record<string, Migration> = {};
      for (const migration of migrations) {
        entries[migration.name] = { up: (db) => migration.up(db, types, store.dialect) };
      }
      return entries;
    },
  };
  return new Migrator({
    db: store.db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/** Names of migrations recorded in the database, oldest first (empty for a new database). */
export async function appliedMigrations(store: Store): Promise<string[]> {
  const known = await migrator(store).getMigrations();
  // Kysely only reports migrations it knows; read the table directly to find ones from a newer release.
  const tables = await store.db.introspection.getTables();
  if (!tables.some((table) => table.name === MIGRATION_TABLE))
    return known.filter((m) => m.executedAt).map((m) => m.name);
  const rows = await store.db
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's own bookkeeping table
    .selectFrom(MIGRATION_TABLE as any)
    .select("name")
    .orderBy("name")
    .execute();
  return rows.map((row) => String((row as { name: unknown }).name));
}

/**
 * Brings the schema up to date; safe when several processes open the same database at once (workers started
 * together): when something is left to apply, the migration runs under a database-wide lock (see
 * withSetupLock) and re-reads what is applied once it holds it, so exactly one process migrates and the others
 * find the work done. An up-to-date database takes no lock.
 */
export async function migrateToLatest(store: Store): Promise<string[]> {
  if (await isUpToDate(store)) return [];
  return withSetupLock(store, () => migrateNow(store));
}

async function isUpToDate(store: Store): Promise<boolean> {
  const applied = new Set(await appliedMigrations(store));
  return migrations.every((m) => applied.has(m.name)) && applied.size === migrations.length;
}

async function migrateNow(store: Store): Promise<string[]> {
  const applied = await appliedMigrations(store);
  const knownNames = new Set(migrations.map((m) => m.name));
  const unknown = applied.filter((name) => !knownNames.has(name));
  if (unknown.length > 0) throw new SchemaTooNewError(unknown);
  const { error, results } = await migrator(store).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/**
 * Runs `work` while no other cspsync process changes the schema. PostgreSQL: the set-up advisory lock
 * (setup-lock.ts) held on one connection for the whole of `work`. SQLite: `work` runs inside one
 * BEGIN IMMEDIATE transaction, SQLite's single write lock, so it is also all-or-nothing.
 */
async function withSetupLock<T>(store: Store, work: () => Promise<T>): Promise<T> {
  if (store.dialect === "postgres") {
    return store.db.connection().execute(async (connection) => {
      await sql`SELECT set_config('lock_timeout', ${`${SETUP_LOCK_WAIT_MS}ms`}, false)`.execute(connection);
      await sql.raw(SETUP_LOCK_SQL).execute(connection);
      try {
        return await work();
      } finally {
        await sql.raw(SETUP_UNLOCK_SQL).execute(connection);
        await sql`RESET lock_timeout`.execute(connection);
      }
    });
  }
  // SQLite's store has a single connection: the migration's statements run inside this transaction.
  await sql.raw(`PRAGMA busy_timeout = ${SETUP_LOCK_WAIT_MS}`).execute(store.db);
  try {
    await sql.raw("BEGIN IMMEDIATE").execute(store.db);
  } finally {
    await sql.raw(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`).execute(store.db);
  }
  try {
    const result = await work();
    await sql.raw("COMMIT").execute(store.db);
    return result;
  } catch (error) {
    await sql
      .raw("ROLLBACK")
      .execute(store.db)
      .catch(() => undefined);
    throw error;
  }
}

/** Applies the migrations up to and including `name`: how an upgrade from an older schema is tested. */
export async function migrateUpTo(store: Store, name: string): Promise<void> {
  const { error } = await migrator(store).migrateTo(name);
  if (error) throw error instanceof Error ? error : new Error(String(error));
}
