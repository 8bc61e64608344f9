import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { importReconFile, type ImportSummary } from "../../src/services/import-recon.ts";
import type { Store } from "../../src/store/db.ts";
import { createTestStore } from "../support/stores.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";

/**
 * Independent check of how malformed reconciliation files are refused: each is rejected (or reported empty)
 * with the file, row and column, and nothing of it is stored. Fixtures are literal text written from
 * docs/billing-data.md §3, not from the shared scenarios.
 */
const HEADER =
  "PartnerId,CustomerId,CustomerName,CustomerDomainName,CustomerCountry,InvoiceNumber,MpnId,ResellerMpnId,OrderId,OrderDate,ProductId,SkuId,AvailabilityId,SkuName,ProductName,ChargeType,UnitPrice,Quantity,Subtotal,TaxTotal,Total,Currency,PriceAdjustmentDescription,PublisherName,PublisherId,SubscriptionDescription,SubscriptionId,ChargeStartDate,ChargeEndDate,TermAndBillingCycle,EffectiveUnitPrice,UnitType,AlternateId,BillableQuantity,BillingFrequency,PricingCurrency,PCToBCExchangeRate,PCToBCExchangeRateDate,MeterDescription,ReservationOrderId,CreditReasonCode,SubscriptionStartDate,SubscriptionEndDate,ReferenceId,ProductQualifiers,PromotionId,ProductCategory";
// The documented P1M example: 10 seats at 10.08 from Jun 18 (docs/billing-data.md §7).
const ROW =
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,0,6dc5c039750a,6/18/2024,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,new,10.08,10,100.80,0,100.80,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000001,6/18/2024,7/17/2024,One-Month commitment for monthly billing,10.08,,6dc5c039750a,10,Monthly,USD,1,6/1/2024,,,,6/18/2024,7/17/2024,,,,";
const ROW2 = ROW.replace("a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000002");
const JSON_LINE =
  '{"CustomerId":"196e2273-9651-43a3-ba7e-7cbcd918fc40","CustomerName":"Johnny Modern Cust DE2","InvoiceNumber":"G052345678","ProductId":"CFQ7TTC0LH18","SkuId":"0001","ProductName":"Microsoft 365 Business Basic","ChargeType":"new","UnitPrice":10.08,"Subtotal":100.80,"Currency":"USD","SubscriptionId":"a0000000-0000-4000-8000-000000000001","ChargeStartDate":"2024-06-18T00:00:00Z","ChargeEndDate":"2024-07-17T00:00:00Z","EffectiveUnitPrice":10.08,"BillableQuantity":10,"BillingFrequency":"Monthly","SubscriptionStartDate":"2024-06-18","SubscriptionEndDate":"2024-07-17"}';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-independent-bad-"));
let counter = 0;
function write(name: string, content: string | Buffer): string {
  const full = path.join(dir, `${++counter}-${name}`);
  fs.writeFileSync(full, content);
  return full;
}

function assertRefused(
  summary: ImportSummary,
  expected: { status?: "rejected" | "empty"; row?: number; column?: string; reason: RegExp },
) {
  assert.equal(summary.status, expected.status ?? "rejected", summary.problem?.message);
  assert.ok(summary.problem, "a refused file says why");
  assert.equal(summary.problem.row, expected.row, summary.problem.message);
  assert.equal(summary.problem.column, expected.column, summary.problem.message);
  assert.match(summary.problem.reason, expected.reason);
  assert.ok(summary.problem.message.startsWith(summary.file), `names the file: ${summary.problem.message}`);
  assert.equal(summary.lines, 0);
  assert.equal(summary.newLines, 0);
}

