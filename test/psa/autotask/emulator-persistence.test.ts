import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { startAutotaskEmulator } from "../../../emulators/autotask/index.ts";
import { where } from "../../../src/psa/autotask/filter.ts";
import { writeKey } from "../../../src/core/write-keys.ts";
import { startHarness, TEST_NOW } from "./helpers.ts";

describe("Autotask emulator state (docs/autotask.md §12)", () => {
  const directory = mkdtempSync(join(tmpdir(), "cspsync-autotask-"));
  after(() => rmSync(directory, { recursive: true, force: true }));

  it("docs/autotask.md §12 persists to dataFile after each write and reloads it after a restart, without reseeding", async () => {
    const dataFile = join(directory, "autotask.json");
    const key = writeKey(["persisted"]);
    const first = await startHarness({ dataFile });
    let chargeId: number;
    try {
      chargeId = await first.client.contractCharges.create(
        29684001,
        {
          name: "Persisted charge",
          datePurchased: "2025-06-01",
          chargeType: 1,
          unitQuantity: "1.5",
          unitPrice: "0.3333",
          billingCodeID: 29682804,
        },
        { idempotencyKey: key },
      );
      await first.client.services.update(29690000, { unitPrice: "35.1" });
    } finally {
      await first.close();
    }
    assert.match(readFileSync(dataFile, "utf8"), /Persisted charge/);

    const second = await startHarness({ dataFile, seed: "empty" });
    try {
      const found = await second.client.contractCharges.findByIdempotencyKey(key);
      assert.equal(found?.id, chargeId);
      // 1.5 × 0.3333 = 0.49995, stored to 4 decimals (docs/autotask.md §8.3)
      assert.equal(found?.billableAmount, "0.5");
      assert.equal((await second.client.services.get(29690000))?.unitPrice, "35.1");
      // Ids continue after the saved ones instead of restarting.
      const nextId = await second.client.contractCharges.create(29684001, {
        name: "After restart",
        datePurchased: "2025-06-02",
        chargeType: 1,
        unitQuantity: "1",
        billingCodeID: 29682804,
      });
      assert.equal(nextId, chargeId + 1);
    } finally {
      await second.close();
    }
  });

  it("docs/autotask.md §12 demo and empty seeds are deterministic; empty holds reference data only", async () => {
    const now = () => TEST_NOW;
    const a = await startAutotaskEmulator({ now });
    const b = await startAutotaskEmulator({ now });
    const empty = await startAutotaskEmulator({ now, seed: "empty" });
    try {
      assert.deepEqual(a.state.store.toJSON(), b.state.store.toJSON());
      const companies = a.state.list("Companies").filter((row) => row.companyType === 1);
      assert.equal(companies.length, 12);
      for (const company of companies) {
        const contracts = a.state.list("Contracts").filter((row) => row.companyID === company.id);
        assert.ok(contracts.some((row) => row.contractType === 7 && row.status === 1));
        assert.ok(contracts.some((row) => row.contractType === 3));
      }
      assert.ok(a.state.list("Contracts").some((row) => row.status === 0));
      assert.ok(a.state.list("Contracts").some((row) => String(row.endDate) < "2025"));
      assert.ok(a.state.list("BillingCodes").some((row) => row.useType === 6 && row.isActive === true));
      assert.equal(empty.state.list("Companies").length, 0);
      assert.equal(empty.state.list("Contracts").length, 0);
      assert.equal(empty.state.list("BillingCodes").length, a.state.list("BillingCodes").length);
    } finally {
      await Promise.all([a.close(), b.close(), empty.close()]);
    }
  });

  it("POST /__emulator/reset reseeds the state", async () => {
    const h = await startHarness();
    try {
      const id = await h.client.services.create({
        name: "Temporary",
        billingCodeID: 29682800,
        periodType: 2,
        unitPrice: "1",
      });
      const response = await fetch(`${h.emulator.url}/__emulator/reset`, { method: "POST" });
      assert.equal(response.status, 204);
      assert.equal(await h.client.services.get(id), null);
      assert.equal((await h.client.services.queryAll([where.all()])).length, 9);
    } finally {
      await h.close();
    }
  });
});
