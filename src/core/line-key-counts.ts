/**
 * Which lines of a file cspsync holds already, decided while the file is read (src/store/line-writer.ts says
 * how the known keys are read; src/sources/reconciliation/read-lines.ts uses this table).
 */

/**
 * The stored keys of an invoice as a LineKeyCounts' own arrays (per content hash its 20-byte digest and how
 * many are stored, and the slot table), handed over whole — to the reader's thread, without a copy — since the
 * table that read them is not used again.
 */
export type KnownKeys = {
  digests: Uint8Array<ArrayBuffer>;
  counts: Uint32Array<ArrayBuffer>;
  slots: Int32Array<ArrayBuffer>;
  entries: number;
};

/**
 * For each content hash (40 hex digits, see src/sources/reconciliation/line-key.ts): how many lines with it
 * this file has had so far, and how many are stored already. A line key is `<hash>-<occurrence>`, and an
 * import stores occurrences 0…n−1 of a hash, so what is stored of a hash is always 0…known−1: a line is new
 * exactly when its occurrence is `known` or more.
 *
 * Held compactly, since a re-import holds an entire invoice: 28 bytes per hash (the 20-byte digest and two
 * counts) plus an open-addressing slot table of at most 16 bytes per hash, about 40 MB for a million lines,
 * instead of the ~150 MB a Map of strings would take.
 */
export class LineKeyCounts {
  private digests = new Uint8Array(0);
  private seen = new Uint32Array(0);
  private known = new Uint32Array(0);
  /** Entry index + 1 for each slot; 0 = empty. Its length is a power of two, at least twice the entries. */
  private slots = new Int32Array(1 << 12);
  private count = 0;
  private readonly scratch = new Uint8Array(20);

  get size(): number {
    return this.count;
  }

  /** Notes a stored line key (`<hash>-<occurrence>`); keys not in that form are ignored (none are stored). */
  addKnown(lineKey: string): void {
    this.addKnownAt(lineKey, 0, lineKey.length);
  }

  /**
   * Notes stored line keys given as one text, one key per line (how the stores read them: a million keys as a
   * few long strings instead of a million row objects, BENCHMARKS.md bench:ingest). Lines not in the key form
   * are ignored, as in addKnown.
   */
  addKnownList(keys: string): void {
    let start = 0;
    while (start < keys.length) {
      let end = keys.indexOf("\n", start);
      if (end === -1) end = keys.length;
      this.addKnownAt(keys, start, end);
      start = end + 1;
    }
  }

  private addKnownAt(text: string, start: number, end: number): void {
    if (end - start < 42 || text.charCodeAt(start + 40) !== DASH) return;
    if (!decodeHex(text, this.scratch, start)) return;
    let occurrence = 0;
    for (let i = start + 41; i < end; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return;
      occurrence = occurrence * 10 + digit;
    }
    if (!Number.isSafeInteger(occurrence)) return;
    const entry = this.entryOf(this.scratch);
    if (occurrence + 1 > this.known[entry]!) this.known[entry] = occurrence + 1;
  }

