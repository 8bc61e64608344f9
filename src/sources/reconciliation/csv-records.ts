/**
 * A streaming CSV record parser for reconciliation files (RFC 4180): fields quoted with `"` and `""` escapes,
 * embedded separators and line breaks, `\r\n` and `\n` line ends mixed. It reads the exact dialect cspsync
 * used csv-parse for (bom, skip_empty_lines, skip_records_with_empty_values, strict quotes and field counts),
 * with the same records and the same failing record for every error, but scans a string buffer with indexOf
 * and splits unquoted stretches in one call, which reads these files about twice as fast.
 */
export type CsvProblem = "field-count" | "unclosed-quote" | "stray-quote" | "record-too-long";

/**
 * The longest record accepted, in characters. Reconciliation rows are a few kilobytes; a record that runs on
 * for a mebibyte is a quote that never closes, and waiting for the end of the file to say so would hold the
 * rest of the file in memory.
 */
export const MAX_RECORD_CHARS = 1 << 20;

export class CsvSyntaxError extends Error {
  readonly problem: CsvProblem;
  /** 1-based position of the failing record among the records read (the header is record 1). */
  readonly record: number;
  readonly expectedFields: number;
  readonly foundFields: number;

  constructor(problem: CsvProblem, record: number, fields: { expected: number; found: number }) {
    super(`CSV ${problem} in record ${record}`);
    this.name = "CsvSyntaxError";
    this.problem = problem;
    this.record = record;
    this.expectedFields = fields.expected;
    this.foundFields = fields.found;
  }
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
/** Returned by readRecord when the buffer ends inside the record and more text is coming. */
const NEED_MORE = null;

export class CsvRecordParser {
  private readonly delimiter: string;
  private readonly delimiterCode: number;
  private buffer = "";
  private started = false;
  /** Records accepted so far, the header included (records of empty values are skipped, not counted). */
  private records = 0;
  private expected = -1;

  /**
   * `expectedFields`: the field count every record must have, for a parser that starts after the header (a
   * stretch of the file read on its own, see split-read.ts); by default the first record (the header) sets it.
   */
  constructor(delimiter: string, expectedFields = -1) {
    if (delimiter.length !== 1) throw new Error("the CSV record parser takes a one-character delimiter");
    this.delimiter = delimiter;
    this.delimiterCode = delimiter.charCodeAt(0);
    this.expected = expectedFields;
  }

  /** Whether every text pushed so far ended at a record's end (no record is waiting for more). */
  get idle(): boolean {
    return this.buffer.length === 0;
  }

  /** Appends decoded text; every record completed by it is pushed to `out`. */
  push(text: string, out: string[][]): void {
    this.buffer = this.buffer.length > 0 ? this.buffer + text : text;
    if (!this.started && this.buffer.length > 0) {
      this.started = true;
      if (this.buffer.charCodeAt(0) === 0xfeff) this.buffer = this.buffer.slice(1);
    }
    this.parse(out, false);
  }

  /** The text ended: the last record may lack its line end. */
  end(text: string, out: string[][]): void {
    this.push(text, out);
    this.parse(out, true);
  }

  private parse(out: string[][], end: boolean): void {
    const buf = this.buffer;
    const length = buf.length;
    let pos = 0;
    try {
      while (pos < length) {
        const c = buf.charCodeAt(pos);
        if (c === LF) {
          pos += 1;
          continue;
        }
        if (c === CR) {
          if (pos + 1 >= length && !end) break;
          if (buf.charCodeAt(pos + 1) === LF) {
            pos += 2;
            continue;
          }
        }
        const record = this.readRecord(buf, pos, end);
        if (record === NEED_MORE) {
          if (length - pos > MAX_RECORD_CHARS) this.fail("record-too-long");
          break;
        }
        this.accept(record.fields, out);
        pos = record.next;
      }
    } finally {
      this.buffer = pos >= length ? "" : buf.slice(pos);
    }
  }

