import type { KeyedRecord, KeyedRecordNames, KeyedRecordSource } from "../psa/port.ts";
import { failureSentence } from "../psa/shared/error-sentences.ts";

/**
 * Defence in depth against double billing: each record cspsync writes carries a write key, and the syncs make
 * sure a key is written once; a process that froze mid-write and resumed could still leave two records with
 * one key. This reads every keyed record back from the PSA, and for each key found more than once on one
 * agreement/contract keeps the earliest copy and (when asked) removes the later ones the PSA lets cspsync
 * remove: not yet invoiced, and deletable at all. Whatever stays is reported, with what to do by hand.
 */

export type DuplicateCopy = { recordId: string; action: "removed" | "kept"; reason?: string };

export type DuplicateFinding =
  | {
      writeKey: string;
      targetId: string;
      /** The earliest copy, never touched. */
      kept: string;
      /** The later copies, each removed or kept (with why). */
      copies: DuplicateCopy[];
      /** One sentence for the run history. */
      message: string;
    }
  | {
      /** The target's records could not be read; the others were still checked. */
      writeKey: null;
      targetId: string;
      kept: null;
      copies: [];
      message: string;
      error: string;
    };

export type DuplicateKeyOptions = {
  /** Only these keys (e.g. the ones a run just wrote); all keys when left out. */
  keys?: ReadonlySet<string>;
  /** Remove the later copies the PSA allows; when false, only report them. */
  remove: boolean;
};

type Source = Pick<KeyedRecordSource, "listKeyedRecords" | "removeRecord" | "keyedRecordNames">;

const DEFAULT_NAMES: KeyedRecordNames = { target: "agreement", records: "records" };

/** The sync targets declare these methods as optional; this gives a source to check, or null without them. */
export function keyedRecordSourceOf(target: Partial<KeyedRecordSource>): Source | null {
  const { listKeyedRecords, removeRecord } = target;
  if (!listKeyedRecords || !removeRecord) return null;
  return {
    listKeyedRecords: (targetId) => listKeyedRecords.call(target, targetId),
    removeRecord: (targetId, recordId) => removeRecord.call(target, targetId, recordId),
    ...(target.keyedRecordNames ? { keyedRecordNames: target.keyedRecordNames } : {}),
  };
}

/**
 * Checks each target in turn (one PSA at a time, as the PSAs' request limits prefer) and returns one finding
 * per key that is on a target more than once, plus one per target whose records could not be read.
 */
export async function findDuplicateKeys(
  source: Source,
  targetIds: readonly string[],
  options: DuplicateKeyOptions,
): Promise<DuplicateFinding[]> {
  const names = source.keyedRecordNames ?? DEFAULT_NAMES;
  const findings: DuplicateFinding[] = [];
  for (const targetId of targetIds) {
    let records: KeyedRecord[];
    try {
      records = await source.listKeyedRecords(targetId);
    } catch (error) {
      const text = errorText(error);
      findings.push({
        writeKey: null,
        targetId,
        kept: null,
        copies: [],
        error: text,
        message: `could not check ${names.target} ${targetId} for ${names.records} that carry a cspsync key twice: ${text}`,
      });
      continue;
    }
    for (const [writeKey, copies] of groupByKey(records, options.keys)) {
      if (copies.length < 2) continue;
      const [first, ...later] = copies.sort(creationOrder) as [KeyedRecord, ...KeyedRecord[]];
      const handled: DuplicateCopy[] = [];
      for (const copy of later) handled.push(await handleCopy(source, targetId, copy, options.remove));
      findings.push({
        writeKey,
        targetId,
        kept: first.recordId,
        copies: handled,
        message: describe(writeKey, targetId, names, first, handled, later),
      });
    }
  }
  return findings;
}

async function handleCopy(
  source: Source,
  targetId: string,
  copy: KeyedRecord,
  remove: boolean,
): Promise<DuplicateCopy> {
  if (!remove)
    return { recordId: copy.recordId, action: "kept", reason: `removal is off (${billedText(copy.billed)})` };
  try {
    const outcome = await source.removeRecord(targetId, copy.recordId);
    return outcome === "removed"
      ? { recordId: copy.recordId, action: "removed" }
      : { recordId: copy.recordId, action: "kept", reason: outcome.kept };
  } catch (error) {
    return { recordId: copy.recordId, action: "kept", reason: `removing it failed: ${errorText(error)}` };
  }
}

function groupByKey(
  records: readonly KeyedRecord[],
  keys: ReadonlySet<string> | undefined,
): Map<string, KeyedRecord[]> {
  const groups = new Map<string, KeyedRecord[]>();
  for (const record of records) {
    if (keys && !keys.has(record.writeKey)) continue;
    const group = groups.get(record.writeKey);
    if (group) group.push(record);
    else groups.set(record.writeKey, [record]);
  }
  return groups;
}

/** Earliest first: by creation time where the PSA gives one for both, then by id (PSAs number upwards). */
export function creationOrder(a: KeyedRecord, b: KeyedRecord): number {
  const at = a.createdAt === null ? Number.NaN : Date.parse(a.createdAt);
  const bt = b.createdAt === null ? Number.NaN : Date.parse(b.createdAt);
  if (!Number.isNaN(at) && !Number.isNaN(bt) && at !== bt) return at - bt;
  return compareIds(a.recordId, b.recordId);
}

function compareIds(a: string, b: string): number {
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b)) {
    const [x, y] = [BigInt(a), BigInt(b)];
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * e.g. "key cspsync-… is on agreement 12 three times (additions 101, 140, 141): kept 101, removed 140 (not yet
 * invoiced); kept 141: it may already be invoiced …".
 */
function describe(
  writeKey: string,
  targetId: string,
  names: KeyedRecordNames,
  first: KeyedRecord,
  handled: readonly DuplicateCopy[],
  later: readonly KeyedRecord[],
): string {
  const count = handled.length + 1;
  const ids = [first.recordId, ...later.map((copy) => copy.recordId)];
  const head = `key ${writeKey} is on ${names.target} ${targetId} ${times(count)} (${names.records} ${ids.join(", ")})`;
  const removed = handled.filter((copy) => copy.action === "removed").map((copy) => copy.recordId);
  const parts = [`kept ${first.recordId}`];
  if (removed.length > 0) parts[0] += `, removed ${listText(removed)} (not yet invoiced)`;
  const keptByReason = new Map<string, string[]>();
  for (const copy of handled) {
    if (copy.action !== "kept") continue;
    const reason = copy.reason ?? "";
    keptByReason.set(reason, [...(keptByReason.get(reason) ?? []), copy.recordId]);
  }
  for (const [reason, recordIds] of keptByReason)
    parts.push(`kept ${listText(recordIds)}${reason ? `: ${reason}` : ""}`);
  return `${head}: ${parts.join("; ")}`;
}

function billedText(billed: boolean | null): string {
  return billed === true ? "already invoiced" : billed === false ? "not yet invoiced" : "may be invoiced";
}

function times(count: number): string {
  return count === 2 ? "twice" : count === 3 ? "three times" : `${count} times`;
}

function listText(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function errorText(error: unknown): string {
  return failureSentence(error);
}
