/**
 * How a CSP product is recognised in a PSA catalog. Microsoft identifies a SKU as `ProductId:SkuId`
 * (docs/billing-data.md §8.3); PSA catalogs mark the annual (annual term, billed annually) variant of a SKU
 * with a `P1Y:A` prefix (docs/sync-behaviour.md §2, product) or, in some catalogs, a `:P1Y` suffix.
 * Candidates come most specific first; the first spelling that matches wins.
 */
export function microsoftSku(productId: string, skuId: string): string {
  return `${productId}:${skuId}`;
}

export function annualSkuCandidates(productId: string, skuId: string): string[] {
  const sku = microsoftSku(productId, skuId);
  return [`P1Y:A:${sku}`, `${sku}:P1Y`, sku];
}

/**
 * Monthly-billed seats are billed as the plain SKU: the `P1Y:A` / `:P1Y` spellings mark the annual-billed
 * variant, which a monthly line must not pick up.
 */
export function monthlySkuCandidates(productId: string, skuId: string): string[] {
  return [microsoftSku(productId, skuId)];
}

/**
 * The active records matching the first SKU spelling that matches any (deduplicated by id). The caller
 * decides what none, or several, mean for it.
 */
export async function matchBySkuSpellings<T extends { id: number }>(
  productId: string,
  skuId: string,
  lookup: (spelling: string) => Promise<T[]>,
  isActive: (record: T) => boolean,
  spellings: (productId: string, skuId: string) => string[] = annualSkuCandidates,
): Promise<T[]> {
  for (const spelling of spellings(productId, skuId)) {
    const found = new Map<number, T>();
    for (const record of await lookup(spelling)) if (isActive(record)) found.set(record.id, record);
    if (found.size > 0) return [...found.values()];
  }
  return [];
}

/**
 * The documented message for a product the PSA does not know, or knows twice (docs/sync-behaviour.md §12.2).
 */
export function productNotMatched(productId: string, skuId: string, matches: number, hint: string): string {
  const sku = microsoftSku(productId, skuId);
  const detail = matches === 0 ? `no active ${hint} has SKU ${sku}` : `${matches} ${hint}s match ${sku}`;
  return `Could not find source product or multiple matches (${detail})`;
}
