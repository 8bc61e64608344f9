import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RECON_COLUMN_NAMES } from "../../src/sources/reconciliation/columns.ts";
import { openReconFile } from "../../src/sources/reconciliation/reader.ts";
import { toJsonLines } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";

/**
 * JSON Lines numbers reach cspsync as their exact source text, never through a float: most records are read by
 * quoting every number that is an attribute's value before parsing (reader.ts, parseFlatRecord), the rest with
 * a reviver that keeps each number's source. Both must give the same fields.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-jsonl-numbers-"));
const base = toJsonLines([juneRows()[0]!]).trim();

async function fieldsOf(records: string[]) {
  const file = path.join(dir, `records-${Math.random().toString(36).slice(2)}.jsonl`);
  fs.writeFileSync(file, records.join("\n") + "\n");
  const opened = await openReconFile(file);
  const rows = [];
  for await (const { fields } of opened.rows) {
    const named: Record<string, string> = {};
    RECON_COLUMN_NAMES.forEach((column, i) => (named[column] = fields[i]!));
    for (const extra of opened.mapping.extras) named[extra.name] = fields[extra.index]!;
    rows.push(named);
  }
  return rows;
}

/** The base record with these attributes' values replaced by raw JSON text. */
function record(values: Record<string, string>): string {
  let text = base;
  for (const [key, json] of Object.entries(values)) {
    const pattern = new RegExp(`"${key}":("(?:[^"\\\\]|\\\\.)*"|[^,}]*)`);
    assert.match(text, pattern, key);
    text = text.replace(pattern, `"${key}":${json}`);
  }
  return text;
}

describe("numbers in JSON Lines keep their exact text", () => {
  it("as attribute values: trailing zeros, exponents, signs, more digits than a double holds, spaces", async () => {
    const [row] = await fieldsOf([
      record({
        UnitPrice: "12.50",
        EffectiveUnitPrice: "1E-05",
        Subtotal: "-0.000010",
        Total: " 0.12345678901234567890123 ",
        BillableQuantity: "1.5e+3",
        PCToBCExchangeRate: "1.000000",
      }),
    ]);
    assert.deepEqual(
      [row!.UnitPrice, row!.EffectiveUnitPrice, row!.Subtotal, row!.Total, row!.BillableQuantity],
      ["12.50", "1E-05", "-0.000010", "0.12345678901234567890123", "1.5e+3"],
    );
    assert.equal(row!.PCToBCExchangeRate, "1.000000");
  });

  it("refuses what is not a JSON number, naming the row, as before", async () => {
    for (const bad of ["1-2", "01", "1.", ".5"]) {
      const file = path.join(dir, `bad-${bad}.jsonl`);
      fs.writeFileSync(file, [base, record({ UnitPrice: bad })].join("\n") + "\n");
      const opened = await openReconFile(file);
      const rows = async () => {
        for await (const _row of opened.rows);
      };
      await assert.rejects(rows, (error: Error) => /row 2: not valid JSON/.test(error.message), bad);
    }
  });

  it("reads a string that looks like an attribute and a number as the string it is", async () => {
    const [row] = await fieldsOf([
      record({ SubscriptionDescription: JSON.stringify('ratio:5,"seats":7} and [x:1]'), UnitPrice: "3.10" }),
    ]);
    assert.equal(row!.SubscriptionDescription, 'ratio:5,"seats":7} and [x:1]');
    assert.equal(row!.UnitPrice, "3.10");
  });

  it("keeps nested values as before: arrays of strings as JSON text, numbers inside objects and arrays as numbers", async () => {
    const rows = await fieldsOf([
      record({ ProductQualifiers: '["AddOn", "Trial"]' }),
      record({ ProductQualifiers: "[]" }).replace("}", ',"attributes":{"objectType":"x","weight":1.50}}'),
      record({ ProductQualifiers: "[]" }).replace("}", ',"tiers":[1, 2.50]}'),
    ]);
    assert.equal(rows[0]!.ProductQualifiers, '["AddOn","Trial"]');
    assert.equal(rows[1]!.attributes, '{"objectType":"x","weight":1.5}');
    assert.equal(rows[2]!.tiers, "[1,2.5]");
  });
});
