import { sql } from "kysely";
import type { CspsyncMigration } from "./types.ts";

/**
 * Nine lines in ten are events on their own. Storing each of them a second time as a `charge_events` row
 * doubled what an import wrote, so a line now carries its own event fields (kind, seat delta, seats after)
 * and `charge_events` becomes a view: the lines that stand alone, plus `charge_pair_events`, the events
 * netted from credit/charge pairs. Readers see the same columns as before.
 *
 * The source record of a line was a JSON object repeating every column name on every line; from now on it
 * is the array of the row's fields, named once per import in `imports.source_fields`. Lines stored before
 * keep their objects (sourceRecordOf reads both).
 */
export const lineEvents: CspsyncMigration = {
  name: "0010_line_events",
  async up(db, t) {
    await db.schema.alterTable("imports").addColumn("source_fields", t.json).execute();
    await db.schema.alterTable("charge_lines").addColumn("kind", "text").execute();
    await db.schema.alterTable("charge_lines").addColumn("seat_delta", t.money).execute();
    await db.schema.alterTable("charge_lines").addColumn("seats_after", t.money).execute();
    await sql`
      update charge_lines set
        kind = e.kind, seat_delta = e.seat_delta, seats_after = e.seats_after
      from charge_events e
      where e.organization_id = charge_lines.organization_id and e.event_key = charge_lines.event_key
        and charge_lines.event_key not like 'pair:%'
    `.execute(db);
    await db.schema.alterTable("charge_events").renameTo("charge_pair_events").execute();
    await db.deleteFrom("charge_pair_events").where(STANDS_ALONE).execute();
    await db.schema
      .createIndex("charge_lines_single_events")
      .on("charge_lines")
      .columns(["organization_id", "customer_tenant_id", "motion", "charge_start"])
      .where(STANDS_ALONE)
      .execute();
    await db.schema
      .createView("charge_events")
      .as(
        db
          .selectFrom("charge_lines")
          .select(EVENT_COLUMNS.map(lineColumnAs))
          .where(STANDS_ALONE)
          .unionAll(db.selectFrom("charge_pair_events").select(EVENT_COLUMNS)),
      )
      .execute();
  },
};

/** Written literally (not as a parameter) so the databases can use the partial index of single lines. */
const STANDS_ALONE = sql<boolean>`event_key not like 'pair:%'`;

/** The columns of charge_events, as charge_pair_events has them. */
const EVENT_COLUMNS = [
  "organization_id",
  "event_key",
  "invoice_number",
  "customer_tenant_id",
  "subscription_id",
  "motion",
  "is_billable",
  "kind",
  "charge_type",
  "order_date",
  "charge_start",
  "charge_end",
  "term_start",
  "term_end",
  "product_id",
  "sku_id",
  "availability_id",
  "product_name",
  "sku_name",
  "billing_frequency",
  "seat_delta",
  "seats_after",
  "effective_unit_price",
  "list_unit_price",
  "amount",
  "total",
  "currency",
  "line_count",
] as const;

/** Where a line that is an event on its own keeps an event column under another name, or as a constant. */
const LINE_SOURCES: Partial<Record<(typeof EVENT_COLUMNS)[number], string>> = {
  term_start: "subscription_start",
  term_end: "subscription_end",
  list_unit_price: "unit_price",
  amount: "subtotal",
};

function lineColumnAs(column: (typeof EVENT_COLUMNS)[number]) {
  if (column === "line_count") return sql<number>`1`.as(column);
  const source = LINE_SOURCES[column];
  return source ? `${source} as ${column}` : column;
}
