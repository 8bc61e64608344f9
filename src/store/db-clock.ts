import { sql, type RawBuilder } from "kysely";
import type { Dialect, Store } from "./db.ts";

/**
 * The database's own clock, as the ISO-8601 UTC instant cspsync stores everywhere
 * (`2024-07-01T08:00:00.000Z`). Run heartbeats and their staleness are read on this one clock, so processes
 * on hosts whose clocks disagree still agree on how long a run has been silent.
 */
export function databaseNowSql(dialect: Dialect): RawBuilder<string> {
  return dialect === "postgres"
    ? sql<string>`to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
}

export async function databaseNow(store: Store): Promise<Date> {
  const { rows } = await sql<{ now: string }>`select ${databaseNowSql(store.dialect)} as now`.execute(
    store.db,
  );
  return new Date(rows[0]!.now);
}
