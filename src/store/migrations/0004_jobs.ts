import { createJobTables, type JobDb } from "../../jobs/local-tables.ts";
import type { CspsyncMigration } from "./types.ts";

/** The embedded job queue's tables (src/jobs/local-tables.ts holds their one definition). */
export const jobs: CspsyncMigration = {
  name: "0004_jobs",
  async up(db) {
    await createJobTables(db as unknown as JobDb);
  },
};
