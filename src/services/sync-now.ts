import { notifyRunFinished } from "./notifications.ts";
import { BILLING_MOTIONS, type BillingMotion } from "../core/billing.ts";
import { AppError } from "../core/errors.ts";
import type { Logger } from "../log.ts";
import { hasCustomer, listCustomers } from "../store/billing-repository.ts";
import type { PlannedMapping, RunSummary } from "./annual-sync.ts";
import type { AzureRunSummary, PlannedAzureMapping } from "./azure-sync.ts";
import type { ConnectionView } from "./connections.ts";
import { chargeTotals } from "./customer-overview.ts";
import type { MonthlyLine, MonthlyRunSummary, PlannedMonthlyMapping } from "./monthly-sync.ts";
import type { MappingService } from "./mappings.ts";
import {
  enabledMotions,
  motionOffReason,
  runMotion,
  syncFor,
  type MotionApp,
  type MotionSyncOptions,
} from "./motion-sync.ts";
import { previewHolds } from "./price-holds.ts";
import type { SyncScope, SyncTrigger } from "./sync-bookkeeping.ts";

/**
 * "Sync now" and its dry run, once, for every interface: the HTTP API and the CLI parse their input, call
 * these, and format what comes back. Every motion is driven through one contract (MotionSync): the same plan
 * and run calls whatever the motion, so a motion added later is added here and in motion-sync.ts only.
 */

/**
 * How a sync is built: a clock other than the system's, for looking at a sync from a later moment (tests,
 * replays), and where its PSA requests are logged (an HTTP request's logger, say; default the app's).
 */
export type SyncOptions = MotionSyncOptions & { log?: Logger };

/**
 * What Sync now needs of the app. src/app.ts's App has all of it; it is declared here, as motion-sync.ts's
 * MotionApp is, so that services never import the composition root above them.
 */
export type SyncNowApp = MotionApp<SyncOptions> & {
  log: Logger;
  mappings: Pick<MappingService, "enabled" | "forConnection" | "forCustomer">;
};

/** What one motion's dry run plans, per mapping. */
export type PlannedEntries = {
  "seat-annual": PlannedMapping;
  azure: PlannedAzureMapping;
  "seat-monthly": PlannedMonthlyMapping<MonthlyLine>;
};

/** What one motion's run returns. */
export type MotionRunSummary = {
  "seat-annual": RunSummary;
  azure: AzureRunSummary;
  "seat-monthly": MonthlyRunSummary<MonthlyLine>;
};

/** A motion's dry run: the exact writes per mapping, and what the hold for approval does with each line. */
export type MotionDryRun<M extends BillingMotion = BillingMotion> = {
  motion: M;
  mappings: PlannedEntries[M][];
  /** Whether some mapping cannot be written as planned (a problem, or a product the PSA lacks). */
  failed: boolean;
  /** Per write key of a below-cost line: "would hold", "held" or "approved". */
  holds: Awaited<ReturnType<typeof previewHolds>>;
};

/** Any motion's dry run, as a union the motion tells apart. */
export type AnyMotionDryRun = { [M in BillingMotion]: MotionDryRun<M> }[BillingMotion];

/** One motion's sync on one connection, the same for every motion. */
export interface MotionSync<M extends BillingMotion = BillingMotion> {
  readonly motion: M;
  /** The exact writes a run would make now (PSA products resolved), changing nothing. */
  plan(scope: SyncScope): Promise<MotionDryRun<M>>;
  /** Runs the sync; throws RunAlreadyActiveError when another run holds the connection. */
  run(trigger: SyncTrigger, scope: SyncScope): Promise<MotionRunSummary[M]>;
}

/** Whether a planned mapping cannot be written as planned. */
const FAILS: { [M in BillingMotion]: (entry: PlannedEntries[M]) => boolean } = {
  "seat-annual": (entry) => Boolean(entry.problem),
  // Without its PSA product no month can be written, so a dry run reports that as a failure.
  azure: (entry) => Boolean(entry.problem) || entry.product?.ok === false,
  "seat-monthly": (entry) => Boolean(entry.problem),
};

/** Every planned line of a dry run, whatever the motion. */
function plannedLines(mappings: readonly { plan: { lines: readonly object[] } }[]): object[] {
  return mappings.flatMap((entry) => [...entry.plan.lines]);
}

/**
 * The motion's sync on a connection. Building it may fail (credentials that cannot be decrypted, a host that
 * is not allowed): that is thrown, as nothing was attempted.
 */
export async function openMotionSync<M extends BillingMotion>(
  app: SyncNowApp,
  motion: M,
  connectionId: string,
  options: SyncOptions = {},
): Promise<MotionSync<M>> {
  const service = await syncFor(app, motion, connectionId, options);
  const plan = async (scope: SyncScope): Promise<MotionDryRun<M>> => {
    const mappings = (await planOf(motion, service, scope)) as PlannedEntries[M][];
    const fails = FAILS[motion] as (entry: PlannedEntries[M]) => boolean;
    const holds = await previewHolds(app.store, connectionId, plannedLines(mappings));
    return { motion, mappings, failed: mappings.some(fails), holds };
  };
  return {
    motion,
    plan,
    run: (trigger, scope) => service.run(trigger, scope) as Promise<MotionRunSummary[M]>,
  };
}

