import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { canonicalDecimal } from "../core/money.ts";
import {
  EMPTY_PRICE_LIST,
  parseBillingPlan,
  type PriceListEntry,
  type PriceListIndex,
} from "../core/price-list.ts";
import { readPriceList, type PriceListFile } from "../sources/price-list/reader.ts";
import { takeExcluded, upsertRows } from "../store/bulk-insert.ts";
import type { Store } from "../store/db.ts";
import type { PriceListEntriesTable, PriceListImportsTable } from "../store/schema.ts";

/**
 * Microsoft's new commerce price lists (docs/price-lists.md): import a file, list the imports, look entries
 * up, delete an import, and hand the planners the entries a run needs in one query.
 */
export type PriceListImportView = {
  id: string;
  fileName: string;
  market: string;
  currency: string;
  rowCount: number;
  entryCount: number;
  /** Earliest and latest EffectiveStartDate in the file: the month(s) it carries. */
  firstEffective: string;
  lastEffective: string;
  importedAt: string;
  importedBy: string | null;
};

export type PriceListImportResult = {
  import: PriceListImportView;
  /** The same file was imported before: nothing was added. */
  duplicate: boolean;
  /** Entries new to the organization's price lists. */
  added: number;
  /** Entries already held, whose prices this file (re)set. */
  replaced: number;
  skipped: Record<string, number>;
};

export type PriceListEntryView = PriceListEntry & { importId: string };

export class PriceListError extends Error {
  readonly notFound: boolean;
  constructor(message: string, notFound = false) {
    super(message);
    this.name = "PriceListError";
    this.notFound = notFound;
  }
}

/** The deterministic key of an entry: the same row of the same month is the same entry in every file. */
export function entryKey(e: PriceListEntry): string {
  return [
    e.productId,
    e.skuId,
    e.termDuration,
    e.billingPlan,
    e.market,
    e.currency,
    e.tierMin ?? "",
    e.effectiveStart,
  ].join("|");
}

function toImport(row: PriceListImportsTable): PriceListImportView {
  return {
    id: row.id,
    fileName: row.file_name,
    market: row.market,
    currency: row.currency,
    rowCount: Number(row.row_count),
    entryCount: Number(row.entry_count),
    firstEffective: row.first_effective,
    lastEffective: row.last_effective,
    importedAt: row.imported_at,
    importedBy: row.imported_by,
  };
}

const money = (v: unknown) => canonicalDecimal(String(v));

function toEntry(row: PriceListEntriesTable): PriceListEntryView {
  return {
    importId: row.import_id,
    productId: row.product_id,
    skuId: row.sku_id,
    termDuration: row.term_duration,
    billingPlan: parseBillingPlan(row.billing_plan) ?? "Monthly",
    market: row.market,
    currency: row.currency,
    unitPrice: money(row.unit_price),
    erpPrice: money(row.erp_price),
    tierMin: row.tier_min === null ? null : money(row.tier_min),
    tierMax: row.tier_max === null ? null : money(row.tier_max),
    effectiveStart: row.effective_start,
    effectiveEnd: row.effective_end,
    productTitle: row.product_title,
    skuTitle: row.sku_title,
  };
}

const UPDATED_COLUMNS = [
  "import_id",
  "unit_price",
  "erp_price",
  "tier_max",
  "effective_end",
  "product_title",
  "sku_title",
];

export class PriceListService {
  private readonly store: Store;
  private readonly organizationId: string;
  private readonly now: () => Date;

  constructor(store: Store, organizationId: string, now: () => Date = () => new Date()) {
    this.store = store;
    this.organizationId = organizationId;
    this.now = now;
  }

  /** Reads the whole file first (a bad row stores nothing), then stores it in one transaction. */
  async import(
    source: string | Readable,
    options: { fileName?: string; importedBy?: string | null } = {},
  ): Promise<PriceListImportResult> {
    const file = await readPriceList(source, options.fileName);
    return this.save(file, options.importedBy ?? null);
  }

