import fs from "node:fs";
import os from "node:os";
import type { RunLockConfig } from "../config.ts";
import { databaseNowSql } from "./db-clock.ts";
import type { Store } from "./db.ts";

/**
 * The one run lock of cspsync, shared by billing runs (`sync_runs`) and product catalog runs
 * (`product_sync_runs`): at most one running run per connection and kind, enforced by each table's partial
 * unique index on `connection_id where status = 'running'`; who runs it (`owner`) and when it last showed
 * life (`heartbeat_at`, on the database's clock). A run whose process is gone is taken over — at once when
 * that process was on this host and has ended, otherwise after CSPSYNC_RUN_STALE_SECONDS of silence — and a
 * run that lost the lock finds out before it writes again (fencing: `stillOwns` in the same statement).
 */

/** The run tables; both have id, connection_id, status, owner, heartbeat_at, finished_at and message. */
export type RunTable = "sync_runs" | "product_sync_runs";

/** Defaults of the run lock; `cspsync` reads them from CSPSYNC_RUN_STALE_SECONDS / CSPSYNC_PSA_TIMEOUT_SECONDS. */
export const DEFAULT_RUN_LOCK: RunLockConfig = {
  nodeName: os.hostname(),
  staleRunMs: 2 * 60_000,
  psaTimeoutMs: 30_000,
};

/** Linux's id of this boot: a pid recorded before a reboot is not the process running now. */
const BOOT_ID = readBootId();

