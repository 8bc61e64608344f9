import { daysInclusive } from "./dates.ts";
import { Dec, type DecimalString } from "./money.ts";
import { annualSkuCandidates, microsoftSku } from "./product-identity.ts";

/**
 * The product catalog sync as a pure plan (docs/sync-behaviour.md §4): which products the billing
 * data holds, and per product what the PSA needs — create, link, update price/cost, skip — or the conflict
 * that stops it, computed before anything is written.
 */

export const PRODUCT_SYNC_MODES = ["off", "all", "in-use"] as const;
export type ProductSyncMode = (typeof PRODUCT_SYNC_MODES)[number];

/**
 * Term/billing variants. NCE annual-term products carry `P1Y:A` (billed annually) or `P1Y:M` (billed monthly)
 * in front of the SKU so the monthly and annual versions of one offer are separate PSA products
 * (docs/sync-behaviour.md §2, §4.1). Multi-year terms get `P3Y:` the same way [inferred: the sources only
 * name P1Y]; monthly terms and one-time purchases have no prefix.
 */
export type ProductVariant = "monthly" | "one-time" | "P1Y:A" | "P1Y:M" | "P3Y:A" | "P3Y:M";

export const VARIANT_LABELS: Record<ProductVariant, string> = {
  monthly: "monthly term",
  "one-time": "one-time purchase",
  "P1Y:A": "annual term, billed annually",
  "P1Y:M": "annual term, billed monthly",
  "P3Y:A": "multi-year term, billed annually",
  "P3Y:M": "multi-year term, billed monthly",
};

// A monthly term is at most 31 days; co-terming can shorten a yearly one, so anything past two months is a
// longer commitment (the same threshold classify.ts uses). A yearly term never exceeds 366 days.
const LONG_TERM_MIN_DAYS = 63;
const ONE_YEAR_MAX_DAYS = 400;

// Charges that bill a whole billing period at the catalog price; prorations and credits do not.
const FULL_PERIOD_CHARGES: ReadonlySet<string> = new Set(["new", "renew", "cycleCharge"]);

export function productVariant(line: {
  billingFrequency: string | null;
  subscriptionStart: string | null;
  subscriptionEnd: string | null;
  chargeStart: string;
}): ProductVariant {
  if (!line.subscriptionEnd) return "one-time";
  const days = daysInclusive(line.subscriptionStart ?? line.chargeStart, line.subscriptionEnd);
  if (days < LONG_TERM_MIN_DAYS) return "monthly";
  const term = days <= ONE_YEAR_MAX_DAYS ? "P1Y" : "P3Y";
  const monthly = (line.billingFrequency ?? "").trim().toLowerCase() === "monthly";
  return `${term}:${monthly ? "M" : "A"}`;
}

/** `ProductId:SkuId` with the variant prefix: the key a product is known by in cspsync and in the PSA. */
export function productKey(productId: string, skuId: string, variant: ProductVariant): string {
  const sku = `${productId}:${skuId}`;
  return variant === "monthly" || variant === "one-time" ? sku : `${variant}:${sku}`;
}

/**
 * Autotask services the sync creates are named "PC_" + SKU, so they are easy to spot
 * (docs/sync-behaviour.md §4.3).
 */
export function autotaskServiceName(key: string): string {
  return `PC_${key}`;
}

// ------------------------------------------------------------------------------------------ products

/** One group of charge lines that share product, term, billing and price (the store aggregates lines). */
export type ProductLineGroup = {
  customerTenantId: string;
  motion: string;
  productId: string;
  skuId: string;
  productName: string;
  skuName: string | null;
  billingFrequency: string | null;
  subscriptionStart: string | null;
  subscriptionEnd: string | null;
  chargeType: string;
  isBillable: boolean;
  unitPrice: DecimalString;
  effectiveUnitPrice: DecimalString;
  /** The latest charge start among the group's lines. */
  lastChargeStart: string;
};

