import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AutotaskAdapter } from "../../src/psa/autotask/adapter.ts";
import { AutotaskAzureTarget } from "../../src/psa/autotask/azure.ts";
import { AutotaskMonthlyTarget } from "../../src/psa/autotask/monthly.ts";
import { ConnectWiseAdapter } from "../../src/psa/connectwise/adapter.ts";
import { ConnectWiseAzureTarget } from "../../src/psa/connectwise/azure.ts";
import { ConnectWiseClient, type ConnectWiseClientOptions } from "../../src/psa/connectwise/client.ts";
import * as where from "../../src/psa/connectwise/conditions.ts";
import { ConnectWiseMonthlyTarget } from "../../src/psa/connectwise/monthly.ts";
import type { KeyedRecord } from "../../src/psa/port.ts";
import { findDuplicateKeys, keyedRecordSourceOf } from "../../src/services/duplicate-keys.ts";
import { startHarness as startAutotask, type Harness as AutotaskHarness } from "./autotask/helpers.ts";
import {
  CLIENT_ID,
  startHarness as startConnectWise,
  type Harness as CwHarness,
} from "./connectwise/support.ts";

/** A write key of the shape cspsync stamps (`cspsync-` + 24 hex characters), one per test case. */
function key(n: number): string {
  return `cspsync-${n.toString(16).padStart(24, "0")}`;
}

const ids = (records: readonly KeyedRecord[]) => records.map((record) => record.recordId);

