import type { BillingMotion } from "./billing.ts";
import type { ChargeEvent, EventKind } from "./events.ts";
import { Dec, roundMoney, type DecimalString } from "./money.ts";

/**
 * The invoice reconciliation and margin report (docs/reports.md §1): every charge event of one invoice,
 * per customer × billing motion, with Microsoft's cost, what cspsync wrote to the PSA (cost and sell price),
 * the margin, and for every difference its reason — read from the mappings, the write ledger, the held
 * lines, the run items and (when read back) the PSA's own records. Pure: no I/O; amounts are decimal
 * strings, rounded to cents half away from zero only where a figure is shown.
 */

export const LINE_STATUSES = [
  "written",
  "not-billable",
  "not-mapped",
  "entry-disabled",
  "before-sync-date",
  "held",
  "error",
  "not-yet-synced",
  "deleted-in-psa",
] as const;
export type LineStatus = (typeof LINE_STATUSES)[number];

/** The statuses whose cost reached no customer invoice (leakage). */
const UNBILLED: ReadonlySet<LineStatus> = new Set([
  "not-mapped",
  "entry-disabled",
  "before-sync-date",
  "held",
  "error",
  "not-yet-synced",
  "deleted-in-psa",
]);

export type ReportMappingInput = {
  customerTenantId: string;
  motion: BillingMotion;
  agreementId: string | null;
  agreementName: string | null;
  syncDate: string | null;
  enabled: boolean;
};

export type ReportWriteInput = {
  writeKey: string;
  customerTenantId: string;
  motion: BillingMotion;
  eventKey: string;
  targetId: string;
  status: "pending" | "confirmed" | "failed";
  psaRecordId: string | null;
  lastError: string | null;
  /** The planned line as it was sent (annual PlannedLine, Azure month line, monthly segment line). */
  payload: Record<string, unknown>;
};

export type ReportHoldInput = {
  writeKey: string;
  customerTenantId: string;
  motion: BillingMotion;
  eventKey: string;
  status: "held" | "approved";
};

/** The last error a run reported for an event (e.g. no PSA product matched: nothing reached the ledger). */
export type ReportErrorInput = { customerTenantId: string; eventKey: string; message: string; at: string };

/** A record read back from the PSA (see src/psa/port.ts AgreementRecord). */
export type PsaRecordInput = {
  recordId: string;
  writeKey: string | null;
  productRef: string | null;
  productLabel: string | null;
  description: string;
  quantity: string | null;
  unitPrice: string | null;
  unitCost: string | null;
  effectiveDate: string | null;
  endDate: string | null;
};

/** What the report reads of a charge event (the repository reads only these columns). */
export type ReportEvent = Pick<
  ChargeEvent,
  | "eventKey"
  | "customerTenantId"
  | "subscriptionId"
  | "motion"
  | "billable"
  | "kind"
  | "chargeStart"
  | "chargeEnd"
  | "productId"
  | "skuId"
  | "productName"
  | "skuName"
  | "seatDelta"
  | "amount"
  | "currency"
>;

export type ReportInputs = {
  invoice: {
    invoiceNumber: string;
    currency: string;
    firstChargeDate: string | null;
    lastChargeDate: string | null;
  };
  connection: { id: string; name: string; vendor: string } | null;
  events: readonly ReportEvent[];
  customerNames: ReadonlyMap<string, string>;
  mappings: readonly ReportMappingInput[];
  writes: readonly ReportWriteInput[];
  holds: readonly ReportHoldInput[];
  errors: readonly ReportErrorInput[];
  /** The records of each mapped agreement/contract by its id; null: not read back. */
  psaRecords: ReadonlyMap<string, readonly PsaRecordInput[]> | null;
  /** Agreements/contracts that could not be read back, with why. */
  readBackErrors: ReadonlyMap<string, string>;
};

