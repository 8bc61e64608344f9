import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { Store } from "../../src/store/db.ts";
import { sumDecimals } from "../../src/core/money.ts";
import { DIALECTS, createTestStore } from "../support/stores.ts";
import { writeCsv, writeJsonLinesGz } from "../support/recon-builder.ts";
import { INVOICE, SUBS, juneRows } from "../support/scenarios.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-import-"));
const juneCsv = writeCsv(path.join(dir, "june.csv"), juneRows(), { bom: true });

async function eventsOf(store: Store, subscriptionId: string) {
  return store.db
    .selectFrom("charge_events")
    .selectAll()
    .where("subscription_id", "=", subscriptionId)
    .orderBy("charge_start")
    .orderBy("event_key")
    .execute();
}

for (const dialect of DIALECTS) {
  describe(`importing reconciliation data (${dialect})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await createTestStore(dialect));
    });
    after(async () => cleanup());

    it("stores every line of a month with every charge type, classified into one motion each", async () => {
      const summary = await importReconFile(store, juneCsv);
      assert.equal(summary.status, "imported", summary.problem?.message);
      assert.equal(summary.format, "csv");
      assert.equal(summary.lines, juneRows().length);
      assert.equal(summary.newLines, juneRows().length);
      assert.equal(summary.knownLines, 0);
      assert.deepEqual(summary.invoices, [INVOICE]);
      assert.equal(summary.customers, 2);
      assert.deepEqual(summary.linesByMotion, { "seat-monthly": 13, azure: 3, "seat-annual": 10 });
      assert.equal(summary.notBillable, 1);

      const motionOf = async (sub: string) => [
        ...new Set(
          (
            await store.db
              .selectFrom("charge_lines")
              .select("motion")
              .where("subscription_id", "=", sub)
              .execute()
          ).map((r) => r.motion),
        ),
      ];
      assert.deepEqual(await motionOf(SUBS.annual), ["seat-annual"]);
      assert.deepEqual(await motionOf(SUBS.annualCancelled), ["seat-annual"]);
      assert.deepEqual(await motionOf(SUBS.annualRenewed), ["seat-annual"]);
      assert.deepEqual(await motionOf(SUBS.planChange), ["seat-annual"]);
      assert.deepEqual(await motionOf(SUBS.perpetual), ["seat-annual"]);
      assert.deepEqual(await motionOf(SUBS.annualBilledMonthly), ["seat-monthly"]);
      assert.deepEqual(await motionOf(SUBS.monthly), ["seat-monthly"]);
      assert.deepEqual(await motionOf(SUBS.azure), ["azure"]);
    });

    it("groups credit/charge pairs into one event with the exact net seat delta, price and amount", async () => {
      const annual = await eventsOf(store, SUBS.annual);
      assert.deepEqual(
        annual.map((e) => [
          e.kind,
          e.charge_type,
          e.seat_delta,
          e.seats_after,
          e.effective_unit_price,
          e.amount,
          e.line_count,
        ]),
        [
          ["purchase", "new", "5", "5", "264", "1320", 1],
          ["seat-change", "addQuantity", "2", "7", "249.5342466", "499.06", 2],
          ["seat-change", "removeQuantity", "-1", "6", "248.0876712", "-248.09", 2],
        ],
      );
      assert.deepEqual(
        [annual[1]!.charge_start, annual[1]!.charge_end, annual[1]!.term_end],
        ["2024-06-25", "2025-06-04", "2025-06-04"],
      );

      const monthly = await eventsOf(store, SUBS.monthly);
      const seatChange = monthly.find((e) => e.kind === "seat-change")!;
      assert.deepEqual(
        [seatChange.seat_delta, seatChange.amount, seatChange.seats_after],
        ["2", "18.81", "12"],
      );
      const other = monthly.find((e) => e.kind === "other")!;
      assert.equal(other.charge_type, "other:priceAdjustment");

      const refund = (await eventsOf(store, SUBS.annualCancelled)).find((e) => e.kind === "cancellation")!;
      assert.deepEqual([refund.seat_delta, refund.amount, refund.seats_after], ["-3", "-143.21", "0"]);

      const upgrade = (await eventsOf(store, SUBS.upgraded))[0]!;
      assert.deepEqual(
        [upgrade.kind, upgrade.product_id, upgrade.amount, upgrade.line_count],
        ["conversion", "CFQ7TTC0LDPB", "32.5", 2],
      );

      const trial = (await eventsOf(store, SUBS.trial))[0]!;
      assert.equal(Number(trial.is_billable), 0);
    });

    it("keeps byte-identical rows as separate lines and events", async () => {
      const e5 = await eventsOf(store, SUBS.e5);
      assert.equal(e5.length, 2);
      const keys = e5.map((e) => e.event_key);
      assert.notEqual(keys[0], keys[1]);
    });

    it("makes event amounts sum exactly to the source Subtotals, per invoice", async () => {
      const lines = await store.db
        .selectFrom("charge_lines")
        .select("subtotal")
        .where("invoice_number", "=", INVOICE)
        .execute();
      const events = await store.db
        .selectFrom("charge_events")
        .select("amount")
        .where("invoice_number", "=", INVOICE)
        .execute();
      const sourceSum = sumDecimals(juneRows().map((r) => r.Subtotal!));
      assert.equal(sumDecimals(lines.map((l) => l.subtotal)), sourceSum);
      assert.equal(sumDecimals(events.map((e) => e.amount)), sourceSum);
    });

    it("stores invoices, customers and subscriptions with typed fields and every source column", async () => {
      const invoice = await store.db
        .selectFrom("invoices")
        .selectAll()
        .where("invoice_number", "=", INVOICE)
        .executeTakeFirstOrThrow();
      assert.deepEqual(
        [invoice.currency, invoice.first_charge_date, invoice.last_charge_date, invoice.source_file],
        ["USD", "2024-06-01", "2025-06-09", "june.csv"],
      );
      const customers = await store.db.selectFrom("customers").selectAll().orderBy("name").execute();
      assert.deepEqual(
        customers.map((c) => [c.name, c.domain, c.country]),
        [
          ["Contoso Dental, LLC", "contosodental.onmicrosoft.com", "US"],
          ['Fabrikam "Northwind" Logistics', "fabrikamlogistics.onmicrosoft.com", "GB"],
        ],
      );
      const annual = await store.db
        .selectFrom("subscriptions")
        .selectAll()
        .where("subscription_id", "=", SUBS.annual)
        .executeTakeFirstOrThrow();
      assert.deepEqual(
        [annual.product_id, annual.sku_id, annual.term_start, annual.term_end, annual.billing_frequency],
        ["CFQ7TTC0LCHC", "0002", "2024-06-05", "2025-06-04", null],
      );
      const fab = await store.db
        .selectFrom("charge_lines")
        .selectAll()
        .where("subscription_id", "=", SUBS.fabrikam)
        .executeTakeFirstOrThrow();
      assert.equal(fab.order_date, "2024-06-01T15:00:00.000Z");
      assert.equal(fab.charge_start, "2024-06-01");
      assert.equal(fab.total, "45");
      const source = await lineSourceRecord(store, fab);
      const fixture = juneRows().find((r) => r.SubscriptionId === SUBS.fabrikam)!;
      assert.equal(source.PriceAdjustmentDescription, fixture.PriceAdjustmentDescription);
      assert.match(source.PriceAdjustmentDescription ?? "", /, and a ""partner"" discount/);
      assert.equal(source.ProductCategory, "OnlineServices");
    });

    it("re-importing the same file, or the same data as gzipped JSON Lines, adds nothing", async () => {
      const again = await importReconFile(store, juneCsv);
      assert.equal(again.status, "imported");
      assert.deepEqual(
        [again.lines, again.newLines, again.knownLines, again.newEvents],
        [juneRows().length, 0, juneRows().length, 0],
      );
      const jsonl = await importReconFile(
        store,
        writeJsonLinesGz(path.join(dir, "june.jsonl.gz"), juneRows()),
      );
      assert.equal(jsonl.format, "jsonl.gz");
      assert.deepEqual([jsonl.newLines, jsonl.knownLines], [0, juneRows().length]);
      const count = await store.db
        .selectFrom("charge_lines")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      assert.equal(Number(count.n), juneRows().length);
    });

    it("an overlapping file adds only its new lines, and completes a pair whose other half came earlier", async () => {
      const rows = juneRows();
      const [credit, charge] = [rows[1]!, rows[2]!];
      const firstHalf = writeCsv(path.join(dir, "half-a.csv"), [credit]);
      const july = {
        ...rows[0]!,
        InvoiceNumber: "G100000002",
        ChargeStartDate: "7/18/2024",
        ChargeEndDate: "8/17/2024",
        ChargeType: "renew",
      };
      const secondHalf = writeCsv(
        path.join(dir, "half-b.csv"),
        [credit, charge, july].map((r) => ({ ...r, InvoiceNumber: "G100000002" })),
      );
      const a = await importReconFile(store, firstHalf);
      assert.equal(a.newLines, 0, "the credit is already known from June");
      const fresh = (r: typeof credit) => ({ ...r, InvoiceNumber: "G100000003" });
      const onlyCredit = await importReconFile(store, writeCsv(path.join(dir, "c1.csv"), [fresh(credit)]));
      assert.equal(onlyCredit.newLines, 1);
      const both = await importReconFile(
        store,
        writeCsv(path.join(dir, "c2.csv"), [fresh(credit), fresh(charge)]),
      );
      assert.deepEqual([both.newLines, both.knownLines], [1, 1]);
      const pair = await store.db
        .selectFrom("charge_events")
        .selectAll()
        .where("invoice_number", "=", "G100000003")
        .execute();
      assert.deepEqual(
        pair.map((e) => [e.line_count, e.seat_delta, e.amount]),
        [[2, "2", "18.81"]],
      );
      const b = await importReconFile(store, secondHalf);
      assert.deepEqual([b.newLines, b.knownLines], [3, 0]);
    });
  });
}
