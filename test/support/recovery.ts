import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { App } from "../../src/app.ts";
import type { EmulatorServer, FaultRule } from "../../emulators/kit.ts";
import type { BillingMotion } from "../../src/core/billing.ts";
import { syncFor } from "../../src/services/motion-sync.ts";
import type { RunTotals } from "../../src/services/sync-bookkeeping.ts";
import { IN_DOUBT_MS } from "../../src/services/sync-bookkeeping.ts";

type Run = RunTotals & { items: { outcome: string; message: string | null }[] };

/** A run's error messages, for assertion messages. */
export function errorsOf(run: { items: readonly { outcome: string; message: string | null }[] }): string {
  return JSON.stringify(run.items.filter((i) => i.outcome === "error").map((i) => i.message));
}

/**
 * The runs after a sync process was killed mid-write. Writes run side by side, so the kill can fall between
 * recording an attempt and sending it; such a write cannot be told apart from one still on its way, and the
 * first run must leave it in doubt rather than risk a second charge. A run after the in-doubt window writes
 * it. Returns the runs made: one when nothing was in doubt, else two.
 */
export async function syncAfterKill(
  app: App,
  connectionId: string,
  motion: BillingMotion = "seat-annual",
): Promise<Run[]> {
  const first: Run = await (await syncFor(app, motion, connectionId)).run("manual");
  const errors = first.items.filter((i) => i.outcome === "error");
  for (const item of errors) assert.match(item.message ?? "", /may still reach the PSA/, item.message ?? "");
  if (errors.length === 0) return [first];
  const later = () => new Date(Date.now() + IN_DOUBT_MS);
  const second: Run = await (await syncFor(app, motion, connectionId, { now: later })).run("manual");
  assert.equal(second.errors, 0, second.items.map((i) => i.message).join("; "));
  assert.equal(second.written, errors.length, "each write left in doubt is written by the later run");
  return [first, second];
}

const BIN = path.resolve(import.meta.dirname, "../../bin/cspsync.js");

/** Polls until `condition` holds — a child process and the emulator move on their own — failing after ~10 s. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting until ${what}`);
}

/**
 * Runs `cspsync sync CONNECTION --motion MOTION` in its own process and SIGKILLs it while the write that `slow`
 * delays is in flight; returns once the PSA has committed that orphaned write on its own, faults cleared.
 */
export async function killDuringWrite(
  s: { databaseUrl: string; env: NodeJS.ProcessEnv; emulator: { server: EmulatorServer } },
  connection: string,
  motion: BillingMotion,
  slow: FaultRule,
): Promise<void> {
  const { server } = s.emulator;
  const [fault] = server.addFaults([slow]);
  const args = [BIN, "sync", connection, "--motion", motion, "--db", s.databaseUrl];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...s.env }, stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const fired = () => server.faults().find((f) => f.id === fault!.id)?.fired ?? 0;
  await waitFor("the slowed write reached the PSA", () => fired() === 1);
  child.kill("SIGKILL");
  await exited;
  await waitFor("the orphaned write was committed", () =>
    server.requestLog().some((r) => r.fault === "latency" && r.write),
  );
  server.clearFaults();
}

/** Every sync run's status, oldest first. */
export async function runStatuses(app: App): Promise<string[]> {
  const runs = await app.store.db.selectFrom("sync_runs").select("status").orderBy("started_at").execute();
  return runs.map((r) => r.status);
}
