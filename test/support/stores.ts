import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import pg from "pg";
import { openStore, type Dialect, type Store } from "../../src/store/db.ts";

/** Admin URL of the PostgreSQL server the tests create their own databases on. */
export const POSTGRES_ADMIN_URL =
  process.env.CSPSYNC_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export const DIALECTS: readonly Dialect[] = ["sqlite", "postgres"];

export type TestDatabase = { url: string; dialect: Dialect; drop(): Promise<void> };

/** A brand-new, empty database of the given dialect; every test gets its own, so tests never share rows. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  const suffix = randomBytes(6).toString("hex");
  if (dialect === "sqlite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-test-"));
    return {
      url: `sqlite:${path.join(dir, "test.db")}`,
      dialect,
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `cspsync_test_${suffix}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dialect,
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      // A pool's end() resolves while its connections are still closing; forcing the drop at that moment
      // would send them "terminating connection" errors. Give them a moment to go, then force what is left
      // (a killed child process's connections, a test that failed half-way).
      for (let waited = 0; waited < 2_000; waited += 20) {
        const { rows } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
          [name],
        );
        if (rows[0]!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Opens a migrated store on a fresh database and returns it with a cleanup function. */
export async function createTestStore(
  dialect: Dialect,
): Promise<{ store: Store; database: TestDatabase; cleanup(): Promise<void> }> {
  const database = await createTestDatabase(dialect);
  const store = await openStore(database.url);
  return {
    store,
    database,
    async cleanup() {
      await store.close();
      await database.drop();
    },
  };
}

/**
 * Stores of one dialect, one per name, opened before a suite's tests and dropped after them; call inside
 * `describe`. Read them as `stores.name` in the tests (they exist once the suite has started).
 */
export function storesForSuite<Name extends string>(
  dialect: Dialect,
  names: readonly Name[],
): Record<Name, Store> {
  const opened = new Map<Name, Awaited<ReturnType<typeof createTestStore>>>();
  before(async () => {
    for (const name of names) opened.set(name, await createTestStore(dialect));
  });
  after(async () => {
    for (const { cleanup } of opened.values()) await cleanup();
  });
  const stores = {} as Record<Name, Store>;
  for (const name of names) Object.defineProperty(stores, name, { get: () => opened.get(name)!.store });
  return stores;
}
