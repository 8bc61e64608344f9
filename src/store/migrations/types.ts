import type { Kysely } from "kysely";
import type { Dialect } from "../db.ts";

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