export type ReportLine = {
  eventKey: string;
  customerTenantId: string;
  customerName: string;
  motion: BillingMotion;
  subscriptionId: string;
  productKey: string;
  productName: string;
  kind: EventKind;
  chargeStart: string;
  chargeEnd: string | null;
  seats: DecimalString;
  currency: string;
  /** Microsoft's cost: the event's amount (sum of its lines' Subtotals). */
  cost: DecimalString;
  /** What cspsync wrote as cost, and the sell price the PSA bills (read back where possible). */
  billedCost: DecimalString | null;
  billedPrice: DecimalString | null;
  margin: DecimalString | null;
  /** The cost that reached no customer invoice ("0" when billed). */
  notBilled: DecimalString;
  status: LineStatus;
  reason: string;
  /** Why a written amount differs from Microsoft's or from what cspsync wrote. */
  differences: string[];
  writeKey: string | null;
  psaRecordId: string | null;
};

export type Figures = {
  cost: DecimalString;
  billedCost: DecimalString;
  billed: DecimalString;
  margin: DecimalString;
  /** Margin as a share of the billed price, in percent to two places; null when nothing was billed. */
  marginPercent: DecimalString | null;
  notBilled: DecimalString;
  lines: number;
  /** Written lines whose sell price is not known (kept by the PSA product and not read back). */
  unpricedLines: number;
  byStatus: Partial<Record<LineStatus, number>>;
};

export type ReportGroup = Figures & {
  customerTenantId: string;
  customerName: string;
  motion: BillingMotion;
  currency: string;
  agreementName: string | null;
};

export type DriftKind = "edited" | "deleted" | "not-written-by-cspsync";

export type DriftItem = {
  kind: DriftKind;
  customerTenantId: string;
  customerName: string;
  motion: BillingMotion;
  targetId: string;
  recordId: string | null;
  writeKey: string | null;
  description: string;
  detail: string;
};

export type ReconciliationReport = {
  invoice: ReportInputs["invoice"];
  connection: ReportInputs["connection"];
  totals: (Figures & { currency: string })[];
  groups: ReportGroup[];
  customers: (Figures & { customerTenantId: string; customerName: string; currency: string })[];
  products: (Figures & { productKey: string; productName: string; currency: string })[];
  lines: ReportLine[];
  drift: DriftItem[];
  readBack: { done: boolean; agreements: number; errors: { targetId: string; message: string }[] };
};

// ------------------------------------------------------------------------------------------ helpers

function str(value: unknown): string | null {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : null;
}

function money(value: Dec): DecimalString {
  return roundMoney(value);
}

function same(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return new Dec(a).equals(b);
}

class Accumulator {
  cost = new Dec(0);
  billedCost = new Dec(0);
  billed = new Dec(0);
  margin = new Dec(0);
  notBilled = new Dec(0);
  lines = 0;
  unpriced = 0;
  byStatus: Partial<Record<LineStatus, number>> = {};

  add(line: ReportLine): void {
    this.lines += 1;
    this.byStatus[line.status] = (this.byStatus[line.status] ?? 0) + 1;
    this.cost = this.cost.plus(line.cost);
    this.notBilled = this.notBilled.plus(line.notBilled);
    if (line.billedCost !== null) this.billedCost = this.billedCost.plus(line.billedCost);
    if (line.status === "written" && line.billedPrice === null) this.unpriced += 1;
    if (line.billedPrice !== null) this.billed = this.billed.plus(line.billedPrice);
    if (line.margin !== null) this.margin = this.margin.plus(line.margin);
  }

  merge(other: Accumulator): void {
    this.lines += other.lines;
    this.unpriced += other.unpriced;
    for (const [status, count] of Object.entries(other.byStatus) as [LineStatus, number][])
      this.byStatus[status] = (this.byStatus[status] ?? 0) + count;
    this.cost = this.cost.plus(other.cost);
    this.billedCost = this.billedCost.plus(other.billedCost);
    this.billed = this.billed.plus(other.billed);
    this.margin = this.margin.plus(other.margin);
    this.notBilled = this.notBilled.plus(other.notBilled);
  }

