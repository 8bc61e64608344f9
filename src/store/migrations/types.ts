import type { Kysely } from "kysely";

/** The database a migration runs on; written out here so migrations import no live code (same as db.ts's). */
export type Dialect = "sqlite" | "postgres";

/** Column types that read back the same on both dialects (see schema.ts). */
export type ColumnTypes = {
  money: "text" | "numeric";
  date: "text" | "date";
  instant: "text";
  json: "text";
};

export function columnTypes(dialect: Dialect): ColumnTypes {
  return dialect === "postgres"
    ? { money: "numeric", date: "date", instant: "text", json: "text" }
    : { money: "text", date: "text", instant: "text", json: "text" };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the schema as it was, not as it is
export type MigrationDb = Kysely<any>;

export type CspsyncMigration = {
  name: string;
  up(db: MigrationDb, types: ColumnTypes, dialect: Dialect): Promise<void>;
};
