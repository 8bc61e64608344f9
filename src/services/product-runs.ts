import { randomUUID } from "node:crypto";
import type { AdapterOptions } from "../psa/port.ts";
import { isChargeProductKey } from "../core/product-plan.ts";
import type { ProductAction, ProductSyncMode } from "../core/product-plan.ts";
import type { Store } from "../store/db.ts";
import type { ProductRunStatus, ProductSyncItemsTable, ProductSyncRunsTable } from "../store/schema.ts";
import { ProductRunsRepository } from "../store/product-runs-repository.ts";
import type { RunLockConfig } from "../config.ts";
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
import { notifyProductRunFinished, type NotifyingApp } from "./notifications.ts";

/**
 * Product catalog sync with a history: builds the connection's catalog target from its stored settings (or
 * overrides), previews, and runs the sync under the connection's product run lock, recording every run and
 * each product's result (src/store/product-runs-repository.ts).
 */

/**
 * What product syncs need of the app. src/app.ts's App has all of it; it is declared here, as motion-sync.ts's
 * MotionApp is, so that services never import the composition root above them.
 */
export type ProductRunsApp = {
  store: Store;
  organizationId: string;
  connections: Pick<ConnectionService, "row" | "details">;
  /** The connection's client options, with its request budget (shared with its billing syncs). */
  psaOptionsFor(connectionId: string): Pick<AdapterOptions, "allowedHosts" | "transport">;
  /** The run lock's settings (CSPSYNC_NODE_NAME, CSPSYNC_RUN_STALE_SECONDS); the defaults without it. */
  config?: { runLock: RunLockConfig };
} & NotifyingApp;

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
  const target = await createCatalogTarget(
    await app.connections.details(connectionId),
    settings,
    app.psaOptionsFor(connectionId),
  );
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
 * Runs the product sync and records it, under the connection's product run lock (the run lock billing runs
 * take too, src/store/run-lock.ts): one product run per connection at a time, a run whose process died taken
 * over, and a run that lost the lock stopping before its next product. A setup problem found once the run has
 * started (a billing code the PSA refuses, say) ends the run as an error with that message, so the history
 * shows it too. Sell-price changes on linked records follow `prices` (held unless confirmed, by default); a
 * refused sync (PriceConfirmationRequiredError) wrote nothing and leaves no run behind.
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
  const runs = new ProductRunsRepository(app.store);
  const lock = runs.lock(connectionId, app.config?.runLock);
  const runId = randomUUID();
  const started = await runs.start(lock, {
    id: runId,
    organizationId: app.organizationId,
    connectionId,
    trigger,
    mode,
    startedAt: new Date().toISOString(),
  });
  if (!started.started) throw new ProductRunActiveError(started.activeRunId);
  const stopBeating = lock.keepAlive(runId);
  let result: ProductSyncResult | null = null;
  try {
    result = await sync.sync(mode, prices, async () => {
      if (!(await lock.holds(runId))) throw new ProductRunSupersededError(runId);
    });
    await runs.recordItems(itemRows(runId, result.items));
    await finishRun(runs, runId, result.items, result.psaRequests, null);
  } catch (error) {
    if (error instanceof PriceConfirmationRequiredError) {
      await runs.discard(runId);
      throw error;
    }
    await finishRun(runs, runId, [], 0, failureSentence(error));
  } finally {
    stopBeating();
  }
  const recorded = (await getProductRun(app.store, app.organizationId, runId))!;
  // Its errors, conflicts and the connection's health reach people (docs/notifications.md); never fails the run.
  await notifyProductRunFinished(app, { id: connectionId }, recorded);
  return { ...recorded, result };
}

/** The run no longer holds its connection's product run lock: a later run took it over while it was silent. */
export class ProductRunSupersededError extends AppError {
  constructor(runId: string) {
    super(
      "conflict",
      `product run ${runId} no longer holds the connection's product sync lock (a later run took it over while ` +
        "this one was not responding); it stopped before writing anything more",
    );
  }
}

function itemRows(runId: string, items: readonly ProductItemResult[]): ProductSyncItemsTable[] {
  return items.map((item, index) => ({
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
  }));
}

/** Same status words as billing runs: a conflict needs a person (warning), a failure is an error. */
export function productRunStatus(counts: { written: number; conflicts: number; failed: number }) {
  if (counts.failed > 0) return "error" as const;
  if (counts.conflicts > 0) return "warning" as const;
  return counts.written > 0 ? ("success" as const) : ("no-change" as const);
}

async function finishRun(
  runs: ProductRunsRepository,
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
  // A run taken over keeps the outcome ("abandoned", and why) the run that took over gave it.
  await runs.finish(runId, {
    ...counts,
    status: failure ? "error" : productRunStatus(counts),
    finished_at: new Date().toISOString(),
    psa_requests: psaRequests,
    message: failure,
  });
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
  return (await new ProductRunsRepository(store).list(organizationId, connectionId, limit)).map(toView);
}

export async function getProductRun(
  store: Store,
  organizationId: string,
  runId: string,
): Promise<{ run: ProductRunView; items: ProductRunItemView[] } | null> {
  const found = await new ProductRunsRepository(store).get(organizationId, runId);
  if (!found) return null;
  return {
    run: toView(found.run),
    items: found.items.map((i) => ({
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
