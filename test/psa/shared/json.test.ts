import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decimalString,
  isJsonNumberText,
  jsonNumber,
  parseJson,
  parseJsonKeepingNumbers,
  stringifyJson,
} from "../../../src/psa/shared/json.ts";

test("parseJson keeps every non-safe-integer number as its exact source text", () => {
  const parsed = parseJson(
    '{"price":0.846202666,"total":120.96,"tiny":1e-7,"upper":2E+3,"big":12345678901234567890,"one":1.0,"qty":5,"neg":-42}',
  );
  assert.deepEqual(parsed, {
    price: "0.846202666",
    total: "120.96",
    tiny: "1e-7",
    upper: "2E+3",
    big: "12345678901234567890",
    one: "1.0",
    qty: 5,
    neg: -42,
  });
});

test("parseJson keeps Number.MAX_SAFE_INTEGER as a number and one beyond it as text", () => {
  assert.deepEqual(parseJson("[9007199254740991, 9007199254740992]"), [9007199254740991, "9007199254740992"]);
});

test("parseJson strips a leading UTF-8 BOM", () => {
  assert.deepEqual(parseJson('\uFEFF{"a":[1,"x",null,true]}'), { a: [1, "x", null, true] });
});

test("parseJson still rejects malformed JSON", () => {
  assert.throws(() => parseJson("{bad"), SyntaxError);
});

test("exact decimals survive parse then stringify through jsonNumber", () => {
  const source = '{"a":0.846202666,"b":120.96,"c":1e-7,"d":12345678901234567890,"e":-0.10}';
  const parsed = parseJson(source) as Record<string, string>;
  const rewritten = Object.fromEntries(
    Object.entries(parsed).map(([key, value]) => [key, jsonNumber(value)]),
  );
  assert.equal(stringifyJson(rewritten), source);
});

test("parseJsonKeepingNumbers round-trips byte for byte and leaves strings alone", () => {
  const source = '{"a":0.846202666,"b":[120.96,1e-7,3],"s":"0.5","d":12345678901234567890}';
  const parsed = parseJsonKeepingNumbers(source) as { a: unknown; s: unknown };
  assert.ok(isJsonNumberText(parsed.a));
  assert.equal(parsed.s, "0.5");
  assert.equal(stringifyJson(parsed), source);
});

test("stringifyJson writes jsonNumber values as bare numbers, nested anywhere", () => {
  const text = stringifyJson({
    lines: [{ unitPrice: jsonNumber("0.846202666"), qty: jsonNumber("3") }],
    n: 2,
  });
  assert.equal(text, '{"lines":[{"unitPrice":0.846202666,"qty":3}],"n":2}');
});

test("jsonNumber rejects anything that is not a plain JSON number", () => {
  for (const bad of ["abc", "", "1,5", "+1", ".5", "1.", "NaN", "Infinity", "0x10", "01", " 1", "1 ", "1e"]) {
    assert.throws(() => jsonNumber(bad), TypeError, bad);
  }
  assert.throws(() => jsonNumber(1.5 as unknown as string), TypeError);
});

test("stringifyJson refuses a value with no JSON form", () => {
  assert.throws(() => stringifyJson(undefined), TypeError);
});

test("decimalString accepts numbers, exact number text and numeric strings, and canonicalises", () => {
  assert.equal(decimalString.parse(120.96), "120.96");
  assert.equal(decimalString.parse("120.960"), "120.96");
  assert.equal(decimalString.parse("1e-7"), "0.0000001");
  assert.equal(decimalString.parse("12345678901234567890"), "12345678901234567890");
  assert.equal(decimalString.parse("-0.00"), "0");
  assert.equal(decimalString.parse(7), "7");
});

test("decimalString rejects non-numbers", () => {
  for (const bad of ["abc", "", "1,5", Number.NaN, Number.POSITIVE_INFINITY, null, true]) {
    assert.equal(decimalString.safeParse(bad).success, false, String(bad));
  }
});
