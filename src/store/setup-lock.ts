import type pg from "pg";

/**
 * Processes started together (several workers, a server and its workers) must not change the schema at the
 * same moment: cspsync's migrations and pg-boss's queue tables are created under one PostgreSQL session
 * advisory lock, held on one connection for the whole change. A process that dies releases it with its
 * connection. Where nothing is left to change no lock is taken.
 */
export const SETUP_LOCK_SQL = "SELECT pg_advisory_lock(hashtextextended('cspsync.setup', 0))";
export const SETUP_UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended('cspsync.setup', 0))";

/** How long a process waits for another one's schema change before giving up (and exiting with the reason). */
export const SETUP_LOCK_WAIT_MS = 5 * 60_000;

/** PostgreSQL's "deadlock detected": the transaction was rolled back and may simply be run again. */
export function isDeadlock(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "40P01";
}

/**
 * Runs `work` under the set-up lock, taken on a connection of `pool` (work itself may use other connections).
 * Calls from one process are queued first, so that they hold at most one connection waiting for the lock.
 */
export function pgSetupLock(pool: pg.Pool): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(() => underLock(pool, work));
    tail = run.catch(() => undefined);
    return run;
  };
}

async function underLock<T>(pool: pg.Pool, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let locked = false;
  try {
    await client.query("SELECT set_config('lock_timeout', $1, false)", [`${SETUP_LOCK_WAIT_MS}ms`]);
    await client.query(SETUP_LOCK_SQL);
    locked = true;
    return await work();
  } finally {
    let broken: Error | undefined;
    try {
      if (locked) await client.query(SETUP_UNLOCK_SQL);
      await client.query("RESET lock_timeout");
    } catch (error) {
      // A connection that may still hold the lock is closed rather than returned to the pool.
      broken = error instanceof Error ? error : new Error(String(error));
    }
    client.release(broken);
  }
}
