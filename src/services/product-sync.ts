import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import { z } from "zod";
import {
  collectCatalogProducts,
  LINKED_PRICE_UPDATES,
  NEEDS_CONFIRMATION,
  pendingPriceConfirmations,
  planProductSync,
  PRODUCT_SYNC_MODES,
  type LinkedPriceUpdates,
  type PriceConfirmationItem,
  type ProductAction,
  type ProductItemKind,
  type ProductLineGroup,
  type ProductPlan,
  type ProductPlanItem,
  type ProductSyncMode,
  type TrackedProduct,
} from "../core/product-plan.ts";
import { PsaOutcomeUnknownError } from "../psa/shared/errors.ts";
import { IN_DOUBT_MS, WriteInDoubtError } from "../psa/shared/write-once.ts";
import type { Store } from "../store/db.ts";
import type { Database, Flag, SyncedProductsTable } from "../store/schema.ts";
import { createConnection, type AdapterOptions } from "../psa/factory.ts";
import type { AutotaskCatalogSettings } from "../psa/autotask/catalog-settings.ts";
import type { ConnectWiseCatalogSettings } from "../psa/connectwise/catalog-settings.ts";
import {
  ProductSyncSetupError,
  type CatalogTarget,
  type PsaConnectionDetails,
  type RecordWriter,
} from "../psa/port.ts";
import { failureSentence } from "../psa/shared/error-sentences.ts";

/**
 * Product catalog sync (docs/sync-behaviour.md §4): the products of the billing data become
 * ConnectWise catalog items or Autotask services. `preview` reads the data and the PSA and returns the plan;
 * `sync` applies it, one product at a time, remembering each PSA record in `synced_products` so a re-run has
 * nothing to do.
 */

/** What the product sync needs from a PSA's catalog, and its setup error: declared in the PSA port. */
export {
  ProductSyncSetupError,
  type CatalogTarget,
  type ChargeProductWriter,
  type CreatedRecord,
  type RecordWriter,
} from "../psa/port.ts";

// ------------------------------------------------------------------------------------------ settings

export const productSyncModeSchema = z.enum(PRODUCT_SYNC_MODES).default("off");
export const linkedPriceUpdatesSchema = z.enum(LINKED_PRICE_UPDATES).default("never");

// ------------------------------------------------------------------------------------------ price confirmation

/**
 * The sell-price changes on linked records (the MSP's own) that a sync would write once confirmed, and a
 * fingerprint of exactly these changes: a sync confirmed with it writes them only while they are still the same.
 */
export type PriceConfirmation = { fingerprint: string; changes: PriceConfirmationItem[] };

export function priceConfirmationOf(plan: ProductPlan): PriceConfirmation {
  const changes = pendingPriceConfirmations(plan);
  const canonical = changes
    .map((c) => [c.kind, c.key, c.recordId, c.from, c.to])
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const fingerprint = createHash("sha256").update(JSON.stringify(canonical)).digest("hex").slice(0, 16);
  return { fingerprint, changes };
}

/** One line per change: `M365-STD (CFQ7TTC0LDPB:0001): 15 → 10.08, a decrease`. */
export function describePriceChange(change: PriceConfirmationItem): string {
  const record = change.recordLabel ?? change.recordId;
  return `${record} (${change.key}): ${change.from ?? "none"} → ${change.to}, ${change.direction === "increase" ? "an" : "a"} ${change.direction}`;
}

/**
 * A sync asked for by a person would change sell prices on linked records that nobody confirmed (or that differ
 * from the ones confirmed): nothing was written.
 */
export class PriceConfirmationRequiredError extends Error {
  readonly confirmation: PriceConfirmation;
  /** A confirmation was given, but for other changes than the sync found now. */
  readonly stale: boolean;
  constructor(confirmation: PriceConfirmation, stale: boolean) {
    const count = confirmation.changes.length;
    const what = count === 1 ? "1 sell price change" : `${count} sell price changes`;
    super(
      `${what} on linked PSA records (not created by cspsync) ${count === 1 ? "needs" : "need"} confirmation` +
        `${stale ? ", and they differ from the ones confirmed" : ""}; nothing was written: ` +
        confirmation.changes.map(describePriceChange).join("; "),
    );
    this.name = "PriceConfirmationRequiredError";
    this.confirmation = confirmation;
    this.stale = stale;
  }
}

