import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { addAutotaskConnection } from "../support/autotask-setup.ts";
import { startAutotaskEmulator } from "../../emulators/autotask/index.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { AdjustUnitsLine } from "../../src/core/monthly-plan.ts";
import { tenantOf, writeMonth } from "../../bench/daily-data.ts";
import { seedAutotask } from "../../bench/daily-autotask.ts";

/**
 * Seat-based Monthly on Autotask writes several entries at once, but each entry's lines one after another in
 * the order they were planned (docs/sync-behaviour.md §6.4): an adjustment builds on the contract service and
 * the units the entry's earlier lines left. Checked on what the emulator received: per contract, the
 * adjustments in the order they were stored are the entry's planned lines in plan order, while the adjustments
 * of other contracts arrived between them; no endpoint went over Autotask's 3 concurrent requests.
 */

const CUSTOMERS = 8;

for (const dialect of DIALECTS) {
  describe(`Seat-based Monthly on Autotask, entries side by side (${dialect})`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => cleanup?.());

    it("each entry's adjustments arrive in plan order while other entries' arrive between them", async () => {
      // Each request takes a while, so an entry's seven requests in a row leave time for the others'; some
      // take much longer, so a line sent before the earlier ones of its entry were answered would overtake them.
      const emulator = await startAutotaskEmulator({
        seed: "demo",
        latencyMs: 50,
        switches: { duplicateAdjustment: "same-period" },
        faults: [
          { kind: "latency", method: "POST", path: "/ContractServiceAdjustments", every: 3, latencyMs: 150 },
          {
            kind: "latency",
            method: "POST",
            path: "re:/Contracts/\\d+/Services$/i",
            every: 2,
            latencyMs: 150,
          },
        ],
      });
      const { app, cleanup: dropApp } = await createTestApp(dialect, [hostOf(emulator.url)]);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-monthly-order-"));
      cleanup = async () => {
        await dropApp();
        await emulator.close();
        fs.rmSync(dir, { recursive: true, force: true });
      };
      const month = path.join(dir, "june.csv");
      writeMonth(month, CUSTOMERS);
      assert.equal((await importReconFile(app.store, month)).status, "imported");
      const { targets, billingCodeId } = seedAutotask(emulator, CUSTOMERS);
      const connection = await addAutotaskConnection(app, emulator, billingCodeId);
      for (const [c, t] of targets) {
        await app.mappings.save(
          connection.id,
          tenantOf(c),
          "seat-monthly",
          { psaCompanyId: t.company, agreementId: t.recurring },
          null,
        );
      }

      // The dry run's plan: each entry's lines in the order the run hands them to the writers.
      const planned = await (await app.monthlySync(connection.id)).plan();
      const expected = new Map<number, string[]>();
      for (const entry of planned) {
        assert.equal(entry.problem, null);
        const lines = entry.plan.lines as unknown as AdjustUnitsLine[];
        assert.ok(
          lines.length >= 4,
          "three subscriptions, one of them with a seat change: four lines at least",
        );
        expected.set(
          Number(entry.mapping.agreementId),
          lines.map((l) => `${l.serviceKey} ${l.effectiveDate} ${l.unitChange}`),
        );
      }
      assert.equal(expected.size, CUSTOMERS);

      emulator.server.clearRequestLog();
      const run = await (await app.monthlySync(connection.id)).run("manual");
      assert.equal(run.errors, 0, JSON.stringify(run.items));
      assert.equal(run.written, [...expected.values()].flat().length);

      const keyOf = new Map(
        emulator.state.list("ContractServices").map((s) => [s.id, String(s.internalDescription)]),
      );
      // Stored in the order they arrived (ids ascending).
      const adjustments = emulator.state.list("ContractServiceAdjustments");
      const received = new Map<number, string[]>();
      const span = new Map<number, { first: number; last: number }>();
      for (const a of adjustments) {
        const contract = Number(a.contractID);
        if (!expected.has(contract)) continue;
        const seen = received.get(contract) ?? [];
        seen.push(
          `${keyOf.get(Number(a.contractServiceID))} ${String(a.effectiveDate).slice(0, 10)} ${a.unitChange}`,
        );
        received.set(contract, seen);
        const s = span.get(contract) ?? { first: a.id, last: a.id };
        span.set(contract, { first: s.first, last: a.id });
      }
      assert.deepEqual(received, expected, "every entry's adjustments, each once, in plan order");
      for (const [contract, keys] of expected) {
        const services = emulator.state
          .list("ContractServices")
          .filter((s) => Number(s.contractID) === contract);
        assert.equal(
          services.length,
          new Set(keys.map((k) => k.split(" ")[0])).size,
          "one contract service each",
        );
      }

      // The entries overlapped: at some adjustment five or more entries had adjustments both before and after
      // it. Writers waiting behind an entry's earlier lines (the writers hold six lines, an entry four) leave
      // about two entries writing at once, four at most by this count; writers taking other entries' lines, six.
      const spans = [...span.values()];
      const most = Math.max(
        ...adjustments.map((a) => spans.filter((s) => s.first <= a.id && a.id <= s.last).length),
      );
      assert.ok(most >= 5, `entries written side by side (at most ${most} at once)`);
      // The client kept each endpoint within Autotask's 3 concurrent requests: nothing was refused.
      assert.deepEqual(
        emulator.server.requestLog().filter((r) => r.status !== 200),
        [],
        "no request refused (thread limit) or failed",
      );
      assert.ok(emulator.state.maxInFlight("ContractServiceAdjustments") <= 3);
      assert.ok(emulator.state.maxInFlight("ContractServices") <= 3);
    });
  });
}