  figures(): Figures {
    return {
      cost: money(this.cost),
      billedCost: money(this.billedCost),
      billed: money(this.billed),
      margin: money(this.margin),
      marginPercent: this.billed.isZero() ? null : roundMoney(this.margin.dividedBy(this.billed).times(100)),
      notBilled: money(this.notBilled),
      lines: this.lines,
      unpricedLines: this.unpriced,
      byStatus: this.byStatus,
    };
  }
}

/**
 * One string instance per distinct value, for the strings 100,000 lines repeat (product keys, amounts,
 * reasons): the report keeps every line, and a copy per line is most of its memory (bench:report).
 */
function interner(): (value: string) => string {
  const seen = new Map<string, string>();
  return (value) => {
    const known = seen.get(value);
    if (known !== undefined) return known;
    seen.set(value, value);
    return value;
  };
}

function accumulate<K>(map: Map<K, Accumulator>, key: K): Accumulator {
  let acc = map.get(key);
  if (!acc) {
    acc = new Accumulator();
    map.set(key, acc);
  }
  return acc;
}

// ------------------------------------------------------------------------------------------ the report

type Covering = { write: ReportWriteInput; share: Dec | null };

/**
 * Seat-based Monthly: a segment's line (ConnectWise additions) covers the subscription's charges from its start
 * to its end; on Autotask a unit adjustment (`adjust-units`) covers them from its effective date until the next
 * one, when it leaves units on the contract service.
 */
function monthlyCovering(
  event: ReportEvent,
  writes: readonly ReportWriteInput[],
): ReportWriteInput | undefined {
  const segmentWrite = writes.find((w) => {
    const segment = w.payload.segment as { start?: unknown; end?: unknown } | undefined;
    if (!segment || w.payload.action !== "create-addition") return false;
    const start = str(segment.start);
    const end = str(segment.end);
    return start !== null && start <= event.chargeStart && (end === null || end >= event.chargeStart);
  });
  if (segmentWrite) return segmentWrite;
  let latest: ReportWriteInput | undefined;
  for (const w of writes) {
    if (w.payload.action !== "adjust-units") continue;
    const from = str(w.payload.effectiveDate);
    if (from === null || from > event.chargeStart) continue;
    if (!latest || from > str(latest.payload.effectiveDate)!) latest = w;
  }
  return latest && Number(latest.payload.unitsAfter) > 0 ? latest : undefined;
}

/**
 * The report built one event at a time, so a caller reading an invoice's events from the store need not hold
 * them all: `add` turns each into its line and adds it to its group's and product's sums, `finish` adds the PSA
 * records cspsync did not write and the totals. With `keepLines: false` the lines are not kept (the caller
 * streams or pages them; the report's `lines` is then empty), so memory does not grow with the invoice.
 * `sums` says which sums a caller reads: "totals" (per currency only: the trend) or "none" (a page of lines)
 * leave the per customer × motion and per product sums out, and the report's other lists empty; at 2,000
 * customers those sums were a third of what one build left for a full garbage collection (BENCHMARKS.md, serve).
 */
