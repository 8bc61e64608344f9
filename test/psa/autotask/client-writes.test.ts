import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AutotaskClient } from "../../../src/psa/autotask/client.ts";
import { where } from "../../../src/psa/autotask/filter.ts";
import { writeKey } from "../../../src/core/write-keys.ts";
import { CHARGE_IDEMPOTENCY_FIELD } from "../../../src/psa/autotask/idempotency.ts";
import { PsaAuthError, PsaValidationError } from "../../../src/psa/shared/errors.ts";
import { rawRequest, startHarness, TEST_NOW } from "./helpers.ts";
import type { Harness } from "./helpers.ts";

// Demo seed ids (deterministic): see emulators/autotask/seed.ts.
const RECURRING_CONTRACT = 29684000; // Harborview, Recurring Service, 2024-01-01..2026-12-31
const FIXED_PRICE_CONTRACT = 29684001; // Harborview, Fixed Price; its seeded charge is billed
const RECURRING_CODE = 29682800; // "Recurring Contract Services"
const SOFTWARE_CODE = 29682804; // "Software Licences" (General Billing Code)
const BLOCK_PURCHASE_CODE = 29682811; // "Block Hour Purchase" (System)
const BP_SERVICE = 29690000; // "Microsoft 365 Business Premium", 34.55 / 28.19
const E3_SERVICE = 29690002;

function rejectsWith(pattern: RegExp) {
  return (error: unknown) =>
    error instanceof PsaValidationError &&
    error.status === 500 &&
    error.details.some((detail) => pattern.test(detail));
}

