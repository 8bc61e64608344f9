import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { MappingError } from "../../src/services/mappings.ts";
import type { App } from "../../src/app.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { CONTOSO, FABRIKAM } from "../support/recon-builder.ts";

const SAMPLE = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");

/** What the June sample must produce on Contoso's annual agreement (see test/support/scenarios.ts). */
const EXPECTED = [
  {
    date: "2024-06-01",
    item: "unmatched",
    qty: "2",
    cost: "180",
    price: "180",
    text: "Visio Plan 2: 2 seats, renewal for the term 2024-06-01 to 2025-05-31",
  },
  {
    date: "2024-06-05",
    item: "M365-PREM-ANNUAL",
    qty: "5",
    cost: "264",
    price: "264",
    text: "Microsoft 365 Business Premium: 5 seats, annual term 2024-06-05 to 2025-06-04",
  },
  {
    date: "2024-06-10",
    item: "EXO-P1",
    qty: "3",
    cost: "48",
    price: "48",
    text: "Exchange Online (Plan 1): 3 seats, annual term 2024-06-10 to 2025-06-09",
  },
  {
    date: "2024-06-12",
    item: "EXO-P1",
    qty: "3",
    cost: "-47.7367",
    price: "-47.737",
    text: "Exchange Online (Plan 1): cancellation refund for 3 seats, 2024-06-12 to 2025-06-09",
  },
  {
    date: "2024-06-18",
    item: "unmatched",
    qty: "1",
    cost: "972.5",
    price: "972.5",
    text: "Windows Server 2022 Standard - 16 Core License Pack: 1 × one-time purchase on 2024-06-18",
  },
  {
    date: "2024-06-25",
    item: "M365-PREM-ANNUAL",
    qty: "2",
    cost: "249.53",
    price: "249.5342",
    text: "Microsoft 365 Business Premium: +2 seats (now 7), prorated 2024-06-25 to 2025-06-04 (345 days of the term)",
  },
  {
    date: "2024-06-27",
    item: "M365-PREM-ANNUAL",
    qty: "1",
    cost: "-248.09",
    price: "-248.0877",
    text: "Microsoft 365 Business Premium: −1 seat (now 6), prorated 2024-06-27 to 2025-06-04 (343 days of the term)",
  },
  {
    date: "2024-07-01",
    item: "M365-E3-ANNUAL",
    qty: "3",
    cost: "229.16",
    price: "229.4521",
    text: "Microsoft 365 E3: 3 seats billed annually, 2024-07-01 to 2025-05-31",
  },
];

