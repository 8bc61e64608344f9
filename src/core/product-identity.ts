/**
 * How a CSP product is recognised in a PSA catalog. Microsoft identifies a SKU as `ProductId:SkuId`
 * (csp-billing-data.md §6.5); PSA catalogs mark the annual (annual term, billed annually) variant of a SKU
 * with a `P1Y:A` prefix (prism-connect-behaviour.md §2, product) or, in some catalogs, a `:P1Y` suffix.
 * Candidates come most specific first; the first spelling that matches wins.
 */
export function microsoftSku(productId: string, skuId: string): string {
  return `${productId}:${skuId}`;
}

export function annualSkuCandidates(productId: string, skuId: string): string[] {
  const sku = microsoftSku(productId, skuId);
  return [`P1Y:A:${sku}`, `${sku}:P1Y`, sku];
}
