import { randomUUID } from "node:crypto";
import { z } from "zod";
import { canonicalDecimal } from "../core/money.ts";
import { priceRuleInputSchema } from "../core/price-rule-input.ts";
import {
  AZURE_PLAN_PRODUCT_KEY,
  describePriceRule,
  normalizeProductKey,
  type PricedBy,
  type PriceRule,
} from "../core/pricing.ts";
import type { Store } from "../store/db.ts";
import type { PriceHoldsTable, PriceRulesTable } from "../store/schema.ts";

/**
 * Pricing and margin per connection: price rules (by product, customer or both, from an effective date), what
 * a sell price below cost does (warn, or hold the line for approval), and the held lines with their approvals.
 * Rules and approvals live in the database, so they hold for every later sync until changed.
 */
export const BELOW_COST_ACTIONS = ["warn", "hold"] as const;
export type BelowCostAction = (typeof BELOW_COST_ACTIONS)[number];
export const DEFAULT_BELOW_COST: BelowCostAction = "warn";

// The rule's input schema lives in src/core so the web app's form checks drafts by the same rules.
export { priceRuleInputSchema, type PriceRuleInput } from "../core/price-rule-input.ts";

export type PriceRuleView = PriceRule & {
  description: string;
  /** The product's name in the billing data (the SKU's for a SKU key); null for no product or an unknown one. */
  productName: string | null;
  createdAt: string;
  updatedAt: string;
};

export type HoldView = {
  writeKey: string;
  motion: string;
  customerTenantId: string;
  customerName: string | null;
  eventKey: string;
  description: string;
  unitCost: string;
  unitPrice: string;
  pricedBy: PricedBy | null;
  status: "held" | "approved";
  heldAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
};

export class PricingError extends Error {
  readonly field: string | undefined;
  readonly notFound: boolean;
  constructor(message: string, field?: string, notFound = false) {
    super(message);
    this.name = "PricingError";
    this.field = field;
    this.notFound = notFound;
  }
}

function parseInput(input: unknown): z.output<typeof priceRuleInputSchema> {
  const parsed = priceRuleInputSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join(".") || "rule";
  throw new PricingError(`${field}: ${issue.message}`, field);
}

