import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import os from "node:os";
import { RunAlreadyActiveError } from "../../src/services/annual-sync.ts";
import type { PlannedLine } from "../../src/core/annual-plan.ts";
import { AutotaskAdapter } from "../../src/psa/autotask/adapter.ts";
import { AutotaskClient } from "../../src/psa/autotask/client.ts";
import { startAutotaskEmulator } from "../../emulators/autotask/index.ts";
import type { FaultRule } from "../../emulators/kit.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedAutotask, type MappedAutotask } from "../support/autotask-setup.ts";
import { errorsOf, killDuringWrite, syncAfterKill } from "../support/recovery.ts";

/**
 * The fault scenarios of annual-faults.test.ts on the Autotask emulator: Autotask has no idempotency keys
 * (docs/autotask.md §3), so every contract charge must be found again by the key in its
 * internalPurchaseOrderNumber instead of being created twice.
 */
const ANNUAL_LINES = 8;
/** Contract charge creates go through the contract's child URL (docs/autotask.md §4.2). */
const CHARGE_CREATE = String.raw`re:/\/Contracts\/\d+\/Charges\/?$/i`;

type Setup = MappedAutotask;

async function chargesOnContract(s: Setup) {
  return s.client.contractCharges.queryAll([
    s.client.contractCharges.where.eq("contractID", Number(s.contractId)),
  ]);
}

/** Every annual charge is on the contract exactly once, found by its key, and the ledger knows each one. */
async function assertExactlyOnce(s: Setup, chargesBefore: number) {
  const all = await chargesOnContract(s);
  const ours = all.filter((c) => c.internalPurchaseOrderNumber?.startsWith("cspsync-"));
  assert.equal(ours.length, ANNUAL_LINES, `expected ${ANNUAL_LINES} contract charges, found ${ours.length}`);
  assert.equal(all.length, chargesBefore + ANNUAL_LINES, "nothing else was added to the contract");
  const ledger = await s.app.store.db
    .selectFrom("psa_writes")
    .selectAll()
    .where("connection_id", "=", s.connectionId)
    .execute();
  assert.deepEqual(
    ledger.map((w) => w.status),
    Array(ANNUAL_LINES).fill("confirmed"),
  );
  for (const write of ledger) {
    const found = await s.client.contractCharges.queryAll([
      s.client.contractCharges.where.and(
        s.client.contractCharges.where.eq("contractID", Number(s.contractId)),
        s.client.contractCharges.where.eq("internalPurchaseOrderNumber", write.write_key),
      ),
    ]);
    assert.equal(found.length, 1, `exactly one charge carries ${write.write_key}`);
    assert.equal(String(found[0]!.id), write.psa_record_id, "the ledger points at that charge");
  }
}