export type CatalogProduct = {
  key: string;
  productId: string;
  skuId: string;
  variant: ProductVariant;
  name: string;
  /** Retail (list) unit price for one billing period of the variant; null when nothing was billed yet. */
  price: DecimalString | null;
  /** What the partner pays per unit for one billing period; null when nothing was billed yet. */
  cost: DecimalString | null;
  /** Where price and cost come from: a full-period charge, only a list price (prorations), or nothing (trials). */
  priceSource: "full-period charge" | "list price" | "none";
  /** Azure consumption is billed by the Azure Plan sync, not as a catalog product. */
  azure: boolean;
  /** Billed by the Seat-based Annual sync, i.e. as Autotask contract charges (annual or one-time). */
  contractCharges: boolean;
  customerTenantIds: string[];
};

/**
 * The products of the billing data, one per key. `inUseBy` (tenant ids with an enabled mapping) limits
 * them to products billed to mapped customers; null means every product seen.
 */
export function collectCatalogProducts(
  groups: readonly ProductLineGroup[],
  inUseBy: ReadonlySet<string> | null,
): CatalogProduct[] {
  const byKey = new Map<string, { groups: ProductLineGroup[]; variant: ProductVariant }>();
  for (const group of groups) {
    if (inUseBy && !inUseBy.has(group.customerTenantId)) continue;
    const variant = productVariant({ ...group, chargeStart: group.lastChargeStart });
    const key = productKey(group.productId, group.skuId, variant);
    const entry = byKey.get(key) ?? { groups: [], variant };
    entry.groups.push(group);
    byKey.set(key, entry);
  }
  return [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, entry]) => toProduct(key, entry.variant, entry.groups));
}

function toProduct(key: string, variant: ProductVariant, groups: ProductLineGroup[]): CatalogProduct {
  const latestFirst = [...groups].sort(compareLatestFirst);
  const billed = latestFirst.filter((g) => g.isBillable);
  const full = billed.find((g) => FULL_PERIOD_CHARGES.has(g.chargeType));
  // A zero-value trial says nothing about the price; it must never overwrite a catalog price.
  const priced = full ?? billed[0];
  const latest = latestFirst[0]!;
  return {
    key,
    productId: latest.productId,
    skuId: latest.skuId,
    variant,
    name: latest.skuName?.trim() || latest.productName,
    price: priced ? canonical(priced.unitPrice) : null,
    // Without a full-period charge the effective price is a proration; the list price is the best estimate.
    cost: priced ? canonical(full ? full.effectiveUnitPrice : priced.unitPrice) : null,
    priceSource: full ? "full-period charge" : priced ? "list price" : "none",
    azure: groups.some((g) => g.motion === "azure"),
    contractCharges: groups.some((g) => g.motion === "seat-annual"),
    customerTenantIds: [...new Set(groups.map((g) => g.customerTenantId))].sort(),
  };
}

function compareLatestFirst(a: ProductLineGroup, b: ProductLineGroup): number {
  if (a.lastChargeStart !== b.lastChargeStart) return a.lastChargeStart < b.lastChargeStart ? 1 : -1;
  // Same day: the higher price first, so the choice never depends on row order.
  return (
    new Dec(b.unitPrice).comparedTo(new Dec(a.unitPrice)) ||
    a.customerTenantId.localeCompare(b.customerTenantId)
  );
}

function canonical(value: DecimalString): DecimalString {
  const d = new Dec(value);
  return d.isZero() ? "0" : d.toFixed();
}

// ------------------------------------------------------------------------------------------ plan

/** A PSA catalog record, vendor-neutral: a ConnectWise catalog item or an Autotask service. */
export type PsaCatalogRecord = {
  id: string;
  /** How people know it: the CW identifier, the AT service name. */
  label: string;
  /** The keys it answers to, upper-cased: CW identifier and vendor SKU; AT service name. */
  keys: string[];
  active: boolean;
  price: DecimalString | null;
  cost: DecimalString | null;
};

