import { PsaHttpError, PsaNotFoundError } from "../shared/errors.ts";
import { isWriteKey, WRITE_KEY_PREFIX } from "../../core/write-keys.ts";
import type {
  AgreementRecord,
  KeyedRecord,
  KeyedRecordNames,
  KeyedRecordSource,
  RemoveOutcome,
} from "../port.ts";
import { ADDITION_SYNC_KEY_FIELD, type ConnectWiseClient } from "./client.ts";
import * as where from "./conditions.ts";
import type { Addition } from "./schemas.ts";

/** Enough of an addition to say which key it carries, when it starts and what it is. */
const KEYED_ADDITION_FIELDS = [
  "id",
  ADDITION_SYNC_KEY_FIELD,
  "effectiveDate",
  "description",
  "invoiceDescription",
  "_info",
] as const;

export const CONNECTWISE_KEYED_RECORD_NAMES: KeyedRecordNames = {
  target: "agreement",
  records: "additions",
};

/**
 * The additions cspsync wrote to one agreement, found by the key in `serialNumber`. Every motion writes
 * additions on ConnectWise (annual lines, Azure months, monthly segments), so the three share this.
 *
 * An addition has no field saying it was invoiced: it reaches invoices when its agreement is invoiced, and
 * invoicing moves the agreement's `nextInvoiceDate` on. So an addition dated on or after that date is on no
 * invoice yet and may be deleted; one dated earlier may already be on one (it is kept), and when the
 * agreement shows no next invoice date nothing can be told (kept too). The creation time is `_info.dateEntered`
 * where ConnectWise gives one; otherwise the ids tell the order.
 */
export class ConnectWiseKeyedRecords implements KeyedRecordSource {
  readonly keyedRecordNames = CONNECTWISE_KEYED_RECORD_NAMES;
  private readonly client: ConnectWiseClient;

  constructor(client: ConnectWiseClient) {
    this.client = client;
  }

  /** Two requests (the agreement, then its keyed additions, 1000 a page). */
  async listKeyedRecords(targetId: string): Promise<KeyedRecord[]> {
    const agreementId = Number(targetId);
    const agreement = await this.client.getAgreement(agreementId);
    const additions = await this.client.listAdditions(agreementId, {
      conditions: where.startsWith(ADDITION_SYNC_KEY_FIELD, WRITE_KEY_PREFIX),
      fields: KEYED_ADDITION_FIELDS,
      orderBy: "id asc",
    });
    return additions.flatMap((addition) => {
      const writeKey = addition.serialNumber;
      if (!isWriteKey(writeKey)) return [];
      return [
        {
          writeKey,
          recordId: String(addition.id),
          billed: invoiceState(addition, agreement.nextInvoiceDate).billed,
          createdAt: addition._info?.dateEntered ?? null,
          description: addition.invoiceDescription ?? addition.description ?? "",
        },
      ];
    });
  }

  /**
   * Every addition on the agreement, keyed or not (the reconciliation report's read-back, docs/reports.md
   * §3): the same additions list, without the key condition, 1000 a page. Read only.
   */
  async listAgreementRecords(targetId: string): Promise<AgreementRecord[]> {
    const additions = await this.client.listAdditions(Number(targetId), { orderBy: "id asc" });
    return additions.map((addition) => ({
      recordId: String(addition.id),
      writeKey: isWriteKey(addition.serialNumber) ? addition.serialNumber : null,
      productRef: addition.product ? String(addition.product.id) : null,
      productLabel: addition.product?.identifier ?? addition.product?.name ?? null,
      description: addition.invoiceDescription ?? addition.description ?? "",
      quantity: addition.quantity,
      unitPrice: addition.unitPrice,
      unitCost: addition.unitCost,
      effectiveDate: addition.effectiveDate?.slice(0, 10) ?? null,
      endDate: addition.cancelledDate?.slice(0, 10) ?? null,
    }));
  }

  /** Three requests: the addition and its agreement are read again right before the delete. */
  async removeRecord(targetId: string, recordId: string): Promise<RemoveOutcome> {
    const agreementId = Number(targetId);
    const additionId = Number(recordId);
    if (!Number.isSafeInteger(additionId) || additionId < 1)
      return { kept: `"${recordId}" is not a ConnectWise addition id` };
    let addition: Addition;
    try {
      addition = await this.client.getAddition(agreementId, additionId);
    } catch (error) {
      if (error instanceof PsaNotFoundError) return "removed"; // already gone from the agreement
      throw error;
    }
    if (!isWriteKey(addition.serialNumber))
      return { kept: "it carries no cspsync key; cspsync only removes additions it wrote" };
    const agreement = await this.client.getAgreement(agreementId);
    const state = invoiceState(addition, agreement.nextInvoiceDate);
    if (state.billed !== false) return { kept: state.why };
    try {
      await this.client.deleteAddition(agreementId, additionId);
    } catch (error) {
      if (error instanceof PsaNotFoundError) return "removed";
      if (error instanceof PsaHttpError && error.status !== undefined && error.status < 500)
        return { kept: `ConnectWise refused to delete it (${error.message})` };
      throw error;
    }
    return "removed";
  }
}

/** What the agreement's invoicing says about an addition; `billed` is never true, ConnectWise cannot say. */
function invoiceState(
  addition: Pick<Addition, "effectiveDate">,
  nextInvoiceDate: string | null,
): { billed: false } | { billed: null; why: string } {
  const next = nextInvoiceDate?.slice(0, 10);
  const effective = addition.effectiveDate?.slice(0, 10);
  if (!next)
    return {
      billed: null,
      why: "ConnectWise shows no next invoice date for the agreement, so it may already be invoiced; check its invoices, then delete or credit it by hand",
    };
  if (effective && effective >= next) return { billed: false };
  return {
    billed: null,
    why: `it may already be invoiced (dated ${effective ?? "without a date"}, before the agreement's next invoice date ${next}); check its invoices, then delete or credit it by hand`,
  };
}