/** What a sync does with sell-price changes on linked records that need confirmation. */
export type PriceConfirmationOptions = {
  /**
   * The fingerprint of the changes a person confirmed (from the preview), or `all-planned`: whatever this run
   * plans, for a caller that lists what it wrote (the CLI's --yes).
   */
  confirmed?: { fingerprint: string } | "all-planned";
  /**
   * Without a matching confirmation: `refuse` the whole sync before writing anything (a person asked for it and
   * can confirm), or `hold` those price changes and write the rest (scheduled runs). Default: hold.
   */
  unconfirmed?: "refuse" | "hold";
};

// ------------------------------------------------------------------------------------------ store

// ------------------------------------------------------------------------------------------ results

export type ProductItemStatus = "written" | "unchanged" | "conflict" | "failed";

export type ProductItemResult = {
  key: string;
  kind: ProductItemKind;
  name: string;
  action: ProductAction;
  status: ProductItemStatus;
  recordId: string | null;
  message: string;
  notes: string[];
  /** What the item wrote (or would have), as data for the web: message says the same with raw numbers. */
  amounts: ProductItemAmounts | null;
};

/**
 * A product's price and cost as the run left them: `to` what was written, `from` the record's before (null for a
 * new record); `confirmed` when the price was a linked record's, written as a person confirmed it.
 */
export type ProductItemAmounts = {
  created: boolean;
  price?: { from: string | null; to: string; confirmed: boolean };
  cost?: { from: string | null; to: string };
};

function amountsOf(item: ProductPlanItem): ProductItemAmounts | null {
  const { changes } = item;
  if (changes.price === undefined && changes.cost === undefined) return null;
  const created = item.action === "create";
  const from = (value: string | null | undefined) => (created ? null : (value ?? null));
  return {
    created,
    ...(changes.price !== undefined
      ? {
          price: {
            from: from(item.current?.price),
            to: changes.price,
            confirmed: item.linkedPrice?.handling === "needs-confirmation",
          },
        }
      : {}),
    ...(changes.cost !== undefined ? { cost: { from: from(item.current?.cost), to: changes.cost } } : {}),
  };
}

export type ProductPreview = {
  connectionId: string;
  vendor: "connectwise" | "autotask";
  mode: Exclude<ProductSyncMode, "off">;
  linkedPriceUpdates: LinkedPriceUpdates;
  plan: ProductPlan;
  /** Sell-price changes on linked records a sync writes only once they are confirmed. */
  priceConfirmation: PriceConfirmation;
};

export type ProductSyncResult = ProductPreview & {
  items: ProductItemResult[];
  counts: Record<ProductItemStatus, number>;
  psaRequests: number;
};

export type ProductSyncOptions = {
  store: Store;
  organizationId: string;
  connectionId: string;
  target: CatalogTarget;
  /** The connection's setting for sell prices of linked records; never changed by default. */
  linkedPriceUpdates?: LinkedPriceUpdates;
  now?: () => Date;
};

export class ProductSync {
  readonly #options: ProductSyncOptions;
  readonly #db: Kysely<Database>;

  constructor(options: ProductSyncOptions) {
    this.#options = options;
    // synced_products comes with migration 0005; Database is widened here rather than everywhere.
    this.#db = options.store.db;
  }

