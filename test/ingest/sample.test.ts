import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { toCsv } from "../support/recon-builder.ts";
import { juneRows } from "../support/scenarios.ts";

const SAMPLE = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");

// Product ids of Microsoft's catalog the sample uses, with the product each one is.
const CATALOG: Record<string, string> = {
  CFQ7TTC0LFLX: "Microsoft 365 E3",
  CFQ7TTC0LFLZ: "Microsoft 365 E5",
  CFQ7TTC0LCHC: "Microsoft 365 Business Premium",
  CFQ7TTC0LDPB: "Microsoft 365 Business Standard",
  CFQ7TTC0LH18: "Microsoft 365 Business Basic",
  CFQ7TTC0LH16: "Exchange Online (Plan 1)",
};

describe("the bundled June sample", () => {
  it("is the shared June scenario written as the portal writes it (BOM, CRLF)", () => {
    assert.equal(fs.readFileSync(SAMPLE, "utf8"), toCsv(juneRows(), { bom: true }));
  });

  it("names every catalog product id as Microsoft's catalog does", () => {
    for (const row of juneRows()) {
      const product = CATALOG[row.ProductId!];
      if (product) assert.equal(row.ProductName, product, `${row.ProductId} is ${product}`);
    }
  });
});
