import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeRecord, productNameMismatch, productWords } from "../../src/core/product-words.ts";

const item = (label: string, name: string) => ({ noun: "catalog item", label, name });

describe("product-name check between a charge and the PSA product it matched", () => {
  it("keeps the words that tell products apart and drops vendor, billing, segment and small words", () => {
    assert.deepEqual([...productWords("Microsoft 365 E3")], ["e3"]);
    assert.deepEqual([...productWords("M365-E5 — Microsoft 365 E5")], ["e5"]);
    assert.deepEqual([...productWords("Microsoft 365 Business Premium (annual)")], ["business", "premium"]);
    assert.deepEqual([...productWords("Exchange Online (Plan 1)")], ["exchange", "online"]);
    assert.deepEqual([...productWords("Microsoft Teams Rooms Pro")], ["team", "room", "pro"]);
    assert.deepEqual([...productWords("Microsoft 365 A3 for faculty (NCE) EDU")], ["a3"]);
    assert.deepEqual([...productWords("P1Y:A:CFQ7TTC0LFLX:0002")], ["cfq7ttc0lflx"]);
    assert.deepEqual([...productWords("Microsoft CSP licence — monthly license per user")], []);
    assert.deepEqual([...productWords("Licencia Señal")], ["licencia", "senal"]);
  });

  it("warns when the names share no product word, naming both", () => {
    const mismatch = productNameMismatch("Microsoft 365 E3", item("M365-E5", "Microsoft 365 E5"));
    assert.deepEqual(mismatch, {
      chargeProduct: "Microsoft 365 E3",
      psaProduct: "M365-E5 — Microsoft 365 E5",
      psaRecord: "catalog item",
      message:
        'the charge is "Microsoft 365 E3" but it matched catalog item "M365-E5 — Microsoft 365 E5": check the product mapping',
    });
    assert.match(
      productNameMismatch("Visio Plan 2", item("O365-E1", "Office 365 E1"))?.message ?? "",
      /matched catalog item "O365-E1 — Office 365 E1"/,
    );
    const autotask = productNameMismatch("Microsoft 365 E3", {
      noun: "Autotask product",
      label: "Microsoft 365 E5 (Annual)",
      name: "Microsoft 365 E5 (Annual)",
    });
    assert.equal(
      autotask?.message,
      'the charge is "Microsoft 365 E3" but it matched Autotask product "Microsoft 365 E5 (Annual)": check the product mapping',
    );
  });

  it("stays quiet when one product word is shared, in the identifier or the name, in any case or spelling", () => {
    assert.equal(
      productNameMismatch("Microsoft 365 E3", item("M365-E3-ANNUAL", "Microsoft 365 E3 (annual)")),
      null,
    );
    assert.equal(productNameMismatch("Microsoft 365 E3", item("M365-E3", "")), null);
    assert.equal(
      productNameMismatch("Exchange Online (Plan 1)", item("EXO-P1", "Exchange Online (Plan 1)")),
      null,
    );
    assert.equal(
      productNameMismatch(
        "Microsoft 365 Business Premium",
        item("X-1", "MICROSOFT 365 BUSINESS PREMIUM (NCE)"),
      ),
      null,
    );
    assert.equal(productNameMismatch("Microsoft Teams Rooms Pro", item("MTR", "Teams Room Pro")), null);
  });

  it("cannot check, so never warns, when either name has no product words (a generic fallback item)", () => {
    assert.equal(productNameMismatch("Visio Plan 2", item("CSP-LICENSE", "Microsoft CSP licence")), null);
    assert.equal(productNameMismatch("Microsoft 365", item("M365-E5", "Microsoft 365 E5")), null);
    assert.equal(productNameMismatch("Windows Server 2022", item("2022", "")), null);
  });

  it("shows a record once when its identifier is its name", () => {
    assert.equal(describeRecord({ label: "Microsoft 365 E5", name: "Microsoft 365 E5" }), "Microsoft 365 E5");
    assert.equal(describeRecord({ label: "M365-E5", name: "" }), "M365-E5");
    assert.equal(
      describeRecord({ label: "M365-E5", name: "Microsoft 365 E5" }),
      "M365-E5 — Microsoft 365 E5",
    );
  });
});
