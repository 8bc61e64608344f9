import { PsaAuthError, PsaNotFoundError, PsaValidationError } from "../shared/errors.ts";
import { isWriteKey, WRITE_KEY_PREFIX } from "../../core/write-keys.ts";
import type {
  AgreementRecord,
  KeyedRecord,
  KeyedRecordNames,
  KeyedRecordSource,
  RemoveOutcome,
} from "../port.ts";
import type { AutotaskClient } from "./client.ts";
import { CHARGE_IDEMPOTENCY_FIELD } from "./idempotency.ts";

export const CHARGE_RECORD_NAMES: KeyedRecordNames = {
  target: "contract",
  records: "contract charges",
};

export const CONTRACT_SERVICE_RECORD_NAMES: KeyedRecordNames = {
  target: "contract",
  records: "contract services",
};

/**
 * The contract charges cspsync wrote to one contract (Seat-based Annual), found by the key in
 * `internalPurchaseOrderNumber`. Autotask marks a charge `isBilled` once it is invoiced and only lets an
 * unbilled charge be deleted (through the contract's child URL), so that is exactly what is removed.
 */
export class AutotaskChargeRecords implements KeyedRecordSource {
  readonly keyedRecordNames = CHARGE_RECORD_NAMES;
  private readonly client: AutotaskClient;

  constructor(client: AutotaskClient) {
    this.client = client;
  }

  /** One query (500 charges a page), only the fields needed. */
  async listKeyedRecords(targetId: string): Promise<KeyedRecord[]> {
    const charges = this.client.contractCharges;
    const found = await charges.select(
      [
        charges.where.eq("contractID", Number(targetId)),
        charges.where.beginsWith(CHARGE_IDEMPOTENCY_FIELD, WRITE_KEY_PREFIX),
      ],
      [CHARGE_IDEMPOTENCY_FIELD, "isBilled", "createDate", "name", "description"],
    );
    return found.flatMap((charge) => {
      const writeKey = charge.internalPurchaseOrderNumber;
      if (!isWriteKey(writeKey)) return [];
      return [
        {
          writeKey,
          recordId: String(charge.id),
          billed: charge.isBilled ?? null,
          createdAt: charge.createDate ?? null,
          description: charge.description ?? charge.name,
        },
      ];
    });
  }

  /**
   * Every contract charge on the contract, keyed or not (the reconciliation report's read-back,
   * docs/reports.md §3): the same query without the key condition, 500 a page. Read only.
   */
  async listAgreementRecords(targetId: string): Promise<AgreementRecord[]> {
    const charges = this.client.contractCharges;
    const found = await charges.select(
      [charges.where.eq("contractID", Number(targetId))],
      [
        CHARGE_IDEMPOTENCY_FIELD,
        "name",
        "description",
        "productID",
        "billingCodeID",
        "unitQuantity",
        "unitPrice",
        "unitCost",
        "datePurchased",
      ],
    );
    return found.map((charge) => {
      const ref = charge.productID ?? charge.billingCodeID;
      return {
        recordId: String(charge.id),
        writeKey: isWriteKey(charge.internalPurchaseOrderNumber) ? charge.internalPurchaseOrderNumber! : null,
        productRef: ref === undefined || ref === null ? null : String(ref),
        productLabel: charge.name,
        description: charge.description ?? charge.name,
        quantity: charge.unitQuantity,
        unitPrice: charge.unitPrice ?? null,
        unitCost: charge.unitCost ?? null,
        effectiveDate: charge.datePurchased.slice(0, 10),
        endDate: null,
      };
    });
  }

  /** Two requests: the charge is read again right before the delete. */
  async removeRecord(targetId: string, recordId: string): Promise<RemoveOutcome> {
    const contractId = Number(targetId);
    const chargeId = Number(recordId);
    if (!Number.isSafeInteger(chargeId) || chargeId < 1)
      return { kept: `"${recordId}" is not an Autotask contract charge id` };
    const charge = await this.client.contractCharges.get(chargeId);
    if (!charge) return "removed"; // already gone
    if (String(charge.contractID) !== targetId)
      return { kept: `it is on contract ${charge.contractID}, not ${targetId}` };
    if (!isWriteKey(charge.internalPurchaseOrderNumber))
      return { kept: "it carries no cspsync key; cspsync only removes charges it wrote" };
    if (charge.isBilled === true) return { kept: "it is already billed; credit it by hand" };
    if (charge.isBilled !== false)
      return { kept: "Autotask does not say whether it is billed; check it and delete or credit it by hand" };
    try {
      await this.client.contractCharges.delete(contractId, chargeId);
    } catch (error) {
      if (error instanceof PsaNotFoundError) return "removed";
      if (error instanceof PsaValidationError || error instanceof PsaAuthError)
        return { kept: `Autotask refused to delete it (${error.message})` };
      throw error;
    }
    return "removed";
  }
}

/**
 * The contract services cspsync wrote to one contract (Azure Plan months and Seat-based Monthly
 * subscriptions), found by the key in `internalDescription`. Autotask's API cannot delete a contract service
 * (nor query or undo the adjustments that set its units), so a later copy is always kept and the run history
 * says what to do by hand. A service counts as billed once a period with units on it has been approved and
 * posted (`approveAndPostDate` on its unit rows).
 */
