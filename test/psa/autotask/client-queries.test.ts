import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AutotaskClient } from "../../../src/psa/autotask/client.ts";
import { DEMO_API_USER } from "../../../emulators/autotask/index.ts";
import { where } from "../../../src/psa/autotask/filter.ts";
import { PsaAuthError, PsaValidationError } from "../../../src/psa/shared/errors.ts";
import { rawRequest, recordingFetch, startHarness } from "./helpers.ts";
import type { Harness, SentRequest } from "./helpers.ts";

describe("Autotask client against the emulator: discovery, auth and queries", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("docs/autotask.md §2 discovers the zone once and sends requests to url + V1.0/", async () => {
    const zone = await h.client.zone();
    assert.equal(zone.url, `${h.emulator.url}/ATServicesRest/`);
    await h.client.companies.get(1001);
    await h.client.companies.get(1002);
    const discoveries = h.sent.filter((request) => /zoneInformation/i.test(request.url));
    assert.equal(discoveries.length, 1);
    assert.equal(
      discoveries[0]?.url,
      `${h.emulator.apiBaseUrl}zoneInformation?user=${encodeURIComponent(DEMO_API_USER.userName)}`,
    );
    assert.ok(h.sent.at(-1)?.url.startsWith(`${h.emulator.url}/ATServicesRest/V1.0/Companies/`));
  });

  it("docs/autotask.md §3 sends UserName, Secret and ApiIntegrationCode on every request", async () => {
    await h.client.billingCodes.get(29682800);
    const last = h.sent.at(-1);
    assert.equal(last?.headers.username, DEMO_API_USER.userName);
    assert.equal(last?.headers.secret, DEMO_API_USER.secret);
    assert.equal(last?.headers.apiintegrationcode, DEMO_API_USER.integrationCode);
    assert.equal(last?.headers.impersonationresourceid, undefined);
  });

  it("docs/autotask.md §5.3 follows nextPageUrl over several pages with the same method and body (POST)", async () => {
    const before = h.sent.length;
    const contracts = await h.client.contracts.queryAll([where.all()], { maxRecords: 5 });
    const expected = h.emulator.state.list("Contracts").map((row) => row.id);
    assert.ok(expected.length > 10);
    assert.deepEqual(
      contracts.map((contract) => contract.id),
      expected,
    );
    const queries = h.sent.slice(before);
    assert.equal(queries.length, Math.ceil(expected.length / 5));
    assert.ok(queries[0]?.url.endsWith("/V1.0/Contracts/query"));
    for (const request of queries.slice(1)) {
      assert.equal(request.method, "POST");
      assert.match(request.url, /\/Contracts\/query\/next\?paging=/);
      assert.equal(request.body, queries[0]?.body);
    }
  });

  it("docs/autotask.md §5.3 pageDetails carry count, requestCount and prev/next URLs", async () => {
    const pages = [];
    for await (const page of h.client.companies.pages([where.all()], { maxRecords: 4 })) pages.push(page);
    assert.ok(pages.length >= 3);
    assert.deepEqual(
      { count: pages[0]?.pageDetails.count, requestCount: pages[0]?.pageDetails.requestCount },
      { count: 4, requestCount: 4 },
    );
    assert.equal(pages[0]?.pageDetails.prevPageUrl, null);
    assert.match(String(pages[1]?.pageDetails.prevPageUrl), /query\/next\?paging=/);
    assert.equal(pages.at(-1)?.pageDetails.nextPageUrl, null);
  });

  it("docs/autotask.md §4.1, §5.3 a GET ?search= query pages by GETting nextPageUrl verbatim", async () => {
    const before = h.sent.length;
    const viaGet = await h.client.contracts.queryAll([where.eq("contractType", 7)], {
      maxRecords: 4,
      via: "GET",
    });
    const viaPost = await h.client.contracts.queryAll([where.eq("contractType", 7)], { maxRecords: 4 });
    assert.deepEqual(viaGet, viaPost);
    const getRequests = h.sent.slice(before, before + Math.ceil(viaGet.length / 4));
    assert.ok(
      getRequests.every((request: SentRequest) => request.method === "GET" && request.body === undefined),
    );
    assert.match(getRequests[0]?.url ?? "", /\/Contracts\/query\?search=/);
    assert.match(getRequests[1]?.url ?? "", /\/Contracts\/query\/next\?paging=.*&search=/);
  });

  it("docs/autotask.md §5.3 a GET to the nextPageUrl of a POST query is refused with 405", async () => {
    const first = await h.client.contracts.query([where.all()], { maxRecords: 2 });
    const next = first.pageDetails.nextPageUrl ?? "";
    const path = next.slice(h.emulator.url.length);
    const response = await rawRequest(h.emulator, "GET", path);
    assert.equal(response.status, 405);
    assert.deepEqual(response.body, {
      Message: "The requested resource does not support http method 'GET'.",
    });
  });

  it("docs/autotask.md §5.1 IncludeFields projects the response but keeps id and userDefinedFields", async () => {
    const selected = await h.client.contracts.select([where.eq("id", 29684000)], ["contractName"]);
    assert.deepEqual(selected, [{ id: 29684000, contractName: "Managed Services & Microsoft Cloud" }]);
    assert.match(h.sent.at(-1)?.body ?? "", /"IncludeFields":\["contractName","id"\]/);
    const response = await rawRequest(h.emulator, "POST", "/atservicesrest/v1.0/Contracts/query", {
      filter: [{ op: "eq", field: "id", value: 29684000 }],
      IncludeFields: ["contractName"],
    });
    assert.deepEqual(Object.keys((response.body as { items: object[] }).items[0] ?? {}), [
      "id",
      "contractName",
      "userDefinedFields",
    ]);
  });

  it("docs/autotask.md §5.3 query/count answers queryCount", async () => {
    const recurring = h.emulator.state.list("Contracts").filter((row) => row.contractType === 7).length;
    assert.equal(await h.client.contracts.count([h.client.contracts.where.eq("contractType", 7)]), recurring);
  });

  it("docs/autotask.md §8.2 filters out inactive and expired contracts", async () => {
    const current = await h.client.contracts.queryAll([
      where.eq("status", 1),
      where.gte("endDate", "2025-06-15"),
      where.eq("contractType", 7),
    ]);
    const names = new Set(current.map((contract) => contract.contractName));
    assert.deepEqual([...names], ["Managed Services & Microsoft Cloud"]);
    assert.equal(current.length, 12);
  });

  it("docs/autotask.md §5.2 finds a company by a UDF value", async () => {
    const [company, ...rest] = await h.client.companies.queryAll([
      where.udf.eq("Microsoft Tenant ID", "7d3a9c10-4b2e-4f61-9a0c-000000000003"),
    ]);
    assert.equal(rest.length, 0);
    assert.equal(company?.companyName, "Summit Ridge Accounting");
    assert.deepEqual(
      company?.userDefinedFields?.find((udf) => udf.name === "Number of Employees"),
      { name: "Number of Employees", value: "27" },
    );
  });

  it('docs/autotask.md §9 get by id returns null for a missing record ({"item": null})', async () => {
    assert.equal(await h.client.contracts.get(1), null);
    const contract = await h.client.contracts.get(29684000);
    assert.equal(contract?.contractNumber, "CSP-RS-0001");
  });

  it("docs/autotask.md §8.3 reads money exactly as decimal strings", async () => {
    const [charge] = await h.client.contractCharges.queryAll([where.exist("productID")], { maxRecords: 1 });
    assert.equal(charge?.unitPrice, "414.6");
    assert.equal(charge?.billableAmount, "1243.8");
    assert.equal(charge?.unitQuantity, "3");
  });

  it("docs/autotask.md §4.1 child routes list and read a contract's charges, and serve child metadata", async () => {
    const list = await rawRequest(h.emulator, "GET", "/atservicesrest/v1.0/Contracts/29684001/Charges");
    const items = (list.body as { items: Array<{ id: number; contractID: number }> }).items;
    assert.ok(items.length > 0 && items.every((item) => item.contractID === 29684001));
    const one = await rawRequest(
      h.emulator,
      "GET",
      `/atservicesrest/v1.0/Contracts/29684001/Charges/${items[0]?.id}`,
    );
    assert.equal((one.body as { item: { id: number } }).item.id, items[0]?.id);
    const elsewhere = await rawRequest(
      h.emulator,
      "GET",
      `/atservicesrest/v1.0/Contracts/29684000/Charges/${items[0]?.id}`,
    );
    assert.deepEqual(elsewhere.body, { item: null });
    const fields = await rawRequest(
      h.emulator,
      "GET",
      "/atservicesrest/v1.0/Contracts/29684001/Charges/entityInformation/fields",
    );
    const names = (fields.body as { fields: Array<{ name: string }> }).fields.map((field) => field.name);
    assert.ok(names.includes("internalPurchaseOrderNumber"));
    assert.ok(!names.includes("adjustedPrice"));
  });

  it("docs/autotask.md §3 matches paths and entity names case-insensitively", async () => {
    const response = await rawRequest(h.emulator, "GET", "/ATSERVICESREST/V1.0/contracts/29684000");
    assert.equal(response.status, 200);
    assert.equal((response.body as { item: { id: number } }).item.id, 29684000);
  });

  it("docs/autotask.md §9 an unknown filter field is a PsaValidationError from HTTP 500, not retried", async () => {
    const before = h.sent.length;
    await assert.rejects(
      () => h.client.contracts.query([where.eq("isActive", true)]),
      (error: unknown) =>
        error instanceof PsaValidationError &&
        error.status === 500 &&
        error.details.includes("Unable to find isActive in the Contract Entity"),
    );
    assert.equal(h.sent.length - before, 1);
  });

  it('docs/autotask.md §4.1, §9 routing errors keep ASP.NET\'s {"Message"} shape: 405 wrong verb, 404 unknown resource', async () => {
    const wrongVerb = await rawRequest(h.emulator, "GET", "/atservicesrest/v1.0/Contracts");
    assert.equal(wrongVerb.status, 405);
    const patchById = await rawRequest(h.emulator, "PATCH", "/atservicesrest/v1.0/Contracts/29684000", {
      id: 1,
    });
    assert.equal(patchById.status, 405);
    const unknown = await rawRequest(h.emulator, "GET", "/atservicesrest/v1.0/Tickets/query/count");
    assert.equal(unknown.status, 404);
    assert.match(String((unknown.body as { Message: string }).Message), /No HTTP resource was found/);
  });
});