export function reconciliationBuilder(
  inputs: Omit<ReportInputs, "events">,
  options: { keepLines?: boolean; sums?: ReportSums } = {},
): {
  add(event: ReportEvent): ReportLine;
  /** Replaces the writes lines are matched with (the events that follow belong to these writes' customers). */
  useWrites(writes: readonly ReportWriteInput[]): void;
  finish(): ReconciliationReport;
} {
  const keepLines = options.keepLines ?? true;
  const which = options.sums ?? "all";
  const mappingOf = new Map(inputs.mappings.map((m) => [`${m.customerTenantId}|${m.motion}`, m]));
  let annualWrites = new Map<string, ReportWriteInput>();
  let azureWrites = new Map<string, ReportWriteInput>();
  let monthlyWrites = new Map<string, ReportWriteInput[]>();
  /** Per Autotask contract service (its key), the write key of its latest unit adjustment. */
  let latestAdjustment = new Map<string, ReportWriteInput>();
  const useWrites = (writes: readonly ReportWriteInput[]): void => {
    annualWrites = new Map();
    azureWrites = new Map();
    monthlyWrites = new Map();
    latestAdjustment = new Map();
    for (const write of writes) {
      const serviceKey = str(write.payload.serviceKey);
      if (write.payload.action !== "adjust-units" || serviceKey === null) continue;
      const known = latestAdjustment.get(serviceKey);
      if (!known || str(known.payload.effectiveDate)! < str(write.payload.effectiveDate)!)
        latestAdjustment.set(serviceKey, write);
    }
    for (const write of writes) {
      if (write.motion === "seat-annual")
        annualWrites.set(`${write.customerTenantId}|${write.eventKey}`, write);
      else if (write.motion === "azure") {
        const keys = Array.isArray(write.payload.eventKeys) ? (write.payload.eventKeys as unknown[]) : [];
        for (const key of keys) azureWrites.set(`${write.customerTenantId}|${String(key)}`, write);
      } else {
        const sub = str(write.payload.subscriptionId);
        if (sub === null) continue;
        const list = monthlyWrites.get(`${write.customerTenantId}|${sub}`) ?? [];
        list.push(write);
        monthlyWrites.set(`${write.customerTenantId}|${sub}`, list);
      }
    }
  };
  useWrites(inputs.writes);
  const heldKeys = new Set(inputs.holds.filter((h) => h.status === "held").map((h) => h.writeKey));
  const heldEvents = new Set(
    inputs.holds.filter((h) => h.status === "held").map((h) => `${h.customerTenantId}|${h.eventKey}`),
  );
  const lastError = new Map<string, ReportErrorInput>();
  for (const error of inputs.errors) {
    const key = `${error.customerTenantId}|${error.eventKey}`;
    const known = lastError.get(key);
    if (!known || known.at <= error.at) lastError.set(key, error);
  }
  const recordByKey = new Map<string, { targetId: string; record: PsaRecordInput }>();
  if (inputs.psaRecords)
    for (const [targetId, records] of inputs.psaRecords)
      for (const record of records)
        if (record.writeKey) recordByKey.set(record.writeKey, { targetId, record });

  const nameOf = (tenant: string) => inputs.customerNames.get(tenant) ?? tenant;
  // Kept lines share their repeated strings; lines handed on and dropped need no table of them.
  const shared = keepLines ? interner() : (value: string) => value;
  const lines: ReportLine[] = [];
  const drift: DriftItem[] = [];
  const reportedRecords = new Set<string>();
  const sums: Sums = { groups: new Map(), products: new Map(), productNames: new Map(), totals: null };
  if (which === "totals") sums.totals = new Map();
  const take = (line: ReportLine): ReportLine => {
    if (keepLines) lines.push(line);
    if (sums.totals) accumulate(sums.totals, line.currency).add(line);
    if (which !== "all") return line;
    // Summed as it goes by: the groups and products never need the lines again.
    accumulate(sums.groups, `${line.customerTenantId}|${line.motion}|${line.currency}`).add(line);
    accumulate(sums.products, `${line.productKey}|${line.currency}`).add(line);
    sums.productNames.set(line.productKey, line.productName);
    return line;
  };

  const add = (event: ReportEvent): ReportLine => {
    const mapping = mappingOf.get(`${event.customerTenantId}|${event.motion}`);
    const base = {
      eventKey: event.eventKey,
      customerTenantId: event.customerTenantId,
      customerName: nameOf(event.customerTenantId),
      motion: event.motion,
      subscriptionId: event.subscriptionId,
      productKey: shared(`${event.productId}:${event.skuId}`),
      productName: event.skuName ?? event.productName,
      kind: event.kind,
      chargeStart: event.chargeStart,
      chargeEnd: event.chargeEnd,
      seats: event.seatDelta,
      currency: event.currency,
      cost: shared(new Dec(event.amount).toFixed()),
    };
    const unbilled = (status: LineStatus, reason: string, extra: Partial<ReportLine> = {}): ReportLine => ({
      ...base,
      billedCost: null,
      billedPrice: null,
      margin: null,
      notBilled: UNBILLED.has(status) ? base.cost : "0",
      status,
      reason: shared(reason),
      differences: [],
      writeKey: null,
      psaRecordId: null,
      ...extra,
    });

    if (!event.billable) {
      return take(unbilled("not-billable", "zero-value trial: nothing to bill"));
    }
    if (!mapping || !mapping.agreementId) {
      return take(
        unbilled(
          "not-mapped",
          inputs.connection
            ? `customer not mapped for ${event.motion} on ${inputs.connection.name}`
            : "no PSA connection",
        ),
      );
    }
    if (!mapping.enabled) {
      return take(unbilled("entry-disabled", `the ${event.motion} entry is mapped but turned off`));
    }
    if (mapping.syncDate && event.chargeStart < mapping.syncDate) {
      return take(
        unbilled(
          "before-sync-date",
          `charge date ${event.chargeStart} is before the entry's sync date ${mapping.syncDate}`,
        ),
      );
    }

    let covering: Covering | null = null;
    const eventId = `${event.customerTenantId}|${event.eventKey}`;
    if (event.motion === "seat-annual") {
      const write = annualWrites.get(eventId);
      if (write) covering = { write, share: null };
    } else if (event.motion === "azure") {
      const write = azureWrites.get(eventId);
      if (write) covering = { write, share: new Dec(event.amount) };
    } else {
      const write = monthlyCovering(
        event,
        monthlyWrites.get(`${event.customerTenantId}|${event.subscriptionId}`) ?? [],
      );
      if (write) covering = { write, share: new Dec(event.amount) };
    }
    const write = covering?.write;
    if (!write || write.status !== "confirmed") {
      const held =
        (write && heldKeys.has(write.writeKey)) ||
        heldEvents.has(eventId) ||
        (event.motion === "azure" &&
          heldEvents.has(`${event.customerTenantId}|azure:${event.chargeStart.slice(0, 7)}`));
      if (held) {
        return take(
          unbilled("held", "sells below cost: held for approval", { writeKey: write?.writeKey ?? null }),
        );
      }
      if (write?.status === "failed") {
        return take(
          unbilled("error", `the write failed: ${write.lastError ?? "no message"}`, {
            writeKey: write.writeKey,
          }),
        );
      }
      // An Azure month's run item is keyed by the month (azure:YYYY-MM), not by its events.
      const error =
        lastError.get(eventId) ??
        (event.motion === "azure"
          ? lastError.get(`${event.customerTenantId}|azure:${event.chargeStart.slice(0, 7)}`)
          : undefined);
      if (error) {
        return take(unbilled("error", `the last sync reported: ${error.message}`));
      }
      return take(
        unbilled(
          "not-yet-synced",
          write?.status === "pending"
            ? "a write was started and its outcome is not confirmed yet"
            : "mapped and enabled, not synced yet",
          { writeKey: write?.writeKey ?? null },
        ),
      );
    }
    const readBack = inputs.psaRecords?.has(covering!.write.targetId) ?? false;
    const serviceKey = str(covering!.write.payload.serviceKey);
    const line = writtenLine(base, event, covering!, recordByKey, readBack, drift, reportedRecords, {
      recordKey: serviceKey ?? covering!.write.writeKey,
      // A contract service shows its latest units: only its latest adjustment's are compared with them.
      compareQuantity: serviceKey === null || latestAdjustment.get(serviceKey) === covering!.write,
    });
    line.reason = shared(line.reason);
    if (line.billedCost !== null) line.billedCost = shared(line.billedCost);
    if (line.billedPrice !== null) line.billedPrice = shared(line.billedPrice);
    if (line.margin !== null) line.margin = shared(line.margin);
    return take(line);
  };

  const finish = (): ReconciliationReport => {
    // Records on the mapped agreements that cspsync did not write, billing a product cspsync bills there.
    if (inputs.psaRecords) {
      const agreementOwner = new Map<string, ReportMappingInput>();
      for (const m of inputs.mappings) if (m.agreementId) agreementOwner.set(m.agreementId, m);
      for (const [targetId, records] of inputs.psaRecords) {
        const owner = agreementOwner.get(targetId);
        if (!owner) continue;
        const ourProducts = new Set(
          records.filter((r) => r.writeKey && r.productRef).map((r) => r.productRef),
        );
        for (const record of records) {
          if (record.writeKey || !record.productRef || !ourProducts.has(record.productRef)) continue;
          if (!inPeriod(record, inputs.invoice)) continue;
          drift.push({
            kind: "not-written-by-cspsync",
            customerTenantId: owner.customerTenantId,
            customerName: nameOf(owner.customerTenantId),
            motion: owner.motion,
            targetId,
            recordId: record.recordId,
            writeKey: null,
            description: record.description,
            detail: `bills ${record.productLabel ?? record.productRef} like a record cspsync wrote (${record.quantity ?? "?"} × ${record.unitPrice ?? "?"}): billed twice?`,
          });
        }
      }
    }

    return summarise(inputs, sums, lines, drift);
  };
  return { add, useWrites, finish };
}