describe("duplicate write keys on ConnectWise (additions: annual, Azure Plan, monthly)", () => {
  let h: CwHarness;
  let options: ConnectWiseClientOptions;
  let adapter: ConnectWiseAdapter;
  let azure: ConnectWiseAzureTarget;
  let monthly: ConnectWiseMonthlyTarget;
  let annualAgreement: number;
  let monthlyAgreement: number;

  before(async () => {
    h = await startConnectWise();
    options = {
      siteUrl: h.emulator.url,
      ...h.emulator.credentials,
      clientId: CLIENT_ID,
      transport: { sleep: async () => {}, random: () => 0.5, timeoutMs: 10_000 },
    };
    adapter = new ConnectWiseAdapter(options, { catalogMatch: "identifier" });
    azure = new ConnectWiseAzureTarget(new ConnectWiseClient(options), adapter, {
      catalogMatch: "identifier",
    });
    monthly = new ConnectWiseMonthlyTarget(new ConnectWiseClient(options), adapter);
    const [company] = await h.client.listCompanies({ conditions: where.eq("identifier", "AdventureWorks") });
    assert.ok(company);
    const agreements = await h.client.listAgreementsForCompany(company.id);
    annualAgreement = agreements.find((a) => a.name.startsWith("Microsoft CSP Annual"))!.id;
    monthlyAgreement = agreements.find((a) => a.name.startsWith("Microsoft CSP -"))!.id;
  });
  after(() => h.close());

  /** Sent through the real client, as a resumed process would: nothing checks the key first. */
  async function addition(
    agreementId: number,
    syncKey: string | undefined,
    dates: { effectiveDate: string; cancelledDate?: string } = { effectiveDate: "2024-06-01" },
  ): Promise<string> {
    const created = await h.client.createAddition(agreementId, {
      product: { identifier: "O365-E1" },
      billCustomer: "Billable",
      quantity: "3",
      ...dates,
      invoiceDescription: `line ${syncKey ?? "typed by hand"}`,
      ...(syncKey === undefined ? {} : { syncKey }),
    });
    return String(created.id);
  }

  /** Invoicing an agreement moves its next invoice date on; that is what ConnectWise shows of it. */
  function setNextInvoiceDate(agreementId: number, date: string | null): void {
    const row = h.emulator.data().tables.agreements.find((agreement) => agreement.id === agreementId);
    assert.ok(row);
    row.nextInvoiceDate = date;
  }

  const additionIds = (agreementId: number) =>
    h.emulator
      .data()
      .tables.additions.filter((row) => row.agreementId === agreementId)
      .map((row) => String(row.id));

  it("annual: lists the keyed additions of one agreement in two requests, and only cspsync's keys", async () => {
    const first = await addition(annualAgreement, key(1));
    const second = await addition(annualAgreement, key(1));
    const other = await addition(annualAgreement, key(2));
    await addition(annualAgreement, undefined);
    await addition(annualAgreement, "cspsync:v1:typed-by-hand");
    await addition(annualAgreement, "cspsync-not-a-key");
    await adapter.listKeyedRecords(String(annualAgreement)); // the client's first request finds the codebase
    const before = adapter.requestCount();
    h.emulator.server.clearRequestLog();
    const records = await adapter.listKeyedRecords(String(annualAgreement));
    assert.equal(adapter.requestCount() - before, 2);
    const query = new URL(h.emulator.server.requestLog().at(-1)!.path, h.emulator.url).searchParams;
    assert.equal(query.get("conditions"), 'serialNumber like "cspsync-*"');
    assert.equal(query.get("fields"), "id,serialNumber,effectiveDate,description,invoiceDescription,_info");
    assert.deepEqual(
      records.map(({ writeKey, recordId, billed, description }) => ({
        writeKey,
        recordId,
        billed,
        description,
      })),
      [
        { writeKey: key(1), recordId: first, billed: null, description: `line ${key(1)}` },
        { writeKey: key(1), recordId: second, billed: null, description: `line ${key(1)}` },
        { writeKey: key(2), recordId: other, billed: null, description: `line ${key(2)}` },
      ],
      "the One-Time agreement shows no next invoice date, so ConnectWise cannot say",
    );
  });

  it("annual: keeps a later copy while ConnectWise cannot say it is uninvoiced, removes it once it can", async () => {
    const [first, second] = ids(await adapter.listKeyedRecords(String(annualAgreement)));
    const everything = additionIds(annualAgreement);

    const [unsure] = await findDuplicateKeys(adapter, [String(annualAgreement)], { remove: true });
    assert.equal(unsure?.kept, first);
    assert.equal(unsure?.copies[0]?.action, "kept");
    assert.match(unsure?.copies[0]?.reason ?? "", /no next invoice date/);
    assert.match(
      unsure?.message ?? "",
      new RegExp(
        `^key ${key(1)} is on agreement ${annualAgreement} twice \\(additions ${first}, ${second}\\): kept ${first}; kept ${second}: ConnectWise shows no next invoice date`,
      ),
    );
    assert.deepEqual(additionIds(annualAgreement), everything, "nothing was deleted");

    setNextInvoiceDate(annualAgreement, "2024-01-01"); // never invoiced: the first invoice is still to come
    const findings = await findDuplicateKeys(adapter, [String(annualAgreement)], { remove: true });
    assert.deepEqual(findings, [
      {
        writeKey: key(1),
        targetId: String(annualAgreement),
        kept: first,
        copies: [{ recordId: second, action: "removed" }],
        message: `key ${key(1)} is on agreement ${annualAgreement} twice (additions ${first}, ${second}): kept ${first}, removed ${second} (not yet invoiced)`,
      },
    ]);
    assert.deepEqual(
      additionIds(annualAgreement),
      everything.filter((id) => id !== second),
      "only the later copy went; unkeyed and other-keyed additions are untouched",
    );
    assert.deepEqual(await findDuplicateKeys(adapter, [String(annualAgreement)], { remove: true }), []);
  });

  it("Azure Plan: removes two later copies of a month, and keeps a copy in an invoiced period", async () => {
    const month = { effectiveDate: "2024-06-01", cancelledDate: "2024-06-30" };
    const copies = [
      await addition(monthlyAgreement, key(3), month),
      await addition(monthlyAgreement, key(3), month),
      await addition(monthlyAgreement, key(3), month),
    ];
    const [finding] = await findDuplicateKeys(azure, [String(monthlyAgreement)], { remove: true });
    assert.equal(
      finding?.message,
      `key ${key(3)} is on agreement ${monthlyAgreement} three times (additions ${copies.join(", ")}): kept ${copies[0]}, removed ${copies[1]} and ${copies[2]} (not yet invoiced)`,
    );
    assert.deepEqual(
      (await azure.listKeyedRecords(String(monthlyAgreement)))
        .filter((r) => r.writeKey === key(3))
        .map((r) => r.recordId),
      [copies[0]],
    );

    const invoiced = [
      await addition(monthlyAgreement, key(4), month),
      await addition(monthlyAgreement, key(4), month),
    ];
    setNextInvoiceDate(monthlyAgreement, "2024-07-01"); // June has been invoiced
    try {
      const [kept] = await findDuplicateKeys(azure, [String(monthlyAgreement)], { remove: true });
      assert.deepEqual(kept?.copies, [
        {
          recordId: invoiced[1],
          action: "kept",
          reason:
            "it may already be invoiced (dated 2024-06-01, before the agreement's next invoice date 2024-07-01); check its invoices, then delete or credit it by hand",
        },
      ]);
      assert.match(
        kept?.message ?? "",
        new RegExp(`: kept ${invoiced[0]}; kept ${invoiced[1]}: it may already be invoiced`),
      );
      assert.equal(additionIds(monthlyAgreement).filter((id) => invoiced.includes(id)).length, 2);
    } finally {
      setNextInvoiceDate(monthlyAgreement, "2024-02-01");
    }
    // Once the agreement shows June as still to invoice, the copy may go.
    await findDuplicateKeys(azure, [String(monthlyAgreement)], { remove: true });
    assert.deepEqual(
      additionIds(monthlyAgreement).filter((id) => invoiced.includes(id)),
      [invoiced[0]],
    );
  });

  it("Seat-based Monthly: reports only when removal is off, looks only at the given keys, then removes", async () => {
    const segment = [await addition(monthlyAgreement, key(5)), await addition(monthlyAgreement, key(5))];
    const otherKey = [await addition(monthlyAgreement, key(6)), await addition(monthlyAgreement, key(6))];
    const source = keyedRecordSourceOf(monthly);
    assert.ok(source, "the monthly target can list and remove");

    const report = await findDuplicateKeys(source, [String(monthlyAgreement)], { remove: false });
    assert.deepEqual(
      report.map((f) => [f.writeKey, f.kept, f.copies]),
      [
        [
          key(5),
          segment[0],
          [{ recordId: segment[1], action: "kept", reason: "removal is off (not yet invoiced)" }],
        ],
        [
          key(6),
          otherKey[0],
          [{ recordId: otherKey[1], action: "kept", reason: "removal is off (not yet invoiced)" }],
        ],
      ],
    );

    const only5 = await findDuplicateKeys(source, [String(monthlyAgreement)], {
      keys: new Set([key(5)]),
      remove: true,
    });
    assert.deepEqual(
      only5.map((f) => [f.writeKey, f.copies]),
      [[key(5), [{ recordId: segment[1], action: "removed" }]]],
    );
    const left = additionIds(monthlyAgreement);
    assert.ok(!left.includes(segment[1]!));
    assert.ok(
      otherKey.every((id) => left.includes(id)),
      "the other key was not looked at",
    );
  });

  it("a target that cannot be read is reported, and the others are still checked", async () => {
    await addition(monthlyAgreement, key(7));
    await addition(monthlyAgreement, key(7));
    const findings = await findDuplicateKeys(monthly, ["999999", String(monthlyAgreement)], {
      keys: new Set([key(7)]),
      remove: true,
    });
    assert.equal(findings.length, 2);
    const [failed, found] = findings;
    assert.equal(failed?.writeKey, null);
    assert.equal(failed?.targetId, "999999");
    assert.match(
      failed?.message ?? "",
      /^could not check agreement 999999 for additions that carry a cspsync key twice: /,
    );
    assert.equal(found?.writeKey, key(7));
    assert.equal(found?.copies[0]?.action, "removed");
  });

  it("removeRecord never deletes an addition without a cspsync key, and an addition already gone counts as removed", async () => {
    const typed = await addition(monthlyAgreement, undefined);
    assert.deepEqual(await monthly.removeRecord(String(monthlyAgreement), typed), {
      kept: "it carries no cspsync key; cspsync only removes additions it wrote",
    });
    assert.ok(additionIds(monthlyAgreement).includes(typed));
    const keyed = await addition(monthlyAgreement, key(8));
    assert.equal(await monthly.removeRecord(String(monthlyAgreement), keyed), "removed");
    assert.equal(await monthly.removeRecord(String(monthlyAgreement), keyed), "removed");
  });
});

