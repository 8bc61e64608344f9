import { BILLING_MOTIONS, MOTION_LABELS, type BillingMotion } from "../core/billing.ts";
import type { RunLockConfig } from "../config.ts";
import type { Store } from "../store/db.ts";
import type { AnnualSync } from "./annual-sync.ts";
import type { AzureSync } from "./azure-sync.ts";
import type { ConnectionView } from "./connections.ts";
import type { MappingService } from "./mappings.ts";
import type { MonthlyLine, MonthlySync } from "./monthly-sync.ts";
import {
  RunAlreadyActiveError,
  SyncBookkeeping,
  type SyncScope,
  type SyncTrigger,
} from "./sync-bookkeeping.ts";
import { failureSentence } from "../psa/shared/error-sentences.ts";

/**
 * The one place that knows which service syncs which billing motion, and when a motion counts as switched on
 * for a connection. The HTTP "sync now", the background worker and the CLI all go through here, so a motion
 * added later is added once.
 */

/** What a sync is built with: at least another clock (sync-now.ts's SyncOptions adds a logger, passed through). */
export type MotionSyncOptions = { now?: () => Date };

/**
 * What the motion syncs need of the app. The app (src/app.ts's App) has all of it; it is declared here so that
 * services never import the composition root above them.
 */
export type MotionApp<O extends MotionSyncOptions = MotionSyncOptions> = {
  store: Store;
  organizationId: string;
  config: { runLock: RunLockConfig };
  mappings: Pick<MappingService, "enabled">;
  annualSync(connectionId: string, options?: O): Promise<AnnualSync>;
  azureSync(connectionId: string, options?: O): Promise<AzureSync>;
  monthlySync(connectionId: string, options?: O): Promise<MonthlySync<MonthlyLine>>;
};

/** Each motion's sync service. */
export type MotionSyncs = {
  "seat-annual": AnnualSync;
  azure: AzureSync;
  "seat-monthly": MonthlySync<MonthlyLine>;
};

/** The sync service of one motion on one connection. */
export async function syncFor<M extends BillingMotion, O extends MotionSyncOptions>(
  app: MotionApp<O>,
  motion: M,
  connectionId: string,
  options?: O,
): Promise<MotionSyncs[M]> {
  const services: { [K in BillingMotion]: () => Promise<MotionSyncs[K]> } = {
    "seat-annual": () => app.annualSync(connectionId, options),
    azure: () => app.azureSync(connectionId, options),
    "seat-monthly": () => app.monthlySync(connectionId, options),
  };
  return services[motion]();
}

/** What a motion's run returns (a failed start has only RecordedItems, which every motion's items extend). */
type MotionRun = Awaited<ReturnType<MotionSyncs[BillingMotion]["run"]>>;

/**
 * Syncs one motion now and returns its run — also when the sync cannot even start (the PSA cannot be reached,
 * the credentials cannot be decrypted, the host is not allowed): that is recorded as a failed run with the
 * reason, so every attempted sync is in the history and its entries show the failure. Only "another run holds
 * the lock" is thrown (RunAlreadyActiveError): that attempt did not happen.
 */
export async function runMotion<O extends MotionSyncOptions>(
  app: MotionApp<O>,
  motion: BillingMotion,
  connectionId: string,
  trigger: SyncTrigger,
  scope: SyncScope = {},
  options?: O,
): Promise<MotionRun> {
  let service: MotionSyncs[BillingMotion];
  try {
    service = await syncFor(app, motion, connectionId, options);
  } catch (error) {
    if (error instanceof RunAlreadyActiveError) throw error;
    const reason = `the sync could not start: ${failureSentence(error)}`;
    const books = new SyncBookkeeping({
      store: app.store,
      organizationId: app.organizationId,
      connectionId,
      motion,
      runLock: app.config.runLock,
      ...options,
    });
    return books.recordFailedStart(trigger, scope, reason);
  }
  return service.run(trigger, scope);
}

/**
 * Why a motion may not be synced on a connection now, or null when it may. Seat-based Annual has its own
 * switch in the PSA settings; the other motions are on for a connection once one of its entries is enabled.
 */
export async function motionOffReason(
  app: Pick<MotionApp, "mappings">,
  connection: Pick<ConnectionView, "id" | "name" | "seatAnnualEnabled">,
  motion: BillingMotion,
): Promise<{ field: string; message: string } | null> {
  if (motion === "seat-annual") {
    return connection.seatAnnualEnabled
      ? null
      : {
          field: "seatAnnualEnabled",
          message: `Seat-based Annual subscription sync is off for ${connection.name}; turn it on in the connection's settings first`,
        };
  }
  return (await app.mappings.enabled(connection.id, motion)).length > 0
    ? null
    : {
        field: "motion",
        message: `${connection.name} has no enabled ${MOTION_LABELS[motion]} entry; map one on the Customers tab first`,
      };
}

/** The motions a scheduled or "sync everything" run covers on a connection. */
export async function enabledMotions(
  app: Pick<MotionApp, "mappings">,
  connection: Pick<ConnectionView, "id" | "name" | "seatAnnualEnabled">,
): Promise<BillingMotion[]> {
  const on: BillingMotion[] = [];
  for (const motion of BILLING_MOTIONS)
    if ((await motionOffReason(app, connection, motion)) === null) on.push(motion);
  return on;
}
