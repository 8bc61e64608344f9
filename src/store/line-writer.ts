import type { Kysely } from "kysely";
import type { LineKeyCounts } from "../core/line-key-counts.ts";
import type { ChargeLineSourcesTable, ChargeLinesTable, Database } from "./schema.ts";

/**
 * How an import stores charge lines (migration 0018): lines are appended in import order, with no unique
 * index on their key. Whether a line is new is decided in memory, per invoice: the first time a file brings
 * an invoice, its importer takes the invoice (no other importer of it gets past that point until this
 * transaction ends) and reads the keys already stored for it into a LineKeyCounts (src/core/line-key-counts.ts); every line of the file is
 * then either known or appended. A line's content hash includes its invoice number, so no key is ever shared
 * by two invoices, and recognising known lines per invoice is the same as recognising them everywhere.
 */
export interface ChargeLineWriter {
  /**
   * Takes `invoiceNumber` for this transaction (a second importer of the same invoice waits here until this
   * one commits or rolls back) and reads the keys stored for it into `known`: from its key blocks when they
   * hold every one of its lines (readKeyBlocks), otherwise from the lines themselves, many keys at a time as
   * one text (row objects for a million keys cost the importer 2 of the 2.5 seconds it took to read them,
   * BENCHMARKS.md bench:ingest).
   */
  takeInvoice(invoiceNumber: string, known: LineKeyCounts): Promise<void>;
  /**
   * Appends new lines (none of them stored yet) and the source block of their batch (null when there are
   * none); both may be buffered until `finish`.
   */
  append(rows: readonly ChargeLinesTable[], sources: ChargeLineSourcesTable | null): Promise<void>;
  /**
   * Writes what `append` buffered and readies the table for the reads that follow in the transaction (the
   * pair lines of this import, by event): after it, the transaction reads every appended line.
   */
  finish(): Promise<void>;
}

/** Every column of a stored line, in the order the writers send them. */
export const CHARGE_LINE_COLUMNS = [
  "organization_id",
  "line_key",
  "import_id",
  "source_row",
  "invoice_number",
  "customer_tenant_id",
  "subscription_id",
  "event_key",
  "motion",
  "is_billable",
  "classification",
  "charge_type",
  "order_date",
  "charge_start",
  "charge_end",
  "subscription_start",
  "subscription_end",
  "product_id",
  "sku_id",
  "availability_id",
  "product_name",
  "sku_name",
  "billing_frequency",
  "unit_price",
  "effective_unit_price",
  "quantity",
  "billable_quantity",
  "subtotal",
  "tax_total",
  "total",
  "currency",
  "reference_id",
  "source",
  "kind",
  "seat_delta",
  "seats_after",
] as const satisfies readonly (keyof ChargeLinesTable)[];

/** How many lines are stored for an invoice (through the index by invoice). */
export async function storedLineCount(db: Kysely<Database>, organizationId: string, invoiceNumber: string) {
  const row = await db
    .selectFrom("charge_lines")
    .select((e) => e.fn.countAll().as("n"))
    .where("organization_id", "=", organizationId)
    .where("invoice_number", "=", invoiceNumber)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Reads an invoice's stored keys from its key blocks (migration 0022) into `known` when the blocks hold exactly
 * its `stored` lines, and says so. Otherwise (lines stored before the migration) it reads nothing and returns
 * false: the caller reads the keys from the lines. A re-import of a million lines read its keys in ≈ 1.5 s from
 * the lines (every line's row visited for its key); BENCHMARKS.md bench:ingest gives the figure from blocks.
 */
export async function readKeyBlocks(
  db: Kysely<Database>,
  organizationId: string,
  invoiceNumber: string,
  stored: number,
  known: LineKeyCounts,
  read: "streamed" | "at-once",
): Promise<boolean> {
  const blocks = db
    .selectFrom("charge_line_key_blocks")
    .where("organization_id", "=", organizationId)
    .where("invoice_number", "=", invoiceNumber);
  const counted = await blocks.select((e) => e.fn.sum<number>("key_count").as("n")).executeTakeFirst();
  if (Number(counted?.n ?? 0) !== stored) return false;
  if (stored === 0) return true;
  const query = blocks.select("data");
  // Streamed where the driver can (SQLite): a million keys are 24 MB of blocks, which need not be held at once
  // beside the table they fill. The PostgreSQL pool has no cursor and reads them in one go.
  if (read === "streamed") {
    for await (const { data } of query.stream()) known.addKnownPacked(data);
  } else for (const { data } of await query.execute()) known.addKnownPacked(data);
  return true;
}