/** What cspsync remembers per product (the synced_products table). */
export type TrackedProduct = {
  productKey: string;
  psaRecordId: string | null;
  /** True when cspsync created the record, false when it linked an existing one. */
  owned: boolean;
  /** pending: a create was sent and its outcome is not known yet. */
  status: "pending" | "synced";
  /** When the row last changed; for a pending create, when it was sent (ISO instant). */
  updatedAt?: string;
};

export type ProductAction = "create" | "link" | "update" | "skip" | "conflict";

/**
 * What an item writes: the vendor's catalog record (ConnectWise catalog item, Autotask service) or, on
 * Autotask only, a Product that Seat-based Annual contract charges reference.
 */
export type ProductItemKind = "catalog" | "charge-product";

export function itemKindLabel(vendor: "connectwise" | "autotask", kind: ProductItemKind): string {
  if (kind === "charge-product") return "Product (for contract charges)";
  return vendor === "connectwise" ? "Catalog item" : "Service";
}

export type PriceChanges = { price?: DecimalString; cost?: DecimalString };

/**
 * What the product sync may do to the sell price of a PSA record it did not create but only linked (the MSP's own
 * record): `never` change it (the default), or change it only once a person has seen and `confirm`ed the change.
 * Cost always follows the billing data; records cspsync created follow it in price too.
 */
export const LINKED_PRICE_UPDATES = ["never", "confirm"] as const;
export type LinkedPriceUpdates = (typeof LINKED_PRICE_UPDATES)[number];

/** A sell-price difference on a linked record: kept as it is, or planned but written only when confirmed. */
export type LinkedPriceChange = {
  from: DecimalString | null;
  to: DecimalString;
  handling: "kept" | "needs-confirmation";
};

export type ProductPlanItem = {
  /** The product key; charge products are tracked as `product:` + the SKU written to Autotask. */
  key: string;
  kind: ProductItemKind;
  name: string;
  variant: ProductVariant;
  action: ProductAction;
  /** The PSA record linked, updated or skipped; null for create and conflict. */
  recordId: string | null;
  recordLabel: string | null;
  /** Whether cspsync owns the record after this action (created by it); false for a linked record (the MSP's). */
  owned: boolean;
  /**
   * Price/cost to write: everything for create, the differences for link/update. On a linked record the price is
   * here only when it needs confirmation (see `linkedPrice`).
   */
  changes: PriceChanges;
  /** A linked record whose sell price differs from the billing data's: what happens to it. */
  linkedPrice?: LinkedPriceChange;
  /**
   * The PSA record's price and cost as they are now, for a plan item on an existing record: with `changes` it
   * says what changes from what as data, so a screen formats the amounts itself; `reason` says it in a sentence.
   */
  current?: { price: DecimalString | null; cost: DecimalString | null };
  reason: string;
  notes: string[];
  product: CatalogProduct;
  /** A skip because an earlier create may still land: the instant after which a run may send it again. */
  waitUntil?: string;
};

export type ProductPlan = {
  vendor: "connectwise" | "autotask";
  items: ProductPlanItem[];
  counts: Record<ProductAction, number>;
};

export type PlanInput = {
  vendor: "connectwise" | "autotask";
  products: readonly CatalogProduct[];
  records: readonly PsaCatalogRecord[];
  /** Every tracked record of the connection, charge products (`product:` keys) included. */
  tracked: readonly TrackedProduct[];
  /** Autotask only: the tenant's Products, and whether a product billing code is set so they can be created. */
  chargeProducts?: { records: readonly PsaCatalogRecord[]; canCreate: boolean };
  /**
   * A pending create sent less than `ms` before `now` and not found may still land in the PSA: it is not sent
   * again until then. Without it a pending create that is not found is sent again.
   */
  inDoubt?: { now: Date; ms: number };
  /** Sell prices of linked records: never changed (the default), or changed once confirmed. */
  linkedPriceUpdates?: LinkedPriceUpdates;
};

/** Where the PSA record of an item comes from: created by cspsync, or linked (the MSP's); null when there is none. */
export function recordOrigin(item: ProductPlanItem): "cspsync" | "linked" | null {
  if (item.action === "create") return "cspsync";
  if (item.recordId === null) return null;
  return item.owned ? "cspsync" : "linked";
}

