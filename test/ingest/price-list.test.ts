import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { deflateRawSync } from "node:zlib";
import { PriceListService } from "../../src/services/price-lists.ts";
import { readPriceListText } from "../../src/sources/price-list/reader.ts";
import { DIALECTS, storesForSuite } from "../support/stores.ts";
import { DEFAULT_ORGANIZATION_ID } from "../../src/store/organization.ts";

const PRICE_LIST = path.resolve(import.meta.dirname, "../../samples/price-list-2024-06.csv");
const HEADER =
  "ProductTitle,ProductId,SkuId,SkuTitle,Publisher,SkuDescription,UnitOfMeasure,TermDuration,BillingPlan,Market,Currency,UnitPrice,PricingTierRangeMin,PricingTierRangeMax,EffectiveStartDate,EffectiveEndDate,Tags,ERP Price";
const ROW =
  "Microsoft 365 Business Premium,CFQ7TTC0LCHC,0002,Microsoft 365 Business Premium,Microsoft Corporation,Best,1 License,P1Y,Annual,US,USD,264,,,3/1/2018 12:00:00 AM,9999-11-30T00:00:00.0000000Z,License,330";

/** The file with one field of the data row replaced (by column name). */
function withField(column: string, value: string): string {
  const index = HEADER.split(",").indexOf(column);
  const fields = ROW.split(",");
  fields[index] = value;
  return `${HEADER}\r\n${ROW}\r\n${fields.join(",")}\r\n`;
}

