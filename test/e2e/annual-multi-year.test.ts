import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { startAutotaskEmulator, type AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { AutotaskClient } from "../../src/psa/autotask/client.ts";
import type { App } from "../../src/app.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { baseRow, CONTOSO, writeCsv, type ReconRow } from "../support/recon-builder.ts";

/**
 * A three-year term billed annually (P3Y, BillingFrequency Annual): Microsoft charges one year at a time, and
 * UnitPrice is the price of that year. Each charge must be sold at the year's list price and described by its
 * billing year — not at a third of it, spread over the term — and a mid-year seat add is prorated against
 * the year. Written to both PSAs, on both databases.
 */
const SUBSCRIPTION = "33333333-0000-4000-8000-000000000001";
const P3Y: ReconRow = {
  InvoiceNumber: "G100000007",
  OrderDate: "7/15/2024",
  ProductId: "CFQ7TTC0LFLZ",
  SkuId: "0002",
  SkuName: "Microsoft 365 E5",
  ProductName: "Microsoft 365 E5",
  SubscriptionDescription: "Microsoft 365 E5",
  SubscriptionId: SUBSCRIPTION,
  TermAndBillingCycle: "Three-year commitment for yearly billing",
  BillingFrequency: "Annual",
  PriceAdjustmentDescription: '["Price for given billing period"]',
  ChargeStartDate: "7/15/2024",
  ChargeEndDate: "7/14/2025",
  SubscriptionStartDate: "7/15/2024",
  SubscriptionEndDate: "7/14/2027",
  UnitPrice: "840",
};

function p3yRows(): ReconRow[] {
  const seatAdd = {
    ...P3Y,
    InvoiceNumber: "G100000012",
    OrderDate: "12/5/2024",
    ChargeType: "addQuantity",
    ChargeStartDate: "12/5/2024",
    ReferenceId: "cccccccc-0000-4000-8000-000000000001",
  };
  return [
    // Year 1: 4 seats × 840.
    baseRow({
      ...P3Y,
      ChargeType: "new",
      EffectiveUnitPrice: "840",
      Quantity: "4",
      BillableQuantity: "4",
      Subtotal: "3360",
      Total: "3360",
    }),
    // +2 seats on 2024-12-05: 222 of the year's 365 days, 840 / 365 × 222 = 510.90 a seat (credit 4, charge 6).
    baseRow({
      ...seatAdd,
      EffectiveUnitPrice: "-510.9041095",
      Quantity: "4",
      BillableQuantity: "4",
      Subtotal: "-2043.60",
      Total: "-2043.60",
    }),
    baseRow({
      ...seatAdd,
      EffectiveUnitPrice: "510.9041095",
      Quantity: "6",
      BillableQuantity: "6",
      Subtotal: "3065.40",
      Total: "3065.40",
    }),
  ];
}

type Written = { date: string; qty: string; cost: string; price: string; text: string };

const EXPECTED: Written[] = [
  {
    date: "2024-07-15",
    qty: "4",
    cost: "840",
    price: "840",
    text: "Microsoft 365 E5: 4 seats, billing period 2024-07-15 to 2025-07-14 (term ends 2027-07-14)",
  },
  {
    date: "2024-12-05",
    qty: "2",
    cost: "510.9",
    price: "510.9041",
    text: "Microsoft 365 E5: +2 seats (now 6), prorated 2024-12-05 to 2025-07-14 (222 days of the billing period 2024-07-15 to 2025-07-14)",
  },
];

const byDate = (a: Written, b: Written) => a.date.localeCompare(b.date);

function csvFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-p3y-"));
  return writeCsv(path.join(dir, "p3y.csv"), p3yRows());
}

