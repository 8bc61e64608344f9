import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FaultRule } from "../../emulators/kit.ts";
import { RunAlreadyActiveError } from "../../src/services/monthly-sync.ts";
import { IN_DOUBT_MS } from "../../src/services/sync-bookkeeping.ts";
import { DIALECTS } from "../support/stores.ts";
import type { MONTHLY_SUBS } from "../support/monthly-data.ts";
import { AFTER_JULY, AFTER_JUNE, type ExpectedSegment } from "../support/monthly-data.ts";
import { additions, expectedAdditions } from "../support/monthly-expect.ts";
import { monthlyConnectWise, type MonthlyConnectWise } from "../support/monthly-setup.ts";
import { errorsOf, killDuringWrite, runStatuses, syncAfterKill, waitFor } from "../support/recovery.ts";

/**
 * The Seat-based Monthly sync into ConnectWise under faults and restarts: whatever fails, is lost or is
 * killed, the agreement ends holding exactly the additions the billing data makes, each once, and a re-run
 * writes nothing.
 */
const ADDITIONS = String.raw`re:/\/agreements\/\d+\/additions$/`;
const ADDITION = String.raw`re:/\/agreements\/\d+\/additions\/\d+$/`;

type Setup = MonthlyConnectWise;

const sync = (s: Setup, now?: () => Date) =>
  s.app.monthlySync(s.connectionId, now ? { now } : {}).then((m) => m.run("manual"));

/** The agreement bills exactly the segments, each addition carries its own key, and a re-run writes nothing. */
async function assertExact(s: Setup, segments: ExpectedSegment[]) {
  assert.deepEqual(await additions(s), expectedAdditions(s, segments));
  const keys = (await s.client.listAdditions(s.agreementId)).map((a) => a.serialNumber);
  assert.equal(new Set(keys).size, segments.length, "no key appears twice");
  s.emulator.server.clearFaults();
  s.emulator.server.clearRequestLog();
  const rerun = await sync(s);
  assert.deepEqual([rerun.status, rerun.items.length], ["no-change", 0], JSON.stringify(rerun.items));
  assert.deepEqual(
    s.emulator.server.requestLog().filter((r) => r.method !== "GET"),
    [],
    "a re-run sent no write",
  );
}

/** The running subscriptions each have exactly one ongoing addition, at their current seats. */
async function assertOngoing(s: Setup, expected: [keyof typeof MONTHLY_SUBS, string][]) {
  const ongoing = (await s.client.listAdditions(s.agreementId)).filter((a) => !a.cancelledDate);
  assert.deepEqual(
    ongoing.map((a) => [a.product?.id, a.quantity]).sort(),
    expected.map(([sub, quantity]) => [s.catalog[sub], quantity]).sort(),
  );
}

