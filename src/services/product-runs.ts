import { randomUUID } from "node:crypto";
import type { AdapterOptions } from "../psa/port.ts";
import { isChargeProductKey } from "../core/product-plan.ts";
import type { ProductAction, ProductSyncMode } from "../core/product-plan.ts";
import type { Store } from "../store/db.ts";
import type { ProductRunStatus, ProductSyncRunsTable } from "../store/schema.ts";
import {
  createCatalogTarget,
  productSettingsFrom,
  PriceConfirmationRequiredError,
  ProductSync,
  ProductSyncSetupError,
  type PriceConfirmationOptions,
  type ProductItemAmounts,
  type ProductItemResult,
  type ProductItemStatus,
  type ProductPreview,
  type ProductSyncResult,
} from "./product-sync.ts";
import type { ConnectionService } from "./connections.ts";
import type { SyncTrigger } from "./sync-bookkeeping.ts";
import { failureSentence } from "../psa/shared/error-sentences.ts";
import { AppError } from "../core/errors.ts";

/**
 * Product catalog sync with a history: builds the connection's catalog target from its stored settings (or
 * overrides), previews, and runs the sync under a per-connection lock, recording every run and each
 * product's result in `product_sync_runs` / `product_sync_items` (migration 0009).
 */

/**
 * What product syncs need of the app. src/app.ts's App has all of it; it is declared here, as motion-sync.ts's
 * MotionApp is, so that services never import the composition root above them.
 */
export type ProductRunsApp = {
  store: Store;
  organizationId: string;
  connections: Pick<ConnectionService, "row" | "details">;
  psaOptions: Pick<AdapterOptions, "allowedHosts" | "transport">;
};

export class ProductRunActiveError extends AppError {
  readonly activeRunId: string;
  constructor(activeRunId: string) {
    super("conflict", `a product sync for this connection is already running (run ${activeRunId})`);
    this.activeRunId = activeRunId;
  }
}

/** Catalog settings given for one call, over the stored ones (CLI flags). */
export type ProductOverrides = Record<string, unknown>;

export type ProductRunView = {
  id: string;
  connectionId: string;
  trigger: string;
  mode: string;
  status: ProductRunStatus;
  startedAt: string;
  finishedAt: string | null;
  written: number;
  unchanged: number;
  conflicts: number;
  failed: number;
  psaRequests: number;
  message: string | null;
};

/** One product's result as the history shows it: the run's result, in its order. */
export type ProductRunItemView = ProductItemResult & { sequence: number };

// Product syncs do not heartbeat; a run still "running" after this long belonged to a process that died.
const STALE_PRODUCT_RUN_MS = 30 * 60_000;

/** The mode to use and the product sync of a connection, from its stored settings and any overrides. */
export async function productSyncOf(
  app: ProductRunsApp,
  connectionId: string,
  overrides: ProductOverrides = {},
  now?: () => Date,
): Promise<{ mode: ProductSyncMode; sync: ProductSync | null }> {
  const row = await app.connections.row(connectionId);
  const stored = JSON.parse(row.settings) as Record<string, unknown>;
  const settings = await productSettingsFrom(row.vendor, stored, overrides);
  if (settings.mode === "off") return { mode: "off", sync: null };
  const target = await createCatalogTarget(await app.connections.details(connectionId), settings, {
    allowedHosts: app.psaOptions.allowedHosts,
    ...(app.psaOptions.transport ? { transport: app.psaOptions.transport } : {}),
  });
  const sync = new ProductSync({
    store: app.store,
    organizationId: app.organizationId,
    connectionId,
    target,
    linkedPriceUpdates: settings.linkedPriceUpdates,
    ...(now ? { now } : {}),
  });
  return { mode: settings.mode, sync };
}

function offError(): ProductSyncSetupError {
  return new ProductSyncSetupError(
    "productSyncMode: product sync is off for this connection; choose all or in-use first",
  );
}

/** What a product sync would do now; writes nothing. */
export async function previewProducts(
  app: ProductRunsApp,
  connectionId: string,
  overrides: ProductOverrides = {},
): Promise<ProductPreview> {
  const { mode, sync } = await productSyncOf(app, connectionId, overrides);
  if (!sync) throw offError();
  return sync.preview(mode);
}

/**
 * Runs the product sync and records it. A setup problem found once the run has started (a billing code the
 * PSA refuses, say) ends the run as an error with that message, so the history shows it too. Sell-price changes
 * on linked records follow `prices` (held unless confirmed, by default); a refused sync
 * (PriceConfirmationRequiredError) wrote nothing and leaves no run behind.
 */
export async function runProductSync(
  app: ProductRunsApp,
  connectionId: string,
  trigger: SyncTrigger,
  overrides: ProductOverrides = {},
  prices: PriceConfirmationOptions = {},
): Promise<{ run: ProductRunView; items: ProductRunItemView[]; result: ProductSyncResult | null }> {
  const { mode, sync } = await productSyncOf(app, connectionId, overrides);
  if (!sync) throw offError();
  const runId = await startRun(app, connectionId, trigger, mode);
  let result: ProductSyncResult | null = null;
  try {
    result = await sync.sync(mode, prices);
    await recordItems(app.store, runId, result.items);
    await finishRun(app.store, runId, result.items, result.psaRequests, null);
  } catch (error) {
    if (error instanceof PriceConfirmationRequiredError) {
      await app.store.db.deleteFrom("product_sync_runs").where("id", "=", runId).execute();
      throw error;
    }
    await finishRun(app.store, runId, [], 0, failureSentence(error));
  }
  return { ...(await getProductRun(app.store, app.organizationId, runId))!, result };
}