export class AutotaskContractServiceRecords implements KeyedRecordSource {
  readonly keyedRecordNames = CONTRACT_SERVICE_RECORD_NAMES;
  private readonly client: AutotaskClient;

  constructor(client: AutotaskClient) {
    this.client = client;
  }

  /** One query for the keyed services, and one for posted unit rows when there are any (500 a page each). */
  async listKeyedRecords(targetId: string): Promise<KeyedRecord[]> {
    const contractId = Number(targetId);
    const services = this.client.contractServices;
    const keyed = (
      await services.select(
        [
          services.where.eq("contractID", contractId),
          services.where.beginsWith("internalDescription", WRITE_KEY_PREFIX),
        ],
        ["internalDescription", "invoiceDescription"],
      )
    ).filter((service) => isWriteKey(service.internalDescription));
    if (keyed.length === 0) return [];
    const posted = await this.postedServiceIds(contractId);
    return keyed.map((service) => ({
      writeKey: service.internalDescription as string,
      recordId: String(service.id),
      billed: posted.has(service.id),
      createdAt: null,
      description: service.invoiceDescription ?? "",
    }));
  }

  /**
   * Every contract service on the contract, keyed or not, with the units, price and cost it bills (the
   * reconciliation report's read-back, docs/reports.md §3): the services query without the key condition and
   * the contract's unit rows (docs/autotask.md §8.6), 500 a page each. A service holds no unit count itself:
   * its figures are those of its last unit row with units (an Azure month's row, or a subscription's latest
   * seat count), its dates those of its rows with units. Read only.
   */
  async listAgreementRecords(targetId: string): Promise<AgreementRecord[]> {
    const contractId = Number(targetId);
    const services = this.client.contractServices;
    const found = await services.select(
      [services.where.eq("contractID", contractId)],
      [
        "serviceID",
        "internalDescription",
        "invoiceDescription",
        "unitCost",
        "unitPrice",
        "internalCurrencyUnitPrice",
        "internalCurrencyAdjustedPrice",
      ],
    );
    if (found.length === 0) return [];
    const units = this.client.contractServiceUnits;
    const rows = await units.select(
      [units.where.eq("contractID", contractId)],
      ["contractServiceID", "startDate", "endDate", "units", "price", "cost"],
    );
    const billing = new Map<number, typeof rows>();
    for (const row of rows) {
      if (row.units <= 0) continue;
      const list = billing.get(row.contractServiceID) ?? [];
      list.push(row);
      billing.set(row.contractServiceID, list);
    }
    return found.map((service) => {
      const withUnits = (billing.get(service.id) ?? []).sort((a, b) =>
        a.startDate.localeCompare(b.startDate),
      );
      const last = withUnits.at(-1);
      // Without units (never adjusted up): the service's own price, docs/autotask.md §8.4's price quirk.
      const price = last?.price ?? service.internalCurrencyAdjustedPrice ?? service.unitPrice ?? null;
      return {
        recordId: String(service.id),
        writeKey: isWriteKey(service.internalDescription) ? service.internalDescription! : null,
        productRef: `service:${service.serviceID}`,
        productLabel: `Autotask service ${service.serviceID}`,
        description: service.invoiceDescription ?? "",
        quantity: String(last?.units ?? 0),
        unitPrice: price === null ? null : String(price),
        unitCost: last?.cost ?? service.unitCost ?? null,
        effectiveDate: withUnits[0]?.startDate.slice(0, 10) ?? null,
        endDate: last?.endDate.slice(0, 10) ?? null,
      };
    });
  }

  /** Never deletes; one query to say whether it is invoiced yet, which decides what to do by hand. */
  async removeRecord(targetId: string, recordId: string): Promise<RemoveOutcome> {
    const serviceId = Number(recordId);
    if (!Number.isSafeInteger(serviceId) || serviceId < 1)
      return { kept: `"${recordId}" is not an Autotask contract service id` };
    const billed = (await this.postedServiceIds(Number(targetId), serviceId)).has(serviceId);
    return {
      kept: billed
        ? "Autotask's API cannot delete contract services and it is already invoiced; adjust it to 0 units in Autotask and credit what it billed by hand"
        : "Autotask's API cannot delete contract services; it is not invoiced yet, so set it to 0 units in Autotask before its next period is posted",
    };
  }

  /** Contract services with a posted period that had units (only `serviceId` when given). */
  private async postedServiceIds(contractId: number, serviceId?: number): Promise<Set<number>> {
    const units = this.client.contractServiceUnits;
    const rows = await units.select(
      [
        units.where.eq("contractID", contractId),
        ...(serviceId === undefined ? [] : [units.where.eq("contractServiceID", serviceId)]),
        units.where.exist("approveAndPostDate"),
        units.where.gt("units", 0),
      ],
      ["contractServiceID"],
    );
    return new Set(rows.map((row) => row.contractServiceID));
  }
}