for (const dialect of DIALECTS) {
  describe(`Seat-based Annual sync into ConnectWise (${dialect})`, () => {
    let emulator: ConnectWiseEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let client: ConnectWiseClient;
    let connectionId: string;
    let annualAgreementId: string;
    let companyId: string;

    before(async () => {
      emulator = await startConnectWiseEmulator({ seed: "demo" });
      ({ app, cleanup } = await createTestApp(dialect, [hostOf(emulator.url)]));
      const credentials = {
        siteUrl: emulator.url,
        companyId: emulator.credentials.companyId,
        publicKey: emulator.credentials.publicKey,
        privateKey: emulator.credentials.privateKey,
        clientId: "00000000-0000-4000-8000-00000000c11e",
      };
      client = new ConnectWiseClient(credentials);
      const summary = await importReconFile(app.store, SAMPLE);
      assert.equal(summary.status, "imported");
      const connection = await app.connections.create({
        vendor: "connectwise",
        name: "CW",
        config: {
          site: emulator.url,
          companyId: credentials.companyId,
          publicKey: credentials.publicKey,
          clientId: credentials.clientId,
        },
        secrets: { privateKey: credentials.privateKey },
      });
      connectionId = connection.id;
    });
    after(async () => {
      await cleanup();
      await emulator.close();
    });

    const additions = async () =>
      await client.listAdditions(Number(annualAgreementId), { orderBy: "id asc" });
    const posts = () => emulator.server.requestLog().filter((r) => r.method === "POST").length;

    it("tests the connection and finds the customer's company and its One-Time agreement", async () => {
      const adapter = await app.adapterFor(connectionId);
      const test = await adapter.testConnection();
      assert.equal(test.ok, true, test.message);
      const [company] = await adapter.searchCompanies("Contoso");
      assert.ok(company);
      companyId = company.id;
      const agreements = await adapter.listAgreements(companyId);
      const annual = agreements.find((a) => a.validFor["seat-annual"].ok);
      const monthly = agreements.find((a) => !a.validFor["seat-annual"].ok && a.validFor["seat-monthly"].ok);
      assert.ok(annual && monthly);
      assert.equal(annual.billingCycle, "One-Time");
      assert.match(
        (monthly.validFor["seat-annual"] as { reason: string }).reason,
        /billing cycle is One-Time/,
      );
      annualAgreementId = annual.id;
    });

    it("refuses to map Seat-based Annual to a monthly agreement, saying why and how to fix it, and writes nothing", async () => {
      const adapter = await app.adapterFor(connectionId);
      const monthly = (await adapter.listAgreements(companyId)).find((a) => a.validFor["seat-monthly"].ok)!;
      await assert.rejects(
        app.mappings.save(
          connectionId,
          FABRIKAM.id,
          "seat-annual",
          { psaCompanyId: companyId, agreementId: monthly.id },
          adapter,
        ),
        (error: unknown) =>
          error instanceof MappingError &&
          /One-Time/.test(error.message) &&
          /Recurring Invoice Parameters/.test(error.message),
      );
      assert.equal(posts(), 0);
    });

    it("writes exactly one addition per annual charge event; unmatched products fail alone", async () => {
      const adapter = await app.adapterFor(connectionId);
      await app.mappings.save(
        connectionId,
        CONTOSO.id,
        "seat-annual",
        { psaCompanyId: companyId, agreementId: annualAgreementId },
        adapter,
      );
      const sync = await app.annualSync(connectionId);
      const plan = await sync.plan({}, { resolveProducts: true });
      assert.equal(plan[0]!.plan.lines.length, 8);
      // The dry run already says which lines have no catalog item.
      const unresolved = Object.values(plan[0]!.products ?? {}).filter((p) => !p.ok);
      assert.equal(unresolved.length, 2);
      assert.equal(posts(), 0, "planning writes nothing");
      const first = await sync.run("manual");
      assert.equal(first.status, "error");
      assert.deepEqual([first.written, first.errors], [6, 2]);
      const unmatched = first.items.filter((i) => i.outcome === "error").map((i) => i.message);
      assert.ok(
        unmatched.every((m) => /Could not find source product or multiple matches/.test(m ?? "")),
        unmatched.join("\n"),
      );
      assert.equal((await additions()).length, 6);
    });

    it("with a fallback catalog item the rest is written; the PSA holds exactly the expected lines", async () => {
      await client.createCatalogItem({
        identifier: "CSP-LICENSE",
        description: "Microsoft CSP licence",
        customerDescription: "Microsoft CSP licence",
        subcategory: { id: 2 },
        type: { id: 2 },
        productClass: "NonInventory",
      });
      await app.connections.update(connectionId, { settings: { fallbackCatalogItem: "CSP-LICENSE" } });
      const second = await (await app.annualSync(connectionId)).run("manual");
      assert.deepEqual([second.status, second.written, second.errors], ["success", 2, 0]);
      const written = await additions();
      const actual = written
        .map((a) => ({
          date: a.effectiveDate?.slice(0, 10),
          item: a.product?.identifier === "CSP-LICENSE" ? "unmatched" : a.product?.identifier,
          qty: a.quantity,
          cost: a.unitCost,
          price: a.unitPrice,
          text: a.invoiceDescription,
          key: a.serialNumber,
        }))
        .sort((x, y) => `${x.date}${x.text}`.localeCompare(`${y.date}${y.text}`));
      assert.deepEqual(
        actual.map(({ key: _key, ...rest }) => rest),
        EXPECTED,
      );
      assert.ok(
        actual.every((a) => /^cspsync-[0-9a-f]{24}$/.test(a.key ?? "")),
        "every addition carries its write key",
      );
      assert.equal(new Set(actual.map((a) => a.key)).size, 8);
    });

    it("a second sync finds nothing new: No Change and zero writes", async () => {
      const before = posts();
      const third = await (await app.annualSync(connectionId)).run("manual");
      assert.deepEqual([third.status, third.written, third.items.length], ["no-change", 0, 0]);
      assert.equal(posts(), before);
      assert.equal((await additions()).length, 8);
    });

    it("an agreement cancelled after mapping fails that customer's sync with a clear error and zero writes", async () => {
      const agreement = emulator.data().tables.agreements.find((a) => String(a.id) === annualAgreementId)!;
      agreement.cancelledFlag = true;
      const before = posts();
      const run = await (await app.annualSync(connectionId)).run("manual");
      assert.equal(run.status, "error");
      assert.match(
        run.items[0]!.message ?? "",
        /Contoso Dental, LLC: Agreement "Microsoft CSP Annual - Contoso Dental Group" is cancelled/,
      );
      assert.equal(posts(), before);
      agreement.cancelledFlag = false;
    });
  });
}