for (const dialect of DIALECTS) {
  describe(`Seat-based Monthly sync into ConnectWise under faults and restarts (${dialect})`, () => {
    let s: Setup;
    afterEach(async () => s?.cleanup());

    it("a process killed while an addition create is in flight, then new runs: exact additions, zero duplicates", async () => {
      s = await monthlyConnectWise(dialect);
      await killDuringWrite(s, "CW", "seat-monthly", {
        kind: "latency",
        method: "POST",
        path: ADDITIONS,
        nth: [3],
        latencyMs: 1500,
      });
      // The plan reads the agreement, so the creates that landed (the orphaned one too) are not planned again.
      const landed = (await s.client.listAdditions(s.agreementId)).length;
      assert.ok(landed >= 3, "the orphaned create landed");
      const recovery = await syncAfterKill(s.app, s.connectionId, "seat-monthly");
      assert.equal(
        recovery.reduce((sum, r) => sum + r.written, 0),
        AFTER_JUNE.length - landed,
        "only the additions that had not landed were written",
      );
      assert.deepEqual(await runStatuses(s.app), ["abandoned", ...recovery.map((r) => r.status)]);
      await assertExact(s, AFTER_JUNE);
    });

    it("a process killed while the PATCH ending an addition is in flight, then new runs: exact additions", async () => {
      s = await monthlyConnectWise(dialect);
      assert.equal((await sync(s)).errors, 0);
      await s.importJuly();
      await killDuringWrite(s, "CW", "seat-monthly", {
        kind: "latency",
        method: "PATCH",
        path: ADDITION,
        nth: [1],
        latencyMs: 1500,
      });
      const recovery = await syncAfterKill(s.app, s.connectionId, "seat-monthly");
      assert.equal(recovery.at(-1)!.errors, 0, errorsOf(recovery.at(-1)!));
      await assertExact(s, AFTER_JULY);
      await assertOngoing(s, [
        ["standard", "12"],
        ["premium", "7"],
        ["teams", "4"],
      ]);
    });

    it("429 bursts, 5xx and dropped connections on writes, lost responses, over two months: exact, and a re-run writes nothing", async () => {
      s = await monthlyConnectWise(dialect);
      const faults: FaultRule[] = [
        { kind: "rate-limit", every: 2, times: 6, retryAfterSeconds: 1 },
        { kind: "server-error", status: 503, method: "POST", path: ADDITIONS, nth: [1, 2] },
        { kind: "server-error", status: 500, method: "GET", nth: [3] },
        { kind: "drop-connection", method: "POST", path: ADDITIONS, nth: [4] },
        { kind: "lose-response", method: "POST", path: ADDITIONS, every: 3 },
        { kind: "server-error", status: 502, method: "PATCH", path: ADDITION, nth: [1] },
        { kind: "drop-connection", method: "PATCH", path: ADDITION, nth: [3] },
        { kind: "lose-response", method: "PATCH", path: ADDITION, every: 2 },
      ];
      s.emulator.server.addFaults(faults);
      const june = await sync(s);
      assert.deepEqual([june.status, june.written, june.errors], ["success", 5, 0], errorsOf(june));
      assert.deepEqual(await additions(s), expectedAdditions(s, AFTER_JUNE));
      await s.importJuly();
      const july = await sync(s);
      assert.deepEqual([july.written, july.errors], [7, 0], errorsOf(july));
      for (const fault of s.emulator.server.faults())
        assert.ok(
          fault.fired > 0,
          `fault ${fault.kind} ${fault.method ?? ""} ${fault.path ?? ""} was injected`,
        );
      await assertExact(s, AFTER_JULY);
    });

    it("a create that outlasts the request timeout and lands later: left in doubt, never created twice", async () => {
      s = await monthlyConnectWise(dialect);
      // Longer than the 5 s request timeout: cspsync gives up on the request while ConnectWise still works on
      // it, so a look-up right after finds nothing, yet the addition lands a moment later.
      s.emulator.server.addFaults([
        { kind: "latency", method: "POST", path: ADDITIONS, nth: [2], latencyMs: 5_600 },
      ]);
      const june = await sync(s);
      await waitFor("the slow create was committed", () =>
        s.emulator.server.requestLog().some((r) => r.fault === "latency" && r.write),
      );
      const keys = (await s.client.listAdditions(s.agreementId)).map((a) => a.serialNumber);
      assert.equal(new Set(keys).size, keys.length, `no key appears twice: ${keys.join(", ")}`);
      const deferred = june.items.filter((i) => i.outcome === "error");
      assert.equal(deferred.length, 1, errorsOf(june));
      assert.match(deferred[0]!.message ?? "", /may still reach the PSA/);
      const later = await sync(s, () => new Date(Date.now() + IN_DOUBT_MS));
      assert.equal(later.errors, 0, errorsOf(later));
      await assertExact(s, AFTER_JUNE);
    });

    it("two syncs started at once: one runs, the other is refused by the database", async () => {
      s = await monthlyConnectWise(dialect);
      s.emulator.server.setLatency(20);
      const syncs = [await s.app.monthlySync(s.connectionId), await s.app.monthlySync(s.connectionId)];
      const results = await Promise.allSettled(syncs.map((m) => m.run("manual")));
      const refused = results.filter((r) => r.status === "rejected");
      assert.equal(refused.length, 1);
      assert.ok((refused[0] as PromiseRejectedResult).reason instanceof RunAlreadyActiveError);
      assert.deepEqual(await runStatuses(s.app), ["success"]);
      s.emulator.server.setLatency(0);
      await assertExact(s, AFTER_JUNE);
    });

    it("a PATCH ending the ongoing addition whose answer is lost, a manual edit, then a re-run: one ongoing addition per subscription", async () => {
      s = await monthlyConnectWise(dialect);
      assert.equal((await sync(s)).errors, 0);
      await s.importJuly();
      // The PATCH ending standard's 15-seat addition lands, its answer is lost, and so is the lookup after it:
      // the run cannot tell, and leaves the write unconfirmed.
      const ended = (await s.client.listAdditions(s.agreementId)).find(
        (a) => a.product?.id === s.catalog.standard && a.quantity === "15",
      )!;
      s.emulator.server.addFaults([
        {
          kind: "lose-response",
          method: "PATCH",
          path: `/agreements/${s.agreementId}/additions/${ended.id}`,
        },
        { kind: "server-error", status: 503, method: "GET", path: ADDITIONS, nth: [2, 3, 4, 5, 6, 7] },
      ]);
      const july = await sync(s);
      assert.ok(july.errors >= 1, "the unconfirmed PATCH is reported");
      s.emulator.server.clearFaults();
      // Someone edits the addition in ConnectWise before the next run: more seats, and no end any more.
      await s.client.updateAddition(s.agreementId, ended.id, { quantity: "18", cancelledDate: null });
      const standardOngoing = async () =>
        (await s.client.listAdditions(s.agreementId)).filter(
          (a) => a.product?.id === s.catalog.standard && !a.cancelledDate,
        ).length;
      assert.equal(await standardOngoing(), 2, "the edit left two ongoing additions for standard");
      const later = () => new Date(Date.now() + IN_DOUBT_MS);
      const rerun = await sync(s, later);
      assert.equal(rerun.errors, 0, errorsOf(rerun));
      assert.ok(
        rerun.items.some((i) =>
          i.message?.includes("had quantity 18 in ConnectWise; set back to the billed 15"),
        ),
        JSON.stringify(rerun.items.map((i) => i.message)),
      );
      await assertExact(s, AFTER_JULY);
      await assertOngoing(s, [
        ["standard", "12"],
        ["premium", "7"],
        ["teams", "4"],
      ]);
    });
  });
}