describe("independent malformed reconciliation files are refused precisely, nothing stored (sqlite)", () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ store, cleanup } = await createTestStore("sqlite"));
  });
  after(async () => cleanup());

  const nothingStored = async () => {
    for (const table of [
      "charge_lines",
      "charge_events",
      "invoices",
      "customers",
      "subscriptions",
    ] as const) {
      const rows = await store.db.selectFrom(table).selectAll().execute();
      assert.equal(rows.length, 0, `${table} is empty`);
    }
  };

  it("semicolon- and tab-separated files name the separator (docs/billing-data.md §3.3 distributor dialects)", async () => {
    const semi = [HEADER, ROW].join("\r\n").replaceAll(",", ";");
    assertRefused(await importReconFile(store, write("semi.csv", semi)), {
      row: 1,
      reason: /separated by ";", expected ","/,
    });
    const tab = [HEADER, ROW].join("\n").replaceAll(",", "\t");
    assertRefused(await importReconFile(store, write("tab.tsv", tab)), {
      row: 1,
      reason: /separated by tab, expected ","/,
    });
    await nothingStored();
  });

  it("a missing required column is named; a missing optional one is fine", async () => {
    const withoutSubtotal = (text: string) => {
      const fields = text.split(",");
      fields.splice(18, 1);
      return fields.join(",");
    };
    assert.equal(HEADER.split(",")[18], "Subtotal");
    const summary = await importReconFile(
      store,
      write("no-subtotal.csv", [withoutSubtotal(HEADER), withoutSubtotal(ROW)].join("\n")),
    );
    assertRefused(summary, { row: 1, reason: /required column\(s\) missing from the header: Subtotal/ });
    await nothingStored();
    const withoutCategory = await importReconFile(
      store,
      write("no-category.csv", [HEADER.replace(",ProductCategory", ""), ROW.slice(0, -1)].join("\n")),
    );
    assert.equal(withoutCategory.status, "imported", withoutCategory.problem?.message);
    assert.equal(withoutCategory.newLines, 1);
    await store.db.deleteFrom("charge_pair_events").execute();
    await store.db.deleteFrom("charge_lines").execute();
    await store.db.deleteFrom("invoices").execute();
    await store.db.deleteFrom("subscriptions").execute();
    await store.db.deleteFrom("customers").execute();
  });

  it("a header naming a column twice is refused", async () => {
    const summary = await importReconFile(
      store,
      write("dup.csv", [HEADER + ",invoicenumber", ROW + ",G052345678"].join("\n")),
    );
    assertRefused(summary, { row: 1, reason: /appear twice in the header: invoicenumber/ });
    await nothingStored();
  });

  it("a truncated last row names its row", async () => {
    const text = [HEADER, ROW, ROW2].join("\r\n");
    const truncated = text.slice(0, text.lastIndexOf(",Microsoft Corporation"));
    const summary = await importReconFile(store, write("truncated.csv", truncated));
    assertRefused(summary, { row: 3, reason: /expected 47 fields but found 23/ });
    await nothingStored();
  });

  it("an unclosed quote names its row", async () => {
    const broken = ROW2.replace("Johnny Modern Cust DE2", '"Johnny Modern Cust DE2');
    const summary = await importReconFile(
      store,
      write("unclosed.csv", [HEADER, ROW, broken, ROW].join("\n")),
    );
    assertRefused(summary, { row: 3, reason: /quoted field is never closed/ });
    await nothingStored();
  });

  it("a non-numeric amount names row and column", async () => {
    const summary = await importReconFile(
      store,
      write("amount.csv", [HEADER, ROW, ROW.replace(",100.80,0,", ",$100.80,0,")].join("\n")),
    );
    assertRefused(summary, { row: 3, column: "Subtotal", reason: /"\$100.80" is not a number/ });
    await nothingStored();
  });

  it("an absurd exponent is refused as not a number instead of exhausting memory", async () => {
    const summary = await importReconFile(
      store,
      write("exponent.csv", [HEADER, ROW.replace(",10.08,10,", ",1e999999999,10,")].join("\n")),
    );
    assertRefused(summary, { row: 2, column: "UnitPrice", reason: /"1e999999999" is not a number/ });
    await nothingStored();
  });

  it("an impossible date names row and column (Feb 30, ISO month 13)", async () => {
    const feb30 = ROW2.replace(",6/18/2024,7/17/2024,One", ",2/30/2024,7/17/2024,One");
    assertRefused(await importReconFile(store, write("feb30.csv", [HEADER, ROW, feb30].join("\n"))), {
      row: 3,
      column: "ChargeStartDate",
      reason: /"2\/30\/2024" is not a date/,
    });
    const iso = JSON_LINE.replace('"2024-07-17T00:00:00Z"', '"2024-13-17T00:00:00Z"');
    assertRefused(await importReconFile(store, write("month13.jsonl", `${JSON_LINE}\n${iso}\n`)), {
      row: 2,
      column: "ChargeEndDate",
      reason: /"2024-13-17T00:00:00Z" is not a date/,
    });
    await nothingStored();
  });

  it("empty, blank and header-only files are reported as empty, CSV and JSON Lines, plain and gzipped", async () => {
    for (const [name, content] of [
      ["empty.csv", ""],
      ["blank.csv", "\r\n\r\n  \n"],
      ["bom-only.csv", "\uFEFF"],
      ["header-only.csv", `\uFEFF${HEADER}\r\n`],
      ["header-only.csv.gz", gzipSync(`${HEADER}\n\n`)],
      ["empty.jsonl.gz", gzipSync("\n")],
    ] as const) {
      const summary = await importReconFile(store, write(name, content));
      assert.equal(summary.status, "empty", `${name}: ${summary.problem?.message}`);
      assert.match(summary.problem?.reason ?? "", /empty|no data rows/, name);
      assert.ok(summary.problem?.message.startsWith(summary.file));
    }
    await nothingStored();
  });

  it("binary garbage, an .xlsx workbook and a damaged gzip say what they are", async () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    assertRefused(await importReconFile(store, write("garbage.csv", garbage)), {
      row: 1,
      reason: /binary data/,
    });
    // An .xlsx is a zip archive: local file header "PK\3\4", then [Content_Types].xml.
    const xlsx = Buffer.concat([
      Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00]),
      Buffer.from("[Content_Types].xml"),
      Buffer.alloc(64, 0x41),
    ]);
    assertRefused(await importReconFile(store, write("recon.xlsx", xlsx)), {
      row: 1,
      reason: /zip archive \(an Excel \.xlsx workbook\?\)/,
    });
    const gz = gzipSync([HEADER, ROW, ROW2].join("\n"));
    assertRefused(await importReconFile(store, write("cut.csv.gz", gz.subarray(0, gz.length - 12))), {
      reason: /gzip data is damaged or truncated/,
    });
    const jsonGz = gzipSync(`${JSON_LINE}\n${JSON_LINE}\n`);
    assertRefused(
      await importReconFile(store, write("cut.jsonl.gz", jsonGz.subarray(0, jsonGz.length - 12))),
      {
        reason: /gzip data is damaged or truncated/,
      },
    );
    await nothingStored();
  });

  it("a JSON array instead of JSON Lines, and a JSON Lines line that is not an object", async () => {
    assertRefused(await importReconFile(store, write("array.json", `[${JSON_LINE},\n${JSON_LINE}]\n`)), {
      row: 1,
      reason: /JSON array; cspsync reads JSON Lines/,
    });
    assertRefused(
      await importReconFile(store, write("not-object.jsonl", `${JSON_LINE}\n["G052345678", 100.8]\n`)),
      { row: 2, reason: /must be one JSON object/ },
    );
    assertRefused(await importReconFile(store, write("string.jsonl", `${JSON_LINE}\n"just text"\n`)), {
      row: 2,
      reason: /must be one JSON object/,
    });
    await nothingStored();
  });

  it("a JSON Lines record missing a required attribute value names row and column", async () => {
    const noSub = JSON_LINE.replace('"SubscriptionId":"a0000000-0000-4000-8000-000000000001",', "");
    const summary = await importReconFile(
      store,
      write("no-sub.jsonl", `${JSON_LINE}\n${JSON_LINE}\n${noSub}\n`),
    );
    assertRefused(summary, { row: 3, column: "SubscriptionId", reason: /empty but a value is required/ });
    await nothingStored();
  });
});

