import { Dec } from "../core/money.ts";
import type { PricedBy } from "../core/pricing.ts";
import type { Store } from "../store/db.ts";
import type { PriceHoldsTable } from "../store/schema.ts";
import { readBelowCost, type BelowCostAction } from "./pricing.ts";

/**
 * The hold for approval (issue "Pricing and margin"): with the connection's below-cost setting on "hold", a
 * planned line that sells below its cost is not written. It is held once — recorded in `price_holds` and
 * reported as a "held" item of the run that held it — and later runs pass over it quietly while it waits.
 * Once approved at the price it was held at, the next sync writes it. A line whose price changed since is a
 * new question: it is held again, and reported again.
 */

/** What a planner's line tells the hold about its price (every motion's planned line has these fields). */
export type PricedLineFields = {
  writeKey: string;
  customerTenantId: string;
  eventKey: string;
  description: string;
  unitCost: string;
  unitPrice: string | null;
  belowCost: boolean;
  pricedBy: PricedBy | null;
};

/** write: send it; held: newly held, report it; waiting: held earlier, say nothing; approved: send it, noting who. */
export type HoldDecision =
  | { kind: "write" }
  | { kind: "held"; message: string }
  | { kind: "waiting" }
  | { kind: "approved"; note: string };

export type PriceHoldDeps = {
  store: Store;
  organizationId: string;
  connectionId: string;
  motion: string;
  now: () => string;
};

function pricedFields(line: object): PricedLineFields | null {
  const fields = line as Partial<PricedLineFields>;
  if (
    fields.belowCost !== true ||
    typeof fields.unitCost !== "string" ||
    typeof fields.unitPrice !== "string"
  )
    return null;
  return fields as PricedLineFields;
}

function samePrice(row: Pick<PriceHoldsTable, "unit_cost" | "unit_price">, line: PricedLineFields): boolean {
  return new Dec(row.unit_cost).equals(line.unitCost) && new Dec(row.unit_price!).equals(line.unitPrice!);
}

export class PriceHoldGate {
  private readonly deps: PriceHoldDeps;
  private readonly action: BelowCostAction;

  private constructor(deps: PriceHoldDeps, action: BelowCostAction) {
    this.deps = deps;
    this.action = action;
  }

  /** The gate for one run: the connection's below-cost setting is read once, when the run starts writing. */
  static async forRun(deps: PriceHoldDeps): Promise<PriceHoldGate> {
    return new PriceHoldGate(deps, await readBelowCost(deps.store, deps.connectionId));
  }

  async decide(runId: string, line: object): Promise<HoldDecision> {
    const priced = pricedFields(line);
    if (this.action !== "hold" || !priced) return { kind: "write" };
    const row = await this.row(priced.writeKey);
    if (row && samePrice(row, priced)) {
      if (row.status === "held") return { kind: "waiting" };
      return {
        kind: "approved",
        note: `sold below cost, approved by ${row.approved_by} at ${row.approved_at}`,
      };
    }
    await this.hold(runId, priced, row !== undefined);
    return {
      kind: "held",
      message:
        `Held for approval: sell price ${priced.unitPrice} is below cost ${priced.unitCost}` +
        (priced.pricedBy ? ` (priced by rule ${priced.pricedBy.ruleName})` : "") +
        // Neutral on purpose: the action is data (the item's outcome "held" and its write key); the CLI names
        // the command and the web app shows Approve, each in its own words.
        `; once approved, the next sync writes it`,
    };
  }

  private row(writeKey: string) {
    return this.deps.store.db
      .selectFrom("price_holds")
      .selectAll()
      .where("connection_id", "=", this.deps.connectionId)
      .where("write_key", "=", writeKey)
      .executeTakeFirst();
  }

  /** Holds the line at its current price; an earlier hold at another price (and its approval) is replaced. */
  private async hold(runId: string, line: PricedLineFields, replace: boolean): Promise<void> {
    const { store, organizationId, connectionId, motion, now } = this.deps;
    const values = {
      customer_tenant_id: line.customerTenantId,
      motion,
      event_key: line.eventKey,
      description: line.description,
      unit_cost: line.unitCost,
      unit_price: line.unitPrice!,
      priced_by: line.pricedBy ? JSON.stringify(line.pricedBy) : null,
      status: "held" as const,
      held_at: now(),
      held_run_id: runId,
      approved_by: null,
      approved_at: null,
    };
    if (replace) {
      await store.db
        .updateTable("price_holds")
        .set(values)
        .where("connection_id", "=", connectionId)
        .where("write_key", "=", line.writeKey)
        .execute();
      return;
    }
    await store.db
      .insertInto("price_holds")
      .values({
        connection_id: connectionId,
        write_key: line.writeKey,
        organization_id: organizationId,
        ...values,
      })
      .onConflict((oc) => oc.columns(["connection_id", "write_key"]).doUpdateSet(values))
      .execute();
  }
}

/**
 * For a dry run: what the hold would do with each below-cost line, by write key — "would hold", "held" (waiting
 * for approval) or "approved" — without recording anything. Empty when the connection only warns.
 */
export async function previewHolds(
  store: Store,
  connectionId: string,
  lines: readonly object[],
): Promise<Map<string, "would hold" | "held" | "approved">> {
  const result = new Map<string, "would hold" | "held" | "approved">();
  if ((await readBelowCost(store, connectionId)) !== "hold") return result;
  for (const line of lines) {
    const priced = pricedFields(line);
    if (!priced) continue;
    const row = await store.db
      .selectFrom("price_holds")
      .selectAll()
      .where("connection_id", "=", connectionId)
      .where("write_key", "=", priced.writeKey)
      .executeTakeFirst();
    result.set(priced.writeKey, row && samePrice(row, priced) ? row.status : "would hold");
  }
  return result;
}
