import path from "node:path";
import type { ImportSummary } from "../../src/services/import-recon.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";
import type { Store } from "../../src/store/db.ts";
import { baseRow, writeCsv, type ReconRow } from "./recon-builder.ts";

/** Every stored line (key, row, event, source record) and every event, in key order, for comparing two stores. */
export async function storedLinesAndEvents(store: Store) {
  const lines = await store.db
    .selectFrom("charge_lines")
    .select(["source_row", "line_key", "event_key", "kind", "seat_delta", "source", "import_id"])
    .orderBy("line_key")
    .execute();
  const events = await store.db.selectFrom("charge_events").selectAll().orderBy("event_key").execute();
  const records = await Promise.all(lines.map((line) => lineSourceRecord(store, line)));
  return { lines: lines.map(({ import_id: _id, ...line }, i) => ({ ...line, record: records[i] })), events };
}

/** An import's summary without its id, which differs between two stores. */
export function summaryWithoutId(summary: ImportSummary) {
  const { importId: _id, ...rest } = summary;
  return rest;
}

/**
 * The files the reader tests compare ways of reading with, in `dir`, from `rows` (which repeat rows of `june`):
 * the rows as CSV; again with one more copy of june[0] and a changed row among them (two new lines among known
 * ones); with a bad number after them (row rows.length + 2, column Subtotal); and with another currency on the
 * same invoice after them (row rows.length + 2, column Currency).
 */
export function writeReaderCases(dir: string, june: ReconRow[], rows: ReconRow[]) {
  return {
    csv: writeCsv(path.join(dir, "rows.csv"), rows),
    more: writeCsv(path.join(dir, "more.csv"), [
      ...rows.slice(0, 9),
      { ...june[1]!, Subtotal: "777.00", Total: "777.00" },
      ...rows.slice(9),
      june[0]!,
    ]),
    badNumber: writeCsv(path.join(dir, "bad-number.csv"), [
      ...rows,
      { ...june[2]!, Subtotal: "12,5O" },
      ...june,
    ]),
    mixedCurrency: writeCsv(path.join(dir, "mixed-currency.csv"), [
      ...rows,
      baseRow({ InvoiceNumber: june[0]!.InvoiceNumber, Currency: "EUR", SubscriptionId: "x-9" }),
      ...june,
    ]),
  };
}