describe("Autotask client writes against the emulator (docs/autotask.md §4.2, §6, §8)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const charge = {
    name: "Microsoft 365 E3 (Annual) - 5 seats",
    datePurchased: "2025-06-01",
    chargeType: 1,
    unitQuantity: "2.5",
    unitPrice: "34.55",
    unitCost: "28.19",
    billingCodeID: SOFTWARE_CODE,
    description: "Annual subscription 2025-06-01 to 2026-05-31",
  };

  it("docs/autotask.md §4.2 creates a contract charge on /Contracts/{id}/Charges, money as bare JSON numbers, key stamped", async () => {
    const key = writeKey(["tenant-1", "2025-06", "sub-e3", "annual"]);
    const id = await h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge, { idempotencyKey: key });
    const request = h.sent.at(-1);
    assert.equal(request?.method, "POST");
    assert.ok(request?.url.endsWith(`/V1.0/Contracts/${FIXED_PRICE_CONTRACT}/Charges`));
    assert.match(request?.body ?? "", /"unitQuantity":2\.5,"unitPrice":34\.55,"unitCost":28\.19/);
    assert.match(request?.body ?? "", new RegExp(`"${CHARGE_IDEMPOTENCY_FIELD}":"${key}"`));
    const stored = await h.client.contractCharges.get(id);
    assert.equal(stored?.contractID, FIXED_PRICE_CONTRACT);
    assert.equal(stored?.billableAmount, "86.375"); // docs/autotask.md §8.3 quantity × price, exact
    assert.equal(stored?.extendedCost, "70.475");
    assert.equal(stored?.isBilled, false);
    assert.equal((await h.client.contractCharges.findByIdempotencyKey(key))?.id, id);
  });

  it("docs/autotask.md §4.2 a POST to /ContractCharges directly is refused with 405, as the real API", async () => {
    const response = await rawRequest(h.emulator, "POST", "/atservicesrest/v1.0/ContractCharges", {
      ...charge,
      contractID: FIXED_PRICE_CONTRACT,
    });
    assert.equal(response.status, 405);
  });

  it("docs/autotask.md §8.3 rounds quantity, price and cost to 4 decimals", async () => {
    const id = await h.client.contractCharges.create(FIXED_PRICE_CONTRACT, {
      ...charge,
      unitQuantity: "1",
      unitPrice: "0.846202666",
    });
    assert.equal((await h.client.contractCharges.get(id))?.unitPrice, "0.8462");
  });

  it("docs/autotask.md §8.3 a charge needs a productID or a billingCodeID", async () => {
    const { billingCodeID: _omitted, ...withoutCode } = charge;
    await assert.rejects(
      () => h.client.contractCharges.create(FIXED_PRICE_CONTRACT, withoutCode),
      rejectsWith(/productID or a billingCodeID/),
    );
  });

  it("docs/autotask.md §8.3 required fields and references are checked", async () => {
    await assert.rejects(
      () => h.client.contractCharges.create(FIXED_PRICE_CONTRACT, { ...charge, name: " " }),
      rejectsWith(/^Missing Required Field: name$/),
    );
    await assert.rejects(
      () => h.client.contractCharges.create(424242, charge),
      rejectsWith(/Reference value on field: contractID of type: Contract does not exist or is invalid\./),
    );
    const missingDate = await rawRequest(
      h.emulator,
      "POST",
      `/atservicesrest/v1.0/Contracts/${FIXED_PRICE_CONTRACT}/Charges`,
      {
        name: "x",
        chargeType: 1,
        unitQuantity: 1,
        billingCodeID: SOFTWARE_CODE,
      },
    );
    assert.deepEqual(missingDate, {
      status: 500,
      body: { errors: ["Missing Required Field: datePurchased"] },
      headers: missingDate.headers,
    });
  });

  it("docs/autotask.md §8.3 updates and deletes an unbilled charge through the contract's child URL", async () => {
    const id = await h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge);
    await h.client.contractCharges.update(FIXED_PRICE_CONTRACT, id, { unitQuantity: "3" });
    const patch = h.sent.at(-1);
    assert.equal(patch?.method, "PATCH");
    assert.ok(patch?.url.endsWith(`/Contracts/${FIXED_PRICE_CONTRACT}/Charges`));
    assert.match(patch?.body ?? "", new RegExp(`"id":${id}`));
    assert.equal((await h.client.contractCharges.get(id))?.billableAmount, "103.65");
    await h.client.contractCharges.delete(FIXED_PRICE_CONTRACT, id);
    assert.equal(await h.client.contractCharges.get(id), null);
  });

  it("docs/autotask.md §8.3 a billed charge can be neither updated nor deleted", async () => {
    const id = await h.client.contractCharges.create(FIXED_PRICE_CONTRACT, charge);
    h.emulator.state.markChargeBilled(id);
    await assert.rejects(
      () => h.client.contractCharges.update(FIXED_PRICE_CONTRACT, id, { unitQuantity: "1" }),
      rejectsWith(/has been billed/),
    );
    await assert.rejects(
      () => h.client.contractCharges.delete(FIXED_PRICE_CONTRACT, id),
      rejectsWith(/has been billed/),
    );
  });

  it("docs/autotask.md §8.3 Block Hours contracts take charges only with a purchase billing code", async () => {
    const [block] = await h.client.contracts.queryAll([where.eq("contractType", 4)]);
    assert.ok(block);
    await assert.rejects(
      () => h.client.contractCharges.create(block.id, charge),
      rejectsWith(/purchase billing code/),
    );
    const id = await h.client.contractCharges.create(block.id, {
      ...charge,
      billingCodeID: BLOCK_PURCHASE_CODE,
    });
    assert.ok(id > 0);
  });

  it("docs/autotask.md §8.2 creates a contract, and extending endDate by PATCH extends its service periods", async () => {
    const id = await h.client.contracts.create({
      companyID: 1005,
      contractName: "CSP Microsoft Annual Commit Monthly",
      contractNumber: "CSP-ANN-MO-TEST",
      contractType: 7,
      status: 1,
      startDate: "2025-01-01",
      endDate: "2025-03-31",
      contractPeriodType: 2,
      timeReportingRequiresStartAndStopTimes: 0,
    });
    const created = await h.client.contracts.get(id);
    // docs/autotask.md §3 date-like fields come back without a zone
    assert.equal(created?.startDate, "2025-01-01T00:00:00");
    await h.client.contractServices.create(id, { serviceID: BP_SERVICE });
    const periods = async () =>
      (await h.client.contractServiceUnits.queryAll([where.eq("contractID", id)])).map(
        (unit) => unit.startDate,
      );
    assert.equal((await periods()).length, 3);
    await h.client.contracts.update(id, { endDate: "2025-06-30" });
    assert.equal(h.sent.at(-1)?.method, "PATCH");
    assert.ok(h.sent.at(-1)?.url.endsWith("/V1.0/Contracts"));
    assert.equal((await periods()).length, 6);
  });

  it("docs/autotask.md §8.2 contractType cannot be changed after create", async () => {
    const response = await rawRequest(h.emulator, "PATCH", "/atservicesrest/v1.0/Contracts", {
      id: FIXED_PRICE_CONTRACT,
      contractType: 7,
    });
    assert.equal(response.status, 500);
    assert.match(JSON.stringify(response.body), /contractType cannot be changed/);
  });

  it("docs/autotask.md §8.2 a Recurring Service contract needs contractPeriodType; endDate not before startDate", async () => {
    const base = {
      companyID: 1005,
      contractName: "No period",
      contractType: 7,
      status: 1,
      startDate: "2025-01-01",
      endDate: "2025-12-31",
      timeReportingRequiresStartAndStopTimes: 0,
    };
    await assert.rejects(() => h.client.contracts.create(base), rejectsWith(/contractPeriodType/));
    await assert.rejects(
      () => h.client.contracts.create({ ...base, contractType: 3, endDate: "2024-12-31" }),
      rejectsWith(/endDate must be on or after/),
    );
    await assert.rejects(
      () => h.client.contracts.create({ ...base, contractType: 2, contractPeriodType: 2 }),
      rejectsWith(/not a valid picklist value for field contractType/),
    );
  });

  it("docs/autotask.md §4.2 contracts cannot be deleted", async () => {
    const response = await rawRequest(
      h.emulator,
      "DELETE",
      `/atservicesrest/v1.0/Contracts/${RECURRING_CONTRACT}`,
    );
    assert.equal(response.status, 405);
  });

  it("docs/autotask.md §8.4 contract services: child URL, Recurring Service only, prices read as internalCurrency*", async () => {
    await assert.rejects(
      () => h.client.contractServices.create(FIXED_PRICE_CONTRACT, { serviceID: E3_SERVICE }),
      rejectsWith(/only be added to Recurring Service contracts/),
    );
    const id = await h.client.contractServices.create(RECURRING_CONTRACT, {
      serviceID: E3_SERVICE,
      adjustedPrice: "47.25",
      invoiceDescription: "Microsoft 365 E3 - sub 2F295B21",
    });
    assert.ok(h.sent.at(-1)?.url.endsWith(`/Contracts/${RECURRING_CONTRACT}/Services`));
    const stored = await h.client.contractServices.get(id);
    assert.equal(stored?.unitPrice, "50.4"); // from the Service
    assert.equal(stored?.internalCurrencyAdjustedPrice, "47.25");
    // docs/autotask.md §8.4 write-only
    assert.equal((stored as Record<string, unknown> | null)?.adjustedPrice, undefined);
    await h.client.contractServices.update(RECURRING_CONTRACT, id, { invoiceDescription: "E3 (renamed)" });
    assert.equal((await h.client.contractServices.get(id))?.invoiceDescription, "E3 (renamed)");
    const disallowed = await rawRequest(
      h.emulator,
      "PATCH",
      `/atservicesrest/v1.0/Contracts/${RECURRING_CONTRACT}/Services`,
      {
        id,
        internalDescription: "changed",
      },
    );
    assert.equal(disallowed.status, 500);
    assert.match(JSON.stringify(disallowed.body), /Only adjustedPrice and invoiceDescription/);
  });

  it("docs/autotask.md §8.5 adjustments set units as deltas and rebuild the service-unit periods", async () => {
    const contractId = await h.client.contracts.create({
      companyID: 1007,
      contractName: "Adjustment test",
      contractType: 7,
      status: 1,
      startDate: "2025-01-01",
      endDate: "2025-12-31",
      contractPeriodType: 2,
      timeReportingRequiresStartAndStopTimes: 0,
    });
    // docs/autotask.md §8.5: no contract service yet: the adjustment creates it.
    await h.client.contractServiceAdjustments.create({
      contractID: contractId,
      serviceID: BP_SERVICE,
      unitChange: 259,
      effectiveDate: "2025-01-01",
      adjustedUnitPrice: "34.55",
    });
    assert.ok(h.sent.at(-1)?.url.endsWith("/V1.0/ContractServiceAdjustments"));
    const [service] = await h.client.contractServices.queryAll([where.eq("contractID", contractId)]);
    assert.equal(service?.serviceID, BP_SERVICE);
    await h.client.contractServiceAdjustments.create({
      contractID: contractId,
      serviceID: BP_SERVICE,
      unitChange: -9,
      effectiveDate: "2025-06-10",
    });
    // A price-only change: unitChange 0 plus adjustedUnitPrice.
    await h.client.contractServiceAdjustments.create({
      contractID: contractId,
      contractServiceID: service?.id ?? 0,
      unitChange: 0,
      effectiveDate: "2025-07-01",
      adjustedUnitPrice: "36",
    });
    const units = await h.client.contractServiceUnits.queryAll([
      where.eq("contractServiceID", service?.id ?? 0),
    ]);
    const today = TEST_NOW.toISOString().slice(0, 10);
    const current = units.filter((unit) => unit.startDate.slice(0, 10) <= today).at(-1);
    assert.deepEqual(
      { start: current?.startDate, end: current?.endDate, units: current?.units, price: current?.price },
      { start: "2025-06-10T00:00:00", end: "2025-06-30T00:00:00", units: 250, price: "34.55" },
    );
    const july = units.find((unit) => unit.startDate === "2025-07-01T00:00:00");
    assert.deepEqual({ units: july?.units, price: july?.price }, { units: 250, price: "36" });
    assert.equal(
      (await h.client.contractServices.get(service?.id ?? 0))?.internalCurrencyAdjustedPrice,
      "36",
    );
  });

  it("docs/autotask.md §8.5 effectiveDate must fall inside the contract; a second adjustment on the same day collides", async () => {
    const adjustment = { contractID: RECURRING_CONTRACT, serviceID: BP_SERVICE, unitChange: 1 };
    await assert.rejects(
      () => h.client.contractServiceAdjustments.create({ ...adjustment, effectiveDate: "2027-01-01" }),
      rejectsWith(/^effectiveDate must be between the start date and end date of the Contract$/),
    );
    await h.client.contractServiceAdjustments.create({ ...adjustment, effectiveDate: "2025-05-05" });
    await assert.rejects(
      () => h.client.contractServiceAdjustments.create({ ...adjustment, effectiveDate: "2025-05-05" }),
      rejectsWith(/^Attempt to insert duplicate data into contract_service_period$/),
    );
  });

  it("docs/autotask.md §8.5 adjustments are create-only: no query", async () => {
    const response = await rawRequest(
      h.emulator,
      "POST",
      "/atservicesrest/v1.0/ContractServiceAdjustments/query",
      {
        filter: [{ op: "exist", field: "id" }],
      },
    );
    assert.equal(response.status, 405);
  });

  it("docs/autotask.md §8.7 services: unique name (IX_service), recurring billing code, 100-character name", async () => {
    const service = {
      name: "Microsoft Entra ID P1",
      billingCodeID: RECURRING_CODE,
      periodType: 2,
      unitPrice: "6.5",
    };
    const id = await h.client.services.create({ ...service, sku: "CFQ7TTC0LFK5:0001", unitCost: "5.1" });
    assert.equal((await h.client.services.get(id))?.sku, "CFQ7TTC0LFK5:0001");
    await assert.rejects(
      () => h.client.services.create({ ...service, name: "microsoft entra id p1" }),
      rejectsWith(/Violation of UNIQUE KEY constraint 'IX_service'/),
    );
    await assert.rejects(
      () => h.client.services.update(BP_SERVICE, { name: "Microsoft Entra ID P1" }),
      rejectsWith(/IX_service/),
    );
    await assert.rejects(
      () => h.client.services.create({ ...service, name: "Other", billingCodeID: SOFTWARE_CODE }),
      rejectsWith(/Recurring Contract Service billing code/),
    );
    await assert.rejects(
      () => h.client.services.create({ ...service, name: "x".repeat(101) }),
      rejectsWith(/exceeds the maximum length of 100/),
    );
    await h.client.services.update(id, { unitPrice: "6.75" });
    assert.equal((await h.client.services.get(id))?.unitPrice, "6.75");
  });

  it("docs/autotask.md §6 PUT is a full replace: writable fields left out become null", async () => {
    const id = await h.client.services.create({
      name: "PUT test",
      billingCodeID: RECURRING_CODE,
      periodType: 2,
      unitPrice: "1",
      description: "will be cleared",
    });
    const response = await rawRequest(h.emulator, "PUT", "/atservicesrest/v1.0/Services", {
      id,
      Name: "PUT test",
      BillingCodeID: RECURRING_CODE,
      PeriodType: 2,
      UnitPrice: 2,
    });
    assert.deepEqual(response.body, { itemId: id });
    const stored = await h.client.services.get(id);
    assert.equal(stored?.description, null);
    assert.equal(stored?.unitPrice, "2");
  });

  it("docs/autotask.md §3 wrong JSON types are rejected with JSON.NET's message", async () => {
    const response = await rawRequest(h.emulator, "PATCH", "/atservicesrest/v1.0/Contracts", {
      id: RECURRING_CONTRACT,
      status: true,
    });
    assert.equal(response.status, 500);
    assert.match(JSON.stringify(response.body), /Unexpected character encountered while parsing value: t/);
  });

  it("docs/autotask.md §8.9 products: create and update", async () => {
    const id = await h.client.products.create({
      name: "Microsoft Copilot (Annual)",
      productBillingCodeID: SOFTWARE_CODE,
      isActive: true,
      isSerialized: false,
      sku: "CFQ7TTC0MM8R:0002:P1Y",
      unitPrice: "432",
      unitCost: "360",
      periodType: 5,
    });
    await h.client.products.update(id, { unitPrice: "420" });
    const product = await h.client.products.get(id);
    assert.equal(product?.unitPrice, "420");
    assert.equal(product?.markupRate, "0.1667");
    const [found] = await h.client.products.queryAll([where.eq("sku", "CFQ7TTC0MM8R:0002:P1Y")]);
    assert.equal(found?.id, id);
  });

  it("docs/autotask.md §8.9 products: missing required fields are named; a System billing code is refused by default", async () => {
    const raw = await rawRequest(h.emulator, "POST", "/atservicesrest/v1.0/Products", {
      name: "No flags",
      productBillingCodeID: SOFTWARE_CODE,
    });
    assert.deepEqual(raw, {
      status: 500,
      body: { errors: ["Missing Required Field: isActive", "Missing Required Field: isSerialized"] },
      headers: raw.headers,
    });
    const product = { name: "P", isActive: true, isSerialized: false };
    await assert.rejects(
      () => h.client.products.create({ ...product, productBillingCodeID: BLOCK_PURCHASE_CODE }),
      rejectsWith(/^productBillingCodeID must reference an active billing code that is not a System code\.$/),
    );
    await assert.rejects(
      () => h.client.products.create({ ...product, productBillingCodeID: 1 }),
      rejectsWith(/Reference value on field: productBillingCodeID of type: BillingCode does not exist/),
    );
  });
});