describe("price list reader (docs/price-lists.md)", () => {
  it("reads Microsoft's layout: dates in every spelling, open-ended ends, tiers, decimals exact", async () => {
    const file = await readPriceListText(fs.readFileSync(PRICE_LIST), "price-list-2024-06.csv");
    assert.deepEqual([file.market, file.currency, file.rows, file.entries.length], ["US", "USD", 24, 24]);
    const tiered = file.entries.filter((e) => e.productId === "CFQ7TTC0QW7C");
    assert.deepEqual(
      tiered.map((e) => [e.tierMin, e.tierMax, e.unitPrice, e.erpPrice]),
      [
        ["1", "300", "480", "600"],
        ["301", "999999", "456", "570"],
      ],
    );
    const text = `${HEADER.replace("ERP Price", " erp price ").replace("ProductId", "PRODUCTID")},Segment\r\n${ROW.replace(
      "3/1/2018 12:00:00 AM",
      "2/1/2023 0:00",
    ).replace("9999-11-30T00:00:00.0000000Z", "2024-06-30T00:00:00.0000000Z")},Commercial\r\n`;
    const [entry] = (await readPriceListText(text, "x.csv")).entries;
    assert.deepEqual(
      [entry!.effectiveStart, entry!.effectiveEnd, entry!.erpPrice, entry!.billingPlan, entry!.termDuration],
      ["2023-02-01", "2024-06-30", "330", "Annual", "P1Y"],
    );
    const open = (await readPriceListText(`${HEADER}\r\n${ROW}\r\n`, "y.csv")).entries[0]!;
    assert.deepEqual([open.effectiveStart, open.effectiveEnd], ["2018-03-01", null]);
  });

  it("a blank BillingPlan is skipped and counted, not stored", async () => {
    const file = await readPriceListText(withField("BillingPlan", ""), "z.csv");
    assert.deepEqual([file.entries.length, file.skipped], [1, { "blank BillingPlan": 1 }]);
  });

  it("each bad input names the file, row and column", async () => {
    const refused = async (text: string) => {
      try {
        await readPriceListText(text, "june.csv");
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    assert.equal(
      await refused(withField("UnitPrice", "12x5")),
      'june.csv, row 3, column UnitPrice: "12x5" is not a number',
    );
    assert.equal(
      await refused(withField("ERP Price", "")),
      "june.csv, row 3, column ERP Price: is empty but a number is required",
    );
    assert.equal(
      await refused(withField("ERP Price", "-1")),
      "june.csv, row 3, column ERP Price: -1 is negative; prices and tiers are not",
    );
    assert.equal(
      await refused(withField("BillingPlan", "Weekly")),
      'june.csv, row 3, column BillingPlan: "Weekly" is not Monthly, Annual or Triennial',
    );
    assert.equal(
      await refused(withField("TermDuration", "1 year")),
      'june.csv, row 3, column TermDuration: "1 year" is not an ISO-8601 period such as P1M, P1Y or P3Y',
    );
    assert.equal(
      await refused(withField("EffectiveStartDate", "31/31/2024")),
      'june.csv, row 3, column EffectiveStartDate: "31/31/2024" is not a date (expected M/D/YYYY [h:mm[:ss] AM] or ISO 8601)',
    );
    assert.equal(
      await refused(withField("Market", "GB")),
      "june.csv, row 3, column Market: is GB but the file's first row is US; one market per file",
    );
    assert.equal(
      await refused(withField("Currency", "EUR")),
      "june.csv, row 3, column Currency: is EUR but the file's first row is USD; one currency per file",
    );
    assert.equal(
      await refused(`ProductId,SkuId,ERP Price\r\nX,1,2\r\n`),
      "june.csv, row 1: is not a new commerce license-based price list: missing columns ProductTitle, SkuTitle, TermDuration, BillingPlan, Market, Currency, UnitPrice, EffectiveStartDate",
    );
    assert.match(await refused(`${HEADER}\r\n${ROW},extra\r\n`), /^june\.csv, row 2: is not valid CSV/);
    assert.equal(await refused(`${HEADER}\r\n`), "june.csv: has no price rows");
  });

  it("the zip archive Partner Center downloads is refused with what to do, however its bytes parse", async () => {
    // A local file header's signature, then compressed bytes: binary that breaks CSV parsing early.
    const archive = Buffer.concat([
      Buffer.from([0x50, 0x4b, 0x03, 0x04]),
      deflateRawSync(Buffer.from(fs.readFileSync(PRICE_LIST, "utf8").repeat(4))),
    ]);
    await assert.rejects(readPriceListText(archive, "pricelist.zip"), {
      message:
        "pricelist.zip, row 1: this is the zip archive Partner Center downloads; extract it and import the .csv inside",
    });
  });
});

for (const dialect of DIALECTS) {
  describe(`price list store (${dialect})`, () => {
    const stores = storesForSuite(dialect, ["main"]);

    it("a bad file stores nothing; the same file twice adds nothing; a later month adds and keeps history", async () => {
      const service = new PriceListService(stores.main, DEFAULT_ORGANIZATION_ID);
      const bad = fs
        .readFileSync(PRICE_LIST, "utf8")
        .replace(",P1Y,Annual,US,USD,480,", ",P1Y,Annual,US,USD,4x0,");
      await assert.rejects(
        service.import(streamOf(bad), { fileName: "bad.csv" }),
        /bad\.csv, row 24, column UnitPrice/,
      );
      assert.deepEqual([await service.listImports(), (await service.index()).entries], [[], []]);

      const first = await service.import(PRICE_LIST);
      assert.deepEqual([first.duplicate, first.added, first.replaced], [false, 24, 0]);
      const again = await service.import(PRICE_LIST);
      assert.deepEqual([again.duplicate, again.added, again.import.id], [true, 0, first.import.id]);

      // July: one price rises from July 1; June's price stays for terms that started before.
      const july = `${HEADER}\r\n${ROW.replace("264", "270").replace(",330", ",340").replace("3/1/2018 12:00:00 AM", "7/1/2024 0:00")}\r\n`;
      const next = await service.import(streamOf(july), { fileName: "july.csv" });
      assert.deepEqual([next.added, next.replaced], [1, 0]);
      const premium = await service.lookup("CFQ7TTC0LCHC:0002");
      assert.deepEqual(
        premium
          .filter((e) => e.termDuration === "P1Y" && e.billingPlan === "Annual")
          .map((e) => [e.effectiveStart, e.erpPrice]),
        [
          ["2024-07-01", "340"],
          ["2022-03-01", "330"],
        ],
      );
      // index() loads only products the billing data has: none are imported here.
      assert.deepEqual([...(await service.index()).currencies], ["USD"]);
      await service.deleteImport(next.import.id);
      assert.equal(
        (await service.lookup("CFQ7TTC0LCHC:0002")).some((e) => e.effectiveStart === "2024-07-01"),
        false,
      );
      assert.equal((await service.listImports()).length, 1);
    });
  });
}

function streamOf(text: string) {
  return Readable.from([Buffer.from(text)]);
}
