import { finished } from "node:stream/promises";
import { CompiledQuery, sql, type Transaction } from "kysely";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import type { LineKeyCounts } from "../core/line-key-counts.ts";
import { CHARGE_LINE_COLUMNS, readKeyBlocks, storedLineCount, type ChargeLineWriter } from "./line-writer.ts";
import type { ChargeLineSourcesTable, ChargeLinesTable, Database } from "./schema.ts";

/** Buffered COPY text sent in one COPY statement once it reaches this size (and at every flush). */
const COPY_BUFFER_BYTES = 4 << 20;
/** Appends of this many lines or more are followed by ANALYZE (see finish). */
const ANALYZE_FROM_LINES = 20_000;

/**
 * PostgreSQL: lines are streamed into `charge_lines` with COPY … FROM STDIN (text format), a few MB per
 * statement, in the import's transaction. No staging table is needed: the rows have been checked against the
 * invoice's stored keys already, under the invoice's lock, so every row COPY sends is new. The invoice lock is
 * a transaction-scoped advisory lock on the (organization, invoice) pair: a second importer of the same
 * invoice waits in `takeInvoice` until the first commits, then reads the keys the first stored.
 */
export class PostgresLineWriter implements ChargeLineWriter {
  private readonly trx: Transaction<Database>;
  private readonly organizationId: string;
  private buffer: string[] = [];
  private sources: ChargeLineSourcesTable[] = [];
  private buffered = 0;
  private appended = 0;

  constructor(trx: Transaction<Database>, organizationId: string) {
    this.trx = trx;
    this.organizationId = organizationId;
  }

  async takeInvoice(invoiceNumber: string, known: LineKeyCounts): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`cspsync:invoice:${this.organizationId}:${invoiceNumber}`}, 0))`.execute(
      this.trx,
    );
    const stored = await storedLineCount(this.trx, this.organizationId, invoiceNumber);
    known.reserve(stored);
    if (await readKeyBlocks(this.trx, this.organizationId, invoiceNumber, stored, known, "at-once")) return;
    // The keys come back through COPY … TO STDOUT, a stream: a million keys never sit in one result.
    const stream = copyTo(
      `copy (select line_key from charge_lines where organization_id = ${literal(this.organizationId)} ` +
        `and invoice_number = ${literal(invoiceNumber)}) to stdout`,
    );
    await this.submit(stream);
    // A chunk may end inside a key: the part after its last line end waits for the next chunk.
    let rest = "";
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = rest + chunk.toString("utf8");
      const lastLineEnd = text.lastIndexOf("\n");
      rest = text.slice(lastLineEnd + 1);
      if (lastLineEnd > 0) known.addKnownList(text.slice(0, lastLineEnd));
    }
    if (rest !== "") known.addKnownList(rest);
  }

  async append(rows: readonly ChargeLinesTable[], sources: ChargeLineSourcesTable | null): Promise<void> {
    if (sources) this.sources.push(sources);
    if (rows.length === 0) return;
    let text = "";
    for (const row of rows) text += copyLine(row);
    this.buffer.push(text);
    this.buffered += text.length;
    this.appended += rows.length;
    if (this.buffered >= COPY_BUFFER_BYTES) await this.flush();
  }

  /**
   * After a large append the table's statistics still describe it as it was (autovacuum cannot see rows that
   * are not committed), and the planner would read a few pair lines by scanning the whole table rather than
   * through its partial indexes. ANALYZE inside the transaction sees the new rows; it samples a fixed number
   * of rows, about a second however large the table.
   */
  async finish(): Promise<void> {
    await this.flush();
    if (this.appended >= ANALYZE_FROM_LINES) await sql`analyze charge_lines`.execute(this.trx);
  }

  private async flush(): Promise<void> {
    // A block is a few KB: the blocks of a COPY's lines go in one INSERT before it.
    if (this.sources.length > 0) {
      const sources = this.sources;
      this.sources = [];
      await this.trx.insertInto("charge_line_sources").values(sources).execute();
    }
    if (this.buffer.length === 0) return;
    const texts = this.buffer;
    this.buffer = [];
    this.buffered = 0;
    const stream = copyFrom(
      `copy charge_lines (${CHARGE_LINE_COLUMNS.map((c) => `"${c}"`).join(",")}) from stdin`,
    );
    await this.submit(stream);
    for (const text of texts) stream.write(text);
    stream.end();
    await finished(stream);
  }

  /**
   * Starts a COPY on the transaction's own connection. Kysely hands a query's `sql` to pg's `client.query`
   * unchanged, and pg runs any object with a `submit` method as a query of its own (how pg-copy-streams is
   * used with a plain client): so the stream goes in as the query text. pg returns the stream itself, which
   * Kysely reads as an empty result; the COPY then runs on the connection until the stream ends.
   */
  private async submit(stream: object): Promise<void> {
    const query = CompiledQuery.raw("copy", []);
    await this.trx.executeQuery({ ...query, sql: stream as unknown as string });
  }
}

/** A string literal for SQL text (standard_conforming_strings, on since PostgreSQL 9.1). */
function literal(value: string): string {
  if (value.includes("\u0000")) throw new Error("a NUL character cannot be sent to PostgreSQL");
  return `'${value.replaceAll("'", "''")}'`;
}

/** One row in COPY's text format: tab-separated, \N for null, backslash escapes for the rest. */
function copyLine(row: ChargeLinesTable): string {
  let line = "";
  for (let i = 0; i < CHARGE_LINE_COLUMNS.length; i++) {
    const value = row[CHARGE_LINE_COLUMNS[i]!];
    if (i > 0) line += "\t";
    line += value === null || value === undefined ? "\\N" : escapeCopy(String(value));
  }
  return line + "\n";
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

function escapeCopy(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}
