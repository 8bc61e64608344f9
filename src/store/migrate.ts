import { Migrator, type Migration, type MigrationProvider } from "kysely";
import type { Store } from "./db.ts";
import { migrations } from "./migrations/index.ts";
import { columnTypes } from "./migrations/types.ts";

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

export async function migrateToLatest(store: Store): Promise<string[]> {
  const applied = await appliedMigrations(store);
  const knownNames = new Set(migrations.map((m) => m.name));
  const unknown = applied.filter((name) => !knownNames.has(name));
  if (unknown.length > 0) throw new SchemaTooNewError(unknown);
  const { error, results } = await migrator(store).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Applies the migrations up to and including `name`: how an upgrade from an older schema is tested. */
export async function migrateUpTo(store: Store, name: string): Promise<void> {
  const { error } = await migrator(store).migrateTo(name);
  if (error) throw error instanceof Error ? error : new Error(String(error));
}