async function startRun(
  app: ProductRunsApp,
  connectionId: string,
  trigger: string,
  mode: string,
): Promise<string> {
  const id = randomUUID();
  const insert = () =>
    app.store.db
      .insertInto("product_sync_runs")
      .values({
        id,
        organization_id: app.organizationId,
        connection_id: connectionId,
        trigger,
        mode,
        status: "running",
        started_at: new Date().toISOString(),
        finished_at: null,
        written: 0,
        unchanged: 0,
        conflicts: 0,
        failed: 0,
        psa_requests: 0,
        message: null,
      })
      .execute();
  try {
    await insert();
    return id;
  } catch (error) {
    const active = await app.store.db
      .selectFrom("product_sync_runs")
      .select(["id", "started_at"])
      .where("connection_id", "=", connectionId)
      .where("status", "=", "running")
      .executeTakeFirst();
    if (!active) throw error;
    if (Date.parse(active.started_at) > Date.now() - STALE_PRODUCT_RUN_MS)
      throw new ProductRunActiveError(active.id);
    await app.store.db
      .updateTable("product_sync_runs")
      .set({
        status: "abandoned",
        finished_at: new Date().toISOString(),
        message: "the process running it stopped; a later run took over",
      })
      .where("id", "=", active.id)
      .where("status", "=", "running")
      .execute();
    await insert();
    return id;
  }
}

async function recordItems(store: Store, runId: string, items: readonly ProductItemResult[]) {
  if (items.length === 0) return;
  await store.db
    .insertInto("product_sync_items")
    .values(
      items.map((item, index) => ({
        run_id: runId,
        sequence: index + 1,
        product_key: item.key,
        name: item.name,
        action: item.action,
        status: item.status,
        psa_record_id: item.recordId,
        message: item.message,
        // The notes column keeps the written amounts beside the notes; older rows hold the bare notes array.
        notes: JSON.stringify(item.amounts ? { notes: item.notes, amounts: item.amounts } : item.notes),
      })),
    )
    .execute();
}

/** Same status words as billing runs: a conflict needs a person (warning), a failure is an error. */
export function productRunStatus(counts: { written: number; conflicts: number; failed: number }) {
  if (counts.failed > 0) return "error" as const;
  if (counts.conflicts > 0) return "warning" as const;
  return counts.written > 0 ? ("success" as const) : ("no-change" as const);
}

async function finishRun(
  store: Store,
  runId: string,
  items: readonly ProductItemResult[],
  psaRequests: number,
  failure: string | null,
): Promise<void> {
  const count = (status: ProductItemResult["status"]) => items.filter((i) => i.status === status).length;
  const counts = {
    written: count("written"),
    unchanged: count("unchanged"),
    conflicts: count("conflict"),
    failed: count("failed"),
  };
  await store.db
    .updateTable("product_sync_runs")
    .set({
      ...counts,
      status: failure ? "error" : productRunStatus(counts),
      finished_at: new Date().toISOString(),
      psa_requests: psaRequests,
      message: failure,
    })
    .where("id", "=", runId)
    .execute();
}

function toView(row: ProductSyncRunsTable): ProductRunView {
  return {
    id: row.id,
    connectionId: row.connection_id,
    trigger: row.trigger,
    mode: row.mode,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    written: Number(row.written),
    unchanged: Number(row.unchanged),
    conflicts: Number(row.conflicts),
    failed: Number(row.failed),
    psaRequests: Number(row.psa_requests),
    message: row.message,
  };
}

export async function listProductRuns(
  store: Store,
  organizationId: string,
  connectionId: string,
  limit = 50,
): Promise<ProductRunView[]> {
  const rows = await store.db
    .selectFrom("product_sync_runs")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("connection_id", "=", connectionId)
    .orderBy("started_at", "desc")
    .orderBy("id")
    .limit(limit)
    .execute();
  return rows.map(toView);
}

export async function getProductRun(
  store: Store,
  organizationId: string,
  runId: string,
): Promise<{ run: ProductRunView; items: ProductRunItemView[] } | null> {
  const run = await store.db
    .selectFrom("product_sync_runs")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("id", "=", runId)
    .executeTakeFirst();
  if (!run) return null;
  const items = await store.db
    .selectFrom("product_sync_items")
    .selectAll()
    .where("run_id", "=", runId)
    .orderBy("sequence")
    .execute();
  return {
    run: toView(run),
    items: items.map((i) => ({
      sequence: Number(i.sequence),
      key: i.product_key,
      // Charge products are recorded under their `product:` key, so the kind needs no column of its own.
      kind: isChargeProductKey(i.product_key) ? ("charge-product" as const) : ("catalog" as const),
      name: i.name,
      action: i.action as ProductAction,
      status: i.status as ProductItemStatus,
      recordId: i.psa_record_id,
      message: i.message,
      ...storedNotes(i.notes),
    })),
  };
}

/** An item's notes column: the notes array, or (since amounts are kept) the notes with the written amounts. */
function storedNotes(text: string): { notes: string[]; amounts: ProductItemAmounts | null } {
  const value = JSON.parse(text) as string[] | { notes: string[]; amounts: ProductItemAmounts };
  return Array.isArray(value) ? { notes: value, amounts: null } : value;
}
