import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";
import { mappedAutotask, type MappedAutotask } from "../support/autotask-setup.ts";

/**
 * Defence in depth: a key that ends up on two PSA records (a frozen process that woke up between counting an
 * attempt and sending it) is found by the daily check, reported as an error naming the records, and the later
 * copy is removed where the PSA allows it (not yet invoiced) — the item says which.
 */
type Item = { outcome: string; writeKey: string | null; psaRecordId: string | null; message: string | null };
const duplicateItems = (items: readonly Item[]) =>
  items.filter((i) => /^key cspsync-\w+ is on |cspsync key twice/.test(i.message ?? ""));

/**
 * A key reaches the PSA twice only through two counted attempts (the woken process's, and the one sent after
 * the in-doubt wait): the ledger is left as that leaves it, since the daily check reads back only such keys.
 */
async function leaveLedgerAsTwoAttempts(app: { store: MappedAutotask["app"]["store"] }, key: string) {
  await app.store.db.updateTable("psa_writes").set({ attempts: 2 }).where("write_key", "=", key).execute();
}

for (const dialect of DIALECTS) {
  describe(`duplicate write keys in the PSA (${dialect})`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => cleanup?.());

    it("Autotask: the daily check finds a charge written twice, removes the later (unbilled) copy and says so", async () => {
      const s: MappedAutotask = await mappedAutotask(dialect);
      cleanup = s.cleanup;
      const first = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.equal(first.errors, 0, JSON.stringify(first.items));
      assert.equal(duplicateItems(first.items).length, 0, "a clean run finds nothing");
      const contractId = Number(s.contractId);
      const charges = await s.client.contractCharges.queryAll([
        s.client.contractCharges.where.eq("contractID", contractId),
      ]);
      const original = charges.find((c) => c.internalPurchaseOrderNumber?.startsWith("cspsync-"))!;
      const key = original.internalPurchaseOrderNumber!;
      // What a woken process would leave: the same charge again, under the same key.
      const copyId = await s.client.contractCharges.create(
        contractId,
        {
          name: original.name,
          datePurchased: original.datePurchased,
          chargeType: original.chargeType ?? 1,
          unitQuantity: original.unitQuantity,
          unitPrice: original.unitPrice ?? "0",
          ...(original.billingCodeID ? { billingCodeID: original.billingCodeID } : {}),
          ...(original.productID ? { productID: original.productID } : {}),
          description: original.description ?? "",
        },
        { idempotencyKey: key },
      );
      await leaveLedgerAsTwoAttempts(s.app, key);

      const check = await (await s.app.annualSync(s.connectionId)).run("schedule");
      const found = duplicateItems(check.items);
      assert.equal(found.length, 1, JSON.stringify(check.items));
      assert.equal(found[0]!.outcome, "error");
      assert.equal(found[0]!.writeKey, key);
      assert.equal(found[0]!.psaRecordId, String(original.id));
      assert.match(found[0]!.message!, new RegExp(`${original.id}.*${copyId}`));
      assert.match(found[0]!.message!, /removed/);
      assert.equal(check.status, "error");
      const after = await s.client.contractCharges.queryAll([
        s.client.contractCharges.where.eq("contractID", contractId),
      ]);
      assert.deepEqual(
        after.filter((c) => c.internalPurchaseOrderNumber === key).map((c) => c.id),
        [original.id],
      );
      const again = await (await s.app.annualSync(s.connectionId)).run("schedule");
      assert.equal(duplicateItems(again.items).length, 0);
    });

    it("ConnectWise: an addition written twice is reported naming both; a copy it may not remove is kept, with why", async () => {
      const s: MappedConnectWise = await mappedConnectWise(dialect);
      cleanup = s.cleanup;
      const first = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.equal(first.errors, 0, JSON.stringify(first.items));
      const agreementId = Number(s.agreementId);
      const [original] = await s.client.listAdditions(agreementId);
      const copy = await s.client.createAddition(agreementId, {
        product: { id: original!.product!.id },
        billCustomer: "Billable",
        quantity: String(original!.quantity),
        effectiveDate: original!.effectiveDate ?? "2024-06-01",
        syncKey: original!.serialNumber!,
      });
      await leaveLedgerAsTwoAttempts(s.app, original!.serialNumber!);
      const check = await (await s.app.annualSync(s.connectionId)).run("schedule");
      const found = duplicateItems(check.items);
      assert.equal(found.length, 1, JSON.stringify(check.items));
      assert.equal(found[0]!.outcome, "error");
      assert.match(found[0]!.message!, new RegExp(`${original!.id}.*${copy.id}`));
      assert.match(found[0]!.message!, /kept/);
      const additions = await s.client.listAdditions(agreementId);
      assert.equal(additions.filter((a) => a.serialNumber === original!.serialNumber).length, 2);
    });
  });
}
