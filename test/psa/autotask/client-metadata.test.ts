import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AutotaskClient } from "../../../src/psa/autotask/client.ts";
import { DEMO_API_USER } from "../../../emulators/autotask/index.ts";
import { PicklistLabelNotFoundError, PicklistResolver } from "../../../src/psa/autotask/picklists.ts";
import { PsaRateLimitedError } from "../../../src/psa/shared/errors.ts";
import { recordingFetch, startHarness } from "./helpers.ts";
import type { Harness, SentRequest } from "./helpers.ts";

describe("Autotask metadata and picklists (docs/autotask.md §7, §7.3, §7.2)", () => {
  let h: Harness;
  let clock = 0;
  before(async () => {
    h = await startHarness({}, { now: () => clock, picklistTtlMs: 60_000 });
  });
  after(() => h.close());

  it("docs/autotask.md §7 entityInformation/fields lists picklists with string values", async () => {
    const fields = await h.client.entityFields("Contracts");
    const contractType = fields.find((field) => field.name === "contractType");
    assert.equal(contractType?.isPickList, true);
    assert.deepEqual(
      contractType?.picklistValues?.map((entry) => [entry.value, entry.label]),
      [
        ["1", "Time & Materials"],
        ["3", "Fixed Price"],
        ["4", "Block Hours"],
        ["6", "Retainer"],
        ["7", "Recurring Service"],
        ["8", "Per Ticket"],
      ],
    );
    assert.equal(fields.find((field) => field.name === "companyID")?.referenceEntityType, "Company");
  });

  it("docs/autotask.md §7 entityInformation says what the entity allows; userDefinedFields lists UDFs", async () => {
    const adjustments = await h.client.entityInformation("ContractServiceAdjustments");
    assert.deepEqual(
      { canQuery: adjustments.canQuery, canCreate: adjustments.canCreate, canUpdate: adjustments.canUpdate },
      { canQuery: false, canCreate: true, canUpdate: false },
    );
    const udfs = await h.client.userDefinedFields("Companies");
    assert.deepEqual(
      udfs.map((udf) => udf.name),
      ["Number of Employees", "Microsoft Tenant ID"],
    );
  });

  it("docs/autotask.md §7 resolves labels to values from metadata, case-insensitively, and caches per entity", async () => {
    const before = h.sent.length;
    assert.equal(await h.client.picklists.value("Contracts", "contractType", "recurring service"), 7);
    assert.equal(await h.client.picklists.value("Contracts", "status", "Active"), 1);
    assert.equal(await h.client.picklists.label("Contracts", "contractType", 3), "Fixed Price");
    assert.equal(await h.client.picklists.value("BillingCodes", "useType", "Recurring Contract Service"), 6);
    assert.equal(await h.client.picklists.value("ContractCharges", "chargeType", "Operational"), 1);
    const metadataCalls = h.sent
      .slice(before)
      .filter((request) => request.url.endsWith("/entityInformation/fields"));
    assert.equal(metadataCalls.length, 3); // Contracts once, BillingCodes once, ContractCharges once
  });

  it("docs/autotask.md §7 reloads after the cache lifetime", async () => {
    const count = () =>
      h.sent.filter((request) => /Contracts\/entityInformation\/fields$/.test(request.url)).length;
    const before = count();
    await h.client.picklists.value("Contracts", "status", "Inactive");
    assert.equal(count(), before);
    clock += 60_000;
    await h.client.picklists.value("Contracts", "status", "Inactive");
    assert.equal(count(), before + 1);
  });

  it("an unknown or inactive label is an error that lists the choices", async () => {
    await assert.rejects(
      () => h.client.picklists.value("Contracts", "contractCategory", "Legacy"),
      (error: unknown) =>
        error instanceof PicklistLabelNotFoundError &&
        /available: Managed Services, Cloud Licensing/.test(error.message),
    );
    assert.equal(await h.client.picklists.label("Contracts", "contractCategory", 17), "Legacy");
  });

  it("docs/autotask.md §7.2 follows the tenant's own numbers rather than the documented ones", async () => {
    const resolver = new PicklistResolver({
      loadFields: async () => [
        {
          name: "contractType",
          dataType: "integer",
          isPickList: true,
          picklistValues: [{ value: "12", label: "Recurring Service", isActive: true }],
        },
      ],
    });
    assert.equal(await resolver.value("Contracts", "contractType", "Recurring Service"), 12);
  });
});

