import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Dec } from "../../../src/core/money.ts";
import * as where from "../../../src/psa/connectwise/conditions.ts";
import {
  ADDITION_SYNC_KEY_FIELD,
  agreementBillsOneTime,
  isOneTimeBillingCycle,
  resolveApiOrigin,
} from "../../../src/psa/connectwise/client.ts";
import {
  ConnectWiseAuthError,
  ConnectWiseConfigurationError,
  ConnectWiseNotFoundError,
  ConnectWiseValidationError,
  serverErrorOf,
} from "../../../src/psa/connectwise/errors.ts";
import type { Harness } from "./support.ts";
import { CLIENT_ID, startHarness } from "./support.ts";

async function agreementIdFor(
  harness: Harness,
  companyIdentifier: string,
  namePrefix: string,
): Promise<number> {
  const [company] = await harness.client.listCompanies({
    conditions: where.eq("identifier", companyIdentifier),
  });
  assert.ok(company, `company ${companyIdentifier}`);
  const agreements = await harness.client.listAgreementsForCompany(company.id);
  const agreement = agreements.find((candidate) => candidate.name.startsWith(namePrefix));
  assert.ok(agreement, `agreement ${namePrefix} for ${companyIdentifier}`);
  return agreement.id;
}

describe("ConnectWise client against the emulator over HTTP", () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  describe("discovery and authentication", () => {
    it("docs/connectwise.md §2 maps UI hosts to their api- host and keeps other origins", () => {
      assert.equal(resolveApiOrigin("https://na.myconnectwise.net"), "https://api-na.myconnectwise.net");
      assert.equal(resolveApiOrigin("eu.myconnectwise.net"), "https://api-eu.myconnectwise.net");
      assert.equal(resolveApiOrigin("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
      assert.equal(resolveApiOrigin("https://cw.example.com/"), "https://cw.example.com");
    });

    it("docs/connectwise.md §2 discovers the codebase from companyinfo", async () => {
      const info = await harness.client.discoverCodebase();
      assert.equal(info.codebase, "v2025_1/");
      assert.equal(info.isCloud, true);
    });

    it("docs/connectwise.md §2 an unknown company id (companyinfo answers null) is a configuration error", async () => {
      const client = harness.newClient({ companyId: "nosuchco" });
      await assert.rejects(client.discoverCodebase(), (error: unknown) => {
        assert.ok(error instanceof ConnectWiseConfigurationError);
        assert.match(error.message, /does not know the company id "nosuchco"/);
        return true;
      });
    });

    it("docs/connectwise.md §3 sends Basic company+public:private, the clientId header and a pinned Accept version", async () => {
      const seen: Array<Record<string, string>> = [];
      const client = harness.newClient({
        apiVersion: "2024.1",
        transport: {
          fetchImpl: async (input, init) => {
            seen.push({ url: String(input), ...(init?.headers as Record<string, string>) });
            return fetch(input, init);
          },
        },
      });
      await client.getSystemInfo();
      const [companyInfo, systemInfo] = seen;
      assert.ok(companyInfo && systemInfo);
      assert.equal(companyInfo.authorization, undefined, "companyinfo needs no credentials");
      const { companyId, publicKey, privateKey } = harness.emulator.credentials;
      const expected = `Basic ${Buffer.from(`${companyId}+${publicKey}:${privateKey}`).toString("base64")}`;
      assert.equal(systemInfo.authorization, expected);
      assert.equal(systemInfo.clientid, CLIENT_ID);
      assert.equal(systemInfo.accept, "application/vnd.connectwise.com+json; version=2024.1");
      assert.match(systemInfo.url ?? "", /\/v2025_1\/apis\/3\.0\/system\/info$/);
    });

    it("docs/connectwise.md §3 test connection reports success with the server version and every readable area", async () => {
      const result = await harness.client.testConnection();
      assert.equal(result.ok, true);
      assert.deepEqual(
        result.checks.map((check) => check.name),
        [
          "company info",
          "credentials",
          "companies",
          "agreements",
          "agreement types",
          "billing cycles",
          "product catalog",
        ],
      );
      assert.equal(result.companyInfo?.codebase, "v2025_1/");
    });

    it("docs/connectwise.md §3 test connection explains bad credentials (401) without leaking the private key", async () => {
      const client = harness.newClient({ privateKey: "wrong-private-key-value" });
      const result = await client.testConnection();
      assert.equal(result.ok, false);
      const credentials = result.checks.find((check) => check.name === "credentials");
      assert.equal(credentials?.status, 401);
      assert.match(credentials?.message ?? "", /rejected the credentials/);
      assert.equal(JSON.stringify(result).includes("wrong-private-key-value"), false);
      await assert.rejects(client.getSystemInfo(), (error: unknown) => {
        assert.ok(error instanceof ConnectWiseAuthError);
        assert.equal(serverErrorOf(error)?.code, "Unauthorized");
        assert.equal(error.message.includes("wrong-private-key-value"), false);
        return true;
      });
    });

    it("docs/connectwise.md §3 a missing clientId header is refused with 401", async () => {
      const client = harness.newClient({ clientId: "" });
      await assert.rejects(client.getSystemInfo(), (error: unknown) => {
        assert.ok(error instanceof ConnectWiseAuthError);
        assert.equal(error.status, 401);
        assert.match(error.message, /clientId header is required/);
        return true;
      });
    });

    it("docs/connectwise.md §7.1 test connection names the area the security role may not read (403)", async () => {
      harness.emulator.setForbidden([{ path: "/procurement/catalog" }]);
      try {
        const result = await harness.client.testConnection();
        assert.equal(result.ok, false);
        const failed = result.checks.filter((check) => !check.ok);
        assert.deepEqual(
          failed.map((check) => [check.name, check.status]),
          [["product catalog", 403]],
        );
        assert.match(failed[0]?.message ?? "", /security role does not allow reading product catalog/);
      } finally {
        harness.emulator.setForbidden([]);
      }
    });

    it("docs/connectwise.md §2 after a cloud upgrade a 404 on the old codebase triggers one rediscovery and a retry", async () => {
      harness.emulator.switches.rejectStaleCodebase = true;
      try {
        const client = harness.newClient();
        await client.discoverCodebase();
        harness.emulator.setCodebase("v2025_2/");
        const info = await client.getSystemInfo();
        assert.ok(info.version);
        const log = harness.emulator.server.requestLog().slice(-3);
        assert.deepEqual(
          log.map((entry) => [entry.path.replace(/\?.*/, ""), entry.status]),
          [
            ["/v2025_1/apis/3.0/system/info", 404],
            ["/login/companyinfo/cspsyncdemo", 200],
            ["/v2025_2/apis/3.0/system/info", 200],
          ],
        );
      } finally {
        harness.emulator.switches.rejectStaleCodebase = false;
        harness.emulator.setCodebase("v2025_1/");
      }
    });
  });

  describe("companies", () => {
    it("docs/connectwise.md §5.3 lists every company across several pages by following the Link header", async () => {
      harness.emulator.server.clearRequestLog();
      const companies = await harness.client.listCompanies({ pageSize: 5, orderBy: "id asc" });
      assert.equal(companies.length, 13);
      assert.deepEqual(
        companies.map((company) => company.id),
        Array.from({ length: 13 }, (_, index) => index + 1),
      );
      const pages = harness.emulator.server
        .requestLog()
        .filter((entry) => entry.path.includes("/company/companies"));
      assert.deepEqual(
        pages.map((entry) => new URL(entry.path, "http://x").searchParams.get("page")),
        ["1", "2", "3"],
      );
    });

    it("docs/connectwise.md §5.3 forward-only paging follows pageId links until the Link header is empty", async () => {
      harness.emulator.server.clearRequestLog();
      const companies = await harness.client.listCompanies({ pageSize: 5, paging: "forward-only" });
      assert.equal(companies.length, 13);
      const pageIds = harness.emulator.server
        .requestLog()
        .filter((entry) => entry.path.includes("/company/companies"))
        .map((entry) => new URL(entry.path, "http://x").searchParams.get("pageId"));
      assert.deepEqual(pageIds, [null, "5", "10"]);
      await assert.rejects(
        harness.client.iterateCompanies({ paging: "forward-only", orderBy: "name asc" }).next(),
        TypeError,
      );
    });

    it("docs/connectwise.md §5.1 searches companies by name (contains, startsWith, exact) and gets one by id", async () => {
      const dental = await harness.client.searchCompaniesByName("dental");
      assert.deepEqual(
        dental.map((company) => company.name),
        ["Contoso Dental Group"],
      );
      const startsWith = await harness.client.searchCompaniesByName("Lu", "startsWith");
      assert.deepEqual(
        startsWith.map((company) => company.identifier),
        ["LucernePublishing"],
      );
      const ampersand = await harness.client.searchCompaniesByName("Woodgrove Accounting & Tax", "exact");
      assert.equal(ampersand.length, 1);
      const company = await harness.client.getCompany(ampersand[0]!.id);
      assert.equal(company.name, "Woodgrove Accounting & Tax");
      assert.equal(company.status?.name, "Active");
    });

    it("docs/connectwise.md §7.2 an unknown id is a typed 404 carrying the server's code and message", async () => {
      await assert.rejects(harness.client.getCompany(9999), (error: unknown) => {
        assert.ok(error instanceof ConnectWiseNotFoundError);
        assert.equal(error.status, 404);
        assert.equal(error.code, "NotFound");
        assert.deepEqual(serverErrorOf(error), {
          code: "NotFound",
          message: "Company recordId 9999 not found.",
          errors: [],
        });
        return true;
      });
    });
  });

  describe("agreements, types and billing cycles", () => {
    it("docs/connectwise.md §8 lists a company's agreements with type and billing cycle references", async () => {
      const [contoso] = await harness.client.searchCompaniesByName("Contoso Dental Group", "exact");
      const agreements = await harness.client.listAgreementsForCompany(contoso!.id);
      assert.equal(agreements.length, 2);
      const [monthly, annual] = agreements;
      assert.equal(monthly?.type?.name, "CSP Licensing");
      assert.equal(monthly?.billingCycle?.name, "Monthly");
      assert.equal(annual?.billingCycle?.name, "One-Time");
      assert.equal(annual?.billOneTimeFlag, true);
      const fetched = await harness.client.getAgreement(monthly!.id);
      assert.equal(fetched.company?.identifier, "ContosoDental");
      assert.equal(fetched.agreementStatus, "Active");
      assert.equal(fetched.billAmount, "0");
    });

    it("docs/connectwise.md §10 activeOn leaves out cancelled and expired agreements", async () => {
      for (const identifier of ["TailspinToys", "NorthwindTraders"]) {
        const [company] = await harness.client.listCompanies({
          conditions: where.eq("identifier", identifier),
        });
        const all = await harness.client.listAgreementsForCompany(company!.id);
        const active = await harness.client.listAgreementsForCompany(company!.id, { activeOn: "2025-03-15" });
        assert.equal(all.length, 3);
        assert.equal(active.length, 2);
        assert.ok(active.every((agreement) => agreement.agreementStatus === "Active"));
      }
    });

    it("docs/connectwise.md §9.4 lists and gets agreement types", async () => {
      const types = await harness.client.listAgreementTypes({ orderBy: "name asc" });
      assert.deepEqual(
        types.map((type) => type.name),
        ["Block Time", "CSP Licensing", "CSP Licensing - Annual", "Managed Services"],
      );
      const annual = types.find((type) => type.name === "CSP Licensing - Annual")!;
      const fetched = await harness.client.getAgreementType(annual.id);
      assert.equal(fetched.billingCycle?.name, "One-Time");
    });

    it("docs/connectwise.md §9.5 recognises the one-time cycle by billingOptions, whatever its id and name", async () => {
      const cycles = await harness.client.listBillingCycles();
      assert.deepEqual(
        cycles.map((cycle) => cycle.billingOptions),
        ["Monthly", "Quarterly", "Yearly", "NotRecurring"],
      );
      const oneTime = harness.emulator
        .data()
        .tables.billingCycles.find((row) => row.billingOptions === "NotRecurring")!;
      const originalId = oneTime.id;
      oneTime.id = 42;
      oneTime.name = "Einmalig";
      try {
        const found = await harness.client.findOneTimeBillingCycle();
        assert.equal(found?.id, 42);
        assert.equal(found?.name, "Einmalig");
        assert.equal(isOneTimeBillingCycle(await harness.client.getBillingCycle(42)), true);
      } finally {
        oneTime.id = originalId;
        oneTime.name = "One-Time";
      }
      const annualId = await agreementIdFor(harness, "FabrikamLogistics", "Microsoft CSP Annual");
      const annual = await harness.client.getAgreement(annualId);
      assert.equal(agreementBillsOneTime({ ...annual, billOneTimeFlag: false }, cycles), true);
      const monthly = await harness.client.getAgreement(
        await agreementIdFor(harness, "FabrikamLogistics", "Microsoft CSP -"),
      );
      assert.equal(agreementBillsOneTime(monthly, cycles), false);
    });
  });

  describe("agreement additions", () => {
    it("docs/connectwise.md §6 creates an addition (201) with exact decimals, defaults from the catalog and the sync key stamped", async () => {
      const agreementId = await agreementIdFor(harness, "AdventureWorks", "Microsoft CSP -");
      const addition = await harness.client.createAddition(agreementId, {
        product: { identifier: "M365-PREM" },
        billCustomer: "Billable",
        quantity: "25",
        unitPrice: "22.105",
        effectiveDate: "2025-03-01",
        invoiceDescription: "Microsoft 365 Business Premium (NCE monthly)",
        syncKey: "cspsync:v1:aw-prem-0001",
      });
      assert.equal(addition.agreementId, agreementId);
      assert.equal(addition.product?.identifier, "M365-PREM");
      assert.equal(addition.quantity, "25");
      assert.equal(addition.unitPrice, "22.105");
      assert.equal(addition.unitCost, "22", "defaulted from the catalog cost");
      assert.equal(addition.description, "Microsoft 365 Business Premium");
      assert.equal(addition.extPrice, "552.625");
      assert.equal(addition.effectiveDate, "2025-03-01T00:00:00Z");
      assert.equal(addition[ADDITION_SYNC_KEY_FIELD], "cspsync:v1:aw-prem-0001");
      assert.equal(addition._info?.updatedBy, "APIMember");

      const [found, ...others] = await harness.client.findAdditionsBySyncKey(
        agreementId,
        "cspsync:v1:aw-prem-0001",
      );
      assert.equal(others.length, 0);
      assert.equal(found?.id, addition.id);
      assert.deepEqual(await harness.client.getAddition(agreementId, addition.id), addition);
    });

    it("docs/connectwise.md §6 keeps money exact through a JSON round trip (no float on the way)", async () => {
      const agreementId = await agreementIdFor(harness, "AdventureWorks", "Microsoft CSP -");
      const addition = await harness.client.createAddition(agreementId, {
        product: { id: 1 },
        billCustomer: "Billable",
        quantity: "3.1618",
        unitPrice: "0.846202666",
        unitCost: "12345678901234567.89",
        effectiveDate: new Date("2025-03-02T00:00:00Z"),
      });
      assert.equal(addition.unitPrice, "0.846202666");
      assert.equal(addition.unitCost, "12345678901234567.89");
      assert.equal(addition.extPrice, new Dec("3.1618").times("0.846202666").toFixed());
    });

    it("docs/connectwise.md §5.1 lists additions with conditions and counts them", async () => {
      const agreementId = await agreementIdFor(harness, "AdventureWorks", "Microsoft CSP -");
      const ongoing = await harness.client.listAdditions(agreementId, {
        conditions: where.and(where.isNull("cancelledDate"), where.eq("product/identifier", "M365-PREM")),
      });
      assert.equal(ongoing.length, 1);
      assert.equal(await harness.client.countAdditions(agreementId), 2);
      assert.equal(
        await harness.client.countAdditions(agreementId, where.gt("quantity", where.decimal("10"))),
        1,
      );
    });

    it("docs/connectwise.md §6 patches with JSON-Patch operations and typed changes (quantity, cancel at period end)", async () => {
      const agreementId = await agreementIdFor(harness, "AdventureWorks", "Microsoft CSP -");
      const [addition] = await harness.client.findAdditionsBySyncKey(agreementId, "cspsync:v1:aw-prem-0001");
      const patched = await harness.client.patchAddition(agreementId, addition!.id, [
        { op: "replace", path: "quantity", value: 30 },
      ]);
      assert.equal(patched.quantity, "30");
      assert.equal(patched.extPrice, "663.15");
      const cancelled = await harness.client.updateAddition(agreementId, addition!.id, {
        quantity: "28.5",
        cancelledDate: "2025-03-31T00:00:00Z",
      });
      assert.equal(cancelled.quantity, "28.5");
      assert.equal(cancelled.cancelledDate, "2025-03-31T00:00:00Z");
      assert.equal(cancelled.agreementStatus, "Active", "the cancel date is still in the future");
      const reopened = await harness.client.updateAddition(agreementId, addition!.id, {
        cancelledDate: null,
      });
      assert.equal(reopened.cancelledDate, null);
      await assert.rejects(
        harness.client.patchAddition(agreementId, addition!.id, [
          { op: "replace", path: "product/id", value: 1 },
        ]),
        RangeError,
      );
    });

    it("docs/connectwise.md §7.2 a rejected write is a typed 400 with the server's errors[] entries", async () => {
      const agreementId = await agreementIdFor(harness, "AdventureWorks", "Microsoft CSP -");
      const [addition] = await harness.client.findAdditionsBySyncKey(agreementId, "cspsync:v1:aw-prem-0001");
      await assert.rejects(
        harness.client.patchAddition(agreementId, addition!.id, [
          { op: "replace", path: "billCustomer", value: "Sometimes" },
        ]),
        (error: unknown) => {
          assert.ok(error instanceof ConnectWiseValidationError);
          assert.equal(error.status, 400);
          assert.equal(error.code, "InvalidObject");
          const server = serverErrorOf(error);
          assert.equal(server?.message, "addition object is invalid");
          assert.deepEqual(server?.errors, [
            {
              code: "InvalidField",
              message: "billCustomer must be one of Billable, DoNotBill, NoCharge.",
              resource: "addition",
              field: "billCustomer",
            },
          ]);
          assert.match(error.message, /billCustomer: billCustomer must be one of/);
          return true;
        },
      );
    });

    it("docs/connectwise.md §5.3 pages through more than one page of additions, navigable and forward-only", async () => {
      const agreementId = await agreementIdFor(harness, "ProsewareEng", "Microsoft CSP -");
      for (let index = 0; index < 7; index += 1) {
        await harness.client.createAddition(agreementId, {
          product: { id: 1 + (index % 9) },
          billCustomer: "Billable",
          quantity: String(index + 1),
          effectiveDate: "2025-01-01",
          syncKey: `cspsync:page-test-${index}`,
        });
      }
      const navigable = await harness.client.listAdditions(agreementId, {
        pageSize: 3,
        orderBy: "quantity desc",
      });
      assert.deepEqual(
        navigable.map((addition) => addition.quantity),
        ["7", "6", "5", "4", "3", "2", "1"],
      );
      const forward = await harness.client.listAdditions(agreementId, {
        pageSize: 3,
        paging: "forward-only",
      });
      assert.deepEqual(
        forward.map((addition) => addition.quantity),
        ["1", "2", "3", "4", "5", "6", "7"],
      );
    });
  });

  describe("business rules (docs/connectwise.md §10)", () => {
    it("docs/connectwise.md §10 effectiveDate before the agreement's billing start is rejected", async () => {
      const agreementId = await agreementIdFor(harness, "AlpineSkiHouse", "Microsoft CSP -");
      await assert.rejects(
        harness.client.createAddition(agreementId, {
          product: { id: 2 },
          billCustomer: "Billable",
          quantity: "1",
          effectiveDate: "2023-12-31",
        }),
        (error: unknown) => {
          assert.ok(error instanceof ConnectWiseValidationError);
          assert.deepEqual(
            serverErrorOf(error)?.errors.map((entry) => [entry.field, entry.message]),
            [["effectiveDate", "effectiveDate cannot be less than the agreement billing start date"]],
          );
          return true;
        },
      );
    });

    it("docs/connectwise.md §10 additions on a cancelled agreement are rejected on agreementId, unless the switch is off", async () => {
      const agreementId = await agreementIdFor(harness, "TailspinToys", "Managed Services");
      const input = {
        product: { id: 2 },
        billCustomer: "Billable" as const,
        quantity: "1",
        effectiveDate: "2024-01-01",
      };
      await assert.rejects(harness.client.createAddition(agreementId, input), (error: unknown) => {
        assert.ok(error instanceof ConnectWiseValidationError);
        assert.equal(serverErrorOf(error)?.errors[0]?.field, "agreementId");
        return true;
      });
      harness.emulator.switches.rejectAdditionsOnCancelledAgreement = false;
      try {
        const created = await harness.client.createAddition(agreementId, input);
        assert.equal(created.agreementStatus, "Cancelled");
      } finally {
        harness.emulator.switches.rejectAdditionsOnCancelledAgreement = true;
      }
    });

    it("docs/connectwise.md §10 with prorate off, an effectiveDate in an invoiced period is rejected", async () => {
      const agreementId = await agreementIdFor(harness, "BlueYonderVet", "Microsoft CSP -");
      const agreement = harness.emulator.data().tables.agreements.find((row) => row.id === agreementId)!;
      agreement.prorateFlag = false;
      agreement.nextInvoiceDate = "2025-04-01";
      const input = { product: { id: 3 }, billCustomer: "Billable" as const, quantity: "2" };
      await assert.rejects(
        harness.client.createAddition(agreementId, { ...input, effectiveDate: "2025-03-10" }),
        (error: unknown) => {
          assert.ok(error instanceof ConnectWiseValidationError);
          assert.match(serverErrorOf(error)?.errors[0]?.message ?? "", /already been invoiced/);
          return true;
        },
      );
      const accepted = await harness.client.createAddition(agreementId, {
        ...input,
        effectiveDate: "2025-04-01",
      });
      assert.equal(accepted.effectiveDate, "2025-04-01T00:00:00Z");
    });

    it("docs/connectwise.md §9.6 a Bundle product cannot be an addition; §9.3 product and billCustomer are required", async () => {
      const agreementId = await agreementIdFor(harness, "CohoWinery", "Microsoft CSP -");
      await assert.rejects(
        harness.client.createAddition(agreementId, {
          product: { identifier: "MSP-BUNDLE" },
          billCustomer: "Billable",
          quantity: "1",
          effectiveDate: "2025-01-01",
        }),
        (error: unknown) => serverErrorOf(error)?.errors[0]?.field === "product",
      );
      const [addition] = await harness.client.listAdditions(agreementId);
      assert.equal(addition, undefined);
    });
  });

  describe("catalog", () => {
    it("docs/connectwise.md §9.6 lists, searches by identifier and vendor SKU, and gets catalog items", async () => {
      const all = await harness.client.listCatalogItems({ pageSize: 4 });
      assert.equal(all.length, 13);
      const [premium] = await harness.client.findCatalogItemsByVendorSku("CFQ7TTC0LCHC:0002");
      assert.equal(premium?.identifier, "M365-PREM");
      assert.equal(premium?.price, "26.4");
      const [annual] = await harness.client.findCatalogItemsByIdentifier("m365-prem-annual");
      assert.equal(annual?.vendorSku, "P1Y:A:CFQ7TTC0LCHC:0002");
      const fetched = await harness.client.getCatalogItem(premium!.id);
      assert.equal(fetched.vendor?.name, "Microsoft Corporation");
    });

    it("docs/connectwise.md §9.6 creates and updates a catalog item; a duplicate identifier is ObjectExists", async () => {
      const [type] = await harness.client.listProductTypes({
        conditions: where.eq("name", "Software Licensing"),
      });
      const [subcategory] = await harness.client.listProductSubcategories({
        conditions: where.eq("name", "Microsoft 365"),
      });
      const input = {
        identifier: "TEAMS-ESS",
        description: "Microsoft Teams Essentials",
        customerDescription: "Microsoft Teams Essentials",
        subcategory: { id: subcategory!.id },
        type: { id: type!.id },
        price: "4.80",
        cost: "4",
        vendorSku: "CFQ7TTC0RM8K:0001",
      };
      const created = await harness.client.createCatalogItem(input);
      assert.equal(created.productClass, "NonInventory");
      assert.equal(created.price, "4.8");
      const updated = await harness.client.updateCatalogItem(created.id, { price: "5.10", cost: "4.25" });
      assert.deepEqual([updated.price, updated.cost], ["5.1", "4.25"]);
      const patched = await harness.client.patchCatalogItem(created.id, [
        { op: "replace", path: "inactiveFlag", value: true },
      ]);
      assert.equal(patched.inactiveFlag, true);
      await assert.rejects(harness.client.createCatalogItem(input), (error: unknown) => {
        assert.ok(error instanceof ConnectWiseValidationError);
        assert.equal(serverErrorOf(error)?.errors[0]?.code, "ObjectExists");
        return true;
      });
    });
  });
});
