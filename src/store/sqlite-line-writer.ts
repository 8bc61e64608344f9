import { sql, type Transaction } from "kysely";
import { appendRows } from "./bulk-insert.ts";
import type { LineKeyCounts } from "../core/line-key-counts.ts";
import { readKeyBlocks, storedLineCount, type ChargeLineWriter } from "./line-writer.ts";
import type { ChargeLineSourcesTable, ChargeLinesTable, Database } from "./schema.ts";

const KEY_PAGE = 20_000;

/**
 * SQLite: lines go into `charge_lines` in rowid order through cached multi-row INSERTs, so the table and its
 * index by invoice grow at their ends. There is nothing to lock per invoice: an import's transaction writes
 * first (its `imports` row), which takes SQLite's single write lock before any key is read, and holds it to
 * the end, so a second importer of the same file reads the keys only once the first has committed.
 */
export class SqliteLineWriter implements ChargeLineWriter {
  private readonly trx: Transaction<Database>;
  private readonly organizationId: string;

  constructor(trx: Transaction<Database>, organizationId: string) {
    this.trx = trx;
    this.organizationId = organizationId;
  }

  /**
   * Reads the invoice's stored keys: from its key blocks, or else from the lines (no complete key blocks) in
   * pages of keys in rowid order, which is the order of the invoice index (it ends with the rowid); each page
   * comes back as one text (group_concat) rather than a row per key.
   */
  async takeInvoice(invoiceNumber: string, known: LineKeyCounts): Promise<void> {
    const stored = await storedLineCount(this.trx, this.organizationId, invoiceNumber);
    if (stored === 0) return;
    known.reserve(stored);
    if (!(await readKeyBlocks(this.trx, this.organizationId, invoiceNumber, stored, known, "streamed")))
      await this.readKeysFromLines(invoiceNumber, known);
    // Reading the keys filled the page cache (16 MB) with pages the import will not read again. Handing them
    // back lowered the peak RSS of a re-import of a million lines, which sits near its 300 MB goal, from a
    // mean of 285 MB to 270 MB (268-296 → 254-285 MB, five runs each, BENCHMARKS.md bench:ingest).
    await sql`pragma shrink_memory`.execute(this.trx);
  }

  private async readKeysFromLines(invoiceNumber: string, known: LineKeyCounts): Promise<void> {
    let after = -1;
    for (;;) {
      const keys = this.trx
        .selectFrom("charge_lines")
        .select([sql<number>`rowid`.as("id"), "line_key"])
        .where("organization_id", "=", this.organizationId)
        .where("invoice_number", "=", invoiceNumber)
        .where(sql<number>`rowid`, ">", after)
        .orderBy(sql`rowid`)
        .limit(KEY_PAGE)
        .as("page");
      const page = await this.trx
        .selectFrom(keys)
        .select([
          sql<string | null>`group_concat(line_key, char(10))`.as("keys"),
          sql<number | null>`max(id)`.as("last"),
          (e) => e.fn.countAll<number>().as("count"),
        ])
        .executeTakeFirstOrThrow();
      if (page.keys !== null) known.addKnownList(page.keys);
      if (Number(page.count) < KEY_PAGE || page.last === null) return;
      after = page.last;
    }
  }

  async append(rows: readonly ChargeLinesTable[], sources: ChargeLineSourcesTable | null): Promise<void> {
    await appendRows(this.trx, "sqlite", "charge_lines", rows);
    if (sources) await this.trx.insertInto("charge_line_sources").values(sources).execute();
  }

  async finish(): Promise<void> {}
}
