import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ReconciliationReport } from "../../src/core/reconciliation-report.ts";
import { ReportsService } from "../../src/services/reports.ts";
import { azureAutotask, JUNE_AZURE, type AzureAutotask } from "../support/azure-setup.ts";
import { monthlyAutotask } from "../support/monthly-setup.ts";
import { CONTOSO } from "../support/recon-builder.ts";
import { DIALECTS } from "../support/stores.ts";

/**
 * The report on Autotask for Azure Plan (docs/reports.md §1, §3): Contoso's June Azure lines mapped to a
 * Recurring Service contract — not synced yet, then a sync whose contract service Autotask refuses (error),
 * then written: each line's share of the month's billed price, and the contract services read back (the one
 * cspsync wrote and one added by hand for the same Autotask service).
 */
for (const dialect of DIALECTS) {
  describe(`report on Autotask: Azure statuses, price allocation and contract services read back (${dialect})`, () => {
    let s: AzureAutotask;
    let service: ReportsService;
    let invoice: string;

    before(async () => {
      s = await azureAutotask(dialect);
      service = new ReportsService({
        store: s.app.store,
        organizationId: s.app.organizationId,
        adapterFor: s.app.adapterFor,
      });
      const [row] = await s.app.store.db.selectFrom("invoices").select("invoice_number").execute();
      invoice = row!.invoice_number;
    });
    after(async () => {
      await s?.cleanup();
    });

    const azureLines = (report: ReconciliationReport) =>
      report.lines
        .filter((l) => l.motion === "azure" && l.customerTenantId === CONTOSO.id)
        .map((l) => [l.productName, l.kind, l.cost, l.billedPrice, l.notBilled, l.status, l.reason])
        .sort((a, b) => String(a).localeCompare(String(b)));

    it("mapped and not synced yet: every Azure line is not billed, with why", async () => {
      const report = await service.reconciliation({ invoice });
      assert.deepEqual(azureLines(report), [
        ["D2 v3", "credit", "-5", null, "-5", "not-yet-synced", "mapped and enabled, not synced yet"],
        ["D2 v3", "usage", "69.12", null, "69.12", "not-yet-synced", "mapped and enabled, not synced yet"],
        [
          "Tables - LRS",
          "usage",
          "0.12",
          null,
          "0.12",
          "not-yet-synced",
          "mapped and enabled, not synced yet",
        ],
      ]);
      const group = report.groups.find((g) => g.customerTenantId === CONTOSO.id && g.motion === "azure")!;
      assert.deepEqual([group.notBilled, group.byStatus], ["64.24", { "not-yet-synced": 3 }]);
    });

    it("a sync Autotask refuses: every Azure line is an error, with the refusal", async () => {
      s.emulator.server.addFaults({
        kind: "server-error",
        method: "POST",
        path: "/Services",
        status: 400,
        body: { errors: ["Simulated refusal of the contract service"] },
      });
      const run = await (await s.sync()).run("manual");
      s.emulator.server.clearFaults();
      assert.deepEqual([run.written, run.errors], [0, 1]);
      const report = await service.reconciliation({ invoice });
      const lines = report.lines.filter((l) => l.motion === "azure" && l.customerTenantId === CONTOSO.id);
      assert.deepEqual(
        lines.map((l) => [l.status, l.notBilled === l.cost]),
        [
          ["error", true],
          ["error", true],
          ["error", true],
        ],
      );
      for (const line of lines)
        assert.equal(
          line.reason,
          "the last sync reported: Autotask rejected the data (400): Simulated refusal of the contract service",
        );
    });

    it("written: each line's share of the month's price, the contract services read back, one added by hand", async () => {
      const run = await (await s.sync()).run("manual");
      assert.deepEqual([run.written, run.errors], [1, 0]);
      // By hand in Autotask: a contract service of the same Azure service, 2 units at 30 from June.
      const manual = await s.client.contractServices.create(s.recurringContractId, {
        serviceID: s.azureServiceId,
        adjustedPrice: "30",
        invoiceDescription: "Azure support added by hand",
      });
      await s.client.contractServiceAdjustments.create({
        contractID: s.recurringContractId,
        contractServiceID: manual,
        effectiveDate: "2024-06-01",
        unitChange: 2,
        adjustedUnitPrice: "30",
        adjustedUnitCost: "20",
      });

      const adapter = await s.app.adapterFor(s.connectionId);
      const records = await adapter.listAgreementRecords!(String(s.recurringContractId));
      const ref = `service:${s.azureServiceId}`;
      assert.deepEqual(
        records.map((r) => [
          r.writeKey === null ? null : "keyed",
          r.productRef,
          r.description,
          r.quantity,
          r.unitPrice,
          r.unitCost,
          r.effectiveDate,
          r.endDate,
        ]),
        [
          [
            "keyed",
            ref,
            JUNE_AZURE.description,
            "1",
            JUNE_AZURE.price,
            JUNE_AZURE.cost,
            "2024-06-01",
            "2024-06-30",
          ],
          [null, ref, "Azure support added by hand", "2", "30", "20", "2024-06-01", "2027-12-31"],
        ],
      );

      const report = await service.reconciliation({ invoice });
      // The month was written at 64.26 for a cost of 64.24; each line gets its share at that ratio, to cents.
      assert.deepEqual(azureLines(report), [
        ["D2 v3", "credit", "-5", "-5", "0", "written", "written to the PSA"],
        ["D2 v3", "usage", "69.12", "69.14", "0", "written", "written to the PSA"],
        ["Tables - LRS", "usage", "0.12", "0.12", "0", "written", "written to the PSA"],
      ]);
      const group = report.groups.find((g) => g.customerTenantId === CONTOSO.id && g.motion === "azure")!;
      assert.deepEqual(
        [group.cost, group.billedCost, group.billed, group.margin, group.notBilled],
        [JUNE_AZURE.cost, JUNE_AZURE.cost, JUNE_AZURE.price, "0.02", "0"],
      );
      assert.deepEqual(
        report.drift.map((d) => [d.kind, d.motion, d.description, d.detail]),
        [
          [
            "not-written-by-cspsync",
            "azure",
            "Azure support added by hand",
            `bills Autotask service ${s.azureServiceId} like a record cspsync wrote (2 × 30): billed twice?`,
          ],
        ],
      );
      assert.deepEqual(report.readBack.errors, []);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`report on Autotask: Seat-based Monthly unit adjustments cover their lines (${dialect})`, () => {
    it("each line is written at its adjustment's price, the contract services read back without drift", async () => {
      const s = await monthlyAutotask(dialect);
      try {
        const run = await (await s.sync()).run("manual");
        assert.deepEqual([run.written, run.errors], [5, 0]);
        const service = new ReportsService({
          store: s.app.store,
          organizationId: s.app.organizationId,
          adapterFor: s.app.adapterFor,
        });
        const [row] = await s.app.store.db.selectFrom("invoices").select("invoice_number").execute();
        const report = await service.reconciliation({ invoice: row!.invoice_number });
        assert.deepEqual(
          report.lines
            .filter((l) => l.motion === "seat-monthly")
            .map((l) => [l.productName, l.kind, l.chargeStart, l.cost, l.billedPrice, l.margin, l.status])
            .sort((a, b) => String(a).localeCompare(String(b))),
          [
            ["Exchange Online (Plan 1)", "renewal", "2024-06-01", "12", "12", "0", "written"],
            ["Microsoft 365 Business Premium", "cycle", "2024-06-01", "110", "110", "0", "written"],
            ["Microsoft 365 Business Standard", "renewal", "2024-06-01", "125", "187.5", "62.5", "written"],
            [
              "Microsoft 365 Business Standard",
              "seat-change",
              "2024-06-11",
              "41.67",
              "62.51",
              "20.84",
              "written",
            ],
            ["Visio Plan 2", "purchase", "2024-06-20", "16", "16", "0", "written"],
          ],
        );
        assert.deepEqual(report.drift, []);
        assert.deepEqual(report.readBack, { done: true, agreements: 1, errors: [] });
      } finally {
        await s.cleanup();
      }
    });
  });
}
