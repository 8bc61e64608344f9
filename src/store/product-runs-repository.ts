import type { Store } from "./db.ts";
import { RunLock, type LockStart } from "./run-lock.ts";
import type { RunLockConfig } from "../config.ts";
import type { ProductSyncItemsTable, ProductSyncRunsTable } from "./schema.ts";

/**
 * The history of product catalog runs (`product_sync_runs` / `product_sync_items`). A run is started under the
 * connection's product run lock — the same run lock billing runs take (src/store/run-lock.ts), on its own table
 * so a product sync never waits for a billing sync of the same connection or the reverse.
 */

/** What a product run starts with. */
export type NewProductRun = {
  id: string;
  organizationId: string;
  connectionId: string;
  trigger: string;
  mode: string;
  startedAt: string;
};

/** A run's totals as it ends. */
export type ProductRunEnd = Pick<
  ProductSyncRunsTable,
  "status" | "written" | "unchanged" | "conflicts" | "failed" | "psa_requests" | "message" | "finished_at"
>;

export class ProductRunsRepository {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The connection's product run lock. */
  lock(connectionId: string, config?: RunLockConfig): RunLock {
    return new RunLock(this.#store, "product_sync_runs", connectionId, config);
  }

  /** Inserts a running run under `lock`; an active run whose process is gone is taken over first. */
  start(lock: RunLock, run: NewProductRun): Promise<LockStart> {
    const insert = () =>
      this.#store.db
        .insertInto("product_sync_runs")
        .values({
          id: run.id,
          organization_id: run.organizationId,
          connection_id: run.connectionId,
          trigger: run.trigger,
          mode: run.mode,
          status: "running",
          started_at: run.startedAt,
          heartbeat_at: lock.heartbeatNow(),
          owner: lock.owner(),
          finished_at: null,
          written: 0,
          unchanged: 0,
          conflicts: 0,
          failed: 0,
          psa_requests: 0,
          message: null,
        })
        .execute();
    return lock.start(run.id, insert, () => new Date().toISOString());
  }

  /** Removes a run that wrote nothing and must leave no trace (a sync refused before it began). */
  async discard(runId: string): Promise<void> {
    await this.#store.db.deleteFrom("product_sync_runs").where("id", "=", runId).execute();
  }

  async recordItems(items: readonly ProductSyncItemsTable[]): Promise<void> {
    if (items.length === 0) return;
    await this.#store.db
      .insertInto("product_sync_items")
      .values([...items])
      .execute();
  }

  /**
   * Ends the run if it still holds the lock; false when it was taken over meanwhile (its record keeps the
   * outcome the taking run gave it).
   */
  async finish(runId: string, end: ProductRunEnd): Promise<boolean> {
    const result = await this.#store.db
      .updateTable("product_sync_runs")
      .set(end)
      .where("id", "=", runId)
      .where("status", "=", "running")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  list(organizationId: string, connectionId: string, limit: number): Promise<ProductSyncRunsTable[]> {
    return this.#store.db
      .selectFrom("product_sync_runs")
      .selectAll()
      .where("organization_id", "=", organizationId)
      .where("connection_id", "=", connectionId)
      .orderBy("started_at", "desc")
      .orderBy("id")
      .limit(limit)
      .execute();
  }

  async get(
    organizationId: string,
    runId: string,
  ): Promise<{ run: ProductSyncRunsTable; items: ProductSyncItemsTable[] } | null> {
    const run = await this.#store.db
      .selectFrom("product_sync_runs")
      .selectAll()
      .where("organization_id", "=", organizationId)
      .where("id", "=", runId)
      .executeTakeFirst();
    if (!run) return null;
    const items = await this.#store.db
      .selectFrom("product_sync_items")
      .selectAll()
      .where("run_id", "=", runId)
      .orderBy("sequence")
      .execute();
    return { run, items };
  }
}