export function buildReconciliationReport(inputs: ReportInputs): ReconciliationReport {
  const builder = reconciliationBuilder(inputs);
  for (const event of inputs.events) builder.add(event);
  return builder.finish();
}

function inPeriod(record: PsaRecordInput, invoice: ReportInputs["invoice"]): boolean {
  if (invoice.lastChargeDate && record.effectiveDate && record.effectiveDate > invoice.lastChargeDate)
    return false;
  if (invoice.firstChargeDate && record.endDate && record.endDate < invoice.firstChargeDate) return false;
  return true;
}

function writtenLine(
  base: Omit<
    ReportLine,
    | "billedCost"
    | "billedPrice"
    | "margin"
    | "notBilled"
    | "status"
    | "reason"
    | "differences"
    | "writeKey"
    | "psaRecordId"
  >,
  event: ReportEvent,
  covering: Covering,
  recordByKey: ReadonlyMap<string, { targetId: string; record: PsaRecordInput }>,
  readBack: boolean,
  drift: DriftItem[],
  reportedRecords: Set<string>,
  match: { recordKey: string; compareQuantity: boolean },
): ReportLine {
  const { write, share } = covering;
  const p = write.payload;
  const differences: string[] = [];
  const cost = new Dec(base.cost);
  const writtenUnitCost = str(p.unitCost);
  const writtenUnitPrice = str(p.unitPrice);
  const writtenQuantity =
    str(p.quantity) ?? str((p.segment as Record<string, unknown> | undefined)?.quantity) ?? str(p.unitsAfter);
  let billedCost: Dec;
  let billedPrice: Dec | null;
  if (share === null) {
    // Seat-based Annual: one PSA record per event; its figures are the line as written.
    billedCost = new Dec(str(p.extendedCost) ?? cost);
    billedPrice = str(p.extendedPrice) === null ? null : new Dec(str(p.extendedPrice)!);
    const seats = new Dec(event.seatDelta).abs();
    if (writtenQuantity === "1" && !seats.isZero() && !seats.equals(1))
      differences.push(
        `written as 1 unit carrying the whole amount: ${seats.toFixed()} seats × a unit cost to 4 places would not give ${money(cost)} to the cent`,
      );
  } else {
    // Azure (the month's line) and Seat-based Monthly (the segment's addition): the event's share, at the
    // line's price-to-cost ratio, rounded to cents.
    billedCost = share;
    const ratio =
      writtenUnitPrice === null || writtenUnitCost === null || new Dec(writtenUnitCost).isZero()
        ? null
        : new Dec(writtenUnitPrice).dividedBy(writtenUnitCost);
    billedPrice = ratio === null ? null : new Dec(money(share.times(ratio)));
  }
  if (!new Dec(money(billedCost)).equals(money(cost)))
    differences.push(
      `cost written as ${money(billedCost)}, Microsoft charged ${money(cost)} (rounded to cents)`,
    );
  const pricedBy = p.pricedBy as { ruleName?: unknown; description?: unknown } | null | undefined;
  if (pricedBy && typeof pricedBy === "object")
    differences.push(
      `sell price set by the price rule "${String(pricedBy.ruleName)}" (${String(pricedBy.description)})`,
    );

  let status: LineStatus = "written";
  let reason = "written to the PSA";
  const found = recordByKey.get(match.recordKey);
  if (readBack) {
    const recordKey = `${write.targetId}|${write.writeKey}`;
    if (!found) {
      status = "deleted-in-psa";
      reason = `written (record ${write.psaRecordId ?? "?"}), then deleted in the PSA by hand`;
      if (!reportedRecords.has(recordKey)) {
        reportedRecords.add(recordKey);
        drift.push({
          kind: "deleted",
          customerTenantId: event.customerTenantId,
          customerName: base.customerName,
          motion: event.motion,
          targetId: write.targetId,
          recordId: write.psaRecordId,
          writeKey: write.writeKey,
          description: str(p.description) ?? "",
          detail: "cspsync wrote it; it is no longer on the agreement/contract",
        });
      }
    } else {
      const { record } = found;
      const edits: string[] = [];
      if (writtenUnitPrice !== null && !same(record.unitPrice, writtenUnitPrice))
        edits.push(`unit price ${writtenUnitPrice} → ${record.unitPrice ?? "none"}`);
      if (match.compareQuantity && writtenQuantity !== null && !same(record.quantity, writtenQuantity))
        edits.push(`quantity ${writtenQuantity} → ${record.quantity ?? "none"}`);
      if (writtenUnitCost !== null && !same(record.unitCost, writtenUnitCost))
        edits.push(`unit cost ${writtenUnitCost} → ${record.unitCost ?? "none"}`);
      const psaPrice =
        record.unitPrice === null || record.quantity === null
          ? null
          : new Dec(record.unitPrice).times(record.quantity);
      if (edits.length > 0) {
        differences.push(`edited in the PSA by hand: ${edits.join(", ")}`);
        if (!reportedRecords.has(recordKey)) {
          reportedRecords.add(recordKey);
          drift.push({
            kind: "edited",
            customerTenantId: event.customerTenantId,
            customerName: base.customerName,
            motion: event.motion,
            targetId: found.targetId,
            recordId: record.recordId,
            writeKey: write.writeKey,
            description: record.description,
            detail: edits.join(", "),
          });
        }
      }
      // What the PSA bills now: the record's own price (an edit, or cost-only pricing that kept the product's).
      if (psaPrice !== null) {
        if (share === null) billedPrice = new Dec(money(psaPrice));
        else if (
          writtenQuantity !== null &&
          record.unitPrice !== null &&
          writtenUnitCost !== null &&
          !new Dec(writtenUnitCost).isZero()
        )
          billedPrice = new Dec(
            money(
              share
                .times(new Dec(record.unitPrice).dividedBy(writtenUnitCost))
                .times(new Dec(record.quantity!).dividedBy(writtenQuantity)),
            ),
          );
      }
    }
  }
  if (status === "deleted-in-psa")
    return {
      ...base,
      billedCost: null,
      billedPrice: null,
      margin: null,
      notBilled: base.cost,
      status,
      reason,
      differences,
      writeKey: write.writeKey,
      psaRecordId: write.psaRecordId,
    };
  if (billedPrice === null) reason = "written to the PSA at the PSA product's own price (not read back)";
  return {
    ...base,
    billedCost: money(billedCost),
    billedPrice: billedPrice === null ? null : money(billedPrice),
    margin: billedPrice === null ? null : money(billedPrice.minus(cost)),
    notBilled: "0",
    status,
    reason,
    differences,
    writeKey: write.writeKey,
    psaRecordId: found?.record.recordId ?? write.psaRecordId,
  };
}

