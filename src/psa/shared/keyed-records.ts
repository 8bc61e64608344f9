/**
 * The write keys cspsync stamps into the PSA records it creates (see core/annual-plan.ts, azure-plan.ts and
 * monthly-plan.ts): the prefix a PSA query can match on, and the exact shape, so a key someone typed by hand
 * that merely starts the same way is not taken for one of cspsync's.
 */
export const WRITE_KEY_PREFIX = "cspsync-";
const WRITE_KEY = /^cspsync-[0-9a-f]{24}$/;

export function isWriteKey(value: string | null | undefined): value is string {
  return typeof value === "string" && WRITE_KEY.test(value);
}