describe("Autotask test connection (docs/autotask.md §3, §2, §7, §10)", () => {
  let h: Harness;
  const viewer = {
    userName: "viewer@cspsync-demo.example",
    secret: "viewer-secret-value",
    integrationCode: "VIEW",
    resourceId: 29682887,
    access: "read-only" as const,
  };
  before(async () => {
    h = await startHarness({ users: [DEMO_API_USER, viewer] });
  });
  after(() => h.close());

  function client(credentials: {
    userName: string;
    secret: string;
    integrationCode: string;
  }): AutotaskClient {
    return new AutotaskClient({ credentials, discoveryBaseUrl: h.emulator.apiBaseUrl, quota: false });
  }

  it("reports success with the zone and the threshold", async () => {
    const result = await h.client.testConnection();
    assert.deepEqual(result.problems, []);
    assert.equal(result.ok, true);
    assert.equal(result.zone?.url, `${h.emulator.url}/ATServicesRest/`);
    assert.equal(result.threshold?.externalRequestThreshold, 10_000);
    assert.ok(result.permissions.every((permission) => permission.missing.length === 0));
  });

  it("reports rejected credentials without revealing the secret", async () => {
    const secret = "definitely-wrong-secret";
    const result = await client({ ...DEMO_API_USER, secret }).testConnection();
    assert.equal(result.ok, false);
    assert.match(
      result.problems[0] ?? "",
      /refused the API credentials.*check UserName, Secret and ApiIntegrationCode/,
    );
    assert.ok(!JSON.stringify(result).includes(secret));
  });

  it("reports an unknown API user at zone discovery", async () => {
    const result = await client({ ...DEMO_API_USER, userName: "typo@example.com" }).testConnection();
    assert.equal(result.ok, false);
    assert.match(result.problems[0] ?? "", /Zone discovery failed.*Zone information could not be determined/);
  });

  it("reports each entity the security level cannot write", async () => {
    const result = await client(viewer).testConnection();
    assert.equal(result.ok, false);
    assert.ok(
      result.problems.includes("The API user's security level lacks create, update access to Contracts."),
    );
    assert.ok(
      result.problems.includes(
        "The API user's security level lacks create, update, delete access to ContractCharges.",
      ),
    );
    assert.deepEqual(result.permissions.find((permission) => permission.entity === "Companies")?.missing, []);
  });
});

describe("Autotask hourly threshold awareness (docs/autotask.md §10)", () => {
  it("docs/autotask.md §10 ThresholdInformation counts every request, including itself", async () => {
    const h = await startHarness();
    try {
      const first = await h.client.thresholdInformation();
      await h.client.companies.get(1001);
      await h.client.contracts.get(29684000);
      const second = await h.client.thresholdInformation();
      assert.equal(second.currentTimeframeRequestCount - first.currentTimeframeRequestCount, 3);
      assert.deepEqual(
        { threshold: second.externalRequestThreshold, timeframe: second.requestThresholdTimeframe },
        { threshold: 10_000, timeframe: 60 },
      );
    } finally {
      await h.close();
    }
  });

  it("docs/autotask.md §10 the quota estimate counts every HTTP attempt exactly, also under concurrency and retries", async () => {
    const h = await startHarness({}, { quota: {} });
    try {
      h.emulator.addFaults({
        kind: "server-error",
        method: "GET",
        path: "/Contracts/",
        nth: [2],
        status: 503,
      });
      await Promise.all(Array.from({ length: 6 }, (_, index) => h.client.contracts.get(29684000 + index)));
      assert.equal(h.sleeps.length, 1);
      // 1 ThresholdInformation + 6 reads + 1 retried attempt. The emulator did not count the attempt its
      // injected 503 answered, so the client's estimate is the safe upper bound, one above.
      assert.equal(h.client.quota()?.estimatedUsed, 8);
      assert.equal(h.emulator.state.thresholdCount(), 7);
    } finally {
      await h.close();
    }
  });

  it("docs/autotask.md §10 slows down near the threshold, then refuses without sending, and exposes the remaining quota", async () => {
    let clock = 1_000_000;
    const sent: SentRequest[] = [];
    const h = await startHarness(
      { limits: { hourlyThreshold: 20 } },
      {
        now: () => clock,
        quota: { slowDownAt: 0.5, refuseAt: 0.8, slowDownDelayMs: 1000, refreshIntervalMs: 300_000 },
        transport: { fetchImpl: recordingFetch(sent) },
      },
    );
    try {
      let refused: unknown;
      for (let index = 0; index < 30 && refused === undefined; index += 1) {
        await h.client.companies.get(1001).catch((error: unknown) => {
          refused = error;
        });
      }
      assert.ok(refused instanceof PsaRateLimitedError);
      assert.match(refused.message, /used about 16 of its 20 API requests per 60 minutes/);
      assert.equal(h.emulator.state.thresholdCount(), 16); // the refused request never left the client
      assert.deepEqual(h.sleeps, [1000, 1000, 1000, 1000, 1000, 1000]);
      assert.deepEqual(
        {
          used: h.client.quota()?.estimatedUsed,
          remaining: h.client.quota()?.remaining,
          mode: h.client.quota()?.mode,
        },
        { used: 16, remaining: 4, mode: "refuse" },
      );
      // While refusing, the reading is refreshed sooner (1 minute) to notice the window sliding.
      clock += 60_000;
      await assert.rejects(() => h.client.companies.get(1001), PsaRateLimitedError);
      assert.equal(sent.filter((request) => request.url.endsWith("/ThresholdInformation")).length, 2);
    } finally {
      await h.close();
    }
  });
});
