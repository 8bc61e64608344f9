import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RunAlreadyActiveError } from "../../src/services/monthly-sync.ts";
import { IN_DOUBT_MS } from "../../src/services/sync-bookkeeping.ts";
import { DIALECTS } from "../support/stores.ts";
import { MONTHLY_SUBS } from "../support/monthly-data.ts";
import { units, UNITS_AFTER_JULY, UNITS_AFTER_JUNE } from "../support/monthly-expect.ts";
import { monthlyAutotask, type MonthlyAutotask } from "../support/monthly-setup.ts";
import { errorsOf, killDuringWrite, runStatuses, syncAfterKill, waitFor } from "../support/recovery.ts";

/**
 * The Seat-based Monthly sync into Autotask under faults and restarts. Unit adjustments are deltas that
 * cannot be queried (docs/autotask.md §8.5), so a lost or orphaned one can only be recognised in the
 * ContractServiceUnits it rewrote (§8.6): whatever fails, is lost or is killed, the contract ends billing
 * exactly the seats of the data, and a re-run writes nothing.
 */
const ADJUSTMENTS = "re:/ContractServiceAdjustments$/i";
/** Contract services are created through the contract's child URL (docs/autotask.md §8.4). */
const SERVICE_CREATE = String.raw`re:/\/Contracts\/\d+\/Services\/?$/i`;
const UNIT_QUERY = "re:/ContractServiceUnits/query$/i";

type Setup = MonthlyAutotask;
type Units = Record<string, string[]>;

const sync = (s: Setup, now?: () => Date) =>
  s.app.monthlySync(s.connectionId, now ? { now } : {}).then((m) => m.run("manual"));

function writesSent(s: Setup) {
  return s.emulator.server.requestLog().filter((r) => r.method !== "GET" && !/\/query/i.test(r.path));
}

/** The contract bills exactly these units, one contract service per subscription, and a re-run writes nothing. */
async function assertExact(s: Setup, expected: Units) {
  assert.deepEqual(await units(s), expected);
  const { contractServices } = s.client;
  const ours = await contractServices.queryAll([contractServices.where.eq("contractID", s.contractId)]);
  assert.equal(ours.length, Object.keys(expected).length, "one contract service per subscription");
  s.emulator.server.clearFaults();
  s.emulator.server.clearRequestLog();
  const rerun = await sync(s);
  assert.deepEqual([rerun.status, rerun.items.length], ["no-change", 0], JSON.stringify(rerun.items));
  assert.deepEqual(writesSent(s), [], "a re-run sent no write");
}