  /** Stores a file already read (an upload is read as it arrives). */
  async save(file: PriceListFile, importedBy: string | null): Promise<PriceListImportResult> {
    const { db, dialect } = this.store;
    const previous = await db
      .selectFrom("price_list_imports")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("sha256", "=", file.sha256)
      .executeTakeFirst();
    if (previous)
      return { import: toImport(previous), duplicate: true, added: 0, replaced: 0, skipped: file.skipped };
    const byKey = new Map<string, PriceListEntry>();
    for (const entry of file.entries) byKey.set(entryKey(entry), entry);
    const starts = file.entries.map((e) => e.effectiveStart).sort();
    const id = randomUUID();
    const row: PriceListImportsTable = {
      id,
      organization_id: this.organizationId,
      file_name: file.file.slice(0, 300),
      sha256: file.sha256,
      market: file.market,
      currency: file.currency,
      row_count: file.rows,
      entry_count: byKey.size,
      first_effective: starts[0]!,
      last_effective: starts.at(-1)!,
      imported_at: this.now().toISOString(),
      imported_by: importedBy,
    };
    const counted = await db.transaction().execute(async (trx) => {
      const before = await this.countEntries(trx);
      await trx.insertInto("price_list_imports").values(row).execute();
      const rows: PriceListEntriesTable[] = [...byKey].map(([key, e]) => ({
        organization_id: this.organizationId,
        entry_key: key,
        import_id: id,
        product_id: e.productId,
        sku_id: e.skuId,
        term_duration: e.termDuration,
        billing_plan: e.billingPlan,
        market: e.market,
        currency: e.currency,
        unit_price: e.unitPrice,
        erp_price: e.erpPrice,
        tier_min: e.tierMin,
        tier_max: e.tierMax,
        effective_start: e.effectiveStart,
        effective_end: e.effectiveEnd,
        product_title: e.productTitle,
        sku_title: e.skuTitle,
      }));
      await upsertRows(
        trx,
        dialect,
        "price_list_entries",
        rows,
        ["organization_id", "entry_key"],
        takeExcluded(UPDATED_COLUMNS),
      );
      const after = await this.countEntries(trx);
      return { added: after - before };
    });
    return {
      import: toImport(row),
      duplicate: false,
      added: counted.added,
      replaced: byKey.size - counted.added,
      skipped: file.skipped,
    };
  }

  private async countEntries(db: Store["db"]): Promise<number> {
    const row = await db
      .selectFrom("price_list_entries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("organization_id", "=", this.organizationId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listImports(): Promise<PriceListImportView[]> {
    const rows = await this.store.db
      .selectFrom("price_list_imports")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .orderBy("imported_at", "desc")
      .orderBy("id")
      .execute();
    return rows.map(toImport);
  }

  /**
   * Entries by product id (optionally `ProductId:SkuId`) or by words of the product or SKU title, newest
   * effective date first; at most `limit`.
   */
  async lookup(query: string, limit = 100): Promise<PriceListEntryView[]> {
    const text = query.trim();
    if (text === "") return [];
    const [product, sku] = text.toUpperCase().split(":");
    let select = this.store.db
      .selectFrom("price_list_entries")
      .selectAll()
      .where("organization_id", "=", this.organizationId);
    if (/^[A-Z0-9]{12}(:[A-Z0-9]+)?$/.test(text.toUpperCase())) {
      select = select.where("product_id", "=", product!);
      if (sku) select = select.where("sku_id", "=", sku);
    } else {
      const like = `%${text.toLowerCase().replace(/[%_\\]/g, "")}%`;
      select = select.where((eb) =>
        eb.or([
          eb(eb.fn("lower", ["product_title"]), "like", like),
          eb(eb.fn("lower", ["sku_title"]), "like", like),
        ]),
      );
    }
    const rows = await select
      .orderBy("product_id")
      .orderBy("sku_id")
      .orderBy("effective_start", "desc")
      .orderBy("term_duration")
      .orderBy("billing_plan")
      .limit(Math.min(Math.max(limit, 1), 500))
      .execute();
    return rows.map(toEntry);
  }

  /** Removes an import and the entries it last set (entries a later import replaced stay with that one). */
  async deleteImport(id: string): Promise<void> {
    await this.store.db.transaction().execute(async (trx) => {
      const found = await trx
        .selectFrom("price_list_imports")
        .select("id")
        .where("organization_id", "=", this.organizationId)
        .where("id", "=", id)
        .executeTakeFirst();
      if (!found) throw new PriceListError(`no price list import ${id}`, true);
      await trx
        .deleteFrom("price_list_entries")
        .where("organization_id", "=", this.organizationId)
        .where("import_id", "=", id)
        .execute();
      await trx.deleteFrom("price_list_imports").where("id", "=", id).execute();
    });
  }

  /**
   * What the planners need for a run, in one query: the entries of the products the organization's billing
   * data has (a full price list holds thousands of products a customer never buys), and the currencies some
   * price list was imported in.
   */
  async index(): Promise<PriceListIndex> {
    const { db } = this.store;
    const imports = await db
      .selectFrom("price_list_imports")
      .select("currency")
      .distinct()
      .where("organization_id", "=", this.organizationId)
      .execute();
    if (imports.length === 0) return EMPTY_PRICE_LIST;
    const rows = await db
      .selectFrom("price_list_entries")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("product_id", "in", (eb) =>
        eb
          .selectFrom("charge_lines")
          .select((c) => c.fn<string>("upper", ["product_id"]).as("product_id"))
          .where("organization_id", "=", this.organizationId),
      )
      .execute();
    return {
      entries: rows.map(toEntry),
      currencies: new Set(imports.map((i) => i.currency.toUpperCase())),
    };
  }
}

/** The price lists a sync prices with (see PriceListService.index). */
export function priceListFor(store: Store, organizationId: string): Promise<PriceListIndex> {
  return new PriceListService(store, organizationId).index();
}