/** How a plan marks a linked record's price change that waits for confirmation, in its reason and notes. */
export const NEEDS_CONFIRMATION = {
  reason: " (needs confirmation)",
  note: "written only once a person confirms it",
};

/** A linked record's sell-price change that is written only once a person confirms it. */
export type PriceConfirmationItem = {
  key: string;
  kind: ProductItemKind;
  name: string;
  recordId: string;
  recordLabel: string | null;
  from: DecimalString | null;
  to: DecimalString;
  direction: "decrease" | "increase";
};

/** The sell-price changes of a plan that need a person's confirmation, in plan order. */
export function pendingPriceConfirmations(plan: ProductPlan): PriceConfirmationItem[] {
  return plan.items.flatMap((item) => {
    const change = item.linkedPrice;
    if (!change || change.handling !== "needs-confirmation" || item.recordId === null) return [];
    const lower = new Dec(change.to).lessThan(new Dec(change.from ?? "0"));
    return [
      {
        key: item.key,
        kind: item.kind,
        name: item.name,
        recordId: item.recordId,
        recordLabel: item.recordLabel,
        from: change.from,
        to: change.to,
        direction: lower ? ("decrease" as const) : ("increase" as const),
      },
    ];
  });
}

const VENDOR_WORDS = {
  connectwise: { record: "catalog item", psa: "ConnectWise" },
  autotask: { record: "service", psa: "Autotask" },
} as const;

/** The keys a product claims in the PSA: CW identifier/vendor SKU spellings; the AT service name. */
export function claimKeys(vendor: "connectwise" | "autotask", product: CatalogProduct): string[] {
  if (vendor === "autotask") return [autotaskServiceName(product.key).toUpperCase()];
  const keys = [product.key];
  // Some catalogs spell the annual SKU with a `:P1Y` suffix (product-identity.ts).
  if (product.variant === "P1Y:A") keys.push(`${product.productId}:${product.skuId}:P1Y`);
  return keys.map((k) => k.toUpperCase());
}

export function planProductSync(input: PlanInput): ProductPlan {
  const recordsById = new Map(input.records.map((r) => [r.id, r]));
  const catalogTracked = input.tracked.filter((t) => !isChargeProductKey(t.productKey));
  const trackedByKey = new Map(catalogTracked.map((t) => [t.productKey, t]));
  // A record already tracked for one product can never be linked to another.
  const takenIds = new Set(catalogTracked.flatMap((t) => (t.psaRecordId ? [t.psaRecordId] : [])));
  const items = input.products.map((product) =>
    planOne(input, product, trackedByKey.get(product.key), recordsById, takenIds),
  );
  if (input.vendor === "autotask" && input.chargeProducts) {
    items.push(
      ...planChargeProducts(
        input.products,
        input.chargeProducts,
        input.tracked,
        input.inDoubt,
        input.linkedPriceUpdates ?? "never",
      ),
    );
  }
  const counts: Record<ProductAction, number> = { create: 0, link: 0, update: 0, skip: 0, conflict: 0 };
  for (const item of items) counts[item.action] += 1;
  return { vendor: input.vendor, items, counts };
}

