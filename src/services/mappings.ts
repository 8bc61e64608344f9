import { BILLING_MOTIONS, type BillingMotion } from "../core/billing.ts";
import { canonicalDecimal } from "../core/money.ts";
import type { StartPoint } from "../core/monthly-plan.ts";
import { DEFAULT_PRICING, type PricingStrategy } from "../core/pricing.ts";
import type { PsaAdapter } from "../psa/port.ts";
import type { Store } from "../store/db.ts";
import type { MappingsTable } from "../store/schema.ts";
import { AppError } from "../core/errors.ts";
import { mappingInputSchema, type MappingInput } from "../core/mapping-input.ts";

export { mappingInputSchema, type MappingInput };

/** Every customer has one mapping entry per billing motion, each with its own PSA target and settings. */
export type Mapping = {
  connectionId: string;
  customerTenantId: string;
  motion: BillingMotion;
  psaCompanyId: string | null;
  psaCompanyName: string | null;
  agreementId: string | null;
  agreementName: string | null;
  syncDate: string | null;
  pricing: PricingStrategy;
  enabled: boolean;
  /** Seat-based Monthly: start from the most recent invoice when enabled, or from the next one. */
  startPoint: StartPoint;
  /** Seat-based Monthly: the most recent invoice of the customer when the entry was enabled (null: none). */
  startInvoice: string | null;
  updatedAt: string | null;
};

export class MappingError extends AppError {
  constructor(message: string, field?: string) {
    super("validation", message, { field });
  }
}

function pricingOf(row: Pick<MappingsTable, "pricing_strategy" | "markup_percent">): PricingStrategy {
  if (row.pricing_strategy === "markup" && row.markup_percent !== null)
    return { strategy: "markup", markupPercent: row.markup_percent };
  if (row.pricing_strategy === "cost-only") return { strategy: "cost-only" };
  // cost-and-retail keeps its fallback markup in the same column (docs/price-lists.md).
  if (row.markup_percent !== null && row.markup_percent !== "")
    return {
      strategy: "cost-and-retail",
      fallbackMarkupPercent: canonicalDecimal(String(row.markup_percent)),
    };
  return DEFAULT_PRICING;
}

function toMapping(row: MappingsTable): Mapping {
  return {
    connectionId: row.connection_id,
    customerTenantId: row.customer_tenant_id,
    motion: row.motion as BillingMotion,
    psaCompanyId: row.psa_company_id,
    psaCompanyName: row.psa_company_name,
    agreementId: row.agreement_id,
    agreementName: row.agreement_name,
    syncDate: row.sync_date,
    pricing: pricingOf(row),
    enabled: Number(row.enabled) === 1,
    startPoint: row.start_point === "next" ? "next" : "most-recent",
    startInvoice: row.start_invoice,
    updatedAt: row.updated_at,
  };
}

function emptyMapping(connectionId: string, customerTenantId: string, motion: BillingMotion): Mapping {
  return {
    connectionId,
    customerTenantId,
    motion,
    psaCompanyId: null,
    psaCompanyName: null,
    agreementId: null,
    agreementName: null,
    syncDate: null,
    pricing: DEFAULT_PRICING,
    enabled: false,
    startPoint: "most-recent",
    startInvoice: null,
    updatedAt: null,
  };
}

export class MappingService {
  private readonly store: Store;
  private readonly organizationId: string;

  constructor(store: Store, organizationId: string) {
    this.store = store;
    this.organizationId = organizationId;
  }

  /** The three entries of a customer (unmapped motions come back as disabled, empty entries). */
  async forCustomer(connectionId: string, customerTenantId: string): Promise<Mapping[]> {
    const rows = await this.store.db
      .selectFrom("mappings")
      .selectAll()
      .where("connection_id", "=", connectionId)
      .where("customer_tenant_id", "=", customerTenantId)
      .execute();
    return BILLING_MOTIONS.map((motion) => {
      const row = rows.find((r) => r.motion === motion);
      return row ? toMapping(row) : emptyMapping(connectionId, customerTenantId, motion);
    });
  }

  async forConnection(connectionId: string): Promise<Mapping[]> {
    const rows = await this.store.db
      .selectFrom("mappings")
      .selectAll()
      .where("connection_id", "=", connectionId)
      .execute();
    return rows.map(toMapping);
  }

  /** The stored entries of these customers (a page of the Microsoft CSP page), read 500 customers at a time. */
  async forCustomers(connectionId: string, tenants: readonly string[]): Promise<Mapping[]> {
    const rows = [];
    for (let i = 0; i < tenants.length; i += 500)
      rows.push(
        ...(await this.store.db
          .selectFrom("mappings")
          .selectAll()
          .where("connection_id", "=", connectionId)
          .where("customer_tenant_id", "in", tenants.slice(i, i + 500))
          .execute()),
      );
    return rows.map(toMapping);
  }

