import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseCsv, CsvError } from "csv-parse/sync";
import {
  CsvRecordParser,
  CsvSyntaxError,
  MAX_RECORD_CHARS,
} from "../../src/sources/reconciliation/csv-records.ts";
import { Utf8Chunks } from "../../src/sources/reconciliation/reader.ts";

/** What csv-parse, as cspsync configured it before, makes of a text: the records, or the failing record. */
function reference(
  text: string,
  delimiter = ",",
): { records: string[][] } | { problem: string; record: number } {
  try {
    const records = parseCsv(text, {
      bom: true,
      delimiter,
      record_delimiter: ["\r\n", "\n"],
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
    }) as string[][];
    return { records };
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const record = ((error as unknown as { records: number }).records ?? 0) + 1;
    const problem =
      error.code === "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH"
        ? "field-count"
        : error.code === "CSV_QUOTE_NOT_CLOSED"
          ? "unclosed-quote"
          : "stray-quote";
    return { problem, record };
  }
}

/** The same text through cspsync's parser, fed in pieces of `piece` characters. */
function parsed(text: string, piece: number, delimiter = ","): ReturnType<typeof reference> {
  const parser = new CsvRecordParser(delimiter);
  const records: string[][] = [];
  try {
    for (let i = 0; i < text.length; i += piece) parser.push(text.slice(i, i + piece), records);
    parser.end("", records);
    return { records };
  } catch (error) {
    if (!(error instanceof CsvSyntaxError)) throw error;
    return { problem: error.problem, record: error.record };
  }
}

function rng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const CASES: [string, string][] = [
  ["plain, CRLF", "a,b,c\r\n1,2,3\r\n4,5,6\r\n"],
  ["BOM, LF, no final line end", "\uFEFFa,b\n1,2"],
  ["quoted separators, quotes and line breaks", 'a,b\n"x,y","he said ""hi""\r\nnext"\n"",z\n'],
  ["JSON array in a field", 'a,b\n"[""Price"",""Discount""]",2\n'],
  ["empty lines and separator-only rows are skipped", "a,b\n\n1,2\r\n\r\n,\n , \n"],
  ["lone CR is data", "a,b\nx\ry,2\n"],
  ["CR before CRLF", "a,b\nx,y\r\r\n"],
  ["truncated row", "a,b,c\n1,2,3\n4,5\n"],
  ["too many fields", "a,b\n1,2,3\n"],
  ["unclosed quote", 'a,b\n1,"2\n3,4\n'],
  ["quote inside an unquoted field", 'a,b\n1,x"y\n'],
  ["text after a closing quote", 'a,b\n1,"x"y\n'],
  ["closing quote then lone CR", 'a,b\n1,"x"\rz\n'],
  ["closing quote at end of text", 'a,b\n1,"x"'],
  ["trailing separator at end of text", "a,b\n1,"],
  ["space before an opening quote", 'a,b\n1, "x"\n'],
  ["quoted empty field alone on a line", 'a\n""\nb\n'],
  ["whitespace-only line", "a,b\n   \n"],
  ["only a header", "a,b\r\n"],
  ["error after good records", "a,b\n1,2\n3,4\n5\n"],
];

describe("CSV record parser (same records and errors as csv-parse in cspsync's dialect)", () => {
  for (const [name, text] of CASES) {
    it(name, () => {
      const expected = reference(text);
      for (const piece of [1, 2, 3, 7, text.length || 1])
        assert.deepEqual(parsed(text, piece), expected, `piece ${piece}`);
    });
  }

  it("a semicolon-separated file", () => {
    const text = 'a;b\n"1;2";3\n';
    assert.deepEqual(parsed(text, 4, ";"), reference(text, ";"));
    assert.deepEqual(parsed(text, 4, ";"), {
      records: [
        ["a", "b"],
        ["1;2", "3"],
      ],
    });
  });

  it("gives up on a record that runs past MAX_RECORD_CHARS instead of holding the rest of the text", () => {
    const parser = new CsvRecordParser(",");
    const records: string[][] = [];
    parser.push('a,b\n1,2\n3,"open', records);
    const line = "4,5\n".repeat(1024);
    let pushed = 0;
    assert.throws(
      () => {
        for (; pushed < 4 * MAX_RECORD_CHARS; pushed += line.length) parser.push(line, records);
      },
      (error: unknown) =>
        error instanceof CsvSyntaxError && error.problem === "record-too-long" && error.record === 3,
    );
    assert.ok(pushed <= MAX_RECORD_CHARS + line.length, `stopped after ${pushed} characters`);
    assert.deepEqual(records, [
      ["a", "b"],
      ["1", "2"],
    ]);
  });

  it("agrees with csv-parse on 3,000 random texts built from the tricky characters", () => {
    const random = rng(7);
    const alphabet = ["a", "b", ",", ",", '"', '""', "\n", "\r\n", "\r", " ", "\uFEFF", "é"];
    for (let n = 0; n < 3000; n++) {
      let text = "h1,h2,h3\n";
      const size = 1 + Math.floor(random() * 40);
      for (let i = 0; i < size; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const expected = reference(text);
      const piece = 1 + Math.floor(random() * 8);
      assert.deepEqual(parsed(text, piece), expected, JSON.stringify(text));
    }
  });
});

describe("UTF-8 decoding chunk by chunk", () => {
  it("gives the same text wherever the chunks split a character", () => {
    const text = "aé€😀bç\u0800x😀😀é";
    const bytes = Buffer.from(text);
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const decoder = new Utf8Chunks();
        const parts = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)].map((b) =>
          decoder.write(b),
        );
        assert.equal(parts.join("") + decoder.end(), text, `split at ${i}, ${j}`);
      }
    }
  });
});
