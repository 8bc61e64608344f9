import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  annualSkuCandidates,
  matchBySkuSpellings,
  productNotMatched,
} from "../../src/core/product-identity.ts";

describe("finding a CSP product in a PSA catalog", () => {
  it("tries the annual spellings before the plain Microsoft SKU", () => {
    assert.deepEqual(annualSkuCandidates("CFQ7TTC0LCHC", "0002"), [
      "P1Y:A:CFQ7TTC0LCHC:0002",
      "CFQ7TTC0LCHC:0002:P1Y",
      "CFQ7TTC0LCHC:0002",
    ]);
  });

  it("stops at the first spelling with an active match, ignores inactive records and duplicates", async () => {
    const catalog: Record<string, { id: number; active: boolean }[]> = {
      "P1Y:A:P:1": [{ id: 1, active: false }],
      "P:1:P1Y": [],
      "P:1": [
        { id: 2, active: true },
        { id: 2, active: true },
      ],
    };
    const found = await matchBySkuSpellings(
      "P",
      "1",
      async (s) => catalog[s] ?? [],
      (r) => r.active,
    );
    assert.deepEqual(
      found.map((r) => r.id),
      [2],
    );
    assert.deepEqual(
      await matchBySkuSpellings(
        "X",
        "9",
        async () => [],
        () => true,
      ),
      [],
    );
  });

  it("says which SKU could not be matched, in the documented words", () => {
    assert.equal(
      productNotMatched("P", "1", 0, "catalog item"),
      "Could not find source product or multiple matches (no active catalog item has SKU P:1)",
    );
    assert.equal(
      productNotMatched("P", "1", 2, "catalog item"),
      "Could not find source product or multiple matches (2 catalog items match P:1)",
    );
  });
});