  async enabled(connectionId: string, motion: BillingMotion, customerTenantId?: string): Promise<Mapping[]> {
    let query = this.store.db
      .selectFrom("mappings")
      .selectAll()
      .where("connection_id", "=", connectionId)
      .where("motion", "=", motion)
      .where("enabled", "=", 1);
    if (customerTenantId) query = query.where("customer_tenant_id", "=", customerTenantId);
    return (await query.orderBy("customer_tenant_id").execute()).map(toMapping);
  }

  /**
   * Saves one entry. The agreement/contract is checked against the PSA first: one that cannot take the
   * entry's motion is refused with the reason and how to set it up, and nothing is saved.
   */
  async save(
    connectionId: string,
    customerTenantId: string,
    motion: BillingMotion,
    input: MappingInput,
    adapter: PsaAdapter | null,
  ): Promise<Mapping> {
    const parsed = mappingInputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new MappingError(`${issue.path.join(".") || "mapping"}: ${issue.message}`, issue.path.join("."));
    }
    const customer = await this.store.db
      .selectFrom("customers")
      .select("tenant_id")
      .where("organization_id", "=", this.organizationId)
      .where("tenant_id", "=", customerTenantId)
      .executeTakeFirst();
    if (!customer)
      throw new MappingError(
        `no customer with tenant id ${customerTenantId} in the billing data`,
        "customer",
      );
    const value = parsed.data;
    let companyName: string | null = null;
    let agreementName: string | null = null;
    if (adapter) {
      const company = await adapter.getCompany(value.psaCompanyId);
      if (!company) throw new MappingError(`PSA company ${value.psaCompanyId} was not found`, "psaCompanyId");
      companyName = company.name;
      if (motion === "seat-annual") {
        const check = await adapter.checkAnnualTarget(value.psaCompanyId, value.agreementId);
        if (!check.ok) throw new MappingError(check.reason, "agreementId");
        agreementName = check.agreement.name;
      } else {
        const agreement = (await adapter.listAgreements(value.psaCompanyId)).find(
          (a) => a.id === value.agreementId,
        );
        if (!agreement)
          throw new MappingError(
            `agreement ${value.agreementId} does not belong to company ${company.name}`,
            "agreementId",
          );
        // Monthly seats and Azure need a recurring agreement / Recurring Service contract.
        const validity = agreement.validFor[motion];
        if (!validity.ok) throw new MappingError(validity.reason, "agreementId");
        agreementName = agreement.name;
      }
    }
    const now = new Date().toISOString();
    const previous = (await this.forCustomer(connectionId, customerTenantId)).find(
      (m) => m.motion === motion,
    )!;
    const row: MappingsTable = {
      organization_id: this.organizationId,
      connection_id: connectionId,
      customer_tenant_id: customerTenantId,
      motion,
      psa_company_id: value.psaCompanyId,
      psa_company_name: companyName,
      agreement_id: value.agreementId,
      agreement_name: agreementName,
      sync_date: value.syncDate ?? null,
      pricing_strategy: value.pricing,
      markup_percent:
        value.pricing === "markup"
          ? (value.markupPercent ?? null)
          : value.pricing === "cost-and-retail" && value.fallbackMarkupPercent
            ? canonicalDecimal(value.fallbackMarkupPercent)
            : null,
      enabled: value.enabled ? 1 : 0,
      start_point: value.startPoint,
      start_invoice: await this.startInvoice(motion, customerTenantId, value, previous),
      created_at: now,
      updated_at: now,
    };
    const { created_at: _created, connection_id: _c, customer_tenant_id: _t, motion: _m, ...changes } = row;
    await this.store.db
      .insertInto("mappings")
      .values(row)
      .onConflict((oc) => oc.columns(["connection_id", "customer_tenant_id", "motion"]).doUpdateSet(changes))
      .execute();
    return (await this.forCustomer(connectionId, customerTenantId)).find((m) => m.motion === motion)!;
  }

  /**
   * The invoice a Seat-based Monthly entry starts from is fixed when it is enabled
   * (docs/sync-behaviour.md §6.3): the customer's most recent invoice then. It stays while the entry stays
   * enabled with the same start point, so later imports do not move it.
   */
  private async startInvoice(
    motion: BillingMotion,
    customerTenantId: string,
    value: { enabled: boolean; startPoint: StartPoint },
    previous: Mapping,
  ): Promise<string | null> {
    if (motion !== "seat-monthly") return null;
    if (previous.enabled && previous.updatedAt !== null && previous.startPoint === value.startPoint)
      return previous.startInvoice;
    if (!value.enabled) return null;
    const latest = await this.store.db
      .selectFrom("charge_events")
      .select((eb) => eb.fn.max("invoice_number").as("invoice"))
      .where("organization_id", "=", this.organizationId)
      .where("customer_tenant_id", "=", customerTenantId)
      .where("motion", "=", "seat-monthly")
      .executeTakeFirst();
    return latest?.invoice ?? null;
  }
}