  /** Notes stored line keys packed by packLineKeys. */
  addKnownPacked(data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let at = 0; at + PACKED_KEY_BYTES <= data.length; at += PACKED_KEY_BYTES) {
      const entry = this.entryOf(data.subarray(at, at + 20));
      const known = view.getUint32(at + 20, true) + 1;
      if (known > this.known[entry]!) this.known[entry] = known;
    }
  }

  /** Hands the known counts over (see KnownKeys): this table must not be used afterwards. */
  knownKeys(): KnownKeys {
    return { digests: this.digests, counts: this.known, slots: this.slots, entries: this.count };
  }

  /**
   * Merges known counts (see knownKeys). Into an empty table — a file's first invoice, and most files hold one
   * — the arrays are taken over as they are, so a million stored keys are held once, not twice.
   */
  addKnownKeys(known: KnownKeys): void {
    if (this.count === 0) {
      this.digests = known.digests;
      this.known = known.counts;
      this.slots = known.slots;
      this.count = known.entries;
      this.seen = new Uint32Array(known.counts.length);
      return;
    }
    for (let i = 0; i < known.entries; i++) {
      const entry = this.entryOf(known.digests.subarray(i * 20, i * 20 + 20));
      if (known.counts[i]! > this.known[entry]!) this.known[entry] = known.counts[i]!;
    }
  }

  /** The occurrence of this hash's next line in the file, and whether that line is already stored. */
  next(hash: string): { occurrence: number; stored: boolean } {
    if (!decodeHex(hash, this.scratch)) throw new Error(`not a content hash: ${hash}`);
    return this.countLine(this.entryOf(this.scratch));
  }

  /** As next, for a content hash given as its 20 bytes at `at` in `digests` (see writeDigest). */
  nextDigest(digests: Uint8Array, at: number): { occurrence: number; stored: boolean } {
    return this.countLine(this.entryOf(digests.subarray(at, at + 20)));
  }

  private countLine(entry: number): { occurrence: number; stored: boolean } {
    const occurrence = this.seen[entry]!;
    this.seen[entry] = occurrence + 1;
    return { occurrence, stored: occurrence < this.known[entry]! };
  }

  /** The entry of a digest, added (seen 0, known 0) when absent. */
  private entryOf(digest: Uint8Array): number {
    const mask = this.slots.length - 1;
    let slot = digestHash(digest) & mask;
    for (;;) {
      const held = this.slots[slot]!;
      if (held === 0) break;
      if (this.sameDigest(held - 1, digest)) return held - 1;
      slot = (slot + 1) & mask;
    }
    const entry = this.count++;
    if (entry >= this.seen.length) this.growEntries();
    this.digests.set(digest, entry * 20);
    this.seen[entry] = 0;
    this.known[entry] = 0;
    this.slots[slot] = entry + 1;
    if (this.count * 2 > this.slots.length) this.growSlots();
    return entry;
  }

  private sameDigest(entry: number, digest: Uint8Array): boolean {
    const at = entry * 20;
    for (let i = 0; i < 20; i++) if (this.digests[at + i] !== digest[i]) return false;
    return true;
  }

  /**
   * Makes room for `entries` hashes at once (the number of keys about to be added, when it is known): growing by
   * doubling holds the old arrays beside the new ones at each step, tens of MB at a million keys.
   */
  reserve(entries: number): void {
    if (entries > this.seen.length) this.growEntries(entries);
    if (entries * 2 > this.slots.length) {
      let length = this.slots.length;
      while (entries * 2 > length) length *= 2;
      this.growSlots(length);
    }
  }

  private growEntries(atLeast = 0): void {
    const capacity = Math.max(4096, this.seen.length * 2, atLeast);
    const digests = new Uint8Array(capacity * 20);
    digests.set(this.digests);
    const seen = new Uint32Array(capacity);
    seen.set(this.seen);
    const known = new Uint32Array(capacity);
    known.set(this.known);
    this.digests = digests;
    this.seen = seen;
    this.known = known;
  }

  private growSlots(length = this.slots.length * 2): void {
    const slots = new Int32Array(length);
    const mask = slots.length - 1;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = digestHash(this.digests.subarray(entry * 20, entry * 20 + 20)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.slots = slots;
  }
}

/** The digest's first four bytes: content hashes are uniformly distributed already. */
function digestHash(digest: Uint8Array): number {
  return (digest[0]! | (digest[1]! << 8) | (digest[2]! << 16) | (digest[3]! << 24)) >>> 0;
}

const DASH = 45;

/** A packed line key: the hash's 20 bytes, then the occurrence as a little-endian uint32. */
const PACKED_KEY_BYTES = 24;

/**
 * Line keys (`<hash>-<occurrence>`) packed in 24 bytes each, for the store to keep per invoice (migration 0022):
 * a million keys are 24 MB read in one go, against visiting a million stored lines for their key text.
 */
export function packLineKeys(lineKeys: readonly string[]): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(lineKeys.length * PACKED_KEY_BYTES);
  const view = new DataView(data.buffer);
  lineKeys.forEach((key, i) => {
    const at = i * PACKED_KEY_BYTES;
    const occurrence = Number(key.slice(41));
    if (key.charCodeAt(40) !== DASH || !decodeHex(key, data.subarray(at, at + 20)) || !(occurrence >= 0))
      throw new Error(`not a line key: ${key}`);
    view.setUint32(at + 20, occurrence, true);
  });
  return data;
}

/** Writes a content hash (40 hex digits) as its 20 bytes into `out` at `at`, for nextDigest. */
export function writeDigest(hash: string, out: Uint8Array, at: number): void {
  if (!decodeHex(hash, out.subarray(at, at + 20))) throw new Error(`not a content hash: ${hash}`);
}

/** The 40 hex digits of `text` from `at` into `out` (20 bytes); false when they are not hex digits. */
function decodeHex(text: string, out: Uint8Array, at = 0): boolean {
  if (text.length < at + 40) return false;
  for (let i = 0; i < 20; i++) {
    const hi = hexValue(text.charCodeAt(at + 2 * i));
    const lo = hexValue(text.charCodeAt(at + 2 * i + 1));
    if (hi < 0 || lo < 0) return false;
    out[i] = (hi << 4) | lo;
  }
  return true;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}
