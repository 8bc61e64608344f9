import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import type { Store } from "../../src/store/db.ts";

export type Deferred<T = void> = {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
};

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Waits until `condition` holds, checking every few milliseconds. The deadline only turns a hang into a
 * readable failure; no test depends on how long anything takes.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  description: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for: ${description}`);
    await sleep(5);
  }
}

/** Lets pending timers and I/O callbacks run, for checks that something did NOT happen. */
export async function settle(ms = 30): Promise<void> {
  await sleep(ms);
}

/** Gates that held handlers wait on, opened by the test by label. */
export class Gates {
  readonly #gates = new Map<string, Deferred>();

  #gate(label: string): Deferred {
    let gate = this.#gates.get(label);
    if (!gate) {
      gate = deferred();
      this.#gates.set(label, gate);
    }
    return gate;
  }

  wait(label: string): Promise<void> {
    return this.#gate(label).promise;
  }

  open(label: string): void {
    this.#gate(label).resolve();
  }

  openAll(): void {
    for (const gate of this.#gates.values()) gate.resolve();
  }
}

/** The stored state of a queued job, on either driver (the local queue's table, or pg-boss's). */
export async function jobState(store: Store, id: string): Promise<string | undefined> {
  if (store.dialect === "sqlite") {
    const row = await store.db
      .withTables<{ job_queue: { id: string; state: string } }>()
      .selectFrom("job_queue")
      .select("state")
      .where("id", "=", id)
      .executeTakeFirst();
    return row?.state;
  }
  const { rows } = await sql<{ state: string }>`
    SELECT state::text AS state FROM pgboss.job WHERE id = ${id}::uuid`.execute(store.db);
  return rows[0]?.state;
}