/** The one difference between the motions' plan calls: Seat-based Monthly has no products to resolve. */
function planOf(
  motion: BillingMotion,
  service: Awaited<ReturnType<typeof syncFor>>,
  scope: SyncScope,
): Promise<unknown[]> {
  if (motion === "seat-monthly")
    return (service as { plan(scope: SyncScope): Promise<unknown[]> }).plan(scope);
  return (
    service as { plan(scope: SyncScope, options: { resolveProducts: boolean }): Promise<unknown[]> }
  ).plan(scope, { resolveProducts: true });
}

/** Nothing to sync, or a motion that is off: a validation error naming the field at fault. */
export class SyncNowError extends AppError {
  constructor(message: string, field: string) {
    super("validation", message, { field });
  }
}

/** Whether the billing data has this customer (by exact tenant id). */
export function customerExists(app: SyncNowApp, tenantId: string): Promise<boolean> {
  return hasCustomer(app.store, app.organizationId, tenantId);
}

/**
 * The motions a Sync now covers. A motion asked for must be switched on; without one, every motion that is
 * on — for a customer, those of its entries that are enabled. Nothing to sync is a SyncNowError.
 */
export async function motionsToSync(
  app: SyncNowApp,
  connection: ConnectionView,
  motion: BillingMotion | undefined,
  customerTenantId: string | undefined,
): Promise<BillingMotion[]> {
  if (motion) {
    const off = await motionOffReason(app, connection, motion);
    if (off) throw new SyncNowError(off.message, off.field);
    return [motion];
  }
  let motions = await enabledMotions(app, connection);
  if (customerTenantId) {
    const entries = await app.mappings.forCustomer(connection.id, customerTenantId);
    motions = motions.filter((m) => entries.some((e) => e.motion === m && e.enabled));
  }
  if (motions.length === 0)
    throw new SyncNowError(
      customerTenantId
        ? "this customer has no enabled entry whose motion is switched on; map one, or turn Seat-based Annual subscription sync on"
        : `nothing to sync on ${connection.name}: turn Seat-based Annual subscription sync on, or map a Seat-based Monthly or Azure Plan entry`,
      "motion",
    );
  return motions;
}

/** Dry runs of these motions on a connection, in order; nothing is recorded. */
export async function dryRunMotions(
  app: SyncNowApp,
  connectionId: string,
  motions: readonly BillingMotion[],
  scope: SyncScope,
  options: SyncOptions = {},
): Promise<AnyMotionDryRun[]> {
  const plans: AnyMotionDryRun[] = [];
  for (const motion of motions)
    plans.push(
      (await (await openMotionSync(app, motion, connectionId, options)).plan(scope)) as AnyMotionDryRun,
    );
  return plans;
}

/** A run of one motion, as Sync now answers it. */
export type MotionRunResult = { motion: BillingMotion } & Awaited<ReturnType<typeof runMotion>>;

/**
 * Runs these motions on a connection one after the other. A sync that cannot start is recorded as a failed
 * run, like every attempt, and answered as one; another run holding the connection is thrown
 * (RunAlreadyActiveError). Each run is logged with its run and connection ids.
 */
export async function runMotions(
  app: SyncNowApp,
  connectionId: string,
  motions: readonly BillingMotion[],
  trigger: SyncTrigger,
  scope: SyncScope,
  options: SyncOptions = {},
): Promise<MotionRunResult[]> {
  const log = (options.log ?? app.log).child({ connectionId });
  const runs: MotionRunResult[] = [];
  for (const motion of motions) {
    const summary = await runMotion(app, motion, connectionId, trigger, scope, options);
    await notifyRunFinished(app, { id: connectionId }, motion, summary);
    log.info(
      {
        motion,
        trigger,
        runId: summary.runId,
        status: summary.status,
        written: summary.written,
        errors: summary.errors,
      },
      "sync run finished",
    );
    runs.push({ motion, ...summary });
  }
  return runs;
}

/** Every customer's billable charges in a motion it has no mapped entry for, by customer name then motion. */
export async function unmappedCharges(app: SyncNowApp, connectionId: string) {
  const [customers, mappingList, charges] = await Promise.all([
    listCustomers(app.store, app.organizationId),
    app.mappings.forConnection(connectionId),
    chargeTotals(app.store, app.organizationId),
  ]);
  const key = (tenantId: string, motion: string) => `${tenantId}\n${motion}`;
  const mapped = new Set(
    mappingList.filter((m) => m.psaCompanyId).map((m) => key(m.customerTenantId, m.motion)),
  );
  return customers.flatMap((c) =>
    BILLING_MOTIONS.flatMap((motion) => {
      const totals = charges.get(c.tenantId)?.get(motion);
      if (!totals || mapped.has(key(c.tenantId, motion))) return [];
      return [{ tenantId: c.tenantId, name: c.name, motion, ...totals }];
    }),
  );
}
