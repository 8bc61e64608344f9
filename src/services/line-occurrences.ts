import type { Transaction } from "kysely";
import { sql } from "kysely";
import { lineKey } from "../sources/reconciliation/line-key.ts";
import type { Database } from "../store/schema.ts";

/**
 * Counts, for the line keys of one import, how many identical rows the file had before each row
 * (line key = content hash + that occurrence index). Memory stays fixed whatever the file size: a Bloom
 * filter over the hashes seen so far answers "certainly never seen" for almost every row, and only the
 * rest is looked up in the database. The scratch table `import_line_occurrences` holds just the hashes that
 * need it: those seen twice or more, and those whose first line was already stored by an earlier import.
 * Every other hash seen once is recognisable by its stored line `<hash>-0` carrying this import's id.
 */
export class LineOccurrences {
  private readonly trx: Transaction<Database>;
  private readonly organizationId: string;
  private readonly importId: string;
  private readonly seen = new BloomFilter();

  constructor(trx: Transaction<Database>, context: { organizationId: string; importId: string }) {
    this.trx = trx;
    this.organizationId = context.organizationId;
    this.importId = context.importId;
  }

  /** The line keys of one batch of content hashes, in order. */
  async assign(hashes: readonly string[]): Promise<Batch> {
    const suspects = new Set<string>();
    for (const hash of hashes) if (this.seen.mightHave(hash)) suspects.add(hash);
    const before = await this.seenBefore([...suspects]);
    const counts = new Map(before);
    const keys = hashes.map((hash) => {
      const occurrence = counts.get(hash) ?? 0;
      counts.set(hash, occurrence + 1);
      return lineKey(hash, occurrence);
    });
    for (const hash of counts.keys()) this.seen.add(hash);
    return { keys, counts, recorded: before };
  }

  /** Records what later batches cannot infer from the stored lines; `inserted` = keys stored by this batch. */
  async record(batch: Batch, hashes: readonly string[], inserted: ReadonlySet<string>): Promise<void> {
    const needed = new Set<string>();
    for (const [hash, count] of batch.counts) if (count >= 2 || batch.recorded.has(hash)) needed.add(hash);
    hashes.forEach((hash, i) => {
      if (!inserted.has(batch.keys[i]!)) needed.add(hash);
    });
    if (needed.size === 0) return;
    const rows = [...needed].sort().map((hash) => ({
      import_id: this.importId,
      content_hash: hash,
      seen: batch.counts.get(hash)!,
    }));
    await this.trx
      .insertInto("import_line_occurrences")
      .values(rows)
      .onConflict((oc) => oc.columns(["import_id", "content_hash"]).doUpdateSet({ seen: sql`excluded.seen` }))
      .execute();
  }

  async clear(): Promise<void> {
    await this.trx.deleteFrom("import_line_occurrences").where("import_id", "=", this.importId).execute();
  }

  /** Exact counts for hashes the filter may have seen; the filter's false positives come back as absent. */
  private async seenBefore(hashes: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (hashes.length === 0) return counts;
    const recorded = await this.trx
      .selectFrom("import_line_occurrences")
      .select(["content_hash", "seen"])
      .where("import_id", "=", this.importId)
      .where("content_hash", "in", hashes)
      .execute();
    for (const row of recorded) counts.set(row.content_hash, row.seen);
    const unrecorded = hashes.filter((hash) => !counts.has(hash));
    if (unrecorded.length === 0) return counts;
    const storedOnce = await this.trx
      .selectFrom("charge_lines")
      .select("line_key")
      .where("organization_id", "=", this.organizationId)
      .where(
        "line_key",
        "in",
        unrecorded.map((hash) => lineKey(hash, 0)),
      )
      .where("import_id", "=", this.importId)
      .execute();
    for (const row of storedOnce) counts.set(row.line_key.slice(0, row.line_key.lastIndexOf("-")), 1);
    return counts;
  }
}

type Batch = {
  keys: string[];
  /** Occurrences of each hash in the file up to and including this batch. */
  counts: Map<string, number>;
  /** Hashes that already had a scratch row before this batch. */
  recorded: Map<string, number>;
};

/**
 * A fixed 4 MB Bloom filter over hex content hashes (which are uniformly distributed already, so their bits
 * serve as the filter's hash functions). At a million lines it answers "maybe" for about one never-seen hash
 * in a hundred thousand; at ten million lines for four in ten, which only costs lookups, never a wrong key.
 */
class BloomFilter {
  private static readonly BITS = 1 << 25;
  private static readonly PROBES = 7;
  private readonly words = new Uint32Array(BloomFilter.BITS >>> 5);

  add(hash: string): void {
    const [a, b] = BloomFilter.seeds(hash);
    for (let i = 0, h = a; i < BloomFilter.PROBES; i++, h = (h + b) >>> 0) {
      const bit = h & (BloomFilter.BITS - 1);
      this.words[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mightHave(hash: string): boolean {
    const [a, b] = BloomFilter.seeds(hash);
    for (let i = 0, h = a; i < BloomFilter.PROBES; i++, h = (h + b) >>> 0) {
      const bit = h & (BloomFilter.BITS - 1);
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  private static seeds(hash: string): [number, number] {
    return [parseInt(hash.slice(0, 8), 16) >>> 0, (parseInt(hash.slice(8, 16), 16) | 1) >>> 0];
  }
}