for (const dialect of DIALECTS) {
  describe(`Seat-based Monthly sync into Autotask under faults and restarts (${dialect})`, () => {
    let s: Setup;
    afterEach(async () => s?.cleanup());

    it("a process killed while a unit adjustment is in flight, then new runs: exact units, nothing adjusted twice", async () => {
      s = await monthlyAutotask(dialect);
      await killDuringWrite(s, "AT", "seat-monthly", {
        kind: "latency",
        method: "POST",
        path: ADJUSTMENTS,
        nth: [3],
        latencyMs: 1500,
      });
      const recovery = await syncAfterKill(s.app, s.connectionId, "seat-monthly");
      assert.deepEqual(await runStatuses(s.app), ["abandoned", ...recovery.map((r) => r.status)]);
      assert.equal(
        recovery.reduce((sum, r) => sum + r.written, 0),
        2,
        "the two adjustments the killed run never reached are written, the orphaned one is not repeated",
      );
      await assertExact(s, UNITS_AFTER_JUNE);
    });

    it("a process killed while July's adjustment of a running subscription is in flight: exact units", async () => {
      s = await monthlyAutotask(dialect);
      assert.equal((await sync(s)).errors, 0);
      await s.importJuly();
      await killDuringWrite(s, "AT", "seat-monthly", {
        kind: "latency",
        method: "POST",
        path: ADJUSTMENTS,
        nth: [2],
        latencyMs: 1500,
      });
      const recovery = await syncAfterKill(s.app, s.connectionId, "seat-monthly");
      assert.equal(recovery.at(-1)!.errors, 0, errorsOf(recovery.at(-1)!));
      await assertExact(s, UNITS_AFTER_JULY);
    });

    it("a process killed while a contract service is being created: one contract service, exact units", async () => {
      s = await monthlyAutotask(dialect);
      await killDuringWrite(s, "AT", "seat-monthly", {
        kind: "latency",
        method: "POST",
        path: SERVICE_CREATE,
        nth: [2],
        latencyMs: 1500,
      });
      const recovery = await syncAfterKill(s.app, s.connectionId, "seat-monthly");
      assert.equal(recovery.at(-1)!.errors, 0, errorsOf(recovery.at(-1)!));
      await assertExact(s, UNITS_AFTER_JUNE);
    });

    it("429 bursts, thread limits, 5xx, dropped connections and lost responses over two months: exact, and a re-run writes nothing", async () => {
      s = await monthlyAutotask(dialect);
      s.emulator.addFaults([
        { kind: "rate-limit", every: 3, times: 6, retryAfterSeconds: 1 },
        { kind: "thread-limit", method: "POST", path: "/query", every: 4, times: 3 },
        { kind: "server-error", status: 503, method: "POST", path: ADJUSTMENTS, nth: [1, 2] },
        { kind: "server-error", status: 502, method: "POST", path: SERVICE_CREATE, nth: [2] },
        { kind: "lose-response", method: "POST", path: SERVICE_CREATE, nth: [4] },
        { kind: "server-error", status: 503, method: "GET", nth: [2] },
        { kind: "drop-connection", method: "POST", path: ADJUSTMENTS, nth: [5] },
        { kind: "lose-response", method: "POST", path: ADJUSTMENTS, every: 3 },
      ]);
      const june = await sync(s);
      assert.deepEqual([june.written, june.errors], [5, 0], errorsOf(june));
      assert.deepEqual(await units(s), UNITS_AFTER_JUNE);
      await s.importJuly();
      const july = await sync(s);
      assert.deepEqual([july.written, july.errors], [5, 0], errorsOf(july));
      for (const fault of s.emulator.server.faults())
        assert.ok(
          fault.fired > 0,
          `fault ${fault.kind} ${fault.method ?? ""} ${fault.path ?? ""} was injected`,
        );
      await assertExact(s, UNITS_AFTER_JULY);
    });

    it("a contract-service create that outlasts the request timeout and lands later: left in doubt, never created twice", async () => {
      s = await monthlyAutotask(dialect);
      // Longer than the 5 s request timeout: Autotask still creates it after cspsync gave up on the request.
      s.emulator.addFaults([
        { kind: "latency", method: "POST", path: SERVICE_CREATE, nth: [1], latencyMs: 5_600 },
      ]);
      const june = await sync(s);
      await waitFor("the slow create was committed", () =>
        s.emulator.server.requestLog().some((r) => r.fault === "latency" && r.write),
      );
      // Standard's second adjustment needs the contract service the first one was creating: it waits too,
      // instead of creating a second contract service.
      const deferred = june.items.filter((i) => i.outcome === "error");
      assert.deepEqual(
        deferred.map((i) => i.eventKey),
        [`monthly:${MONTHLY_SUBS.standard}:2024-06-01`, `monthly:${MONTHLY_SUBS.standard}:2024-07-01`],
        errorsOf(june),
      );
      assert.match(
        deferred[0]!.message ?? "",
        /^the write of this change timed out and may still reach the PSA/,
      );
      assert.match(
        deferred[1]!.message ?? "",
        /^not written: it builds on an earlier change of this subscription/,
      );
      const later = await sync(s, () => new Date(Date.now() + IN_DOUBT_MS));
      assert.equal(later.errors, 0, errorsOf(later));
      await assertExact(s, UNITS_AFTER_JUNE);
    });

    it("two syncs started at once: one runs, the other is refused by the database", async () => {
      s = await monthlyAutotask(dialect);
      s.emulator.server.setLatency(20);
      const syncs = [await s.app.monthlySync(s.connectionId), await s.app.monthlySync(s.connectionId)];
      const results = await Promise.allSettled(syncs.map((m) => m.run("manual")));
      const refused = results.filter((r) => r.status === "rejected");
      assert.equal(refused.length, 1);
      assert.ok((refused[0] as PromiseRejectedResult).reason instanceof RunAlreadyActiveError);
      // June moves a change to the next period, which the run reports as a warning.
      assert.deepEqual(await runStatuses(s.app), ["warning"]);
      s.emulator.server.setLatency(0);
      await assertExact(s, UNITS_AFTER_JUNE);
    });

    for (const fault of ["lose-response", "drop-connection"] as const) {
      const landed = fault === "lose-response";
      it(`an adjustment ${landed ? "that lands but whose answer is lost" : "whose connection drops before it lands"}, the units unreadable after it, then restarts: exact units, nothing adjusted twice`, async () => {
        s = await monthlyAutotask(dialect);
        assert.equal((await sync(s)).errors, 0);
        await s.importJuly();
        // The reads of the plan come first; the one after the failed adjustment (the lookup) fails for good, so
        // the run cannot tell whether the adjustment landed and leaves it unconfirmed.
        s.emulator.server.clearRequestLog();
        await (await s.app.monthlySync(s.connectionId)).plan();
        const planReads = s.emulator.server
          .requestLog()
          .filter((r) => /ContractServiceUnits\/query$/i.test(r.path));
        const unreadable = { errors: ["Emulated failure reading ContractServiceUnits"] };
        s.emulator.addFaults([
          { kind: fault, method: "POST", path: ADJUSTMENTS, nth: [1] },
          {
            kind: "server-error",
            status: 500,
            method: "POST",
            path: UNIT_QUERY,
            nth: [planReads.length + 1],
            body: unreadable,
          },
        ]);
        const july = await sync(s);
        for (const f of s.emulator.server.faults()) assert.equal(f.fired, 1, `${f.kind} fired`);
        const failed = july.items.filter((i) => i.outcome === "error");
        assert.equal(failed.length, 1, errorsOf(july));
        assert.match(failed[0]!.message ?? "", /Emulated failure reading ContractServiceUnits/);
        s.emulator.server.clearFaults();

        // A restart straight away: a write that did not land may still be on its way, so it waits.
        const restart = await sync(s);
        assert.deepEqual(
          restart.items.map((i) => [i.outcome, i.writeKey]),
          landed ? [] : [["error", failed[0]!.writeKey]],
          errorsOf(restart),
        );
        const later = () => new Date(Date.now() + IN_DOUBT_MS);
        const settled = await sync(s, later);
        assert.deepEqual(
          settled.items.map((i) => [i.outcome === "warning" ? "written" : i.outcome, i.writeKey]),
          landed ? [] : [["written", failed[0]!.writeKey]],
          errorsOf(settled),
        );
        await assertExact(s, UNITS_AFTER_JULY);
      });
    }
  });
}