describe("Autotask emulator: which billing codes products take is a switch (docs/autotask.md §8.8, undocumented)", () => {
  const product = { name: "P", isActive: true, isSerialized: false };
  it("'general' takes only General Billing Codes; 'any' takes any existing code", async () => {
    const general = await startHarness({ switches: { productBillingCodes: "general" } });
    try {
      await assert.rejects(
        () => general.client.products.create({ ...product, productBillingCodeID: RECURRING_CODE }),
        rejectsWith(/General Billing Code/),
      );
      assert.ok(
        (await general.client.products.create({ ...product, productBillingCodeID: SOFTWARE_CODE })) > 0,
      );
    } finally {
      await general.close();
    }
    const any = await startHarness({ switches: { productBillingCodes: "any" } });
    try {
      assert.ok(
        (await any.client.products.create({ ...product, productBillingCodeID: BLOCK_PURCHASE_CODE })) > 0,
      );
    } finally {
      await any.close();
    }
  });
});

describe("Autotask emulator switches and security levels (docs/autotask.md §8, §12)", () => {
  it("rejects charges on inactive or expired contracts when switched on", async () => {
    const h = await startHarness({ switches: { chargesOnInactiveContracts: "reject" } });
    try {
      const [expired] = await h.client.contracts.queryAll([where.lt("endDate", "2025-01-01")]);
      assert.ok(expired);
      await assert.rejects(
        () =>
          h.client.contractCharges.create(expired.id, {
            name: "late",
            datePurchased: "2025-06-01",
            chargeType: 1,
            unitQuantity: "1",
            billingCodeID: SOFTWARE_CODE,
          }),
        rejectsWith(/inactive or expired/),
      );
    } finally {
      await h.close();
    }
  });

  it("docs/autotask.md §8.5 'same-period' duplicate detection when switched", async () => {
    const h = await startHarness({ switches: { duplicateAdjustment: "same-period" } });
    try {
      const adjustment = { contractID: RECURRING_CONTRACT, serviceID: BP_SERVICE, unitChange: 1 };
      await h.client.contractServiceAdjustments.create({ ...adjustment, effectiveDate: "2025-05-05" });
      await assert.rejects(
        () => h.client.contractServiceAdjustments.create({ ...adjustment, effectiveDate: "2025-05-20" }),
        rejectsWith(/contract_service_period/),
      );
    } finally {
      await h.close();
    }
  });

  it("docs/autotask.md §6.4, §7.1 a read-only security level cannot write: PsaAuthError 'adequate permissions'", async () => {
    const readOnly = {
      userName: "viewer@cspsync-demo.example",
      secret: "viewer-secret",
      integrationCode: "VIEW",
      resourceId: 29682887,
      access: "read-only" as const,
    };
    const h = await startHarness({ users: [readOnly] });
    try {
      const client = new AutotaskClient({
        credentials: readOnly,
        discoveryBaseUrl: h.emulator.apiBaseUrl,
        quota: false,
      });
      assert.equal((await client.contracts.get(RECURRING_CONTRACT))?.id, RECURRING_CONTRACT);
      await assert.rejects(
        () => client.contracts.update(RECURRING_CONTRACT, { description: "x" }),
        (error: unknown) => error instanceof PsaAuthError && /adequate permissions/.test(error.message),
      );
    } finally {
      await h.close();
    }
  });
});
