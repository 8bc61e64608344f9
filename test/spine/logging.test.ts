import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createJobQueue } from "../../src/jobs/index.ts";
import { createAppLogger } from "../../src/log.ts";
import { runMotions } from "../../src/services/sync-now.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";
import { waitFor } from "../jobs/helpers.ts";

type Line = Record<string, unknown> & { level: number; msg: string };

/** A logger of the app's kind whose JSON lines the test reads, sharing the app's registry of secrets. */
function capture(setup: MappedConnectWise) {
  const raw: string[] = [];
  const { log } = createAppLogger({
    level: "debug",
    stream: { write: (line: string) => void raw.push(line) },
    secrets: setup.app.logSecrets,
  });
  return { log, raw, lines: () => raw.map((line) => JSON.parse(line) as Line) };
}

/** Every form the private key could leak in: itself, URL-encoded, base64, and the Basic value it is part of. */
function leaks(setup: MappedConnectWise): string[] {
  const { companyId, publicKey, privateKey } = setup.emulator.credentials;
  const basic = Buffer.from(`${companyId}+${publicKey}:${privateKey}`).toString("base64");
  return [privateKey, encodeURIComponent(privateKey), Buffer.from(privateKey).toString("base64"), basic];
}

for (const dialect of DIALECTS) {
  describe(`one logger, secrets redacted (${dialect})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it("a sync logs its PSA requests, retries and run with the connection and run ids, never the private key", async () => {
      const setup = await mappedConnectWise(dialect);
      cleanups.push(setup.cleanup);
      const { privateKey } = setup.emulator.credentials;
      // The PSA fails every read with a body that echoes the private key: retried, then the run fails.
      setup.emulator.server.addFaults([
        {
          kind: "server-error",
          method: "GET",
          status: 500,
          body: { message: `internal error near ${privateKey}` },
        },
      ]);
      const { log, raw, lines } = capture(setup);
      const [run] = await runMotions(setup.app, setup.connectionId, ["seat-annual"], "manual", {}, { log });
      assert.equal(run!.status, "error");

      const all = lines();
      const requests = all.filter((l) => l.msg === "PSA request");
      const retries = all.filter((l) => l.msg === "PSA request retried");
      assert.ok(requests.length > 0, raw.join(""));
      assert.ok(retries.length > 0, raw.join(""));
      for (const line of [...requests, ...retries]) {
        assert.equal(line.connectionId, setup.connectionId);
        assert.equal((line.psa as { vendor: string }).vendor, "connectwise");
      }
      assert.equal(retries[0]!.level, 40);
      const finished = all.find((l) => l.msg === "sync run finished");
      assert.ok(finished, raw.join(""));
      assert.equal(finished.runId, run!.runId);
      assert.equal(finished.connectionId, setup.connectionId);
      assert.equal(finished.status, "error");

      // Whatever is logged through the app's logger afterwards, the connection's key is scrubbed by value.
      log
        .child({ connectionId: setup.connectionId })
        .error(
          { err: new Error(`refused ${privateKey}`), note: encodeURIComponent(privateKey) },
          `failed with ${privateKey}`,
        );
      const text = raw.join("");
      assert.ok(text.includes("failed with ***"), raw.at(-1));
      for (const leak of leaks(setup)) assert.ok(!text.includes(leak), `leaked ${leak}`);
    });

    it("a job that fails on a PSA error is logged with its job id and the error, never the private key", async (t) => {
      if (dialect === "postgres") {
        // The PostgreSQL driver (pg-boss) takes the same logger through createJobQueue; its own suite covers it.
        t.diagnostic("the job part runs on the embedded queue (SQLite)");
        return;
      }
      const setup = await mappedConnectWise(dialect);
      cleanups.push(setup.cleanup);
      const { privateKey } = setup.emulator.credentials;
      setup.emulator.server.addFaults([
        { kind: "server-error", method: "GET", status: 400, body: { message: `bad key ${privateKey}` } },
      ]);
      const { log, raw, lines } = capture(setup);
      const queue = createJobQueue(setup.app.store, setup.databaseUrl, {
        local: { pollIntervalMs: 10 },
        logger: log,
      });
      cleanups.push(() => queue.stop({ graceful: false }));
      await queue.work("look-up", async () => {
        await (await setup.app.adapterFor(setup.connectionId)).searchCompanies("Contoso");
      });
      await queue.start();
      const id = await queue.send("look-up", {}, { retryLimit: 0 });
      await waitFor(() => lines().some((l) => l.jobId === id), "the failed job is logged");
      const failed = lines().find((l) => l.jobId === id)!;
      assert.equal(failed.level, 50);
      assert.equal(failed.jobName, "look-up");
      assert.equal(failed.attempt, 1);
      assert.match(failed.msg, /^"look-up" job failed: connectwise GET .* HTTP 400/);
      // The error itself, serialized by pino (its class, and its message already redacted by the transport).
      assert.equal((failed.err as { type: string }).type, "ConnectWiseValidationError");
      const text = raw.join("");
      assert.ok(text.includes("bad key ***"), text);
      for (const leak of leaks(setup)) assert.ok(!text.includes(leak), `leaked ${leak}`);
    });
  });
}
