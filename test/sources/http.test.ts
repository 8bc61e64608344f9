import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { startSyncWorker, type SyncWorker } from "../../src/jobs/sync-worker.ts";
import { createLogger } from "../../src/log.ts";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";
import { FAST, SAMPLE, startEmulator } from "./support.ts";

const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };

type FetchRunBody = { id: string; status: string; message: string | null; invoices: { invoiceId: string }[] };
type HistoryBody = {
  runs: unknown[];
  fetches: { id: string; status: string; line: string; sourceName: string | null; syncRuns: unknown[] }[];
};

for (const dialect of DIALECTS) {
  describe(`HTTP API: Partner Center sources (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let viewer: Client;
    let pc: PartnerCenterEmulator;
    let worker: SyncWorker | undefined;

    before(async () => {
      pc = await startEmulator({ unbilledFiles: [SAMPLE] });
      h = await startHarness(dialect);
      h.app.config.microsoftAllowedHosts.push(hostOf(pc.url));
      admin = h.client();
      await admin.setup();
      await admin.post("/api/users", { ...VIEWER, role: "viewer" });
      viewer = h.client();
      await viewer.login(VIEWER.email, VIEWER.password);
    });
    after(async () => {
      await worker?.stop();
      await h.cleanup();
      await pc.close();
    });

    /** The source's fetch run with this id, once a worker has finished it. */
    async function finished(sourceId: string, runId: string): Promise<FetchRunBody> {
      for (let i = 0; i < 400; i++) {
        const runs = (await viewer.get(`/api/sources/${sourceId}/fetch-runs`)).body as {
          runs: FetchRunBody[];
        };
        const run = runs.runs.find((r) => r.id === runId);
        if (run && run.status !== "queued" && run.status !== "running") return run;
        await sleep(50);
      }
      throw new Error(`fetch run ${runId} did not finish`);
    }

    it("admins add, edit, test and fetch now (queued for a worker); viewers read the history; secrets never come back", async () => {
      const body = {
        name: "PC",
        config: { tenantId: pc.tenantId, clientId: pc.clientId, endpoints: pc.endpoints },
        secrets: { clientSecret: "an old secret" },
      };
      assert.equal((await viewer.post("/api/sources", body)).status, 403);
      const created = await admin.post("/api/sources", body);
      assert.equal(created.status, 201, created.text);
      const id = (created.body as { id: string }).id;
      const wrong = await admin.post(`/api/sources/${id}/test`);
      assert.equal((wrong.body as { ok: boolean }).ok, false, "the old secret is refused");

      // Rotating the secret: in place, sealed, never echoed; viewers may not.
      const rotate = { secrets: { clientSecret: pc.clientSecret } };
      assert.equal((await viewer.patch(`/api/sources/${id}`, rotate)).status, 403);
      const edited = await admin.patch(`/api/sources/${id}`, rotate);
      assert.equal(edited.status, 200, edited.text);
      assert.equal(edited.text.includes(pc.clientSecret), false);
      assert.equal((edited.body as { lastTest: unknown }).lastTest, null, "the old test no longer speaks");
      assert.equal((edited.body as { id: string }).id, id);
      const test = await admin.post(`/api/sources/${id}/test`);
      assert.equal((test.body as { ok: boolean }).ok, true, test.text);
      const renamed = await admin.patch(`/api/sources/${id}`, { name: "Partner Center" });
      assert.equal((renamed.body as { name: string }).name, "Partner Center");
      assert.equal((renamed.body as { lastTest: { ok: boolean } | null }).lastTest?.ok, true);
      const bad = await admin.patch(`/api/sources/${id}`, { config: { credential: "certificate" } });
      assert.equal(bad.status, 422, "a certificate needs its key");

      // Fetch now: answered at once with the queued fetch; a worker runs it.
      assert.equal((await viewer.post(`/api/sources/${id}/fetch`, {})).status, 403);
      const queued = await admin.post(`/api/sources/${id}/fetch`, { unbilled: true });
      assert.equal(queued.status, 202, queued.text);
      const { fetchRunId, status } = queued.body as { fetchRunId: string; status: string };
      assert.equal(status, "queued");
      const waiting = (await viewer.get(`/api/sources/${id}/fetch-runs`)).body as { runs: FetchRunBody[] };
      assert.equal(waiting.runs.find((r) => r.id === fetchRunId)?.status, "queued");
      assert.equal(
        pc.requestLog().filter((r) => r.path.includes("/export")).length,
        0,
        "nothing fetched yet",
      );
      worker = await startSyncWorker(h.app, {
        logger: createLogger("error", { write: () => undefined }),
        fetch: FAST,
      });
      const run = await finished(id, fetchRunId);
      assert.deepEqual(
        [run.status, run.invoices[0]?.invoiceId],
        ["imported", "G100000001"],
        run.message ?? "",
      );

      // Sync history lists the fetch with its outcome line.
      const history = await viewer.get("/api/runs");
      assert.equal(history.status, 200, history.text);
      const [entry] = (history.body as HistoryBody).fetches;
      assert.equal(entry?.id, fetchRunId);
      assert.equal(entry?.sourceName, "Partner Center");
      assert.match(entry!.line, /^Partner Center: 1 new invoice\(s\) G100000001 \(\d+ lines\)$/);
      const filtered = await viewer.get(`/api/runs?status=error`);
      assert.deepEqual((filtered.body as HistoryBody).fetches, [], "a sync filter leaves fetches out");

      const unbilled = await viewer.get(`/api/sources/${id}/unbilled`);
      const [preview] = (unbilled.body as { previews: { currency: string; entries: unknown[] }[] }).previews;
      assert.equal(preview?.currency, "USD");
      assert.ok(preview!.entries.length > 0);
      const list = await viewer.get("/api/sources");
      assert.equal(list.text.includes(pc.clientSecret), false);
      assert.equal((await viewer.delete(`/api/sources/${id}`)).status, 403);
      assert.equal((await admin.delete(`/api/sources/${id}`)).status, 204);
    });
  });
}
