import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { CONTOSO } from "../support/recon-builder.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedAutotask, type MappedAutotask } from "../support/autotask-setup.ts";
import { Client } from "./helpers.ts";

/**
 * A PSA that cannot be reached must not be invisible: the sync that could not even start is in the history
 * with the reason, the connection shows it, and the customer's entry says Error.
 */
type Run = {
  runId: string;
  motion: string;
  status: string;
  errors: number;
  items: { message: string | null }[];
};

for (const dialect of DIALECTS) {
  describe(`a sync whose PSA cannot be reached (${dialect})`, () => {
    let s: MappedAutotask;
    let server: FastifyInstance;
    let admin: Client;
    let webRoot: string;

    before(async () => {
      s = await mappedAutotask(dialect);
      webRoot = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-noweb-"));
      server = await buildServer(s.app, { webRoot, log: false, auth: { passwordCost: 1024 } });
      admin = new Client(server);
      assert.equal((await admin.setup()).status, 200);
    });
    after(async () => {
      await server.close();
      await s.cleanup();
      fs.rmSync(webRoot, { recursive: true, force: true });
    });

    it("is recorded as a failed run with the reason, shown on the connection and on the entry", async () => {
      // Every request to the PSA has its connection dropped. Whether the sync fails while starting (discovering
      // the zone) or at its first read (the zone is remembered per connection in the process, so a sync opened
      // after another asks for none), the run is a failed one with the reason.
      s.emulator.server.addFaults({ kind: "drop-connection" });
      const reply = await admin.post(`/api/connections/${s.connectionId}/sync`, { motion: "seat-annual" });
      assert.equal(reply.status, 200, reply.text);
      const [run] = (reply.body as { runs: Run[] }).runs;
      assert.deepEqual([run!.motion, run!.status, run!.errors], ["seat-annual", "error", 1]);
      assert.match(
        run!.items[0]!.message ?? "",
        /^(the sync could not start: )?Autotask could not be reached at 127\.0\.0\.1:\d+: /,
      );

      const history = (await admin.get("/api/runs")).body as { runs: { id: string; status: string }[] };
      assert.equal(history.runs.find((r) => r.id === run!.runId)?.status, "error", "in Sync history");

      const view = (await admin.get(`/api/connections/${s.connectionId}`)).body as {
        connection: { lastSync: { runId: string; status: string; message: string | null } | null };
      };
      assert.equal(view.connection.lastSync?.runId, run!.runId);
      assert.equal(view.connection.lastSync?.status, "error");
      assert.match(view.connection.lastSync?.message ?? "", /could not be reached at/);

      const customers = (await admin.get(`/api/connections/${s.connectionId}/customers`)).body as {
        customers: { tenantId: string; mappings: { motion: string; lastStatus: string | null }[] }[];
      };
      const contoso = customers.customers.find((c) => c.tenantId === CONTOSO.id)!;
      assert.equal(contoso.mappings.find((m) => m.motion === "seat-annual")?.lastStatus, "error");
      s.emulator.server.clearFaults();
    });
  });
}
