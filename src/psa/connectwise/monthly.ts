import { checkTargetFor } from "../target-check.ts";
import {
  planConnectWiseMonthly,
  type ConnectWiseMonthlyLine,
  type MonthlyMapping,
  type MonthlyTimelines,
  type SyncedAddition,
} from "../../core/monthly-plan.ts";
import { monthlySkuCandidates } from "../../core/product-identity.ts";
import { WRITE_KEY_PREFIX } from "../../core/write-keys.ts";
import type {
  AdapterOptions,
  MonthlyPsaTarget,
  ProductMatch,
  PsaAdapter,
  PsaConnectionDetails,
} from "../port.ts";
import { ConnectWiseAdapter } from "./adapter.ts";
import { ConnectWiseClient } from "./client.ts";
import { connectWiseClientOptions } from "./client-options.ts";
import { CONNECTWISE_KEYED_RECORD_NAMES, ConnectWiseKeyedRecords } from "./keyed-records.ts";
import type { Addition } from "./schemas.ts";

type Prepared = { ok: true; productRef: string | null };

/**
 * Seat-based Monthly sync on ConnectWise Manage (docs/sync-behaviour.md §7, §5.1; docs/connectwise.md §9.3,
 * §10): each segment of a subscription's seat timeline is one addition on the mapped recurring
 * agreement, dated with effectiveDate / cancelledDate so ConnectWise prorates it; the open segment is the
 * subscription's one ongoing addition, whose quantity is the current seats. The segment's key travels in
 * `serialNumber` (ADDITION_SYNC_KEY_FIELD). A quantity or end that differs from the data is set back with a
 * PATCH of absolute values, which a retry can only repeat, never double.
 */
export class ConnectWiseMonthlyTarget implements MonthlyPsaTarget<ConnectWiseMonthlyLine, Prepared> {
  readonly vendor = "connectwise" as const;
  readonly writeConcurrency: number;
  /** As many entries planned at once as the annual adapter (see ConnectWiseAdapter.planConcurrency). */
  readonly planConcurrency: number;
  /** Each segment is an addition of its own. */
  readonly dependentLines = false;
  /** Every addition cspsync wrote carries its key in serialNumber and is read back by it. */
  readonly readsBackByKey = true;
  private readonly client: ConnectWiseClient;
  private readonly keyed: ConnectWiseKeyedRecords;
  readonly keyedRecordNames = CONNECTWISE_KEYED_RECORD_NAMES;
  /** Decides which agreements take monthly charges; the factory builds it on this target's client. */
  private readonly agreements: PsaAdapter;

  constructor(client: ConnectWiseClient, agreements: PsaAdapter) {
    this.client = client;
    this.keyed = new ConnectWiseKeyedRecords(client);
    this.agreements = agreements;
    this.writeConcurrency = agreements.writeConcurrency;
    this.planConcurrency = agreements.planConcurrency ?? 1;
  }

  checkMonthlyTarget(companyId: string, agreementId: string) {
    return checkTargetFor(this.agreements, "seat-monthly", companyId, agreementId);
  }

  async planMonthly(mapping: MonthlyMapping, agreementId: string | null, timelines: MonthlyTimelines) {
    const additions = agreementId ? await this.client.listAdditions(Number(agreementId)) : [];
    return planConnectWiseMonthly(
      {
        connectionId: mapping.connectionId,
        customerTenantId: mapping.customerTenantId,
        startPoint: mapping.startPoint,
        startInvoice: mapping.startInvoice,
        pricing: mapping.pricing,
      },
      timelines.timelines,
      additions.flatMap(synced),
    );
  }

  async prepareMonthly(line: ConnectWiseMonthlyLine): Promise<Prepared | { ok: false; reason: string }> {
    if (line.action === "update-addition") return { ok: true, productRef: null };
    const match: ProductMatch = await this.agreements.matchProduct(line.segment, monthlySkuCandidates);
    return match.ok ? { ok: true, productRef: match.productRef } : match;
  }

  async findMonthly(agreementId: string, line: ConnectWiseMonthlyLine) {
    if (line.action === "create-addition") {
      const [found] = await this.client.findAdditionsBySyncKey(Number(agreementId), line.writeKey);
      return found ? { recordId: String(found.id) } : null;
    }
    // An update is in place when the addition already holds the values it sets.
    const current = (await this.client.listAdditions(Number(agreementId))).find(
      (a) => String(a.id) === line.recordId,
    );
    const state = current ? synced(current)[0] : undefined;
    if (!state) return null;
    const { quantity, cancelledDate } = line.changes;
    const done =
      (quantity === undefined || Number(state.quantity) === Number(quantity)) &&
      (cancelledDate === undefined || state.cancelledDate === cancelledDate);
    return done ? { recordId: line.recordId } : null;
  }

  async writeMonthly(agreementId: string, line: ConnectWiseMonthlyLine, prepared: Prepared) {
    if (line.action === "update-addition") {
      const updated = await this.client.updateAddition(Number(agreementId), Number(line.recordId), {
        ...line.changes,
      });
      return { recordId: String(updated.id) };
    }
    const { segment } = line;
    const addition = await this.client.createAddition(Number(agreementId), {
      product: { id: Number(prepared.productRef) },
      billCustomer: "Billable",
      quantity: segment.quantity,
      unitCost: segment.unitCost,
      ...(segment.unitPrice === null ? {} : { unitPrice: segment.unitPrice }),
      effectiveDate: segment.start,
      ...(segment.end === null ? {} : { cancelledDate: segment.end }),
      description: line.description,
      invoiceDescription: line.description,
      syncKey: line.writeKey,
    });
    return { recordId: String(addition.id) };
  }

  listKeyedRecords(agreementId: string) {
    return this.keyed.listKeyedRecords(agreementId);
  }

  removeRecord(agreementId: string, recordId: string) {
    return this.keyed.removeRecord(agreementId, recordId);
  }

  /** The client's requests: the agreements adapter shares the client, so they are counted once. */
  requestCount(): number {
    return this.client.transportStats().requests;
  }
}

/** An addition cspsync wrote, as the planner compares it (others are not cspsync's to change). */
function synced(addition: Addition): SyncedAddition[] {
  const key = addition.serialNumber;
  if (!key?.startsWith(WRITE_KEY_PREFIX) || !addition.effectiveDate) return [];
  return [
    {
      recordId: String(addition.id),
      syncKey: key,
      quantity: addition.quantity ?? "0",
      effectiveDate: addition.effectiveDate.slice(0, 10),
      cancelledDate: addition.cancelledDate?.slice(0, 10) ?? null,
      lastUpdated: addition._info?.lastUpdated ?? "",
    },
  ];
}

/**
 * Builds the monthly target for a stored ConnectWise connection on one client of its own, refusing hosts that
 * are not allowed. The app builds targets through the factory's connection (factory.ts) instead.
 */
export function createConnectWiseMonthlyTarget(
  details: PsaConnectionDetails,
  options: AdapterOptions,
  today?: () => string,
): ConnectWiseMonthlyTarget {
  if (details.vendor !== "connectwise") throw new Error("not a ConnectWise connection");
  const client = new ConnectWiseClient(connectWiseClientOptions(details, options));
  return new ConnectWiseMonthlyTarget(client, new ConnectWiseAdapter(client, details.settings, today));
}
