import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { fetchSource, QUEUED_FETCH_EXPIRY_MS } from "../../src/services/fetch-partner-center.ts";
import { DIALECTS } from "../support/stores.ts";
import { hostOf } from "../support/app.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";
import { FAST, fetchAppOf, startEmulator } from "./support.ts";

/**
 * A fetch left queued (no worker runs, or its job was lost) does not stay so forever: after
 * QUEUED_FETCH_EXPIRY_MS it is given up as failed ("not-run") with a reason the Sources page and Sync history
 * show; a younger one stays queued; a worker that takes the job after all still records its outcome on it.
 */
type FetchRunBody = { id: string; status: string; errorKind: string | null; message: string | null };

for (const dialect of DIALECTS) {
  describe(`Queued fetches that no worker takes (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let pc: PartnerCenterEmulator;

    before(async () => {
      pc = await startEmulator();
      h = await startHarness(dialect);
      h.app.config.microsoftAllowedHosts.push(hostOf(pc.url));
      admin = h.client();
      await admin.setup();
    });
    after(async () => {
      await h.cleanup();
      await pc.close();
    });

    it("gives up a fetch queued for longer than the bound, with its reason; a fresh one stays queued", async () => {
      const created = await admin.post("/api/sources", {
        name: "PC",
        config: { tenantId: pc.tenantId, clientId: pc.clientId, endpoints: pc.endpoints },
        secrets: { clientSecret: pc.clientSecret },
      });
      assert.equal(created.status, 201, created.text);
      const id = (created.body as { id: string }).id;
      // Fetch now with no worker running: queued, and it stays queued while young.
      const queued = await admin.post(`/api/sources/${id}/fetch`, {});
      assert.equal(queued.status, 202, queued.text);
      const fresh = (queued.body as { fetchRunId: string }).fetchRunId;
      // A run queued 61 minutes ago whose job is gone (the queue was reset, or the job was lost).
      const stale = "00000000-0000-4000-8000-0000000057a1";
      await h.app.sources.repository.insertFetchRun({
        id: stale,
        source_id: id,
        trigger: "manual",
        status: "queued",
        error_kind: null,
        message: null,
        steps: "[]",
        summary: "{}",
        sync_jobs: "[]",
        started_at: new Date(Date.now() - QUEUED_FETCH_EXPIRY_MS - 60_000).toISOString(),
        finished_at: null,
      });

      const runs = (await admin.get(`/api/sources/${id}/fetch-runs`)).body as { runs: FetchRunBody[] };
      const byId = new Map(runs.runs.map((r) => [r.id, r]));
      assert.deepEqual(
        [byId.get(fresh)?.status, byId.get(fresh)?.errorKind, byId.get(fresh)?.message],
        ["queued", null, null],
      );
      const given = byId.get(stale)!;
      assert.deepEqual([given.status, given.errorKind], ["failed", "not-run"]);
      assert.equal(
        given.message,
        "Partner Center: no worker took this fetch within 60 minutes, so it was given up; " +
          "start a worker (cspsync serve or cspsync worker) and fetch again",
      );
      // Sync history shows the same line.
      const history = (await admin.get("/api/runs")).body as {
        fetches: { id: string; status: string; line: string }[];
      };
      const line = history.fetches.find((f) => f.id === stale);
      assert.equal(line?.status, "failed");
      assert.match(line!.line, /no worker took this fetch within 60 minutes/);
      assert.equal(history.fetches.find((f) => f.id === fresh)?.status, "queued");
      assert.equal(
        pc.requestLog().filter((r) => r.path.includes("/export")).length,
        0,
        "nothing was fetched",
      );

      // A worker that takes the lost job after all: the run records what it did, not the old reason.
      const outcome = await fetchSource(fetchAppOf(h.app), id, { trigger: "manual", runId: stale, ...FAST });
      assert.equal(outcome.status, "imported", outcome.message);
      const after = (await admin.get(`/api/sources/${id}/fetch-runs`)).body as { runs: FetchRunBody[] };
      const rerun = after.runs.find((r) => r.id === stale)!;
      assert.deepEqual([rerun.status, rerun.errorKind], ["imported", null]);
      assert.match(rerun.message ?? "", /^Partner Center: 1 new invoice\(s\) G100000001/);
    });
  });
}
