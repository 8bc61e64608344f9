import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  canonicalDecimal,
  Dec,
  ExactSum,
  isDecimalText,
  negated,
  roundMoney,
  signOf,
  sumDecimals,
} from "../../src/core/money.ts";

describe("money is exact", () => {
  it("sums decimal strings without float error", () => {
    assert.equal(sumDecimals(["0.1", "0.2"]), "0.3");
    assert.equal(sumDecimals(["-94.08", "112.89"]), "18.81");
    assert.equal(sumDecimals(["1209.600000000000000001", "-1209.6"]), "0.000000000000000001");
    assert.equal(sumDecimals([]), "0");
  });

  it("canonicalises numbers from files: exponents, trailing zeros, negative zero", () => {
    assert.equal(canonicalDecimal("1E-05"), "0.00001");
    assert.equal(canonicalDecimal("100.800"), "100.8");
    assert.equal(canonicalDecimal("-0.00"), "0");
    assert.equal(canonicalDecimal("+5"), "5");
    assert.equal(canonicalDecimal(".5"), "0.5");
  });

  it("adds up exactly in a running sum, to the same canonical text as summing through Decimal", () => {
    const cases = [
      [],
      ["0"],
      ["-0.00"],
      ["1.5", "-1.5"],
      ["0.1", "0.2"],
      ["287.50", "1E-05", "+3", "-0.001", "12"],
      ["-5", "2.25"],
      ["1209.600000000000000001", "-1209.6"],
      ["99999999999999999999.99", "0.01"],
    ];
    for (const values of cases) {
      const sum = new ExactSum();
      for (const value of values) sum.add(value);
      assert.equal(sum.value(), sumDecimals(values), values.join(" + "));
    }
  });

  it("gives the same canonical form on the fast path (text already canonical) as through a Decimal", () => {
    const texts = ["0", "-0", "7", "-7", "007", "0.5", "-0.5", "00.5", "12.30", "12.3", "-12.0", "3.", "1e2"];
    texts.push("100", "-100.001", "0.000", "10.01", "123456789012345678901234567890.123456789");
    for (const text of texts) {
      const decimal = new Dec(text);
      assert.equal(canonicalDecimal(text), decimal.isZero() ? "0" : decimal.toFixed(), text);
    }
  });

  it("accepts only plain numbers (no thousands separators, no decimal commas, no currency signs)", () => {
    for (const ok of ["0", "-9.408", "0.03825", "1e-7", "3.", "+1"]) assert.ok(isDecimalText(ok), ok);
    for (const bad of ["1,234.5", "12,5", "$5", "NaN", "Infinity", "", "1.2.3", "0x10", "5 "])
      assert.ok(!isDecimalText(bad), bad);
  });

  it("rounds half away from zero, explicitly", () => {
    assert.equal(roundMoney("2.345"), "2.35");
    assert.equal(roundMoney("-2.345"), "-2.35");
    assert.equal(roundMoney("2.344"), "2.34");
    assert.equal(roundMoney("1.005"), "1.01");
    assert.equal(roundMoney("-0.001"), "0");
  });

  it("knows the sign of a decimal string", () => {
    assert.deepEqual(["-0.01", "0", "0.00", "7"].map(signOf), [-1, 0, 0, 1]);
    assert.deepEqual(
      ["-0", "+0.0", "0E+5", "1E-5", "-2.5e3", "+.5", "-.05"].map(signOf),
      [0, 0, 0, 1, -1, 1, -1],
    );
  });

  it("negates into canonical form", () => {
    assert.deepEqual(["7.50", "-7.5", "0.00", "-0", "1E+2"].map(negated), ["-7.5", "7.5", "0", "0", "-100"]);
  });
});