type Sums = {
  groups: Map<string, Accumulator>;
  products: Map<string, Accumulator>;
  productNames: Map<string, string>;
  /** Per currency, summed line by line when the groups are not kept (sums: "totals"). */
  totals: Map<string, Accumulator> | null;
};

/** Which sums a report build keeps: every list, the totals per currency only, or none. */
export type ReportSums = "all" | "totals" | "none";

function summarise(
  inputs: Omit<ReportInputs, "events">,
  sums: Sums,
  lines: ReportLine[],
  drift: DriftItem[],
): ReconciliationReport {
  // Each line was added to its customer × motion group and to its product as it went by; customers and
  // totals are the sums of the groups (exact decimals: the order of the additions does not change a sum).
  const { groups, products, productNames } = sums;
  const totals = sums.totals ?? new Map<string, Accumulator>();
  const customers = new Map<string, Accumulator>();
  for (const [key, group] of groups) {
    const [tenant, , currency] = key.split("|") as [string, string, string];
    accumulate(customers, `${tenant}|${currency}`).merge(group);
    if (!sums.totals) accumulate(totals, currency).merge(group);
  }
  const mappingOf = new Map(inputs.mappings.map((m) => [`${m.customerTenantId}|${m.motion}`, m]));
  const nameOf = (tenant: string) => inputs.customerNames.get(tenant) ?? tenant;
  const byCost = (a: { cost: string }, b: { cost: string }) => new Dec(b.cost).comparedTo(a.cost);
  return {
    invoice: inputs.invoice,
    connection: inputs.connection,
    totals: [...totals].map(([currency, acc]) => ({ currency, ...acc.figures() })),
    groups: [...groups]
      .map(([key, acc]) => {
        const [tenant, motion, currency] = key.split("|") as [string, BillingMotion, string];
        return {
          customerTenantId: tenant,
          customerName: nameOf(tenant),
          motion,
          currency,
          agreementName: mappingOf.get(`${tenant}|${motion}`)?.agreementName ?? null,
          ...acc.figures(),
        };
      })
      .sort((a, b) => a.customerName.localeCompare(b.customerName) || a.motion.localeCompare(b.motion)),
    customers: [...customers]
      .map(([key, acc]) => {
        const [tenant, currency] = key.split("|") as [string, string];
        return { customerTenantId: tenant, customerName: nameOf(tenant), currency, ...acc.figures() };
      })
      .sort((a, b) => byCost(a, b) || a.customerName.localeCompare(b.customerName)),
    products: [...products]
      .map(([key, acc]) => {
        const [productKey, currency] = key.split("|") as [string, string];
        return { productKey, productName: productNames.get(productKey)!, currency, ...acc.figures() };
      })
      .sort((a, b) => byCost(a, b) || a.productName.localeCompare(b.productName)),
    lines,
    drift,
    readBack: {
      done: inputs.psaRecords !== null,
      agreements: inputs.psaRecords?.size ?? 0,
      errors: [...inputs.readBackErrors].map(([targetId, message]) => ({ targetId, message })),
    },
  };
}
