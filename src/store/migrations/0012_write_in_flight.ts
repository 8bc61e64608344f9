import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/**
 * A write's last request may still be on its way to the PSA (`in_flight` = 1) from the moment its attempt is
 * counted until the PSA answers. Only such a write is held back from a later run for the in-doubt window: a
 * write the PSA answered (refused it, or failed with an error) is looked up and sent again at once. Writes
 * pending from before this migration keep the old, cautious reading: any counted attempt may be in flight.
 */
export const writeInFlight: CspsyncMigration = {
  name: "0012_write_in_flight",
  async up(db) {
    await db.schema
      .alterTable("psa_writes")
      .addColumn("in_flight", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db
      .updateTable("psa_writes")
      .set({ in_flight: 1 })
      .where("status", "!=", "confirmed")
      .where(sql<boolean>`attempts > 0`)
      .execute();
  },
};