function planOne(
  input: PlanInput,
  product: CatalogProduct,
  tracked: TrackedProduct | undefined,
  recordsById: ReadonlyMap<string, PsaCatalogRecord>,
  takenIds: ReadonlySet<string>,
): ProductPlanItem {
  const { vendor, records } = input;
  const words = VENDOR_WORDS[vendor];
  const base = {
    key: product.key,
    kind: "catalog" as const,
    name: product.name,
    variant: product.variant,
    product,
    notes: [] as string[],
  };
  if (product.azure) {
    return skipItem(base, "Azure consumption is billed by the Azure Plan sync, not as a catalog product");
  }
  const current = tracked?.psaRecordId ? recordsById.get(tracked.psaRecordId) : undefined;
  const linkedPrices = input.linkedPriceUpdates ?? "never";
  if (tracked && current) return keepUpToDate(base, current, tracked.owned, words, linkedPrices);
  if (tracked?.psaRecordId) {
    base.notes.push(
      `${words.record} ${tracked.psaRecordId} that cspsync ${tracked.owned ? "created" : "linked"} no longer exists in ${words.psa}`,
    );
  }
  const claims = new Set(claimKeys(vendor, product));
  const matches = records.filter((r) => !takenIds.has(r.id) && r.keys.some((k) => claims.has(k)));

  // A create whose outcome was never learned: the record carrying our key is the one we created.
  if (tracked?.status === "pending" && !tracked.psaRecordId && matches.length === 1) {
    const item = keepUpToDate(base, matches[0]!, tracked.owned, words, linkedPrices);
    return { ...item, action: "link", reason: `found the ${words.record} an interrupted sync created` };
  }
  const waiting = matches.length === 0 ? waitForPendingCreate(base, tracked, input.inDoubt, words) : null;
  if (waiting) return waiting;
  if (vendor === "autotask") return autotaskCreateOrConflict(base, matches);
  return connectWiseLinkOrCreate(base, matches, linkedPrices);
}

type ItemBase = Pick<ProductPlanItem, "key" | "kind" | "name" | "variant" | "product" | "notes">;

/**
 * A create sent moments ago whose answer never came may still be at work in the PSA: not finding its record
 * proves nothing yet, and sending it again could make two. It is left for a run after the in-doubt window.
 */
function waitForPendingCreate(
  base: ItemBase,
  tracked: TrackedProduct | undefined,
  inDoubt: PlanInput["inDoubt"],
  words: { record: string; psa: string },
): ProductPlanItem | null {
  if (!inDoubt || tracked?.status !== "pending" || tracked.psaRecordId || !tracked.updatedAt) return null;
  const until = Date.parse(tracked.updatedAt) + inDoubt.ms;
  if (!(inDoubt.now.getTime() < until)) return null;
  const waitUntil = new Date(until).toISOString();
  return {
    ...skipItem(
      base,
      `the create of this ${words.record} sent at ${tracked.updatedAt} got no answer and is not in ${words.psa} yet; ` +
        `it may still arrive, so it is left for a run after ${waitUntil}`,
    ),
    waitUntil,
  };
}

function keepUpToDate(
  base: ItemBase,
  record: PsaCatalogRecord,
  owned: boolean,
  words: { record: string; psa: string },
  linkedPrices: LinkedPriceUpdates,
): ProductPlanItem {
  const changes = priceChanges(base.product, record);
  const notes = [...base.notes];
  if (!record.active) notes.push(`inactive in ${words.psa}: price and cost kept current, left inactive`);
  // The sell price of a record cspsync only linked is the MSP's: kept, or changed once a person confirms it.
  let linkedPrice: LinkedPriceChange | undefined;
  if (!owned && changes.price !== undefined) {
    const from = record.price;
    const to = changes.price;
    if (linkedPrices === "confirm") {
      linkedPrice = { from, to, handling: "needs-confirmation" };
      notes.push(
        `sell price ${from ?? "none"} → ${to} on a ${words.record} cspsync linked, not created: ` +
          NEEDS_CONFIRMATION.note,
      );
    } else {
      linkedPrice = { from, to, handling: "kept" };
      delete changes.price;
      notes.push(
        `sell price ${from ?? "none"} kept: cspsync linked this ${words.record}, it did not create it ` +
          `(the billing data's price is ${to}; linkedPriceUpdates is "never")`,
      );
    }
  }
  const changed = Object.keys(changes).length > 0;
  const unchanged = linkedPrice?.handling === "kept" ? "sell price kept, cost up to date" : "up to date";
  return {
    ...base,
    notes,
    action: changed ? "update" : "skip",
    recordId: record.id,
    recordLabel: record.label,
    owned,
    changes,
    ...(linkedPrice ? { linkedPrice } : {}),
    current: { price: record.price, cost: record.cost },
    reason: changed ? describeChanges(changes, record, linkedPrice) : unchanged,
  };
}