describe("independent tolerable irregularities are imported (sqlite)", () => {
  it("mixed CRLF/LF line ends and trailing separator-only rows from a spreadsheet", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      const text = `${HEADER}\r\n${ROW}\n${ROW2}\r\n${",".repeat(46)}\r\n${",".repeat(46)}\r\n`;
      const summary = await importReconFile(store, write("mixed.csv", text));
      assert.equal(summary.status, "imported", summary.problem?.message);
      assert.equal(summary.newLines, 2);
    } finally {
      await cleanup();
    }
  });

  it("an extra unknown column is accepted and kept with the line, and does not change its identity", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      const plain = await importReconFile(store, write("plain.csv", [HEADER, ROW].join("\n")));
      assert.equal(plain.newLines, 1, plain.problem?.message);
      const extended = await importReconFile(
        store,
        write("extended.csv", [`${HEADER},Reseller Margin %`, `${ROW},"12,5"`, `${ROW2},7`].join("\n")),
      );
      assert.equal(extended.status, "imported", extended.problem?.message);
      assert.deepEqual([extended.newLines, extended.knownLines], [1, 1]);
      const added = await store.db
        .selectFrom("charge_lines")
        .selectAll()
        .where("import_id", "=", extended.importId)
        .executeTakeFirstOrThrow();
      assert.equal((await lineSourceRecord(store, added))["Reseller Margin %"], "7");
    } finally {
      await cleanup();
    }
  });

  it("BillingFrequency spelled as a one-time cycle (OneTime/None) reads like blank (docs/billing-data.md §5.2)", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      const upfront = ROW.replace(
        ",7/17/2024,One-Month commitment for monthly billing,10.08,",
        ",6/17/2025,One-Year,120.96,",
      )
        .replace(",Monthly,", ",OneTime,")
        .replace(",6/18/2024,7/17/2024,,,,", ",6/18/2024,6/17/2025,,,,");
      const summary = await importReconFile(store, write("onetime.csv", [HEADER, upfront].join("\n")));
      assert.equal(summary.status, "imported", summary.problem?.message);
      assert.deepEqual(summary.linesByMotion, { "seat-monthly": 0, azure: 0, "seat-annual": 1 });
    } finally {
      await cleanup();
    }
  });
});
