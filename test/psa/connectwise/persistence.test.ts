import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startConnectWiseEmulator } from "../../../emulators/connectwise/server.ts";
import { API, NOW, rawRequest, startHarness } from "./support.ts";

describe("ConnectWise emulator state (seeds and persistence)", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-cw-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("docs/connectwise.md §11 seed demo: a dozen customers with monthly and one-time agreements, plus expired and cancelled ones, deterministically", async () => {
    const first = await startConnectWiseEmulator({ now: () => NOW });
    const second = await startConnectWiseEmulator({ now: () => NOW });
    try {
      assert.deepEqual(first.data(), second.data());
      const { tables } = first.data();
      assert.equal(tables.companies.filter((row) => row.isVendorFlag === false).length, 12);
      assert.equal(tables.agreements.length, 28);
      assert.equal(tables.agreements.filter((row) => row.cancelledFlag === true).length, 2);
      assert.equal(tables.agreements.filter((row) => typeof row.endDate === "string").length, 2);
      const oneTime = tables.billingCycles.find((row) => row.billingOptions === "NotRecurring");
      assert.equal(
        tables.agreements.filter((row) => (row.billingCycle as { id: number }).id === oneTime?.id).length,
        12,
      );
      assert.ok(tables.catalogItems.some((row) => row.vendorSku === "CFQ7TTC0LH18:0001"));
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("docs/connectwise.md §11 seed empty: only reference data", async () => {
    const emulator = await startConnectWiseEmulator({ seed: "empty" });
    try {
      const { tables } = emulator.data();
      assert.equal(tables.companies.length, 0);
      assert.equal(tables.agreements.length, 0);
      assert.equal(tables.catalogItems.length, 0);
      assert.deepEqual(
        tables.billingCycles.map((row) => row.billingOptions),
        ["Monthly", "Quarterly", "Yearly", "NotRecurring"],
      );
      assert.equal(tables.agreementTypes.length, 4);
    } finally {
      await emulator.close();
    }
  });

  it("docs/connectwise.md §11 with a data file, writes survive a restart and ids continue where they left off", async () => {
    const dataFile = path.join(dir, "connectwise.json");
    const harness = await startHarness({ dataFile });
    const created = await harness.client.createAddition(1, {
      product: { identifier: "M365-STD" },
      billCustomer: "Billable",
      quantity: "4",
      unitPrice: "15.125",
      effectiveDate: "2025-03-01",
      syncKey: "cspsync:persist-1",
    });
    await harness.close();
    assert.ok(fs.existsSync(dataFile));

    const restarted = await startHarness({ dataFile, seed: "empty" });
    try {
      const [found] = await restarted.client.findAdditionsBySyncKey(1, "cspsync:persist-1");
      assert.equal(found?.id, created.id);
      assert.equal(found?.unitPrice, "15.125");
      assert.equal(
        restarted.emulator.data().tables.companies.length,
        13,
        "the saved demo state wins over the seed option",
      );
      const next = await restarted.client.createAddition(1, {
        product: { id: 1 },
        billCustomer: "Billable",
        quantity: "1",
        effectiveDate: "2025-03-01",
      });
      assert.equal(next.id, created.id + 1);
    } finally {
      await restarted.close();
    }
  });

  it("docs/connectwise.md §11 a lost response still persists the committed write", async () => {
    const dataFile = path.join(dir, "lost.json");
    const harness = await startHarness({ dataFile });
    harness.emulator.server.addFaults({
      kind: "lose-response",
      method: "POST",
      path: "/additions",
      times: 1,
    });
    await assert.rejects(
      harness.client.createAddition(1, {
        product: { id: 1 },
        billCustomer: "Billable",
        quantity: "2",
        effectiveDate: "2025-03-01",
        syncKey: "cspsync:persist-lost",
      }),
    );
    await harness.close();
    const saved = JSON.parse(fs.readFileSync(dataFile, "utf8")) as {
      tables: { additions: Array<{ serialNumber?: string }> };
    };
    assert.equal(
      saved.tables.additions.filter((row) => row.serialNumber === "cspsync:persist-lost").length,
      1,
    );
  });

  it("docs/connectwise.md §11 reset reseeds and persists, discarding writes", async () => {
    const dataFile = path.join(dir, "reset.json");
    const harness = await startHarness({ dataFile });
    try {
      await rawRequest(harness.emulator, "PATCH", `${API}/company/companies/2`, {
        body: [{ op: "replace", path: "city", value: "Orlando" }],
      });
      await harness.emulator.reset();
      const company = await rawRequest(harness.emulator, "GET", `${API}/company/companies/2`);
      assert.equal((company.body as { city: string }).city, "Tampa");
      const saved = JSON.parse(fs.readFileSync(dataFile, "utf8")) as {
        tables: { companies: Array<{ city?: string }> };
      };
      assert.equal(saved.tables.companies[1]?.city, "Tampa");
    } finally {
      await harness.close();
    }
  });

  it("docs/connectwise.md §11 a corrupt data file fails loudly instead of starting empty", async () => {
    const dataFile = path.join(dir, "corrupt.json");
    fs.writeFileSync(dataFile, JSON.stringify({ formatVersion: 2 }));
    await assert.rejects(startConnectWiseEmulator({ dataFile }));
  });
});
