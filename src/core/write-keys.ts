import { createHash } from "node:crypto";

/**
 * The one format of the keys cspsync stamps into the PSA records its billing syncs write (ConnectWise
 * addition `serialNumber`, Autotask charge `internalPurchaseOrderNumber` and contract service
 * `internalDescription`), and records before each write in its ledger: `cspsync-` and the first 24 hex digits
 * of the SHA-256 of the key's parts joined by `|` (32 characters, well within the PSAs' 50-character fields).
 *
 * The values must never change: the records already in users' PSAs carry them, and a write whose key changed
 * would be written again. test/core/write-keys.test.ts pins known values for each motion.
 *
 * Product sync records are not keyed here: a catalog item, service or product is known by its product key
 * (`productKey` in product-plan.ts, e.g. `P1Y:A:CFQ7TTC0LDPB:0001`), the identifier the MSP reads in the PSA.
 */
export const WRITE_KEY_PREFIX = "cspsync-";
const WRITE_KEY = /^cspsync-[0-9a-f]{24}$/;

/** The key of one write, from the parts that identify it, in order. */
export function writeKey(parts: readonly string[]): string {
  const digest = createHash("sha256").update(parts.join("|")).digest("hex");
  return `${WRITE_KEY_PREFIX}${digest.slice(0, 24)}`;
}

/** Exactly a key `writeKey` makes, so a value someone typed that merely starts the same way is not taken for one. */
export function isWriteKey(value: string | null | undefined): value is string {
  return typeof value === "string" && WRITE_KEY.test(value);
}
