import { z } from "zod";
import { autotaskServiceName, VARIANT_LABELS } from "../../core/product-plan.ts";
import type {
  PriceChanges,
  ProductPlanItem,
  ProductVariant,
  PsaCatalogRecord,
} from "../../core/product-plan.ts";
import type { CatalogTarget, CreatedRecord } from "../../services/product-sync.ts";
import { ProductSyncSetupError } from "../../services/product-sync.ts";
import { PsaOutcomeUnknownError, PsaValidationError } from "../shared/errors.ts";
import type { AutotaskClient } from "./client.ts";
import type { Service } from "./models.ts";

/**
 * The product catalog sync's Autotask side (prism-connect-behaviour.md §3.6; autotask-api.md §8.7, §8.8):
 * one service per product named "PC_" + SKU with the configured Recurring Contract Service billing code and
 * optional vendor, followed by id after creation. Only unit price and unit cost are maintained afterwards.
 */

export const autotaskCatalogSettingsSchema = z.object({
  /** Billing (allocation) code of new services; must be an active Recurring Contract Service code. */
  serviceBillingCodeId: z.coerce.number().int().positive().optional(),
  /** Vendor company set on new services (reporting only). */
  serviceVendorCompanyId: z.coerce.number().int().positive().optional(),
});
export type AutotaskCatalogSettings = z.infer<typeof autotaskCatalogSettingsSchema>;

/** autotask-api.md §8.8: the useType picklist label of the codes services may use. */
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

/** Services of annual-billed variants bill per year; everything else per month (§9 periodType). */
function periodLabel(variant: ProductVariant): "Monthly" | "Yearly" {
  return variant === "P1Y:A" || variant === "P3Y:A" ? "Yearly" : "Monthly";
}

export class AutotaskCatalogTarget implements CatalogTarget {
  readonly vendor = "autotask" as const;
  readonly recordWord = "service";
  readonly #client: AutotaskClient;
  readonly #settings: AutotaskCatalogSettings;
  #billingCodeId: number | undefined;

  constructor(client: AutotaskClient, settings: AutotaskCatalogSettings) {
    this.#client = client;
    this.#settings = settings;
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
      return { recordId: String(await this.#client.services.create(input)), label: name, notes: [] };
    } catch (error) {
      if (error instanceof PsaOutcomeUnknownError) {
        const found = await this.#byName(name);
        if (found.length === 1) return { recordId: String(found[0]!.id), label: name, notes: [] };
      }
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