function autotaskCreateOrConflict(base: ItemBase, matches: PsaCatalogRecord[]): ProductPlanItem {
  const name = autotaskServiceName(base.key);
  const clash = matches[0];
  if (!clash) return createItem(base, `new service ${name}`);
  return {
    ...base,
    action: "conflict",
    recordId: null,
    recordLabel: clash.label,
    owned: false,
    changes: {},
    reason:
      `Autotask service ${clash.id} ("${clash.label}") already has the name ${name} and was not created by cspsync; ` +
      `creating it would fail with "AutoTask returned an error response: Violation of UNIQUE KEY constraint 'IX_service'… duplicate key". ` +
      `Rename or remove service ${clash.id} in Autotask, then run the product sync again.`,
  };
}

function connectWiseLinkOrCreate(
  base: ItemBase,
  matches: PsaCatalogRecord[],
  linkedPrices: LinkedPriceUpdates,
): ProductPlanItem {
  const active = matches.filter((r) => r.active);
  const candidates = active.length > 0 ? active : matches;
  if (candidates.length === 0) return createItem(base, `new catalog item ${base.key}`);
  if (candidates.length > 1) {
    const list = candidates.map((r) => `${r.id} "${r.label}"`).join(", ");
    return {
      ...base,
      action: "conflict",
      recordId: null,
      recordLabel: null,
      owned: false,
      changes: {},
      reason:
        `${candidates.length} ConnectWise catalog items carry SKU ${base.key} (${list}); cspsync cannot tell which to link. ` +
        `Keep the SKU on one of them (change the vendor SKU/identifier of the others, or deactivate them), then run the product sync again.`,
    };
  }
  const record = candidates[0]!;
  const item = keepUpToDate(base, record, false, VENDOR_WORDS.connectwise, linkedPrices);
  const what = Object.keys(item.changes).length > 0 ? `; ${item.reason}` : "";
  return { ...item, action: "link", reason: `existing catalog item ${record.label} carries the SKU${what}` };
}

/** Nothing to write for this product, and why. */
function skipItem(base: ItemBase, reason: string): ProductPlanItem {
  return { ...base, action: "skip", recordId: null, recordLabel: null, owned: false, changes: {}, reason };
}

function createItem(base: ItemBase, reason: string): ProductPlanItem {
  // Nothing billed yet (a trial): created at zero, corrected by the first sync after a billed charge.
  const price = base.product.price ?? "0";
  const cost = base.product.cost ?? "0";
  const notes =
    base.product.priceSource === "none" ? [...base.notes, "no billed price yet: created at 0"] : base.notes;
  return {
    ...base,
    notes,
    action: "create",
    recordId: null,
    recordLabel: null,
    owned: true,
    changes: { price, cost },
    reason: `${reason} at price ${price}, cost ${cost}`,
  };
}

function priceChanges(product: CatalogProduct, record: PsaCatalogRecord): PriceChanges {
  const changes: PriceChanges = {};
  if (product.price !== null && !sameAmount(record.price, product.price)) changes.price = product.price;
  if (product.cost !== null && !sameAmount(record.cost, product.cost)) changes.cost = product.cost;
  return changes;
}

function sameAmount(current: DecimalString | null, wanted: DecimalString): boolean {
  return current !== null && new Dec(current).equals(new Dec(wanted));
}

function describeChanges(
  changes: PriceChanges,
  record: PsaCatalogRecord,
  linkedPrice: LinkedPriceChange | undefined,
): string {
  const parts: string[] = [];
  const confirm = linkedPrice?.handling === "needs-confirmation" ? NEEDS_CONFIRMATION.reason : "";
  if (changes.price !== undefined) parts.push(`price ${record.price ?? "none"} → ${changes.price}${confirm}`);
  if (changes.cost !== undefined) parts.push(`cost ${record.cost ?? "none"} → ${changes.cost}`);
  return parts.join(", ");
}

