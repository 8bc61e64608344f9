import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { currencyDecimals, formatMoney, UNIT_DECIMALS, UNIT_MONEY_TITLE } from "../../web/src/format.ts";

/** Digits after the decimal separator of a formatted amount (en-US under node: "." separates). */
function decimals(text: string): number {
  const match = /\.(\d+)/.exec(text);
  return match ? match[1]!.length : 0;
}

describe("formatMoney", () => {
  it("uses each currency's own minor-unit digits for totals", () => {
    assert.equal(currencyDecimals("USD"), 2);
    assert.equal(currencyDecimals("EUR"), 2);
    assert.equal(currencyDecimals("JPY"), 0);
    assert.equal(currencyDecimals("BHD"), 3);
    assert.equal(decimals(formatMoney("12.5", "USD")), 2);
    assert.equal(decimals(formatMoney("10.0833", "EUR")), 2);
    assert.equal(decimals(formatMoney("1200", "JPY")), 0);
    assert.equal(decimals(formatMoney("1.2", "BHD")), 3);
    assert.match(formatMoney("12.5", "USD"), /12\.50/);
    assert.match(formatMoney("1.2", "BHD"), /1\.200/);
    assert.doesNotMatch(formatMoney("1200.4", "JPY"), /\./);
  });

  it("keeps up to four decimals for unit amounts, never fewer than the currency's", () => {
    assert.equal(UNIT_DECIMALS, 4);
    assert.match(UNIT_MONEY_TITLE, /per unit.*4 decimals/);
    assert.match(formatMoney("10.0833", "USD", { unit: true }), /10\.0833/);
    assert.match(formatMoney("10.08331", "USD", { unit: true }), /10\.0833(?!\d)/);
    assert.match(formatMoney("10", "USD", { unit: true }), /10\.00(?!\d)/);
    assert.match(formatMoney("1.5", "BHD", { unit: true }), /1\.500(?!\d)/);
    assert.match(formatMoney("1.25", "JPY", { unit: true }), /1\.25(?!\d)/);
  });

  it("formats the exact decimal string without going through a float", () => {
    assert.match(formatMoney("12345678901234.57", "USD"), /12,345,678,901,234\.57/);
  });

  it("shows an empty amount as a dash and text that is not a number as it is", () => {
    assert.equal(formatMoney(null, "USD"), "—");
    assert.equal(formatMoney("", "USD"), "—");
    assert.equal(formatMoney("n/a", "USD"), "n/a");
  });

  it("uses two decimals with no currency, and an unknown currency code does not throw", () => {
    assert.equal(formatMoney("3.14159", null), "3.14");
    assert.equal(decimals(formatMoney("3.14159", "ZZZ1")), 2);
  });
});
