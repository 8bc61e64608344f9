import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { PsaHttpError, PsaOutcomeUnknownError, PsaRateLimitedError } from "../../../src/psa/shared/errors.ts";
import * as where from "../../../src/psa/connectwise/conditions.ts";
import type { NewAddition } from "../../../src/psa/connectwise/client.ts";
import { sendLookingBeforeRetrying } from "../../../src/psa/shared/write-once.ts";
import type { Harness } from "./support.ts";
import { API, rawRequest, startHarness } from "./support.ts";

describe("ConnectWise client under injected faults (docs/connectwise.md §7.3, §11)", () => {
  let harness: Harness;
  let agreementId: number;
  before(async () => {
    harness = await startHarness();
    const [company] = await harness.client.listCompanies({
      conditions: where.eq("identifier", "WoodgroveCPA"),
    });
    const [monthly] = await harness.client.listAgreementsForCompany(company!.id);
    agreementId = monthly!.id;
  });
  afterEach(() => {
    harness.emulator.server.clearFaults();
    harness.sleeps.length = 0;
  });
  after(() => harness.close());

  const addition = (syncKey: string): NewAddition & { syncKey: string } => ({
    product: { identifier: "M365-BASIC" },
    billCustomer: "Billable",
    quantity: "10",
    effectiveDate: "2025-03-01",
    syncKey,
  });
  const additionsWithKey = (syncKey: string) =>
    harness.emulator.data().tables.additions.filter((row) => row.serialNumber === syncKey);
  /** A create sent the way the syncs send one (write-once.ts): after an unknown outcome, looked up by its key. */
  const writeOnce = (syncKey: string) =>
    sendLookingBeforeRetrying({
      noun: "addition",
      send: () => harness.client.createAddition(agreementId, addition(syncKey)),
      find: async () => (await harness.client.findAdditionsBySyncKey(agreementId, syncKey))[0],
    });
  const additionRequests = () =>
    harness.emulator.server
      .requestLog()
      .filter((entry) => entry.path.includes("/additions"))
      .map((entry) => `${entry.method} ${entry.status}`);
  const statusesFor = (fragment: string) =>
    harness.emulator.server
      .requestLog()
      .filter((entry) => entry.path.includes(fragment))
      .map((entry) => entry.status);

  it("docs/connectwise.md §7.3 429 carries Retry-After and the ConnectWiseAPI body", async () => {
    harness.emulator.server.addFaults({
      kind: "rate-limit",
      path: "system/info",
      times: 1,
      retryAfterSeconds: 30,
    });
    const response = await rawRequest(harness.emulator, "GET", `${API}/system/info`);
    assert.equal(response.status, 429);
    assert.equal(response.headers.get("retry-after"), "30");
    assert.deepEqual(response.body, {
      error: "ConnectWiseAPI",
      message: "Too many requests. Please try again in 30 seconds.",
    });
  });

  it("docs/connectwise.md §7.3 the client waits for Retry-After on 429 and then succeeds", async () => {
    await harness.client.discoverCodebase();
    harness.emulator.server.clearRequestLog();
    harness.emulator.server.addFaults({
      kind: "rate-limit",
      path: "system/info",
      times: 2,
      retryAfterSeconds: 7,
    });
    const info = await harness.client.getSystemInfo();
    assert.ok(info.version);
    assert.deepEqual(harness.sleeps, [7000, 7000]);
    assert.deepEqual(statusesFor("/system/info"), [429, 429, 200]);
  });

  it("docs/connectwise.md §7.3 a throttled POST is resent, because the server refused it, and is created once", async () => {
    harness.emulator.server.addFaults({
      kind: "rate-limit",
      method: "POST",
      path: "/additions",
      times: 1,
      retryAfterSeconds: 2,
    });
    const created = await harness.client.createAddition(agreementId, addition("cspsync:fault-429-post"));
    assert.equal(created.serialNumber, "cspsync:fault-429-post");
    assert.deepEqual(harness.sleeps, [2000]);
    assert.equal(additionsWithKey("cspsync:fault-429-post").length, 1);
  });

  it("docs/connectwise.md §7.3 when throttling outlasts every attempt the error is PsaRateLimitedError", async () => {
    const client = harness.newClient({ transport: { maxAttempts: 3 } });
    await client.discoverCodebase();
    harness.emulator.server.addFaults({ kind: "rate-limit", path: "system/info", retryAfterSeconds: 1 });
    await assert.rejects(client.getSystemInfo(), (error: unknown) => {
      assert.ok(error instanceof PsaRateLimitedError);
      assert.equal(error.status, 429);
      assert.match(error.message, /Too many requests/);
      return true;
    });
    assert.deepEqual(harness.sleeps, [1000, 1000]);
  });

  it("docs/connectwise.md §7.1 a 5xx on a read is retried with capped exponential backoff", async () => {
    await harness.client.discoverCodebase();
    harness.emulator.server.clearRequestLog();
    harness.emulator.server.addFaults({
      kind: "server-error",
      status: 500,
      path: "finance/billingCycles",
      times: 2,
    });
    const cycles = await harness.client.listBillingCycles();
    assert.equal(cycles.length, 4);
    // random() is pinned to 0.5: half of 250 ms, then half of 500 ms.
    assert.deepEqual(harness.sleeps, [125, 250]);
    assert.deepEqual(statusesFor("/finance/billingCycles"), [500, 500, 200]);
  });

  it("docs/connectwise.md §7.1 a 500 on a create is not retried (it may have been applied) and is a PsaHttpError", async () => {
    harness.emulator.server.addFaults({
      kind: "server-error",
      status: 500,
      method: "POST",
      path: "/additions",
      times: 1,
    });
    await assert.rejects(
      harness.client.createAddition(agreementId, addition("cspsync:fault-500")),
      (error: unknown) => {
        assert.ok(error instanceof PsaHttpError);
        assert.equal(error.status, 500);
        return true;
      },
    );
    assert.deepEqual(harness.sleeps, []);
  });

  it("docs/connectwise.md §7.1 a 503 on a create is an unknown outcome; the write looks its key up, finds nothing and sends once more: one addition", async () => {
    harness.emulator.server.addFaults({
      kind: "server-error",
      status: 503,
      method: "POST",
      path: "/additions",
      times: 1,
    });
    harness.emulator.server.clearRequestLog();
    const created = await writeOnce("cspsync:fault-503");
    assert.equal(created.serialNumber, "cspsync:fault-503");
    assert.equal(additionsWithKey("cspsync:fault-503").length, 1);
    assert.deepEqual(additionRequests(), ["POST 503", "GET 200", "POST 201"]);
  });

  it("docs/connectwise.md §11 a dropped connection on a read is retried transparently", async () => {
    await harness.client.discoverCodebase();
    harness.emulator.server.clearRequestLog();
    harness.emulator.server.addFaults({
      kind: "drop-connection",
      path: "finance/agreements/types",
      times: 1,
    });
    const types = await harness.client.listAgreementTypes();
    assert.equal(types.length, 4);
    assert.deepEqual(statusesFor("/finance/agreements/types"), ["dropped", 200]);
  });

  it("docs/connectwise.md §11 a dropped connection on a create is an unknown outcome, and nothing was committed", async () => {
    harness.emulator.server.addFaults({
      kind: "drop-connection",
      method: "POST",
      path: "/additions",
      times: 1,
    });
    await assert.rejects(
      harness.client.createAddition(agreementId, addition("cspsync:fault-drop")),
      PsaOutcomeUnknownError,
    );
    assert.deepEqual(await harness.client.findAdditionsBySyncKey(agreementId, "cspsync:fault-drop"), []);
  });

  it("docs/connectwise.md §11 a lost response on a create: outcome unknown, then the stamped key finds the committed record", async () => {
    harness.emulator.server.addFaults({
      kind: "lose-response",
      method: "POST",
      path: "/additions",
      times: 1,
    });
    await assert.rejects(
      harness.client.createAddition(agreementId, addition("cspsync:fault-lost")),
      (error: unknown) => {
        assert.ok(error instanceof PsaOutcomeUnknownError);
        assert.match(error.message, /may have been applied/);
        return true;
      },
    );
    const [found, ...others] = await harness.client.findAdditionsBySyncKey(agreementId, "cspsync:fault-lost");
    assert.equal(others.length, 0);
    assert.equal(found?.quantity, "10");
    assert.deepEqual(harness.sleeps, [], "a lost create is never resent blindly");
  });

  it("docs/connectwise.md §11 a write whose response was lost returns the committed record, found by its key, and is not sent again", async () => {
    harness.emulator.server.addFaults({
      kind: "lose-response",
      method: "POST",
      path: "/additions",
      times: 1,
    });
    harness.emulator.server.clearRequestLog();
    const result = await writeOnce("cspsync:fault-recover");
    assert.equal(result.serialNumber, "cspsync:fault-recover");
    assert.equal(result.id, additionsWithKey("cspsync:fault-recover")[0]?.id);
    assert.equal(additionsWithKey("cspsync:fault-recover").length, 1);
    assert.deepEqual(additionRequests(), ["POST lost", "GET 200"]);
  });

  it("docs/connectwise.md §11 a lost response on a PATCH is an unknown outcome; reading back shows it applied", async () => {
    const created = await harness.client.createAddition(agreementId, addition("cspsync:fault-patch"));
    harness.emulator.server.addFaults({
      kind: "lose-response",
      method: "PATCH",
      path: "/additions",
      times: 1,
    });
    await assert.rejects(
      harness.client.updateAddition(agreementId, created.id, { quantity: "12" }),
      PsaOutcomeUnknownError,
    );
    assert.equal((await harness.client.getAddition(agreementId, created.id)).quantity, "12");
  });
});
