/**
 * A sanity check on product matching: a charge is matched to its PSA product by SKU (or falls back to a
 * configured item), and a wrong SKU in a catalog — or a fallback named after one particular product — bills the
 * customer for a product they did not buy. When the charge's product name and the PSA record's name share no
 * product word, a dry run and the written result say so.
 *
 * Product words are the words that tell products apart: "E3", "Business", "Premium", "Visio", "Exchange". Words
 * every CSP product name or catalog entry may carry say nothing about which product it is, so they are left
 * out:
 * - the vendor and family: "Microsoft", "MS", "365", "M365" ("Microsoft 365 E3" and "M365-E3" are one product);
 * - how it is sold and billed: "plan", "annual", "monthly", "yearly", "term", "commitment", "subscription",
 *   "license"/"licence", "licensing", "seat", "user", "NCE", "new commerce", "CSP", "P1Y"/"P3Y"/"P1M", "add-on",
 *   "trial" — catalogs add these to names ("(annual)", "(NCE)"), and a generic fallback item such as
 *   "Microsoft CSP licence" is made of them only, so it is never flagged;
 * - the customer segment and domain endings: "EDU", "GOV", "GCC", "faculty", "student", "nonprofit", "com";
 * - small words: "for", "and", "the", "of", "with", "a", "an", "in", "on", "to", "by";
 * - bare numbers ("Plan 2", "2022", "16 Core", "0002"): alone they name no product.
 * Words are compared lower-case without accents, a trailing plural "s" dropped ("Teams Rooms" = "Team Room").
 * A name left without product words (say "Microsoft 365") cannot be checked, so it never warns.
 */
const GENERIC_WORDS: ReadonlySet<string> = new Set([
  "microsoft",
  "ms",
  "msft",
  "365",
  "m365",
  "plan",
  "annual",
  "annually",
  "monthly",
  "yearly",
  "year",
  "month",
  "term",
  "commitment",
  "subscription",
  "license",
  "licence",
  "licensing",
  "licencing",
  "seat",
  "user",
  "per",
  "billed",
  "billing",
  "nce",
  "new",
  "commerce",
  "csp",
  "p1y",
  "p3y",
  "p1m",
  "add",
  "addon",
  "trial",
  "edu",
  "gov",
  "gcc",
  "education",
  "academic",
  "faculty",
  "student",
  "nonprofit",
  "com",
  "for",
  "and",
  "the",
  "of",
  "with",
  "a",
  "an",
  "in",
  "on",
  "to",
  "by",
]);

function normalizeWord(word: string): string {
  return word.length > 3 && word.endsWith("s") && !word.endsWith("ss") ? word.slice(0, -1) : word;
}

/** The product words of a name (see above), lower-case. */
export function productWords(name: string): Set<string> {
  const words = new Set<string>();
  const plain = name.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  for (const raw of plain.split(/[^\p{L}\p{N}]+/u)) {
    if (!raw || /^\d+$/.test(raw)) continue;
    const word = normalizeWord(raw);
    if (!GENERIC_WORDS.has(word) && !GENERIC_WORDS.has(raw)) words.add(word);
  }
  return words;
}

/** The PSA record a charge matched: what the PSA calls it, how it is identified and its name. */
export type MatchedRecord = {
  /** "catalog item", "Autotask product". */
  noun: string;
  /** The identifier the PSA lists it by (a ConnectWise catalog item's identifier; may equal the name). */
  label: string;
  name: string;
};

/** A charge billed as a PSA record whose name shares no product word with it: data for dry runs and results. */
export type ProductNameMismatch = {
  chargeProduct: string;
  /** The matched record as shown: "M365-E5 — Microsoft 365 E5". */
  psaProduct: string;
  psaRecord: string;
  message: string;
};

/** How a matched record is shown: its identifier and its name, once when they are the same. */
export function describeRecord(record: Pick<MatchedRecord, "label" | "name">): string {
  const label = record.label.trim();
  const name = record.name.trim();
  if (!label || label.toLowerCase() === name.toLowerCase()) return name || label;
  return name ? `${label} — ${name}` : label;
}

/**
 * Null when the names share a product word, or when either has none to compare; otherwise what is wrong, e.g.
 * `the charge is "Microsoft 365 E3" but it matched catalog item "M365-E5 — Microsoft 365 E5": check the product
 * mapping`.
 */
export function productNameMismatch(
  chargeProduct: string,
  record: MatchedRecord,
): ProductNameMismatch | null {
  const charge = productWords(chargeProduct);
  const psa = new Set([...productWords(record.label), ...productWords(record.name)]);
  if (charge.size === 0 || psa.size === 0) return null;
  for (const word of charge) if (psa.has(word)) return null;
  const psaProduct = describeRecord(record);
  return {
    chargeProduct,
    psaProduct,
    psaRecord: record.noun,
    message: `the charge is "${chargeProduct}" but it matched ${record.noun} "${psaProduct}": check the product mapping`,
  };
}