for (const dialect of DIALECTS) {
  describe(`Seat-based Annual sync into Autotask under faults (${dialect})`, () => {
    let s: Setup;
    let chargesBefore = 0;
    afterEach(async () => s?.cleanup());

    const setUp = async () => {
      s = await mappedAutotask(dialect);
      chargesBefore = (await chargesOnContract(s)).length;
    };
    const withFaults = async (faults: FaultRule[]) => {
      await setUp();
      s.emulator.addFaults(faults);
      const run = await (await s.app.annualSync(s.connectionId)).run("manual");
      for (const fault of s.emulator.server.faults())
        assert.ok(fault.fired > 0, `fault ${fault.kind} ${fault.path ?? ""} was injected`);
      return run;
    };

    it("responses to contract-charge creates lost after Autotask committed them: looked up by key, never created twice", async () => {
      const run = await withFaults([
        { kind: "lose-response", method: "POST", path: CHARGE_CREATE, every: 2 },
      ]);
      assert.deepEqual([run.status, run.written, run.errors], ["success", ANNUAL_LINES, 0], errorsOf(run));
      await assertExactlyOnce(s, chargesBefore);
    });

    it("a burst of 429s (docs/autotask.md §10) is waited out and nothing is duplicated", async () => {
      const run = await withFaults([{ kind: "rate-limit", every: 2, times: 6, retryAfterSeconds: 1 }]);
      assert.deepEqual([run.status, run.errors], ["success", 0], errorsOf(run));
      await assertExactlyOnce(s, chargesBefore);
    });

    it("5xx on creates and queries and dropped connections: retried or looked up, exactly once", async () => {
      const run = await withFaults([
        { kind: "server-error", status: 503, method: "POST", path: CHARGE_CREATE, nth: [1, 2] },
        { kind: "server-error", status: 502, method: "POST", path: CHARGE_CREATE, nth: [4] },
        { kind: "server-error", status: 500, method: "POST", path: "/query", nth: [3] },
        { kind: "server-error", status: 503, method: "GET", nth: [2] },
        { kind: "drop-connection", method: "POST", path: CHARGE_CREATE, nth: [6] },
      ]);
      assert.deepEqual([run.status, run.errors], ["success", 0], errorsOf(run));
      await assertExactlyOnce(s, chargesBefore);
    });

    it("Autotask's thread-limit refusal (Itgenatr005, docs/autotask.md §9, §10) on creates and queries is retried, exactly once", async () => {
      const run = await withFaults([
        { kind: "thread-limit", method: "POST", path: CHARGE_CREATE, every: 2, times: 4 },
        { kind: "thread-limit", method: "POST", path: "/query", every: 3, times: 3 },
      ]);
      assert.deepEqual([run.status, run.errors], ["success", 0], errorsOf(run));
      const refusals = s.emulator.server.requestLog().filter((r) => r.fault === "thread-limit");
      assert.equal(refusals.length, 7);
      // The emulator answers with the tenant's thread-limit status (500 by default), not 429.
      assert.ok(refusals.every((r) => r.status === 500));
      await assertExactlyOnce(s, chargesBefore);
    });

    it("a product lookup that fails fails only its own lines; the others are written and the next run completes the rest exactly once", async () => {
      await setUp();
      // A non-retryable Autotask error (500 with an errors array, docs/autotask.md §9) on the first product
      // query.
      s.emulator.addFaults([
        {
          kind: "server-error",
          status: 500,
          method: "POST",
          path: "/Products/query",
          nth: [1],
          body: { errors: ["Emulated failure reading Products"] },
        },
      ]);
      const first = await (await s.app.annualSync(s.connectionId)).run("manual");
      const failed = first.items.filter((i) => i.outcome === "error");
      assert.equal(first.status, "error");
      assert.ok(failed.length >= 1, "the lines of the failed lookup are errors");
      assert.equal(first.written + failed.length, ANNUAL_LINES, "every other line was written");
      for (const item of failed) {
        assert.ok(item.subscriptionId, "the error sits next to its subscription");
        assert.match(item.message ?? "", /Emulated failure reading Products/);
      }
      const second = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([second.status, second.written, second.errors], ["success", failed.length, 0]);
      await assertExactlyOnce(s, chargesBefore);
    });

    it("a contract made inactive after mapping fails each pending charge next to its subscription, with zero writes", async () => {
      await setUp();
      const contract = s.emulator.state.get("Contracts", Number(s.contractId))!;
      const activeStatus = contract.status;
      contract.status = 0; // Inactive (Contracts.status picklist)
      const blocked = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([blocked.status, blocked.written, blocked.errors], ["error", 0, ANNUAL_LINES]);
      assert.equal(new Set(blocked.items.map((i) => i.eventKey)).size, ANNUAL_LINES);
      for (const item of blocked.items) {
        assert.ok(item.subscriptionId && item.writeKey);
        assert.match(item.message ?? "", /^Contoso Dental, LLC: Contract ".+" is Inactive, not active\.$/);
      }
      assert.equal(
        s.emulator.server.requestLog().filter((r) => r.write).length,
        0,
        "nothing was written to Autotask",
      );
      assert.equal(
        (await s.app.store.db.selectFrom("psa_writes").selectAll().execute()).length,
        0,
        "nothing was reserved either",
      );
      contract.status = activeStatus;
      const fixed = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([fixed.status, fixed.written], ["success", ANNUAL_LINES]);
      await assertExactlyOnce(s, chargesBefore);
    });

    it("two syncs started at once: one runs, the other is refused by the database", async () => {
      await setUp();
      s.emulator.server.setLatency(20);
      const results = await Promise.allSettled([
        (await s.app.annualSync(s.connectionId)).run("manual"),
        (await s.app.annualSync(s.connectionId)).run("manual"),
      ]);
      const refused = results.filter((r) => r.status === "rejected");
      assert.equal(refused.length, 1);
      assert.ok((refused[0] as PromiseRejectedResult).reason instanceof RunAlreadyActiveError);
      const runs = await s.app.store.db.selectFrom("sync_runs").selectAll().execute();
      assert.equal(runs.length, 1);
      await assertExactlyOnce(s, chargesBefore);
    });

    it("two syncs started at once after a run whose process died: one takes over, the other is refused", async () => {
      await setUp();
      const dead = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
      await new Promise((resolve) => dead.once("exit", resolve));
      const now = new Date().toISOString();
      await s.app.store.db
        .insertInto("sync_runs")
        .values({
          id: "00000000-0000-4000-8000-00000000dead",
          organization_id: s.app.organizationId,
          connection_id: s.connectionId,
          trigger: "cli",
          scope: JSON.stringify({ motion: "seat-annual" }),
          status: "running",
          started_at: now,
          heartbeat_at: now,
          owner: `${os.hostname()}:${dead.pid}`,
          finished_at: null,
          written: 0,
          unchanged: 0,
          warnings: 0,
          errors: 0,
          psa_requests: 0,
          message: null,
        })
        .execute();
      // Both are ready before either starts, so both find the dead run and race to take it over.
      const syncs = [await s.app.annualSync(s.connectionId), await s.app.annualSync(s.connectionId)];
      const results = await Promise.allSettled(syncs.map((sync) => sync.run("manual")));
      const refused = results.filter((r) => r.status === "rejected");
      assert.equal(refused.length, 1);
      assert.ok((refused[0] as PromiseRejectedResult).reason instanceof RunAlreadyActiveError);
      const runs = await s.app.store.db
        .selectFrom("sync_runs")
        .select("status")
        .orderBy("started_at")
        .execute();
      assert.deepEqual(runs.map((r) => r.status).sort(), ["abandoned", "success"]);
      await assertExactlyOnce(s, chargesBefore);
    });

    it("a process killed while a contract-charge create is in flight, then a new run: zero duplicates, zero missing", async () => {
      await setUp();
      // The third create stays in flight long enough to kill the process; Autotask still commits it, and the
      // next run must find it, not repeat it.
      await killDuringWrite(s, "AT", "seat-annual", {
        kind: "latency",
        method: "POST",
        path: CHARGE_CREATE,
        nth: [3],
        latencyMs: 1500,
      });
      const recovery = await syncAfterKill(s.app, s.connectionId);
      assert.ok(
        recovery[0]!.items.some((i) => i.outcome === "found-existing"),
        "the in-flight create was found, not repeated",
      );
      await assertExactlyOnce(s, chargesBefore);
      const runs = await s.app.store.db
        .selectFrom("sync_runs")
        .select(["status"])
        .orderBy("started_at")
        .execute();
      assert.deepEqual(
        runs.map((r) => r.status),
        ["abandoned", ...recovery.map((r) => (r.errors > 0 ? "error" : "success"))],
      );
      assert.equal(runs.at(-1)!.status, "success");
    });
  });
}

describe("Autotask product lookups under faults", () => {
  it("a failed product lookup is asked again on the next line, not remembered (docs/autotask.md §9)", async () => {
    const emulator = await startAutotaskEmulator({ seed: "demo" });
    try {
      const user = emulator.users[0]!;
      const client = new AutotaskClient({
        credentials: { userName: user.userName, secret: user.secret, integrationCode: user.integrationCode },
        discoveryBaseUrl: emulator.apiBaseUrl,
      });
      const adapter = new AutotaskAdapter(client, {});
      emulator.addFaults([
        {
          kind: "server-error",
          status: 500,
          method: "POST",
          path: "/Products/query",
          nth: [1],
          body: { errors: ["Emulated failure reading Products"] },
        },
      ]);
      const line = { productId: "CFQ7TTC0LCHC", skuId: "0002" } as PlannedLine;
      await assert.rejects(adapter.matchProduct(line), /Emulated failure reading Products/);
      const match = await adapter.matchProduct(line);
      assert.deepEqual(
        match.ok && match.label,
        "Microsoft 365 Business Premium (Annual)",
        "the second line of the same SKU finds its product",
      );
    } finally {
      await emulator.close();
    }
  });
});
