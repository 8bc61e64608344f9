import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { where } from "../../../src/psa/autotask/filter.ts";
import { writeKey } from "../../../src/core/write-keys.ts";
import { AutotaskAdapter } from "../../../src/psa/autotask/adapter.ts";
import { PsaOutcomeUnknownError, PsaRateLimitedError } from "../../../src/psa/shared/errors.ts";
import { sendLookingBeforeRetrying } from "../../../src/psa/shared/write-once.ts";
import { rawRequest, startHarness } from "./helpers.ts";
import type { Harness } from "./helpers.ts";

const FIXED_PRICE_CONTRACT = 29684003; // Summit Ridge, Fixed Price
const SOFTWARE_CODE = 29682804;

const charge = {
  name: "Microsoft 365 Business Premium (Annual)",
  datePurchased: "2025-06-01",
  chargeType: 1,
  unitQuantity: "12",
  unitPrice: "414.6",
  unitCost: "338.28",
  billingCodeID: SOFTWARE_CODE,
};

async function chargesWithKey(h: Harness, key: string): Promise<number> {
  return (await h.client.contractCharges.queryAll([where.eq("internalPurchaseOrderNumber", key)])).length;
}

/**
 * A charge create sent the way the annual sync sends one (write-once.ts): after an unknown outcome, looked up by
 * its key through the adapter, which takes only a charge on this contract for this write.
 */
function writeOnce(h: Harness, contractId: number, key: string): Promise<string> {
  const adapter = new AutotaskAdapter(h.client, {});
  return sendLookingBeforeRetrying({
    noun: "charge",
    send: async () =>
      String(await h.client.contractCharges.create(contractId, charge, { idempotencyKey: key })),
    find: async () => (await adapter.findAnnualLine(String(contractId), key))?.recordId,
  });
}

function chargeRequests(h: Harness): string[] {
  return h.emulator.server
    .requestLog()
    .filter((entry) => entry.path.endsWith("/Charges") || entry.path.includes("/ContractCharges/query"))
    .map((entry) => `${entry.method} ${entry.path.includes("query") ? "query" : "create"} ${entry.status}`);
}

/** Lets queued requests reach the emulator without measuring time. */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 10_000 && !condition(); turn += 1)
    await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), "condition never became true");
}