function toRule(row: PriceRulesTable): PriceRuleView {
  const rule: PriceRule = {
    id: row.id,
    name: row.name,
    productKey: row.product_key,
    customerTenantId: row.customer_tenant_id,
    kind: row.kind,
    value: canonicalDecimal(String(row.value)),
    effectiveFrom: row.effective_from,
    effectiveTo: row.effective_to,
  };
  return {
    ...rule,
    description: describePriceRule(rule),
    productName: null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toHold(row: PriceHoldsTable & { customer_name: string | null }): HoldView {
  return {
    writeKey: row.write_key,
    motion: row.motion,
    customerTenantId: row.customer_tenant_id,
    customerName: row.customer_name,
    eventKey: row.event_key,
    description: row.description,
    unitCost: canonicalDecimal(String(row.unit_cost)),
    unitPrice: canonicalDecimal(String(row.unit_price)),
    pricedBy: row.priced_by ? (JSON.parse(row.priced_by) as PricedBy) : null,
    status: row.status,
    heldAt: row.held_at,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
  };
}

export class PricingService {
  private readonly store: Store;
  private readonly organizationId: string;
  private readonly now: () => Date;

  constructor(store: Store, organizationId: string, now: () => Date = () => new Date()) {
    this.store = store;
    this.organizationId = organizationId;
    this.now = now;
  }

  async listRules(connectionId: string): Promise<PriceRuleView[]> {
    const rows = await this.store.db
      .selectFrom("price_rules")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("connection_id", "=", connectionId)
      .orderBy("effective_from")
      .orderBy("name")
      .orderBy("id")
      .execute();
    return this.withProductNames(rows.map(toRule));
  }

  /** Names each rule's product as the billing data names it, so a rule list reads as products, not keys. */
  private async withProductNames(rules: PriceRuleView[]): Promise<PriceRuleView[]> {
    const keys = rules.map((r) => r.productKey).filter((k): k is string => k !== null);
    if (keys.length === 0) return rules;
    const productIds = [...new Set(keys.map((k) => k.split(":")[0]!))];
    const rows = await this.store.db
      .selectFrom("charge_lines")
      .select(["product_id", "sku_id", "product_name", "sku_name"])
      .distinct()
      .where("organization_id", "=", this.organizationId)
      .where((eb) => eb(eb.fn("upper", ["product_id"]), "in", productIds))
      .execute();
    const names = new Map<string, string>();
    for (const row of rows) {
      const product = row.product_id.toUpperCase();
      names.set(`${product}:${row.sku_id.toUpperCase()}`, row.sku_name ?? row.product_name);
      if (!names.has(product)) names.set(product, row.product_name);
    }
    names.set(AZURE_PLAN_PRODUCT_KEY, "Azure Plan");
    return rules.map((r) => ({
      ...r,
      productName: r.productKey ? (names.get(normalizeProductKey(r.productKey)) ?? null) : null,
    }));
  }

  /** The rules a sync prices with (all of them: the planners pick the one in effect per line). */
  async rulesFor(connectionId: string): Promise<PriceRule[]> {
    return (await this.listRules(connectionId)).map(
      ({ description: _d, productName: _n, createdAt: _c, updatedAt: _u, ...rule }) => rule,
    );
  }

  async addRule(connectionId: string, input: unknown): Promise<PriceRuleView> {
    const rule = parseInput(input);
    const name = rule.name ?? (await this.defaultName(rule));
    await this.checkCustomer(rule.customerTenantId ?? null);
    const now = this.now().toISOString();
    const id = randomUUID();
    await this.store.db
      .insertInto("price_rules")
      .values({
        id,
        organization_id: this.organizationId,
        connection_id: connectionId,
        name,
        product_key: rule.productKey ?? null,
        customer_tenant_id: rule.customerTenantId ?? null,
        kind: rule.kind,
        value: rule.value,
        effective_from: rule.effectiveFrom,
        effective_to: rule.effectiveTo ?? null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return this.rule(connectionId, id);
  }

  /** Replaces a rule's scope, price and dates; lines already written keep the price they were written at. */
  async updateRule(connectionId: string, ruleId: string, input: unknown): Promise<PriceRuleView> {
    const current = await this.rule(connectionId, ruleId);
    const rule = parseInput(input);
    await this.checkCustomer(rule.customerTenantId ?? null);
    await this.store.db
      .updateTable("price_rules")
      .set({
        name: rule.name ?? current.name,
        product_key: rule.productKey ?? null,
        customer_tenant_id: rule.customerTenantId ?? null,
        kind: rule.kind,
        value: rule.value,
        effective_from: rule.effectiveFrom,
        effective_to: rule.effectiveTo ?? null,
        updated_at: this.now().toISOString(),
      })
      .where("id", "=", ruleId)
      .where("connection_id", "=", connectionId)
      .execute();
    return this.rule(connectionId, ruleId);
  }

  async removeRule(connectionId: string, ruleId: string): Promise<void> {
    await this.rule(connectionId, ruleId);
    await this.store.db
      .deleteFrom("price_rules")
      .where("id", "=", ruleId)
      .where("connection_id", "=", connectionId)
      .execute();
  }

  async rule(connectionId: string, ruleId: string): Promise<PriceRuleView> {
    const row = await this.store.db
      .selectFrom("price_rules")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("connection_id", "=", connectionId)
      .where("id", "=", ruleId)
      .executeTakeFirst();
    if (!row) throw new PricingError(`no price rule ${ruleId} on this connection`, "ruleId", true);
    return (await this.withProductNames([toRule(row)]))[0]!;
  }

  async belowCost(connectionId: string): Promise<BelowCostAction> {
    return readBelowCost(this.store, connectionId);
  }

  async setBelowCost(connectionId: string, action: unknown): Promise<BelowCostAction> {
    const parsed = z.enum(BELOW_COST_ACTIONS).safeParse(action);
    if (!parsed.success) throw new PricingError("belowCost must be warn or hold", "belowCost");
    const updatedAt = this.now().toISOString();
    await this.store.db
      .insertInto("pricing_settings")
      .values({
        connection_id: connectionId,
        organization_id: this.organizationId,
        below_cost: parsed.data,
        updated_at: updatedAt,
      })
      .onConflict((oc) =>
        oc.column("connection_id").doUpdateSet({ below_cost: parsed.data, updated_at: updatedAt }),
      )
      .execute();
    return parsed.data;
  }

  /** Lines held for approval, or approved and not yet written; a line the PSA has is no longer listed. */
  async listHolds(connectionId: string): Promise<HoldView[]> {
    const rows = await this.store.db
      .selectFrom("price_holds")
      .leftJoin("customers", (join) =>
        join
          .onRef("customers.tenant_id", "=", "price_holds.customer_tenant_id")
          .onRef("customers.organization_id", "=", "price_holds.organization_id"),
      )
      .selectAll("price_holds")
      .select("customers.name as customer_name")
      .where("price_holds.organization_id", "=", this.organizationId)
      .where("price_holds.connection_id", "=", connectionId)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("psa_writes")
              .select("psa_writes.write_key")
              .whereRef("psa_writes.connection_id", "=", "price_holds.connection_id")
              .whereRef("psa_writes.write_key", "=", "price_holds.write_key")
              .where("psa_writes.status", "=", "confirmed"),
          ),
        ),
      )
      .orderBy("price_holds.held_at")
      .orderBy("price_holds.write_key")
      .execute();
    return rows.map(toHold);
  }

  /**
   * Approves held lines (by write key, or every held line) at the price they were held at; the next sync
   * writes them. Records who approved and when. Returns the lines approved now.
   */
  async approve(
    connectionId: string,
    which: { writeKeys: string[] } | { all: true },
    approvedBy: string,
  ): Promise<HoldView[]> {
    const listed = await this.listHolds(connectionId);
    const held = listed.filter((h) => h.status === "held");
    let keys: string[];
    if ("all" in which) keys = held.map((h) => h.writeKey);
    else {
      const unknown = which.writeKeys.find((key) => !listed.some((h) => h.writeKey === key));
      if (unknown !== undefined)
        throw new PricingError(`no held line with key ${unknown} on this connection`, "writeKeys", true);
      keys = which.writeKeys.filter((key) => held.some((h) => h.writeKey === key));
    }
    if (keys.length === 0) return [];
    await this.store.db
      .updateTable("price_holds")
      .set({ status: "approved", approved_by: approvedBy, approved_at: this.now().toISOString() })
      .where("connection_id", "=", connectionId)
      .where("status", "=", "held")
      .where("write_key", "in", keys)
      .execute();
    return (await this.listHolds(connectionId)).filter((h) => keys.includes(h.writeKey));
  }

  private async checkCustomer(tenantId: string | null): Promise<void> {
    if (tenantId === null) return;
    const customer = await this.customerName(tenantId);
    if (customer === null)
      throw new PricingError(
        `no customer with tenant id ${tenantId} in the billing data`,
        "customerTenantId",
      );
  }

  private async customerName(tenantId: string): Promise<string | null> {
    const row = await this.store.db
      .selectFrom("customers")
      .select("name")
      .where("organization_id", "=", this.organizationId)
      .where("tenant_id", "=", tenantId)
      .executeTakeFirst();
    return row?.name ?? null;
  }

  private async defaultName(rule: z.output<typeof priceRuleInputSchema>): Promise<string> {
    const customer = rule.customerTenantId ? await this.customerName(rule.customerTenantId) : null;
    const scope = [rule.productKey, customer ?? rule.customerTenantId].filter(Boolean).join(" for ");
    return `${scope}: ${describePriceRule(rule)} from ${rule.effectiveFrom}`;
  }
}

export async function readBelowCost(store: Store, connectionId: string): Promise<BelowCostAction> {
  const row = await store.db
    .selectFrom("pricing_settings")
    .select("below_cost")
    .where("connection_id", "=", connectionId)
    .executeTakeFirst();
  return row?.below_cost ?? DEFAULT_BELOW_COST;
}

/** The connection's price rules, as the planners take them. */
export function priceRulesFor(
  store: Store,
  organizationId: string,
  connectionId: string,
): Promise<PriceRule[]> {
  return new PricingService(store, organizationId).rulesFor(connectionId);
}