// ------------------------------------------------------------------------------------------ charge products

/**
 * Autotask contract charges reference a Product or a billing code (docs/autotask.md §8.3). The annual sync
 * (psa/autotask/adapter.ts matchProduct) picks the active Product whose `sku` is the first SKU spelling of
 * product-identity.ts that matches any; only when none does it falls back to the connection's charge product
 * or billing code. So the product sync makes sure that match exists: it tracks (links) the Product the annual
 * sync would find, or creates one with the spelling it looks for first.
 */
export const CHARGE_PRODUCT_KEY_PREFIX = "product:";

export function isChargeProductKey(key: string): boolean {
  return key.startsWith(CHARGE_PRODUCT_KEY_PREFIX);
}

/**
 * The SKU a created Product carries: `P1Y:A:ProductId:SkuId` (the annual sync's first spelling) for annual and
 * multi-year terms — the annual sync matches by ProductId:SkuId only, so both terms share one Product — and the
 * plain `ProductId:SkuId` for a one-time purchase, which has no term to mark and is found by the same lookup.
 */
export function chargeProductSku(product: Pick<CatalogProduct, "productId" | "skuId" | "variant">): string {
  return product.variant === "one-time"
    ? microsoftSku(product.productId, product.skuId)
    : annualSkuCandidates(product.productId, product.skuId)[0]!;
}

/** Autotask Product names are at most 100 characters (docs/autotask.md §8.9). */
export const CHARGE_PRODUCT_NAME_MAX = 100;

export function chargeProductName(product: Pick<CatalogProduct, "name">): string {
  return product.name.trim().slice(0, CHARGE_PRODUCT_NAME_MAX);
}

// When two terms of one SKU share a Product, its default price comes from the one-year term.
const VARIANT_PREFERENCE: readonly ProductVariant[] = ["P1Y:A", "P3Y:A", "one-time"];

function planChargeProducts(
  products: readonly CatalogProduct[],
  available: { records: readonly PsaCatalogRecord[]; canCreate: boolean },
  tracked: readonly TrackedProduct[],
  inDoubt: PlanInput["inDoubt"],
  linkedPrices: LinkedPriceUpdates,
): ProductPlanItem[] {
  const bySku = new Map<string, CatalogProduct[]>();
  for (const product of products) {
    if (product.azure || !product.contractCharges) continue;
    const sku = chargeProductSku(product);
    bySku.set(sku, [...(bySku.get(sku) ?? []), product]);
  }
  const chargeTracked = tracked.filter((t) => isChargeProductKey(t.productKey));
  const trackedByKey = new Map(chargeTracked.map((t) => [t.productKey, t]));
  const recordsById = new Map(available.records.map((r) => [r.id, r]));
  const context: ChargeContext = {
    recordsById,
    records: available.records,
    takenIds: new Set(chargeTracked.flatMap((t) => (t.psaRecordId ? [t.psaRecordId] : []))),
    canCreate: available.canCreate,
    inDoubt,
    linkedPrices,
  };
  return [...bySku.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, group]) => {
      const key = `${CHARGE_PRODUCT_KEY_PREFIX}${sku}`;
      return planChargeProduct(sku, representative(group), trackedByKey.get(key), context);
    });
}

type ChargeContext = {
  recordsById: ReadonlyMap<string, PsaCatalogRecord>;
  records: readonly PsaCatalogRecord[];
  takenIds: ReadonlySet<string>;
  canCreate: boolean;
  inDoubt: PlanInput["inDoubt"];
  linkedPrices: LinkedPriceUpdates;
};

const CHARGE_WORDS = { record: "product", psa: "Autotask" } as const;

function representative(group: readonly CatalogProduct[]): CatalogProduct {
  const order = (p: CatalogProduct) => {
    const index = VARIANT_PREFERENCE.indexOf(p.variant);
    return index < 0 ? VARIANT_PREFERENCE.length : index;
  };
  const rank = (p: CatalogProduct) => (p.price === null ? 10 : 0) + order(p);
  return [...group].sort((a, b) => rank(a) - rank(b))[0]!;
}