// Demo seed ids (deterministic): see emulators/autotask/seed.ts and test/psa/autotask/client-writes.test.ts.
const RECURRING_CONTRACT = 29684000; // Harborview, Recurring Service, 2024-01-01..2026-12-31
const FIXED_PRICE_CONTRACT = 29684001; // Harborview, Fixed Price; its seeded charge (no key) is billed
const SOFTWARE_CODE = 29682804; // "Software Licences"
const BP_SERVICE = 29690000; // "Microsoft 365 Business Premium"

describe("duplicate write keys on Autotask (annual charges; Azure Plan and monthly contract services)", () => {
  let h: AutotaskHarness;
  let adapter: AutotaskAdapter;
  let azure: AutotaskAzureTarget;
  let monthly: AutotaskMonthlyTarget;

  before(async () => {
    h = await startAutotask();
    adapter = new AutotaskAdapter(h.client, {});
    azure = new AutotaskAzureTarget(h.client, {});
    monthly = new AutotaskMonthlyTarget(h.client, {});
  });
  after(() => h.close());

  async function charge(idempotencyKey: string | undefined): Promise<string> {
    const id = await h.client.contractCharges.create(
      FIXED_PRICE_CONTRACT,
      {
        name: "Microsoft 365 E3 (Annual)",
        datePurchased: "2025-06-01",
        chargeType: 1,
        unitQuantity: "5",
        unitPrice: "34.55",
        billingCodeID: SOFTWARE_CODE,
        description: `charge ${idempotencyKey ?? "typed by hand"}`,
      },
      idempotencyKey === undefined ? {} : { idempotencyKey },
    );
    return String(id);
  }

  async function contractService(internalDescription: string | undefined): Promise<string> {
    const id = await h.client.contractServices.create(RECURRING_CONTRACT, {
      serviceID: BP_SERVICE,
      invoiceDescription: `service ${internalDescription ?? "typed by hand"}`,
      ...(internalDescription === undefined ? {} : { internalDescription }),
    });
    return String(id);
  }

  /** Approving and posting a period is not an API operation; the emulator's state stands in for it. */
  function postPeriods(contractServiceId: string): void {
    const { store } = h.emulator.state;
    for (const row of store.all("ContractServiceUnits")) {
      if (row.contractServiceID === Number(contractServiceId) && Number(row.units) > 0)
        store.put("ContractServiceUnits", { ...row, approveAndPostDate: "2025-06-05T00:00:00Z" });
    }
  }

  const rowIds = (entity: "ContractCharges" | "ContractServices", contractId: number) =>
    h.emulator.state
      .list(entity)
      .filter((row) => row.contractID === contractId)
      .map((row) => String(row.id));

  it("annual: lists keyed charges in one request, removes the later unbilled copy, leaves the rest", async () => {
    const first = await charge(key(11));
    const second = await charge(key(11));
    const other = await charge(key(12));
    await charge(undefined);
    const everything = rowIds("ContractCharges", FIXED_PRICE_CONTRACT);
    assert.ok(everything.length >= 5, "the seeded (billed, unkeyed) charge is there too");

    const sent = h.sent.length;
    const records = await adapter.listKeyedRecords(String(FIXED_PRICE_CONTRACT));
    assert.equal(h.sent.length - sent, 1);
    assert.deepEqual(ids(records), [first, second, other]);
    assert.deepEqual(
      records.map((r) => [r.writeKey, r.billed, r.description]),
      [
        [key(11), false, `charge ${key(11)}`],
        [key(11), false, `charge ${key(11)}`],
        [key(12), false, `charge ${key(12)}`],
      ],
    );
    assert.ok(records.every((r) => r.createdAt !== null));

    const findings = await findDuplicateKeys(adapter, [String(FIXED_PRICE_CONTRACT)], { remove: true });
    assert.deepEqual(findings, [
      {
        writeKey: key(11),
        targetId: String(FIXED_PRICE_CONTRACT),
        kept: first,
        copies: [{ recordId: second, action: "removed" }],
        message: `key ${key(11)} is on contract ${FIXED_PRICE_CONTRACT} twice (contract charges ${first}, ${second}): kept ${first}, removed ${second} (not yet invoiced)`,
      },
    ]);
    assert.deepEqual(
      rowIds("ContractCharges", FIXED_PRICE_CONTRACT),
      everything.filter((id) => id !== second),
    );
  });

  it("annual: a billed later copy is kept, with what to do", async () => {
    const first = await charge(key(13));
    const second = await charge(key(13));
    h.emulator.state.markChargeBilled(Number(second));
    const [finding] = await findDuplicateKeys(adapter, [String(FIXED_PRICE_CONTRACT)], { remove: true });
    assert.deepEqual(finding?.copies, [
      { recordId: second, action: "kept", reason: "it is already billed; credit it by hand" },
    ]);
    assert.equal(
      finding?.message,
      `key ${key(13)} is on contract ${FIXED_PRICE_CONTRACT} twice (contract charges ${first}, ${second}): kept ${first}; kept ${second}: it is already billed; credit it by hand`,
    );
    assert.ok(rowIds("ContractCharges", FIXED_PRICE_CONTRACT).includes(second));
  });

  it("Azure Plan and monthly: both list the keyed contract services; none can be deleted, billed or not", async () => {
    const first = await contractService(key(21));
    const second = await contractService(key(21));
    await contractService(undefined);
    const services = rowIds("ContractServices", RECURRING_CONTRACT);

    const sent = h.sent.length;
    const records = await azure.listKeyedRecords(String(RECURRING_CONTRACT));
    assert.equal(h.sent.length - sent, 2, "the keyed services, then their posted periods");
    assert.deepEqual(
      records.map((r) => [r.writeKey, r.recordId, r.billed, r.description]),
      [
        [key(21), first, false, `service ${key(21)}`],
        [key(21), second, false, `service ${key(21)}`],
      ],
    );
    assert.deepEqual(await monthly.listKeyedRecords(String(RECURRING_CONTRACT)), records);

    const [unbilled] = await findDuplicateKeys(azure, [String(RECURRING_CONTRACT)], { remove: true });
    assert.equal(
      unbilled?.message,
      `key ${key(21)} is on contract ${RECURRING_CONTRACT} twice (contract services ${first}, ${second}): kept ${first}; kept ${second}: Autotask's API cannot delete contract services; it is not invoiced yet, so set it to 0 units in Autotask before its next period is posted`,
    );

    await h.client.contractServiceAdjustments.create({
      contractID: RECURRING_CONTRACT,
      contractServiceID: Number(second),
      effectiveDate: "2025-05-01",
      unitChange: 1,
    });
    postPeriods(second);
    assert.deepEqual(
      (await monthly.listKeyedRecords(String(RECURRING_CONTRACT))).map((r) => r.billed),
      [false, true],
    );
    const [billed] = await findDuplicateKeys(monthly, [String(RECURRING_CONTRACT)], { remove: true });
    assert.deepEqual(billed?.copies, [
      {
        recordId: second,
        action: "kept",
        reason:
          "Autotask's API cannot delete contract services and it is already invoiced; adjust it to 0 units in Autotask and credit what it billed by hand",
      },
    ]);
    assert.deepEqual(rowIds("ContractServices", RECURRING_CONTRACT), services, "nothing was deleted");
    // Adjustments carry no key and cannot be read back, so they are out of scope here.
  });
});
