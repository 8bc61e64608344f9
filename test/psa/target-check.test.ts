import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { PsaAgreement } from "../../src/psa/port.ts";
import { checkTargetFor } from "../../src/psa/target-check.ts";

const recurring: PsaAgreement = {
  id: "7",
  name: "Microsoft CSP",
  companyId: "3",
  type: "Recurring",
  billingCycle: "Monthly",
  startDate: "2024-01-01",
  endDate: null,
  status: "Active",
  validFor: {
    "seat-monthly": { ok: true },
    azure: { ok: true },
    "seat-annual": { ok: false, reason: "Seat-based Annual needs a One-Time agreement." },
  },
};

function agreementsOf(vendor: "connectwise" | "autotask") {
  return {
    vendor,
    listAgreements: async (companyId: string) => (companyId === "3" ? [recurring] : []),
  };
}

describe("checkTargetFor: the recurring motions' target check", () => {
  it("accepts an agreement valid for the motion and returns it", async () => {
    assert.deepEqual(await checkTargetFor(agreementsOf("connectwise"), "azure", "3", "7"), {
      ok: true,
      agreement: recurring,
    });
  });

  it("passes the adapter's reason on for a motion the agreement cannot take", async () => {
    assert.deepEqual(await checkTargetFor(agreementsOf("autotask"), "seat-annual", "3", "7"), {
      ok: false,
      reason: "Seat-based Annual needs a One-Time agreement.",
    });
  });

  it("names the missing agreement/contract in each vendor's words", async () => {
    assert.deepEqual(await checkTargetFor(agreementsOf("connectwise"), "seat-monthly", "4", "7"), {
      ok: false,
      reason: "ConnectWise agreement 7 was not found for this company; it may have been deleted or moved.",
    });
    assert.deepEqual(await checkTargetFor(agreementsOf("autotask"), "seat-monthly", "3", "8"), {
      ok: false,
      reason: "Autotask contract 8 was not found for this company; it may have been deleted.",
    });
  });
});