describe("Autotask client: credential failures (docs/autotask.md §3, §2, §9)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  function clientWith(overrides: Partial<typeof DEMO_API_USER>, sent: SentRequest[] = []): AutotaskClient {
    return new AutotaskClient({
      credentials: {
        userName: overrides.userName ?? DEMO_API_USER.userName,
        secret: overrides.secret ?? DEMO_API_USER.secret,
        integrationCode: overrides.integrationCode ?? DEMO_API_USER.integrationCode,
      },
      discoveryBaseUrl: h.emulator.apiBaseUrl,
      quota: false,
      transport: { sleep: async () => {}, fetchImpl: recordingFetch(sent) },
    });
  }

  it("docs/autotask.md §9 a wrong secret is a PsaAuthError (401) whose message never contains the secret", async () => {
    const secret = "wrong-secret-value-123";
    const sent: SentRequest[] = [];
    await assert.rejects(
      () => clientWith({ secret }, sent).contracts.get(29684000),
      (error: unknown) =>
        error instanceof PsaAuthError &&
        error.status === 401 &&
        !error.message.includes(secret) &&
        /credentials/.test(error.message),
    );
    assert.equal(sent.filter((request) => /Contracts/.test(request.url)).length, 1);
  });

  it("docs/autotask.md §3 a wrong integration code is rejected too", async () => {
    await assert.rejects(
      () => clientWith({ integrationCode: "OTHER" }).contracts.get(29684000),
      PsaAuthError,
    );
  });

  it("docs/autotask.md §2 an unknown user fails zone discovery with 'Zone information could not be determined'", async () => {
    await assert.rejects(
      () => clientWith({ userName: "nobody@example.com" }).zone(),
      (error: unknown) =>
        error instanceof PsaAuthError && error.details.includes("Zone information could not be determined"),
    );
  });

  it("docs/autotask.md §2 zone discovery works without auth headers", async () => {
    const response = await fetch(
      `${h.emulator.apiBaseUrl}zoneInformation?user=${encodeURIComponent(DEMO_API_USER.userName)}`,
    );
    assert.equal(response.status, 200);
  });

  it("docs/autotask.md §3, §6.4 ImpersonationResourceId attributes writes; an unknown resource is refused as a permission problem", async () => {
    const impersonating = new AutotaskClient({
      credentials: { ...DEMO_API_USER, impersonationResourceId: 29682886 },
      discoveryBaseUrl: h.emulator.apiBaseUrl,
      quota: false,
    });
    const id = await impersonating.services.create({
      name: "Impersonated Service",
      billingCodeID: 29682800,
      periodType: 2,
      unitPrice: "1",
    });
    assert.equal(h.emulator.state.get("Services", id)?.creatorResourceID, 29682886);
    const stranger = new AutotaskClient({
      credentials: { ...DEMO_API_USER, impersonationResourceId: 999 },
      discoveryBaseUrl: h.emulator.apiBaseUrl,
      quota: false,
    });
    await assert.rejects(() => stranger.services.get(id), /adequate permissions/);
  });
});
