import type {
  PriceChanges,
  ProductPlanItem,
  ProductVariant,
  PsaCatalogRecord,
} from "../../core/product-plan.ts";
import type { CatalogTarget, CreatedRecord } from "../port.ts";
import { ProductSyncSetupError } from "../port.ts";
import type { ConnectWiseCatalogSettings } from "./catalog-settings.ts";
import { sendLookingBeforeRetrying } from "../shared/write-once.ts";
import type { CatalogItem, NamedRecord } from "./schemas.ts";
import type { ConnectWiseClient, NewCatalogItem } from "./client.ts";

/**
 * The product catalog sync's ConnectWise side (docs/sync-behaviour.md §4.2; docs/connectwise.md §9.6):
 * catalog items identified by SKU (identifier) with the SKU also in `vendorSku`, which is how existing items
 * are linked. New items get the configured subcategory, type, category and taxable flag.
 */

export { connectWiseCatalogSettingsSchema, type ConnectWiseCatalogSettings } from "./catalog-settings.ts";

// docs/connectwise.md §9.6: identifier and description ≤ 60, vendorSku ≤ 50.
const DESCRIPTION_MAX = 60;

const VARIANT_SUFFIX: Record<ProductVariant, string> = {
  monthly: "",
  "one-time": "",
  "P1Y:A": " (annual)",
  "P1Y:M": " (annual, billed monthly)",
  "P3Y:A": " (multi-year)",
  "P3Y:M": " (multi-year, billed monthly)",
};

export function catalogItemRecord(item: CatalogItem): PsaCatalogRecord {
  const keys = [item.identifier, item.vendorSku].filter((k): k is string => !!k).map((k) => k.toUpperCase());
  return {
    id: String(item.id),
    label: item.identifier,
    keys,
    active: item.inactiveFlag !== true,
    price: item.price ?? null,
    cost: item.cost ?? null,
  };
}

export function catalogDescription(name: string, variant: ProductVariant): string {
  const suffix = VARIANT_SUFFIX[variant];
  const room = DESCRIPTION_MAX - suffix.length;
  const trimmed = name.length > room ? `${name.slice(0, room - 1).trimEnd()}…` : name;
  return `${trimmed}${suffix}`;
}

type Resolved = { subcategoryId: number; typeId: number; categoryId: number | undefined; taxable: boolean };

export class ConnectWiseCatalogTarget implements CatalogTarget {
  readonly vendor = "connectwise" as const;
  readonly recordWord = "catalog item";
  readonly #client: ConnectWiseClient;
  readonly #settings: ConnectWiseCatalogSettings;
  #resolved: Resolved | undefined;

  constructor(client: ConnectWiseClient, settings: ConnectWiseCatalogSettings) {
    this.#client = client;
    this.#settings = settings;
  }

  /** Looks the configured subcategory and type up (by id or name) and says plainly what is wrong. */
  async prepare(): Promise<void> {
    const subcategory = this.#pick(
      "product subcategory",
      this.#settings.productSubcategory,
      await this.#client.listProductSubcategories(),
    );
    const type = this.#pick(
      "product type",
      this.#settings.productType,
      await this.#client.listProductTypes(),
    );
    this.#resolved = {
      subcategoryId: subcategory.id,
      typeId: type.id,
      categoryId: this.#settings.productCategoryId,
      taxable: this.#settings.productTaxable,
    };
  }

  async read(): Promise<PsaCatalogRecord[]> {
    return (await this.#client.listCatalogItems({ orderBy: "id asc" })).map(catalogItemRecord);
  }

  async create(item: ProductPlanItem): Promise<CreatedRecord> {
    const settings = this.#resolved;
    if (!settings) throw new Error("prepare() must run before create()");
    const product = item.product;
    const input: NewCatalogItem = {
      identifier: item.key,
      description: catalogDescription(product.name, product.variant),
      customerDescription: `${product.name} (${product.productId}:${product.skuId})`,
      subcategory: { id: settings.subcategoryId },
      type: { id: settings.typeId },
      productClass: "NonInventory",
      price: item.changes.price ?? "0",
      cost: item.changes.cost ?? "0",
      vendorSku: item.key,
      manufacturerPartNumber: `${product.productId}:${product.skuId}`,
      taxableFlag: settings.taxable,
      recurringFlag: product.variant !== "one-time",
    };
    const created = await this.#createWithRecovery(input);
    const notes: string[] = [];
    if (settings.categoryId !== undefined) {
      // The client's create input has no category, so it is set right after (docs/connectwise.md §6 PATCH).
      try {
        await this.#client.patchCatalogItem(created.id, [
          { op: "replace", path: "category", value: { id: settings.categoryId } },
        ]);
      } catch (error) {
        notes.push(`created, but setting category ${settings.categoryId} failed: ${messageOf(error)}`);
      }
    }
    return { recordId: String(created.id), label: created.identifier, notes };
  }

  async updatePrices(recordId: string, changes: PriceChanges): Promise<void> {
    await this.#client.updateCatalogItem(Number(recordId), changes);
  }

  requestCount(): number {
    return this.#client.transportStats().requests;
  }

  /** The identifier is unique in ConnectWise: after an unknown outcome it tells whether the create landed. */
  #createWithRecovery(input: NewCatalogItem): Promise<CatalogItem> {
    return sendLookingBeforeRetrying({
      noun: "catalog item",
      send: () => this.#client.createCatalogItem(input),
      find: async () =>
        onlyOne(await this.#client.findCatalogItemsByIdentifier(input.identifier), input.identifier),
    });
  }

  #pick(what: string, wanted: number | string, records: NamedRecord[]): NamedRecord {
    const active = records.filter((r) => r.inactiveFlag !== true);
    const match =
      typeof wanted === "number"
        ? active.find((r) => r.id === wanted)
        : active.find((r) => r.name.trim().toLowerCase() === wanted.trim().toLowerCase());
    if (match) return match;
    const available = active.map((r) => `${r.name} (${r.id})`).join(", ") || "none";
    throw new ProductSyncSetupError(
      `ConnectWise has no active ${what} ${typeof wanted === "number" ? `with id ${wanted}` : `named "${wanted}"`}; ` +
        `new catalog items need one. Available: ${available}. Set it in the connection's product settings.`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Two records under one identity cannot be told apart, and sending a third would only add to them. */
function onlyOne(found: CatalogItem[], identifier: string): CatalogItem | undefined {
  if (found.length > 1)
    throw new Error(
      `${found.length} ConnectWise catalog items carry identifier ${identifier}; resolve them by hand`,
    );
  return found[0];
}
