import type { Transaction } from "kysely";
import { appendRows } from "./bulk-insert.ts";
import type { ChargeLineWriter } from "./line-writer.ts";
import type { ChargeLinesTable, Database } from "./schema.ts";

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

  async takeInvoice(invoiceNumber: string, onKey: (lineKey: string) => void): Promise<void> {
    const keys = this.trx
      .selectFrom("charge_lines")
      .select("line_key")
      .where("organization_id", "=", this.organizationId)
      .where("invoice_number", "=", invoiceNumber)
      .stream();
    for await (const row of keys) onKey(row.line_key);
  }

  async append(rows: readonly ChargeLinesTable[]): Promise<void> {
    await appendRows(this.trx, "sqlite", "charge_lines", rows);
  }

  async flush(): Promise<void> {}
}
