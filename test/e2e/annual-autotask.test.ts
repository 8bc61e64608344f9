import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import { startAutotaskEmulator, type AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { AutotaskClient } from "../../src/psa/autotask/client.ts";
import { MappingError } from "../../src/services/mappings.ts";
import type { App } from "../../src/app.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { CONTOSO } from "../support/recon-builder.ts";

const SAMPLE = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");

/** The June sample on Contoso's Fixed Price contract (see test/support/scenarios.ts). */
const EXPECTED = [
  {
    date: "2024-06-01",
    product: "billing code",
    qty: "2",
    cost: "180",
    price: "180",
    text: "Visio Plan 2: 2 seats, renewal for the term 2024-06-01 to 2025-05-31",
  },
  {
    date: "2024-06-05",
    product: "Microsoft 365 Business Premium (Annual)",
    qty: "5",
    cost: "264",
    price: "264",
    text: "Microsoft 365 Business Premium: 5 seats, annual term 2024-06-05 to 2025-06-04",
  },
  {
    date: "2024-06-10",
    product: "billing code",
    qty: "3",
    cost: "48",
    price: "48",
    text: "Exchange Online (Plan 1): 3 seats, annual term 2024-06-10 to 2025-06-09",
  },
  {
    date: "2024-06-12",
    product: "billing code",
    qty: "3",
    cost: "-47.7367",
    price: "-47.737",
    text: "Exchange Online (Plan 1): cancellation refund for 3 seats, 2024-06-12 to 2025-06-09",
  },
  {
    date: "2024-06-18",
    product: "billing code",
    qty: "1",
    cost: "972.5",
    price: "972.5",
    text: "Windows Server 2022 Standard - 16 Core License Pack: 1 × one-time purchase on 2024-06-18",
  },
  {
    date: "2024-06-25",
    product: "Microsoft 365 Business Premium (Annual)",
    qty: "2",
    cost: "249.53",
    price: "249.5342",
    text: "Microsoft 365 Business Premium: +2 seats (now 7), prorated 2024-06-25 to 2025-06-04 (345 days of the term)",
  },
  {
    date: "2024-06-27",
    product: "Microsoft 365 Business Premium (Annual)",
    qty: "1",
    cost: "-248.09",
    price: "-248.0877",
    text: "Microsoft 365 Business Premium: −1 seat (now 6), prorated 2024-06-27 to 2025-06-04 (343 days of the term)",
  },
  {
    date: "2024-07-01",
    product: "Microsoft 365 E3 (Annual)",
    qty: "3",
    cost: "229.16",
    price: "229.4521",
    text: "Microsoft 365 E3: 3 seats billed annually, 2024-07-01 to 2025-05-31",
  },
];

for (const dialect of DIALECTS) {
  describe(`Seat-based Annual sync into Autotask (${dialect})`, () => {
    let emulator: AutotaskEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let client: AutotaskClient;
    let connectionId: string;
    let companyId: string;
    let fixedPriceId: string;
    let billingCodeId: number;
    let existingCharges: number;

    before(async () => {
      emulator = await startAutotaskEmulator({ seed: "demo" });
      ({ app, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]));
      const user = emulator.users[0]!;
      client = new AutotaskClient({
        credentials: { userName: user.userName, secret: user.secret, integrationCode: user.integrationCode },
        discoveryBaseUrl: emulator.apiBaseUrl,
      });
      const codes = await client.billingCodes.queryAll([
        client.billingCodes.where.eq("name", "Software Licences"),
      ]);
      billingCodeId = codes[0]!.id;
      assert.equal((await importReconFile(app.store, SAMPLE)).status, "imported");
      const connection = await app.connections.create({
        vendor: "autotask",
        name: "AT",
        config: { username: user.userName, discoveryUrl: emulator.apiBaseUrl },
        secrets: { secret: user.secret, integrationCode: user.integrationCode },
        settings: { chargeBillingCodeId: billingCodeId },
      });
      connectionId = connection.id;
    });
    after(async () => {
      await cleanup();
      await emulator.close();
    });

    const charges = async () =>
      client.contractCharges.queryAll([client.contractCharges.where.eq("contractID", Number(fixedPriceId))]);
    const posts = () =>
      emulator.server.requestLog().filter((r) => r.method === "POST" && !/query/i.test(r.path)).length;

    it("tests the connection and finds the company's Fixed Price contract; a Recurring Service contract is refused for annual", async () => {
      const adapter = await app.adapterFor(connectionId);
      assert.equal((await adapter.testConnection()).ok, true);
      const [company] = await adapter.searchCompanies("Harborview");
      assert.ok(company);
      companyId = company.id;
      const contracts = await adapter.listAgreements(companyId);
      const fixed = contracts.find((c) => c.validFor["seat-annual"].ok);
      const recurring = contracts.find((c) => c.validFor["seat-monthly"].ok)!;
      assert.ok(fixed);
      assert.equal(fixed.type, "Fixed Price");
      fixedPriceId = fixed.id;
      existingCharges = (await charges()).length;
      await assert.rejects(
        app.mappings.save(
          connectionId,
          CONTOSO.id,
          "seat-annual",
          { psaCompanyId: companyId, agreementId: recurring.id },
          adapter,
        ),
        (error: unknown) =>
          error instanceof MappingError && /annual charges need a Fixed Price contract/.test(error.message),
      );
      assert.equal(posts(), 0);
    });

    it("writes one contract charge per annual charge event, exactly as expected, through the contract's child URL", async () => {
      const adapter = await app.adapterFor(connectionId);
      await app.mappings.save(
        connectionId,
        CONTOSO.id,
        "seat-annual",
        { psaCompanyId: companyId, agreementId: fixedPriceId },
        adapter,
      );
      const run = await (await app.annualSync(connectionId)).run("manual");
      assert.deepEqual(
        [run.status, run.written, run.errors],
        ["success", 8, 0],
        JSON.stringify(run.items.filter((i) => i.outcome === "error")),
      );
      assert.ok(
        emulator.server
          .requestLog()
          .some(
            (r) => r.method === "POST" && new RegExp(`/Contracts/${fixedPriceId}/Charges`, "i").test(r.path),
          ),
      );
      const written = (await charges()).filter((c) => c.internalPurchaseOrderNumber?.startsWith("cspsync-"));
      assert.equal((await charges()).length, existingCharges + 8);
      const productNames = new Map(
        (await client.products.queryAll([client.products.where.all()])).map((p) => [p.id, p.name]),
      );
      const actual = written
        .map((c) => ({
          date: c.datePurchased.slice(0, 10),
          product: c.productID
            ? productNames.get(c.productID)
            : c.billingCodeID === billingCodeId
              ? "billing code"
              : "?",
          qty: c.unitQuantity,
          cost: c.unitCost,
          price: c.unitPrice,
          text: c.description,
        }))
        .sort((x, y) => `${x.date}${x.text}`.localeCompare(`${y.date}${y.text}`));
      assert.deepEqual(actual, EXPECTED);
      assert.equal(new Set(written.map((c) => c.internalPurchaseOrderNumber)).size, 8);
    });

    it("a second sync is No Change with zero writes", async () => {
      const before = posts();
      const again = await (await app.annualSync(connectionId)).run("manual");
      assert.deepEqual([again.status, again.written], ["no-change", 0]);
      assert.equal(posts(), before);
    });
  });
}