  /** The plan, computed from the billing data and a read of the PSA; nothing is written. */
  async preview(mode: ProductSyncMode): Promise<ProductPreview> {
    if (mode === "off") throw new ProductSyncSetupError("product sync is off for this connection");
    const { target } = this.#options;
    await target.prepare();
    const charge = target.chargeProducts;
    const [groups, inUse, records, tracked, chargeRecords] = await Promise.all([
      this.#productGroups(),
      mode === "in-use" ? this.#mappedTenants() : Promise.resolve(null),
      target.read(),
      this.#tracked(),
      charge ? charge.read() : Promise.resolve(null),
    ]);
    const products = collectCatalogProducts(groups, inUse);
    const plan = planProductSync({
      vendor: target.vendor,
      products,
      records,
      tracked,
      inDoubt: { now: this.#now(), ms: IN_DOUBT_MS },
      linkedPriceUpdates: this.#linkedPriceUpdates(),
      ...(charge && chargeRecords
        ? { chargeProducts: { records: chargeRecords, canCreate: charge.canCreate() } }
        : {}),
    });
    return {
      connectionId: this.#options.connectionId,
      vendor: target.vendor,
      mode,
      linkedPriceUpdates: this.#linkedPriceUpdates(),
      plan,
      priceConfirmation: priceConfirmationOf(plan),
    };
  }

  /**
   * Applies the plan; each product's failure stays with that product. Sell-price changes on linked records are
   * written only when `prices.confirmed` covers them; otherwise the sync is refused (PriceConfirmationRequiredError,
   * nothing written) or, by default, those price changes are held and everything else is written.
   */
  async sync(
    mode: ProductSyncMode,
    prices: PriceConfirmationOptions = {},
    /** Called before each product is applied; it throws to stop the sync (a run that lost its lock). */
    fence: () => Promise<void> = async () => {},
  ): Promise<ProductSyncResult> {
    const preview = await this.preview(mode);
    const { confirmed, unconfirmed = "hold" } = prices;
    const pending = preview.priceConfirmation;
    const confirmedNow =
      pending.changes.length === 0 ||
      confirmed === "all-planned" ||
      confirmed?.fingerprint === pending.fingerprint;
    if (!confirmedNow && unconfirmed === "refuse")
      throw new PriceConfirmationRequiredError(pending, confirmed !== undefined);
    const tracked = new Map((await this.#tracked()).map((t) => [t.productKey, t]));
    const items: ProductItemResult[] = [];
    for (const planned of preview.plan.items) {
      const item = confirmedNow ? confirmLinkedPrice(planned) : holdLinkedPrice(planned);
      await fence();
      items.push(await this.#apply(item, tracked.get(item.key)));
    }
    const counts: Record<ProductItemStatus, number> = { written: 0, unchanged: 0, conflict: 0, failed: 0 };
    for (const item of items) counts[item.status] += 1;
    return { ...preview, items, counts, psaRequests: this.#options.target.requestCount() };
  }

  /** What cspsync tracks for this connection. */
  async tracked(): Promise<TrackedProduct[]> {
    return this.#tracked();
  }

  async #apply(item: ProductPlanItem, prior: TrackedProduct | undefined): Promise<ProductItemResult> {
    const result = (
      status: ProductItemStatus,
      message: string,
      recordId = item.recordId,
      notes = item.notes,
    ) => ({
      key: item.key,
      kind: item.kind,
      name: item.name,
      action: item.action,
      status,
      recordId,
      message,
      notes,
      // Only what was written: a failed or skipped item changed nothing.
      amounts: status === "written" ? amountsOf(item) : null,
    });
    switch (item.action) {
      case "skip":
        // Waiting for an earlier create that may still land is not done: the run says so and a later one finishes.
        return result(item.waitUntil ? "failed" : "unchanged", item.reason);
      case "conflict":
        return result("conflict", item.reason);
      case "create":
        return this.#create(item, prior, result);
      case "link":
      case "update":
        try {
          const writes = Object.keys(item.changes).length > 0;
          if (writes) await this.#writer(item).updatePrices(item.recordId!, item.changes);
          await this.#remember(item, item.recordId!, item.owned, "synced");
          // An update left with nothing to write (its price change held) wrote nothing.
          return result(writes || item.action === "link" ? "written" : "unchanged", item.reason);
        } catch (error) {
          return result("failed", messageOf(error));
        }
    }
  }

  async #create(
    item: ProductPlanItem,
    prior: TrackedProduct | undefined,
    result: (
      status: ProductItemStatus,
      message: string,
      recordId?: string | null,
      notes?: string[],
    ) => ProductItemResult,
  ): Promise<ProductItemResult> {
    // Recorded before the request: if the answer is lost, the next run finds the record by its key.
    await this.#remember(item, null, true, "pending");
    try {
      const created = await this.#writer(item).create(item);
      await this.#remember(item, created.recordId, true, "synced");
      const word = item.kind === "charge-product" ? "product" : this.#options.target.recordWord;
      return result("written", `created ${word} ${created.label}`, created.recordId, [
        ...item.notes,
        ...created.notes,
      ]);
    } catch (error) {
      // Only an unknown outcome keeps the pending mark; a refused create must not adopt someone else's record.
      const unknown = error instanceof PsaOutcomeUnknownError || error instanceof WriteInDoubtError;
      if (!unknown) await this.#restore(item.key, prior);
      // The wait for a timed-out create counts from its last send, which may have followed a resend.
      if (error instanceof WriteInDoubtError) await this.#remember(item, null, true, "pending");
      return result("failed", messageOf(error), null);
    }
  }

  #writer(item: ProductPlanItem): RecordWriter {
    if (item.kind === "catalog") return this.#options.target;
    const writer = this.#options.target.chargeProducts;
    if (!writer) throw new Error(`${this.#options.target.vendor} has no products for contract charges`);
    return writer;
  }

  async #remember(
    item: ProductPlanItem,
    recordId: string | null,
    owned: boolean,
    status: SyncedProductsTable["status"],
  ): Promise<void> {
    const now = this.#now().toISOString();
    const values = {
      product_name: item.name,
      psa_record_id: recordId,
      owned: (owned ? 1 : 0) as Flag,
      status,
      price: item.product.price,
      cost: item.product.cost,
      updated_at: now,
    };
    await this.#db
      .insertInto("synced_products")
      .values({
        ...values,
        organization_id: this.#options.organizationId,
        connection_id: this.#options.connectionId,
        product_key: item.key,
        created_at: now,
      })
      .onConflict((oc) => oc.columns(["connection_id", "product_key"]).doUpdateSet(values))
      .execute();
  }

  async #restore(key: string, prior: TrackedProduct | undefined): Promise<void> {
    const row = this.#db
      .updateTable("synced_products")
      .where("connection_id", "=", this.#options.connectionId)
      .where("product_key", "=", key);
    if (prior) {
      await row
        .set({ psa_record_id: prior.psaRecordId, owned: prior.owned ? 1 : 0, status: prior.status })
        .execute();
    } else {
      await this.#db
        .deleteFrom("synced_products")
        .where("connection_id", "=", this.#options.connectionId)
        .where("product_key", "=", key)
        .execute();
    }
  }

  async #tracked(): Promise<TrackedProduct[]> {
    const rows = await this.#db
      .selectFrom("synced_products")
      .select(["product_key", "psa_record_id", "owned", "status", "updated_at"])
      .where("organization_id", "=", this.#options.organizationId)
      .where("connection_id", "=", this.#options.connectionId)
      .execute();
    return rows.map((r) => ({
      productKey: r.product_key,
      psaRecordId: r.psa_record_id,
      owned: Number(r.owned) === 1,
      status: r.status,
      updatedAt: r.updated_at,
    }));
  }

  #now(): Date {
    return (this.#options.now ?? (() => new Date()))();
  }

  #linkedPriceUpdates(): LinkedPriceUpdates {
    return this.#options.linkedPriceUpdates ?? "never";
  }

  /** Lines grouped by everything the plan reads, so a million lines come back as a few hundred rows. */
  async #productGroups(): Promise<ProductLineGroup[]> {
    const keys = [
      "customer_tenant_id",
      "motion",
      "product_id",
      "sku_id",
      "billing_frequency",
      "subscription_start",
      "subscription_end",
      "charge_type",
      "is_billable",
      "unit_price",
      "effective_unit_price",
    ] as const;
    const rows = await this.#db
      .selectFrom("charge_lines")
      .select(keys)
      .select((eb) => [
        eb.fn.max("product_name").as("product_name"),
        eb.fn.max("sku_name").as("sku_name"),
        eb.fn.max("charge_start").as("last_charge_start"),
      ])
      .where("organization_id", "=", this.#options.organizationId)
      .groupBy([...keys])
      .execute();
    return rows.map((r) => ({
      customerTenantId: r.customer_tenant_id,
      motion: r.motion,
      productId: r.product_id,
      skuId: r.sku_id,
      productName: r.product_name,
      skuName: r.sku_name,
      billingFrequency: r.billing_frequency,
      subscriptionStart: r.subscription_start,
      subscriptionEnd: r.subscription_end,
      chargeType: r.charge_type,
      isBillable: Number(r.is_billable) === 1,
      unitPrice: String(r.unit_price),
      effectiveUnitPrice: String(r.effective_unit_price),
      lastChargeStart: String(r.last_charge_start),
    }));
  }

  /** Customers with an enabled mapping (any motion) on this connection: the "in use" set. */
  async #mappedTenants(): Promise<Set<string>> {
    const rows = await this.#db
      .selectFrom("mappings")
      .select("customer_tenant_id")
      .distinct()
      .where("organization_id", "=", this.#options.organizationId)
      .where("connection_id", "=", this.#options.connectionId)
      .where("enabled", "=", 1)
      .execute();
    return new Set(rows.map((r) => r.customer_tenant_id));
  }
}

/** The item with its sell-price change on a linked record confirmed: the result says so. */
function confirmLinkedPrice(item: ProductPlanItem): ProductPlanItem {
  if (item.linkedPrice?.handling !== "needs-confirmation") return item;
  return {
    ...item,
    reason: item.reason.replace(NEEDS_CONFIRMATION.reason, " (confirmed)"),
    notes: item.notes.map((n) => n.replace(NEEDS_CONFIRMATION.note, "written as a person confirmed it")),
  };
}

/** The item without its unconfirmed sell-price change on a linked record: cost and the rest still written. */
function holdLinkedPrice(item: ProductPlanItem): ProductPlanItem {
  if (item.linkedPrice?.handling !== "needs-confirmation") return item;
  const { price: _held, ...changes } = item.changes;
  return {
    ...item,
    changes,
    reason:
      `${item.reason}; the sell price was not written: it is on a record cspsync linked and needs a person's ` +
      "confirmation (preview, then sync and confirm)",
  };
}

/**
 * The item's notes without the plan's sentence about its linked sell price ("sell price 15 → 10.08 on a …"):
 * for the web, which shows that change from `linkedPrice` as formatted amounts instead of the raw numbers.
 */
export function notesBesideLinkedPrice(item: ProductPlanItem): string[] {
  const linked = item.linkedPrice;
  if (!linked) return item.notes;
  const start = `sell price ${linked.from ?? "none"} `;
  return item.notes.filter((note) => !note.startsWith(start));
}

// ------------------------------------------------------------------------------------------ wiring

export type ProductSettings = (
  | { vendor: "connectwise"; mode: ProductSyncMode; catalog: ConnectWiseCatalogSettings }
  | { vendor: "autotask"; mode: ProductSyncMode; catalog: AutotaskCatalogSettings }
) & { linkedPriceUpdates: LinkedPriceUpdates };

/**
 * Product settings from a connection's stored settings object (unknown keys are ignored), with overrides,
 * e.g. from CLI flags. Invalid values are reported as a setup error naming the field.
 */
export async function productSettingsFrom(
  vendor: "connectwise" | "autotask",
  stored: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): Promise<ProductSettings> {
  const raw = { ...stored, ...withoutUndefined(overrides) };
  const mode = parseSetting(productSyncModeSchema, raw.productSyncMode, "productSyncMode");
  const linkedPriceUpdates = parseSetting(
    linkedPriceUpdatesSchema,
    raw.linkedPriceUpdates,
    "linkedPriceUpdates",
  );
  if (vendor === "connectwise") {
    const { connectWiseCatalogSettingsSchema } = await import("../psa/connectwise/catalog-settings.ts");
    const catalog = parseSetting(connectWiseCatalogSettingsSchema, raw, "settings");
    return { vendor, mode, linkedPriceUpdates, catalog };
  }
  const { autotaskCatalogSettingsSchema } = await import("../psa/autotask/catalog-settings.ts");
  const catalog = parseSetting(autotaskCatalogSettingsSchema, raw, "settings");
  return { vendor, mode, linkedPriceUpdates, catalog };
}

/** Hosts and retry timing for the PSA client: the same as the billing syncs' adapters take. */
export type TargetOptions = AdapterOptions;

/**
 * The PSA side for a stored connection, refusing hosts that are not allowed before any request: the catalog
 * target of the connection the one PSA factory builds.
 */
export async function createCatalogTarget(
  details: PsaConnectionDetails,
  settings: ProductSettings,
  options: TargetOptions,
): Promise<CatalogTarget> {
  if (details.vendor !== settings.vendor)
    throw new Error("the product settings are for another PSA than the connection");
  return (await createConnection(details, options)).catalog(settings);
}

function parseSetting<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = [field, ...issue.path.map(String)].join(".");
  throw new ProductSyncSetupError(`${path}: ${issue.message}`);
}

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function messageOf(error: unknown): string {
  return failureSentence(error);
}
