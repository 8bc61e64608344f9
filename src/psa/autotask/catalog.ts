import { autotaskServiceName, chargeProductSku, VARIANT_LABELS } from "../../core/product-plan.ts";
import type {
  PriceChanges,
  ProductPlanItem,
  ProductVariant,
  PsaCatalogRecord,
} from "../../core/product-plan.ts";
import type { CatalogTarget, ChargeProductWriter, CreatedRecord } from "../port.ts";
import { ProductSyncSetupError } from "../port.ts";
import type { AutotaskCatalogSettings } from "./catalog-settings.ts";
import { PsaValidationError } from "../shared/errors.ts";
import { sendLookingBeforeRetrying } from "../shared/write-once.ts";
import type { AutotaskClient } from "./client.ts";
import type { BillingCode, Product, Service } from "./models.ts";

/**
 * The product catalog sync's Autotask side (docs/sync-behaviour.md §4.3; docs/autotask.md §8.7, §8.8):
 * one service per product named "PC_" + SKU with the configured Recurring Contract Service billing code and
 * optional vendor, followed by id after creation. Only unit price and unit cost are maintained afterwards.
 */

export { autotaskCatalogSettingsSchema, type AutotaskCatalogSettings } from "./catalog-settings.ts";

/** docs/autotask.md §8.8: the useType picklist label of the codes services may use. */
export const RECURRING_SERVICE_USE_TYPE = "Recurring Contract Service";

export function serviceRecord(service: Service): PsaCatalogRecord {
  return {
    id: String(service.id),
    label: service.name,
    keys: [service.name.trim().toUpperCase()],
    active: service.isActive !== false,
    price: service.unitPrice ?? null,
    cost: service.unitCost ?? null,
  };
}

/**
 * Services of annual-billed variants bill per year; everything else per month (docs/autotask.md §7.3
 * periodType).
 */
function periodLabel(variant: ProductVariant): "Monthly" | "Yearly" {
  return variant === "P1Y:A" || variant === "P3Y:A" ? "Yearly" : "Monthly";
}

export class AutotaskCatalogTarget implements CatalogTarget {
  readonly vendor = "autotask" as const;
  readonly recordWord = "service";
  readonly chargeProducts: AutotaskChargeProducts;
  readonly #client: AutotaskClient;
  readonly #settings: AutotaskCatalogSettings;
  #billingCodeId: number | undefined;

  constructor(client: AutotaskClient, settings: AutotaskCatalogSettings) {
    this.#client = client;
    this.#settings = settings;
    this.chargeProducts = new AutotaskChargeProducts(client, settings.productBillingCodeId);
  }

  /** The billing code must exist, be active and be a Recurring Contract Service code; the vendor must exist. */
  async prepare(): Promise<void> {
    const codeId = this.#settings.serviceBillingCodeId;
    const recurring = await this.#client.picklists.value(
      "BillingCodes",
      "useType",
      RECURRING_SERVICE_USE_TYPE,
    );
    if (codeId === undefined) {
      throw new ProductSyncSetupError(
        `Autotask services need a billing code: choose one of the Recurring Contract Service codes (${await this.#codeChoices(recurring)}) in the connection's product settings.`,
      );
    }
    const code = await this.#client.billingCodes.get(codeId);
    const problem = !code
      ? `billing code ${codeId} does not exist in Autotask`
      : code.isActive !== true
        ? `billing code ${codeId} ("${code.name ?? ""}") is inactive`
        : code.useType !== recurring
          ? `billing code ${codeId} ("${code.name ?? ""}") is not a ${RECURRING_SERVICE_USE_TYPE} code`
          : null;
    if (problem) {
      throw new ProductSyncSetupError(
        `${problem}; Autotask services need an active ${RECURRING_SERVICE_USE_TYPE} billing code. Choose one of: ${await this.#codeChoices(recurring)}.`,
      );
    }
    const vendorId = this.#settings.serviceVendorCompanyId;
    if (vendorId !== undefined && !(await this.#client.companies.get(vendorId))) {
      throw new ProductSyncSetupError(
        `vendor company ${vendorId} does not exist in Autotask; pick another or leave the vendor empty`,
      );
    }
    await this.chargeProducts.prepare();
    this.#billingCodeId = codeId;
  }

