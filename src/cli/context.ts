import { loadConfig } from "../config.ts";
import { openStore, type Store } from "../store/db.ts";

/** Opens the database a command works on: `--db URL`, else CSPSYNC_DATABASE_URL, else ./data/cspsync.db. */
export async function withStore<T>(
  dbFlag: string | undefined,
  work: (store: Store) => Promise<T>,
): Promise<T> {
  const config = loadConfig(process.env, dbFlag ? { databaseUrl: dbFlag } : {});
  const store = await openStore(config.databaseUrl);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