function planChargeProduct(
  sku: string,
  product: CatalogProduct,
  tracked: TrackedProduct | undefined,
  context: ChargeContext,
): ProductPlanItem {
  const base: ItemBase = {
    key: `${CHARGE_PRODUCT_KEY_PREFIX}${sku}`,
    kind: "charge-product",
    name: chargeProductName(product),
    variant: product.variant,
    product,
    notes: [],
  };
  const current = tracked?.psaRecordId ? context.recordsById.get(tracked.psaRecordId) : undefined;
  if (tracked && current) {
    const item = keepUpToDate(base, current, tracked.owned, CHARGE_WORDS, context.linkedPrices);
    if (!current.active)
      item.notes.push("the annual sync uses only active products: its charges take the fallback");
    const spellings = annualSkuCandidates(product.productId, product.skuId).map((k) => k.toUpperCase());
    if (!current.keys.some((k) => spellings.includes(k))) {
      item.notes.push(
        `its SKU no longer reads ${sku}; the annual sync finds products by SKU, so its charges take the fallback`,
      );
    }
    return item;
  }
  if (tracked?.psaRecordId) {
    base.notes.push(
      `product ${tracked.psaRecordId} that cspsync ${tracked.owned ? "created" : "linked"} no longer exists in Autotask`,
    );
  }
  const matches = annualSyncMatches(product, context);
  const [match] = matches;
  if (match && matches.length === 1) {
    const interrupted = tracked?.status === "pending" && !tracked.psaRecordId;
    const owned = interrupted ? tracked.owned : false;
    const item = keepUpToDate(base, match, owned, CHARGE_WORDS, context.linkedPrices);
    const what = Object.keys(item.changes).length > 0 ? `; ${item.reason}` : "";
    const reason = interrupted
      ? "found the product an interrupted sync created"
      : `existing product ${match.id} ("${match.label}") carries the SKU the annual sync looks for${what}`;
    return { ...item, action: "link", reason };
  }
  if (matches.length > 1) return chargeConflict(base, matches);
  const waiting = waitForPendingCreate(base, tracked, context.inDoubt, CHARGE_WORDS);
  if (waiting) return waiting;
  const inactive = context.records.some((r) => !r.active && r.keys.includes(sku.toUpperCase()));
  if (inactive)
    base.notes.push(`an inactive product carries SKU ${sku}; the annual sync ignores inactive products`);
  if (!context.canCreate) {
    return skipItem(
      base,
      `no Autotask product has SKU ${sku}; set the product billing code (productBillingCodeId) in the product ` +
        "settings to create one — until then annual charges use the connection's charge product or billing code",
    );
  }
  return createItem(base, `new product "${base.name}" with SKU ${sku}`);
}

/** The active, untracked-elsewhere Products of the first SKU spelling that has any (as matchProduct). */
function annualSyncMatches(product: CatalogProduct, context: ChargeContext): PsaCatalogRecord[] {
  for (const spelling of annualSkuCandidates(product.productId, product.skuId)) {
    const wanted = spelling.toUpperCase();
    const found = context.records.filter(
      (r) => r.active && !context.takenIds.has(r.id) && r.keys.includes(wanted),
    );
    if (found.length > 0) return found;
  }
  return [];
}

function chargeConflict(base: ItemBase, matches: readonly PsaCatalogRecord[]): ProductPlanItem {
  const list = matches.map((r) => `${r.id} "${r.label}"`).join(", ");
  const sku = microsoftSku(base.product.productId, base.product.skuId);
  return {
    ...base,
    action: "conflict",
    recordId: null,
    recordLabel: null,
    owned: false,
    changes: {},
    reason:
      `${matches.length} active Autotask products carry the same SKU spelling for ${sku} (${list}); the annual sync ` +
      `cannot choose and fails with "Could not find source product or multiple matches". Deactivate all but one, ` +
      "or change the SKU of the others, then run the product sync again.",
  };
}