  async read(): Promise<PsaCatalogRecord[]> {
    const services = await this.#client.services.queryAll([this.#client.services.where.gt("id", 0)]);
    return services.map(serviceRecord);
  }

  async create(item: ProductPlanItem): Promise<CreatedRecord> {
    if (this.#billingCodeId === undefined) throw new Error("prepare() must run before create()");
    const product = item.product;
    const name = autotaskServiceName(item.key);
    const periodType = await this.#client.picklists.value(
      "Services",
      "periodType",
      periodLabel(product.variant),
    );
    const input = {
      name,
      billingCodeID: this.#billingCodeId,
      periodType,
      unitPrice: item.changes.price ?? "0",
      unitCost: item.changes.cost ?? "0",
      description: `${product.name} (${VARIANT_LABELS[product.variant]})`.slice(0, 400),
      isActive: true,
      sku: item.key,
      ...(this.#settings.serviceVendorCompanyId === undefined
        ? {}
        : { vendorCompanyID: this.#settings.serviceVendorCompanyId }),
    };
    try {
      const id = await sendLookingBeforeRetrying({
        noun: "service",
        send: () => this.#client.services.create(input),
        // Service names are unique in Autotask (IX_service), so the name tells whether the create landed.
        find: async () => (await this.#byName(name))[0]?.id,
      });
      return { recordId: String(id), label: name, notes: [] };
    } catch (error) {
      if (error instanceof PsaValidationError && /IX_service/i.test(error.message)) {
        throw new Error(
          `${error.message} — a service named ${name} already exists and was not created by cspsync. Rename or remove it in Autotask, then run the product sync again.`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async updatePrices(recordId: string, changes: PriceChanges): Promise<void> {
    const update: { unitPrice?: string; unitCost?: string } = {};
    if (changes.price !== undefined) update.unitPrice = changes.price;
    if (changes.cost !== undefined) update.unitCost = changes.cost;
    await this.#client.services.update(Number(recordId), update);
  }

  requestCount(): number {
    return this.#client.stats().requests;
  }

  #byName(name: string): Promise<Service[]> {
    return this.#client.services.queryAll([this.#client.services.where.eq("name", name)]);
  }

  async #codeChoices(recurring: number): Promise<string> {
    const codes = await this.#client.billingCodes.queryAll([
      this.#client.billingCodes.where.eq("useType", recurring),
      this.#client.billingCodes.where.eq("isActive", true),
    ]);
    return codes.map((c) => `${c.name ?? "(unnamed)"} (${c.id})`).join(", ") || "none exist";
  }
}

// ------------------------------------------------------------------------------------------ charge products

export function productRecord(product: Product): PsaCatalogRecord {
  return {
    id: String(product.id),
    label: product.name,
    keys: product.sku?.trim() ? [product.sku.trim().toUpperCase()] : [],
    active: product.isActive !== false,
    price: product.unitPrice ?? null,
    cost: product.unitCost ?? null,
  };
}

// docs/autotask.md §7.3: billingCodeType 1 is System; read by label first, as tenants may differ.
const SYSTEM_CODE_TYPE_FALLBACK = 1;

/**
 * Products for Seat-based Annual contract charges (docs/autotask.md §8.3 needs a productID or billingCodeID;
 * §8.9): created with the SKU the annual sync looks up first, then followed by id. Only unit price and unit
 * cost are kept current.
 */
export class AutotaskChargeProducts implements ChargeProductWriter {
  readonly #client: AutotaskClient;
  readonly #billingCodeId: number | undefined;
  #prepared = false;

  constructor(client: AutotaskClient, billingCodeId: number | undefined) {
    this.#client = client;
    this.#billingCodeId = billingCodeId;
  }

  /**
   * Which billing codes Autotask accepts for products is not documented (docs/autotask.md §8.8 lists six
   * allocation-code kinds and no rule for products), so any active code that is not a System code is accepted
   * here; the emulator's own rule is a switch (productBillingCodes). A code Autotask still refuses fails the
   * create, named.
   */
  async prepare(): Promise<void> {
    const codeId = this.#billingCodeId;
    if (codeId !== undefined) {
      const code = await this.#client.billingCodes.get(codeId);
      const problem = !code
        ? `does not exist in Autotask`
        : code.isActive !== true
          ? `("${code.name ?? ""}") is inactive`
          : code.billingCodeType === (await this.#systemType())
            ? `("${code.name ?? ""}") is a System code`
            : null;
      if (problem) {
        throw new ProductSyncSetupError(
          `productBillingCodeId: billing code ${codeId} ${problem}; products for contract charges need an active billing code that is not a System code. Choose one of: ${await this.#codeChoices()}.`,
        );
      }
    }
    this.#prepared = true;
  }

  canCreate(): boolean {
    return this.#prepared && this.#billingCodeId !== undefined;
  }

  async read(): Promise<PsaCatalogRecord[]> {
    const products = await this.#client.products.queryAll([this.#client.products.where.gt("id", 0)]);
    return products.map(productRecord);
  }

  async create(item: ProductPlanItem): Promise<CreatedRecord> {
    if (!this.canCreate()) throw new Error("prepare() with a product billing code must run before create()");
    const product = item.product;
    const sku = chargeProductSku(product);
    const periodType = await this.#periodType(product.variant);
    const input = {
      name: item.name,
      sku,
      productBillingCodeID: this.#billingCodeId!,
      isActive: true,
      isSerialized: false,
      unitPrice: item.changes.price ?? "0",
      unitCost: item.changes.cost ?? "0",
      description: `${product.name} (${VARIANT_LABELS[product.variant]}); created by cspsync for contract charges`,
      ...(periodType === undefined ? {} : { periodType }),
    };
    const id = await sendLookingBeforeRetrying({
      noun: "product",
      send: () => this.#client.products.create(input),
      find: async () => this.#activeBySku(sku),
    });
    return { recordId: String(id), label: item.name, notes: [] };
  }

  /**
   * The active Product with the SKU, if any: Product SKUs are not unique, but the plan creates one only when
   * no active Product carries it (inactive ones may), so an active one found after a lost answer is ours.
   */
  async #activeBySku(sku: string): Promise<number | undefined> {
    const found = await this.#client.products.queryAll([
      this.#client.products.where.eq("sku", sku),
      this.#client.products.where.eq("isActive", true),
    ]);
    if (found.length > 1)
      throw new Error(`${found.length} active Autotask products carry SKU ${sku}; resolve them by hand`);
    return found[0]?.id;
  }

  async updatePrices(recordId: string, changes: PriceChanges): Promise<void> {
    const update: { unitPrice?: string; unitCost?: string } = {};
    if (changes.price !== undefined) update.unitPrice = changes.price;
    if (changes.cost !== undefined) update.unitCost = changes.cost;
    await this.#client.products.update(Number(recordId), update);
  }

  /**
   * Yearly for annual terms, One-Time for one-time purchases, when the tenant has the value
   * (docs/autotask.md §7.3 [?]).
   */
  async #periodType(variant: ProductVariant): Promise<number | undefined> {
    const label = variant === "one-time" ? "one-time" : "yearly";
    const entries = await this.#client.picklists.entries("Products", "periodType");
    return entries.find((e) => e.isActive && e.label.trim().toLowerCase() === label)?.value;
  }

  async #systemType(): Promise<number> {
    const entries = await this.#client.picklists.entries("BillingCodes", "billingCodeType");
    return entries.find((e) => e.label.trim().toLowerCase() === "system")?.value ?? SYSTEM_CODE_TYPE_FALLBACK;
  }

  async #codeChoices(): Promise<string> {
    const system = await this.#systemType();
    const codes = await this.#client.billingCodes.queryAll([
      this.#client.billingCodes.where.eq("isActive", true),
    ]);
    const usable = codes.filter((c: BillingCode) => c.billingCodeType !== system);
    return usable.map((c) => `${c.name ?? "(unnamed)"} (${c.id})`).join(", ") || "none exist";
  }
}
