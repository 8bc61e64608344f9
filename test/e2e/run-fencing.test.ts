import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";

/** Polls until `condition` holds, failing after `seconds` with what the process said. */
async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  seconds = 30,
): Promise<void> {
  for (let waited = 0; waited < seconds * 1000; waited += 50) {
    if (await condition()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting until ${what}`);
}

/**
 * A sync process that freezes (a VM paused for a snapshot, a laptop asleep, a long GC) while another node
 * takes its run over, and then wakes up: it must not write anything more. Reproduced with real processes,
 * SIGSTOP and SIGCONT; the take-over time is shortened through the same settings an operator has.
 */
const BIN = path.resolve(import.meta.dirname, "../../bin/cspsync.js");
const ANNUAL_LINES = 8;
const STALE_SECONDS = 3;
const LOCK_ENV = { CSPSYNC_RUN_STALE_SECONDS: String(STALE_SECONDS), CSPSYNC_PSA_TIMEOUT_SECONDS: "2" };

type Exit = { code: number | null; stdout: string; stderr: string };

function startSync(s: MappedConnectWise, nodeName: string): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, "sync", "CW", "--db", s.databaseUrl], {
    env: { ...process.env, ...s.env, ...LOCK_ENV, CSPSYNC_NODE_NAME: nodeName },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve) =>
    child.once("exit", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exited };
}

const committedAdditions = (s: MappedConnectWise) =>
  s.emulator.server.requestLog().filter((r) => r.method === "POST" && r.write).length;

async function assertEveryChargeOnce(s: MappedConnectWise): Promise<void> {
  const additions = await s.client.listAdditions(Number(s.agreementId));
  const keys = additions.map((a) => a.serialNumber);
  assert.equal(additions.length, ANNUAL_LINES, `additions: ${JSON.stringify(keys)}`);
  assert.equal(new Set(keys).size, ANNUAL_LINES, "no key appears twice");
  const ledger = await s.app.store.db
    .selectFrom("psa_writes")
    .select(["write_key", "status"])
    .where("connection_id", "=", s.connectionId)
    .execute();
  assert.deepEqual(new Set(ledger.map((w) => w.write_key)), new Set(keys));
  assert.ok(
    ledger.every((w) => w.status === "confirmed"),
    JSON.stringify(ledger),
  );
}

const runsOf = (s: MappedConnectWise) =>
  s.app.store.db
    .selectFrom("sync_runs")
    .select(["id", "status", "owner", "message"])
    .orderBy("started_at")
    .execute();

for (const dialect of DIALECTS) {
  describe(`a sync that froze and woke up (${dialect})`, () => {
    let s: MappedConnectWise | undefined;
    const children: ChildProcess[] = [];
    afterEach(async () => {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGCONT");
          child.kill("SIGKILL");
        }
      }
      await s?.cleanup();
    });

    it("on another node: taken over once silent, and on waking it sends nothing more — every charge once", async () => {
      s = await mappedConnectWise(dialect);
      s.emulator.server.setLatency(400);
      const first = startSync(s, "node-a");
      children.push(first.child);
      await waitUntil("the first run wrote a charge", () => committedAdditions(s!) >= 1);
      first.child.kill("SIGSTOP");
      // Longer than the take-over time by the database's clock, counted from its last heartbeat.
      await sleep(STALE_SECONDS * 1000 + 1500);
      const second = startSync(s, "node-b");
      children.push(second.child);
      await waitUntil("the second run took over", async () => (await runsOf(s!)).length === 2);
      const writtenBeforeWaking = committedAdditions(s);
      first.child.kill("SIGCONT");
      const [firstExit, secondExit] = await Promise.all([first.exited, second.exited]);
      assert.ok(committedAdditions(s) >= writtenBeforeWaking);

      await assertEveryChargeOnce(s);
      const [frozen, taker] = await runsOf(s);
      assert.equal(frozen!.status, "abandoned", "a late end does not overwrite the take-over");
      assert.match(frozen!.owner, /^node-a:/);
      assert.match(frozen!.message ?? "", new RegExp(`taken over by run ${taker!.id}`));
      assert.match(frozen!.message ?? "", /has not sent a heartbeat for \d+ s by the database's clock/);
      assert.match(frozen!.message ?? "", /longer than the 2 s a PSA request may take/);
      assert.ok(["success", "warning"].includes(taker!.status), `${taker!.status}: ${secondExit.stdout}`);
      assert.equal(secondExit.code, 0, secondExit.stderr + secondExit.stdout);
      assert.notEqual(firstExit.code, null);
      // It had writes in flight when it froze, so on waking it met a fenced statement, stopped, and says so.
      assert.match(frozen!.message ?? "", /resumed afterwards, found the lock taken and stopped/);
      const frozenItems = await s.app.store.db
        .selectFrom("sync_items")
        .select(["outcome", "message"])
        .where("run_id", "=", frozen!.id)
        .execute();
      for (const item of frozenItems.filter((i) => i.outcome === "error"))
        assert.match(
          item.message ?? "",
          /no longer holds the connection's sync lock|may still reach the PSA/,
        );
    });

    it("on the same node: a live process is never taken over, however long it is silent", async () => {
      s = await mappedConnectWise(dialect);
      s.emulator.server.setLatency(300);
      const first = startSync(s, "node-a");
      children.push(first.child);
      await waitUntil("the first run wrote a charge", () => committedAdditions(s!) >= 1);
      first.child.kill("SIGSTOP");
      await sleep(STALE_SECONDS * 1000 + 1500);
      const refused = await startSync(s, "node-a").exited;
      assert.equal(refused.code, 3, refused.stderr + refused.stdout);
      assert.match(refused.stderr + refused.stdout, /already running/);
      first.child.kill("SIGCONT");
      const done = await first.exited;
      assert.equal(done.code, 0, done.stderr + done.stdout);
      await assertEveryChargeOnce(s);
      assert.deepEqual(
        (await runsOf(s)).map((r) => r.status),
        ["success"],
      );
    });
  });
}