  private accept(fields: string[], out: string[][]): void {
    if (this.expected === -1) this.expected = fields.length;
    if (fields.length !== this.expected) {
      throw new CsvSyntaxError("field-count", this.records + 1, {
        expected: this.expected,
        found: fields.length,
      });
    }
    // A spreadsheet that saved a CSV often leaves rows holding only separators at the end.
    if (fields.every((field) => field.trim() === "")) return;
    this.records += 1;
    out.push(fields);
  }

  private fail(problem: CsvProblem): never {
    throw new CsvSyntaxError(problem, this.records + 1, { expected: this.expected, found: 0 });
  }

  /** One record starting at `start` (not an empty line), or NEED_MORE when it runs past the buffer. */
  private readRecord(buf: string, start: number, end: boolean): { fields: string[]; next: number } | null {
    const length = buf.length;
    const fields: string[] = [];
    let pos = start;
    // Positions of the next line feed and the next quote at or after `pos` (-1: none in the buffer).
    let lineFeed = -2;
    let quote = -2;
    for (;;) {
      if (pos >= length) {
        // Only reached after a separator: the record ends with an empty field.
        if (!end) return NEED_MORE;
        fields.push("");
        return { fields, next: length };
      }
      if (buf.charCodeAt(pos) === QUOTE) {
        const quoted = this.readQuoted(buf, pos, end);
        if (quoted === NEED_MORE) return NEED_MORE;
        fields.push(quoted.value);
        if (quoted.next < 0) return { fields, next: -quoted.next - 1 };
        pos = quoted.next;
        continue;
      }
      if (lineFeed !== -1 && lineFeed < pos) lineFeed = buf.indexOf("\n", pos);
      if (quote !== -1 && quote < pos) quote = buf.indexOf('"', pos);
      // The unquoted stretch up to the next quote or line end is split in one go.
      if (quote !== -1 && (lineFeed === -1 || quote < lineFeed)) {
        if (buf.charCodeAt(quote - 1) !== this.delimiterCode) {
          // A quote that does not open a field; first make sure the record is complete.
          if (lineFeed === -1 && !end) return NEED_MORE;
          this.fail("stray-quote");
        }
        this.split(buf, pos, quote - 1, fields);
        pos = quote;
        continue;
      }
      if (lineFeed === -1 && !end) return NEED_MORE;
      const stop = lineFeed === -1 ? length : lineFeed;
      // `\r\n` ends the record; a lone `\r` is an ordinary character.
      const valueEnd = stop === lineFeed && stop > pos && buf.charCodeAt(stop - 1) === CR ? stop - 1 : stop;
      this.split(buf, pos, valueEnd, fields);
      return { fields, next: stop === length ? length : stop + 1 };
    }
  }

  private split(buf: string, from: number, to: number, fields: string[]): void {
    const pieces = buf.slice(from, to).split(this.delimiter);
    for (let i = 0; i < pieces.length; i++) fields.push(pieces[i]!);
  }

  /**
   * A quoted field starting at `start`. `next` is where the following field starts, or, when the record ends
   * after this field, -(position after the line end) - 1.
   */
  private readQuoted(buf: string, start: number, end: boolean): { value: string; next: number } | null {
    const length = buf.length;
    let value = "";
    let from = start + 1;
    for (;;) {
      const close = buf.indexOf('"', from);
      if (close === -1) {
        if (end) this.fail("unclosed-quote");
        return NEED_MORE;
      }
      if (close + 1 >= length) {
        if (!end) return NEED_MORE;
        return { value: value + buf.slice(from, close), next: -length - 1 };
      }
      const after = buf.charCodeAt(close + 1);
      if (after === QUOTE) {
        value += buf.slice(from, close + 1);
        from = close + 2;
        continue;
      }
      value += buf.slice(from, close);
      if (after === this.delimiterCode) return { value, next: close + 2 };
      if (after === LF) return { value, next: -(close + 2) - 1 };
      if (after === CR) {
        if (close + 2 >= length && !end) return NEED_MORE;
        if (buf.charCodeAt(close + 2) === LF) return { value, next: -(close + 3) - 1 };
      }
      this.fail("stray-quote");
    }
  }
}