describe("Autotask client resilience against injected faults (docs/autotask.md §9, §10, §11)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());
  beforeEach(() => {
    h.emulator.server.clearFaults();
    h.sleeps.length = 0;
  });

  it("docs/autotask.md §10 a 429 is retried after the Retry-After the server sent", async () => {
    h.emulator.addFaults({
      kind: "rate-limit",
      method: "POST",
      path: "/Companies/query",
      nth: [1],
      retryAfterSeconds: 7,
    });
    const companies = await h.client.companies.queryAll([where.eq("companyType", 1)]);
    assert.equal(companies.length, 12);
    assert.deepEqual(h.sleeps, [7000]);
    const log = h.emulator.server.requestLog().filter((entry) => entry.path.includes("/Companies/query"));
    assert.deepEqual(
      log.slice(-2).map((entry) => entry.status),
      [429, 200],
    );
  });

  it("docs/autotask.md §10 a 429 that persists ends in PsaRateLimitedError after the attempts run out", async () => {
    h.emulator.addFaults({ kind: "rate-limit", path: "/Services/query", retryAfterSeconds: 2 });
    await assert.rejects(() => h.client.services.queryAll([where.all()]), PsaRateLimitedError);
    assert.deepEqual(h.sleeps, [2000, 2000, 2000, 2000]);
  });

  it("docs/autotask.md §10 the thread-limit refusal (Itgenatr005, not a 429) is retried, even for a create", async () => {
    h.emulator.addFaults({ kind: "thread-limit", method: "POST", path: "/Charges", nth: [1] });
    const key = writeKey(["thread-limit"]);
    const id = await h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge, { idempotencyKey: key });
    assert.ok(id > 0);
    assert.equal(h.sleeps.length, 1);
    const log = h.emulator.server.requestLog().filter((entry) => entry.path.endsWith("/Charges"));
    assert.deepEqual(
      log.slice(-2).map((entry) => entry.status),
      [500, 200],
    );
    assert.equal(await chargesWithKey(h, key), 1);
  });

  it("docs/autotask.md §10 the emulator refuses a 4th concurrent request per endpoint with Itgenatr005", async () => {
    const release = h.emulator.state.holdRequests();
    const query = { filter: [{ op: "exist", field: "id" }] };
    const held = [1, 2, 3].map(() =>
      rawRequest(h.emulator, "POST", "/atservicesrest/v1.0/Contracts/query", query),
    );
    await until(() => h.emulator.state.inFlight("Contracts") === 3);
    const fourth = await rawRequest(h.emulator, "POST", "/atservicesrest/v1.0/Contracts/query", query);
    assert.equal(fourth.status, 500);
    assert.match(JSON.stringify(fourth.body), /Thread Threshold Exceeded \(Itgenatr005\)/);
    // Another endpoint has its own budget.
    const other = rawRequest(h.emulator, "POST", "/atservicesrest/v1.0/Companies/query", query);
    await until(() => h.emulator.state.inFlight("Companies") === 1);
    release();
    assert.deepEqual(
      (await Promise.all([...held, other])).map((response) => response.status),
      [200, 200, 200, 200],
    );
  });

  it("docs/autotask.md §10 the client keeps at most 3 requests in flight per endpoint, keyed by entity", async () => {
    const before = h.emulator.state.maxInFlight("Contracts");
    assert.ok(before <= 3);
    const release = h.emulator.state.holdRequests();
    const queries = Array.from({ length: 7 }, (_, index) => h.client.contracts.get(29684000 + index));
    const company = h.client.companies.get(1001);
    await until(
      () => h.emulator.state.inFlight("Contracts") === 3 && h.emulator.state.inFlight("Companies") === 1,
    );
    release();
    const results = await Promise.all(queries);
    assert.equal((await company)?.id, 1001);
    assert.deepEqual(
      results.map((contract) => contract?.id),
      Array.from({ length: 7 }, (_, index) => 29684000 + index),
    );
    assert.equal(h.emulator.state.maxInFlight("Contracts"), 3);
    assert.equal(h.sleeps.length, 0); // nothing was refused, so nothing was retried
  });

  it("a 5xx on a read is retried with backoff", async () => {
    h.emulator.addFaults({
      kind: "server-error",
      method: "GET",
      path: "/Contracts/",
      nth: [1, 2],
      status: 503,
    });
    assert.equal((await h.client.contracts.get(29684000))?.id, 29684000);
    assert.deepEqual(h.sleeps, [125, 250]); // 250 ms × 2^(n-1) × jitter 0.5
  });

  it("a dropped connection on a read is retried", async () => {
    h.emulator.addFaults({ kind: "drop-connection", method: "POST", path: "/Services/query", nth: [1] });
    const services = await h.client.services.queryAll([where.eq("isActive", true)]);
    assert.equal(services.length, 8);
    assert.equal(h.sleeps.length, 1);
  });

  it("a 503 on a create is an unknown outcome; nothing was applied, so the write looks its key up and sends once more: one charge", async () => {
    h.emulator.addFaults({ kind: "server-error", method: "POST", path: "/Charges", nth: [1], status: 503 });
    const key = writeKey(["gateway", "1"]);
    await assert.rejects(
      () => h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge, { idempotencyKey: key }),
      PsaOutcomeUnknownError,
    );
    assert.equal(await chargesWithKey(h, key), 0);
    h.emulator.addFaults({ kind: "server-error", method: "POST", path: "/Charges", nth: [1], status: 503 });
    h.emulator.server.clearRequestLog();
    const id = await writeOnce(h, FIXED_PRICE_CONTRACT, key);
    assert.equal(h.emulator.state.get("ContractCharges", Number(id))?.internalPurchaseOrderNumber, key);
    assert.equal(await chargesWithKey(h, key), 1);
    assert.deepEqual(chargeRequests(h).slice(0, 3), ["POST create 503", "POST query 200", "POST create 200"]);
  });

  it("a connection dropped before a create reaches the handler: unknown outcome, the lookup finds nothing, one charge is sent after it", async () => {
    h.emulator.addFaults({ kind: "drop-connection", method: "POST", path: "/Charges", nth: [1] });
    const key = writeKey(["dropped", "1"]);
    await assert.rejects(
      () => h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge, { idempotencyKey: key }),
      PsaOutcomeUnknownError,
    );
    assert.equal(await chargesWithKey(h, key), 0);
    h.emulator.addFaults({ kind: "drop-connection", method: "POST", path: "/Charges", nth: [1] });
    h.emulator.server.clearRequestLog();
    await writeOnce(h, FIXED_PRICE_CONTRACT, key);
    assert.equal(await chargesWithKey(h, key), 1);
    assert.deepEqual(chargeRequests(h).slice(0, 3), [
      "POST create dropped",
      "POST query 200",
      "POST create 200",
    ]);
  });

  it("docs/autotask.md §6.5 a lost response on create: outcome unknown, then a query by the stamped key finds the committed charge", async () => {
    h.emulator.addFaults({ kind: "lose-response", method: "POST", path: "/Charges", nth: [1] });
    const key = writeKey(["lost", "1"]);
    await assert.rejects(
      () => h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge, { idempotencyKey: key }),
      PsaOutcomeUnknownError,
    );
    const found = await h.client.contractCharges.findByIdempotencyKey(key);
    assert.equal(found?.contractID, FIXED_PRICE_CONTRACT);
    assert.equal(found?.billableAmount, "4975.2");
    assert.equal(h.emulator.state.get("ContractCharges", found?.id ?? 0)?.internalPurchaseOrderNumber, key);
  });

  it("docs/autotask.md §6.5 a write whose response was lost returns the committed charge, found by its key, and is not sent again", async () => {
    h.emulator.addFaults({ kind: "lose-response", method: "POST", path: "/Charges", nth: [1] });
    const key = writeKey(["lost", "2"]);
    h.emulator.server.clearRequestLog();
    const id = await writeOnce(h, FIXED_PRICE_CONTRACT, key);
    assert.equal(h.emulator.state.get("ContractCharges", Number(id))?.internalPurchaseOrderNumber, key);
    assert.equal(await chargesWithKey(h, key), 1);
    assert.deepEqual(chargeRequests(h).slice(0, 2), ["POST create lost", "POST query 200"]);
  });

  it("a charge carrying the key on another contract is not this contract's write: the lookup passes it over", async () => {
    const key = writeKey(["moved"]);
    const id = await writeOnce(h, FIXED_PRICE_CONTRACT, key);
    const adapter = new AutotaskAdapter(h.client, {});
    assert.deepEqual(await adapter.findAnnualLine(String(FIXED_PRICE_CONTRACT), key), { recordId: id });
    assert.equal(await adapter.findAnnualLine("29684001", key), null);
  });

  it("a lost response on a PATCH is resent (PATCH sets absolute values)", async () => {
    const id = await h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge);
    h.emulator.addFaults({ kind: "lose-response", method: "PATCH", path: "/Charges", nth: [1] });
    await h.client.contractCharges.update(FIXED_PRICE_CONTRACT, id, { unitQuantity: "13" });
    assert.equal((await h.client.contractCharges.get(id))?.unitQuantity, "13");
    assert.equal(h.sleeps.length, 1);
  });
});

describe("Autotask emulator hourly threshold (docs/autotask.md §10)", () => {
  it("docs/autotask.md §10 past the threshold the emulator answers 429 with Retry-After; the client gives up after its attempts", async () => {
    const h = await startHarness({ limits: { hourlyThreshold: 4 } }, { transport: { maxAttempts: 2 } });
    try {
      for (let index = 0; index < 4; index += 1) await h.client.companies.get(1001);
      assert.equal(h.emulator.state.thresholdCount(), 4);
      await assert.rejects(() => h.client.companies.get(1001), PsaRateLimitedError);
      // The window never slides under the fixed test clock, so Retry-After is the full hour, capped at 30 s.
      assert.deepEqual(h.sleeps, [30_000]);
      const refused = await rawRequest(h.emulator, "GET", "/atservicesrest/v1.0/ThresholdInformation");
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get("retry-after"), "3600");
    } finally {
      await h.close();
    }
  });
});