for (const dialect of DIALECTS) {
  describe(`A three-year term billed annually, into ConnectWise (${dialect})`, () => {
    let emulator: ConnectWiseEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let client: ConnectWiseClient;
    let connectionId: string;
    let agreementId: string;

    before(async () => {
      emulator = await startConnectWiseEmulator({ seed: "demo" });
      ({ app, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]));
      const { companyId, publicKey, privateKey } = emulator.credentials;
      const clientId = "00000000-0000-4000-8000-00000000c11e";
      client = new ConnectWiseClient({ siteUrl: emulator.url, companyId, publicKey, privateKey, clientId });
      assert.equal((await importReconFile(app.store, csvFile())).status, "imported");
      const connection = await app.connections.create({
        vendor: "connectwise",
        name: "CW",
        config: { site: emulator.url, companyId, publicKey, clientId },
        secrets: { privateKey },
      });
      connectionId = connection.id;
      await app.connections.update(connectionId, { seatAnnualEnabled: true });
      const adapter = await app.adapterFor(connectionId);
      const [company] = await adapter.searchCompanies("Contoso");
      agreementId = (await adapter.listAgreements(company!.id)).find((a) => a.validFor["seat-annual"].ok)!.id;
      await app.mappings.save(
        connectionId,
        CONTOSO.id,
        "seat-annual",
        { psaCompanyId: company!.id, agreementId },
        adapter,
      );
    });
    after(async () => {
      await cleanup();
      await emulator.close();
    });

    it("the dry run already prices the year at 840 a seat and names the billing year", async () => {
      const [entry] = await (await app.annualSync(connectionId)).plan({}, { resolveProducts: true });
      const lines = entry!.plan.lines.map((l) => ({
        date: l.effectiveDate,
        qty: l.quantity,
        cost: l.unitCost,
        price: l.unitPrice!,
        text: l.description,
      }));
      assert.deepEqual(lines.sort(byDate), EXPECTED);
      assert.ok(Object.values(entry!.products!).every((p) => p.ok && p.label === "M365-E5"));
    });

    it("writes the additions with the year's unit cost and price and the billing-year description", async () => {
      const run = await (await app.annualSync(connectionId)).run("manual");
      assert.deepEqual([run.status, run.written, run.errors], ["success", 2, 0], JSON.stringify(run.items));
      const additions = await client.listAdditions(Number(agreementId), { orderBy: "id asc" });
      assert.deepEqual(
        additions
          .map((a) => ({
            date: a.effectiveDate!.slice(0, 10),
            qty: String(a.quantity),
            cost: String(a.unitCost),
            price: String(a.unitPrice),
            text: a.invoiceDescription!,
          }))
          .sort(byDate),
        EXPECTED,
      );
      assert.ok(additions.every((a) => a.product?.identifier === "M365-E5"));
    });
  });

  describe(`A three-year term billed annually, into Autotask (${dialect})`, () => {
    let emulator: AutotaskEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let client: AutotaskClient;
    let connectionId: string;
    let contractId: string;

    before(async () => {
      emulator = await startAutotaskEmulator({ seed: "demo" });
      ({ app, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]));
      const user = emulator.users[0]!;
      client = new AutotaskClient({
        credentials: { userName: user.userName, secret: user.secret, integrationCode: user.integrationCode },
        discoveryBaseUrl: emulator.apiBaseUrl,
      });
      const [code] = await client.billingCodes.queryAll([
        client.billingCodes.where.eq("name", "Software Licences"),
      ]);
      assert.equal((await importReconFile(app.store, csvFile())).status, "imported");
      const connection = await app.connections.create({
        vendor: "autotask",
        name: "AT",
        config: { username: user.userName, discoveryUrl: emulator.apiBaseUrl },
        secrets: { secret: user.secret, integrationCode: user.integrationCode },
        settings: { chargeBillingCodeId: code!.id },
      });
      connectionId = connection.id;
      await app.connections.update(connectionId, { seatAnnualEnabled: true });
      const adapter = await app.adapterFor(connectionId);
      const [company] = await adapter.searchCompanies("Harborview");
      contractId = (await adapter.listAgreements(company!.id)).find((c) => c.validFor["seat-annual"].ok)!.id;
      await app.mappings.save(
        connectionId,
        CONTOSO.id,
        "seat-annual",
        { psaCompanyId: company!.id, agreementId: contractId },
        adapter,
      );
    });
    after(async () => {
      await cleanup();
      await emulator.close();
    });

    it("writes the contract charges with the year's unit cost and price and the billing-year description", async () => {
      const run = await (await app.annualSync(connectionId)).run("manual");
      assert.deepEqual([run.status, run.written, run.errors], ["success", 2, 0], JSON.stringify(run.items));
      const charges = (
        await client.contractCharges.queryAll([
          client.contractCharges.where.eq("contractID", Number(contractId)),
        ])
      ).filter((c) => c.internalPurchaseOrderNumber?.startsWith("cspsync-"));
      assert.deepEqual(
        charges
          .map((c) => ({
            date: c.datePurchased.slice(0, 10),
            qty: String(c.unitQuantity),
            cost: String(c.unitCost),
            price: String(c.unitPrice),
            text: c.description!,
          }))
          .sort(byDate),
        EXPECTED,
      );
    });
  });
}
