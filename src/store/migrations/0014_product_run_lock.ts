import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/**
 * Product catalog runs take the same run lock as billing runs: who runs it (`owner`, `node:pid:bootId`) and
 * its heartbeat on the database's clock, so a product run whose process died is taken over as soon as that is
 * certain instead of after a fixed 30 minutes, and a run that lost its lock stops before writing again.
 * Rows from before keep an empty owner and their start as their last heartbeat.
 */
export const productRunLock: CspsyncMigration = {
  name: "0014_product_run_lock",
  async up(db) {
    await db.schema
      .alterTable("product_sync_runs")
      .addColumn("owner", "text", (c) => c.notNull().defaultTo(""))
      .execute();
    await db.schema
      .alterTable("product_sync_runs")
      .addColumn("heartbeat_at", "text", (c) => c.notNull().defaultTo(""))
      .execute();
    await db
      .updateTable("product_sync_runs")
      .set({ heartbeat_at: sql<string>`started_at` })
      .execute();
  },
};