function readBootId(): string {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** A node name as the owner token holds it (":" separates the token's parts). */
function nodeOf(nodeName: string): string {
  return nodeName.replaceAll(":", "_");
}

/** Who runs a run: `node:pid:bootId`. */
export function ownerToken(nodeName: string): string {
  return `${nodeOf(nodeName)}:${process.pid}:${BOOT_ID}`;
}

/** Why a running run may be taken over, or null while its process may still be at work. */
export function whyOwnerIsGone(
  owner: string,
  heartbeatAt: string,
  databaseNow: Date,
  lock: RunLockConfig,
): string | null {
  const [node, pidText, boot] = owner.split(":");
  const pid = Number(pidText);
  const sameBoot = boot === undefined || boot === "" || BOOT_ID === "" || boot === BOOT_ID;
  if (node === nodeOf(lock.nodeName) && sameBoot && Number.isInteger(pid) && pid > 0) {
    // On this node the process table is the truth: a live process keeps its run however long it has been
    // silent (it may be frozen and wake up mid-write); a finished one is gone at once.
    if (pid === process.pid) return null;
    try {
      process.kill(pid, 0);
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") return null;
      return `its process (pid ${pid} on ${node}) has ended`;
    }
  }
  const silentMs = databaseNow.getTime() - Date.parse(heartbeatAt);
  if (silentMs < lock.staleRunMs) return null;
  return (
    `its process on ${node || "an unknown node"} has not sent a heartbeat for ${Math.round(silentMs / 1000)} s ` +
    `by the database's clock (a run is taken over after ${lock.staleRunMs / 1000} s, longer than the ` +
    `${lock.psaTimeoutMs / 1000} s a PSA request may take, so nothing it had in flight can still land)`
  );
}

/** The run no longer holds its connection's lock: another run took it over while this one was silent. */
export class RunSupersededError extends Error {
  readonly runId: string;
  constructor(runId: string) {
    super(
      `run ${runId} no longer holds the connection's sync lock (a later run took it over while this one was ` +
        "not responding); it stopped before sending anything more",
    );
    this.name = "RunSupersededError";
    this.runId = runId;
  }
}

/** How a start went: the run holds the lock, or another live run does. */
export type LockStart = { started: true } | { started: false; activeRunId: string };

export class RunLock {
  readonly #store: Store;
  readonly #table: RunTable;
  readonly #connectionId: string;
  readonly #config: RunLockConfig;

  constructor(store: Store, table: RunTable, connectionId: string, config: RunLockConfig = DEFAULT_RUN_LOCK) {
    this.#store = store;
    this.#table = table;
    this.#connectionId = connectionId;
    this.#config = config;
  }

  /** This process as a run's owner. */
  owner(): string {
    return ownerToken(this.#config.nodeName);
  }

  /** The database's "now", for a run's heartbeat column. */
  heartbeatNow() {
    return databaseNowSql(this.#store.dialect);
  }

  /**
   * Both tables have every column the lock's statements use; Kysely checks them against one of the two.
   */
  get #name(): "sync_runs" {
    return this.#table as "sync_runs";
  }

  /**
   * Inserts the run (`insert` writes the row with status running, `owner()` and `heartbeatNow()`), taking over
   * an active run whose process is gone; that run ends "abandoned" with the reason. Each round either starts
   * the run or finds the active one: alive (refused), gone (taken over, then tried again), or ended by a run
   * taking it over at this very moment (tried again).
   */
  async start(runId: string, insert: () => Promise<unknown>, now: () => string): Promise<LockStart> {
    for (let round = 1; ; round += 1) {
      try {
        await insert();
        return { started: true };
      } catch (error) {
        const active = await this.#activeRun();
        if (!active) {
          if (round < 3) continue;
          throw error;
        }
        const why = whyOwnerIsGone(
          active.owner,
          active.heartbeat_at,
          new Date(active.database_now),
          this.#config,
        );
        if (why === null || round >= 3) return { started: false, activeRunId: active.id };
        // Compare-and-set on the heartbeat: a run that woke up and beat its heart meanwhile keeps its lock.
        const abandoned = await this.#store.db
          .updateTable(this.#name)
          .set({ status: "abandoned", finished_at: now(), message: `taken over by run ${runId}: ${why}` })
          .where("id", "=", active.id)
          .where("status", "=", "running")
          .where("heartbeat_at", "=", active.heartbeat_at)
          .executeTakeFirst();
        if (Number(abandoned.numUpdatedRows) === 0) return { started: false, activeRunId: active.id };
      }
    }
  }

  #activeRun() {
    return this.#store.db
      .selectFrom(this.#name)
      .select(["id", "heartbeat_at", "owner"])
      .select(databaseNowSql(this.#store.dialect).as("database_now"))
      .where("connection_id", "=", this.#connectionId)
      .where("status", "=", "running")
      .executeTakeFirst();
  }

  /** Beats on the database's clock; false when the run was taken over (nothing is changed then). */
  async heartbeat(runId: string): Promise<boolean> {
    const result = await this.#store.db
      .updateTable(this.#name)
      .set({ heartbeat_at: databaseNowSql(this.#store.dialect) })
      .where("id", "=", runId)
      .where("status", "=", "running")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** How often a run beats: well inside the take-over time, at most every 20 s. */
  heartbeatIntervalMs(): number {
    return Math.max(250, Math.min(20_000, Math.floor(this.#config.staleRunMs / 4)));
  }

  /**
   * Beats until the returned function is called. A missed heartbeat is harmless (the next one catches up); it
   * must never crash the process mid-write.
   */
  keepAlive(runId: string): () => void {
    const timer = setInterval(() => this.heartbeat(runId).catch(() => {}), this.heartbeatIntervalMs());
    return () => clearInterval(timer);
  }

  /** The condition a fenced statement carries: `runId` is still its connection's running run. */
  stillOwns(runId: string) {
    return this.#store.db
      .selectFrom(this.#name)
      .select(`${this.#name}.id`)
      .where(`${this.#name}.id`, "=", runId)
      .where(`${this.#name}.status`, "=", "running");
  }

  /** Whether `runId` still holds the lock, read now (for writes that carry no ledger statement to fence). */
  async holds(runId: string): Promise<boolean> {
    return (await this.stillOwns(runId).executeTakeFirst()) !== undefined;
  }
}
