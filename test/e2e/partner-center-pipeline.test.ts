import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { App } from "../../src/app.ts";
import { DAILY_CHECK_JOB } from "../../src/jobs/index.ts";
import { startSyncWorker, type SyncWorker } from "../../src/jobs/sync-worker.ts";
import { listRuns } from "../../src/store/runs-repository.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { allocateId } from "../../emulators/connectwise/state.ts";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { startPartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { createLogger } from "../../src/log.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { CLIENT_ID, FALLBACK_ITEM } from "../support/connectwise-setup.ts";
import { baseRow, CONTOSO, writeCsv } from "../support/recon-builder.ts";
import { addSource, FAST, fetchAppOf, SAMPLE, tempDir } from "../sources/support.ts";
import { fetchHistory } from "../../src/services/fetch-partner-center.ts";

/**
 * The daily pipeline with nobody at the keyboard (docs/partner-center.md §7): the daily check fetches from
 * Partner Center, imports, and syncs; a day with nothing new asks Graph for no export and writes nothing.
 */
for (const dialect of DIALECTS) {
  describe(`daily fetch → import → sync from Partner Center (${dialect})`, () => {
    let pc: PartnerCenterEmulator;
    let cw: ConnectWiseEmulator;
    let app: App;
    let cleanup: () => Promise<void>;
    let worker: SyncWorker;
    let client: ConnectWiseClient;
    let agreementId: string;
    let connectionId: string;
    const dir = tempDir();

    /** Fires the daily check now and waits until every job it led to has finished. */
    async function day(): Promise<void> {
      const before = (await app.sources.repository.listFetchRuns()).length;
      await worker.queue.send(DAILY_CHECK_JOB, {});
      for (let i = 0; i < 600; i++) {
        const runs = await app.sources.repository.listFetchRuns();
        const syncs = await listRuns(app.store, app.organizationId, {});
        const busy = syncs.some((r) => r.status === "running") || runs.some((r) => r.status === "running");
        if (runs.length > before && !busy) {
          // Let any sync queued by the fetch start and finish.
          await sleep(300);
          const again = await listRuns(app.store, app.organizationId, {});
          if (!again.some((r) => r.status === "running") && again.length === syncs.length) return;
        }
        await sleep(50);
      }
      throw new Error("the day did not finish");
    }

    before(async () => {
      // Last month's invoice: Contoso's one monthly line, so the customer can be mapped before the new one comes.
      const previous = writeCsv(path.join(dir.dir, "previous.csv"), [
        baseRow({ InvoiceNumber: "G099999999" }),
      ]);
      pc = await startPartnerCenterEmulator({ files: [previous], linesPerBlob: 10 });
      cw = await startConnectWiseEmulator({ seed: "demo" });
      ({ app, cleanup } = await createTestApp(dialect, [hostOf(cw.url)]));
      await addSource(app, pc);
      const data = cw.data();
      const template = data.tables.catalogItems.find((item) => item.identifier === "O365-E1")!;
      const { vendorSku: _sku, manufacturerPartNumber: _part, ...fields } = template;
      data.tables.catalogItems.push({
        ...fields,
        id: allocateId(data, "catalogItems"),
        identifier: FALLBACK_ITEM,
      });
      const { companyId, publicKey, privateKey } = cw.credentials;
      const connection = await app.connections.create({
        vendor: "connectwise",
        name: "CW",
        config: { site: cw.url, companyId, publicKey, clientId: CLIENT_ID },
        secrets: { privateKey },
        settings: { fallbackCatalogItem: FALLBACK_ITEM },
      });
      connectionId = connection.id;
      await app.connections.update(connection.id, { seatAnnualEnabled: true });
      client = new ConnectWiseClient({
        siteUrl: cw.url,
        companyId,
        publicKey,
        privateKey,
        clientId: CLIENT_ID,
      });
      worker = await startSyncWorker(app, {
        logger: createLogger("error", { write: () => undefined }),
        fetch: FAST,
      });
    });
    after(async () => {
      await worker.stop();
      await cleanup();
      await pc.close();
      await cw.close();
      dir.remove();
    });

    it("day 0: the daily check alone fetches and imports last month's invoice", async () => {
      await day();
      const [run] = await app.sources.repository.listFetchRuns();
      assert.equal(run?.status, "imported", run?.message ?? "");
      assert.match(run!.message!, /1 new invoice\(s\) G099999999 \(1 lines\)/);
      // Now the customer is known and can be mapped.
      const adapter = await app.adapterFor(connectionId);
      const [company] = await adapter.searchCompanies("Contoso");
      const annual = (await adapter.listAgreements(company!.id)).find((a) => a.validFor["seat-annual"].ok)!;
      agreementId = annual.id;
      await app.mappings.save(
        connectionId,
        CONTOSO.id,
        "seat-annual",
        { psaCompanyId: company!.id, agreementId },
        adapter,
      );
    });

    it("day 1: a new invoice arrives; the daily check fetches it, imports it and the annual sync writes its charges", async () => {
      await pc.addFile(SAMPLE);
      pc.clearRequestLog();
      await day();
      const [run] = await app.sources.repository.listFetchRuns();
      assert.equal(run?.status, "imported", run?.message ?? "");
      assert.match(run!.message!, /G100000001/);
      assert.ok(
        JSON.parse(run!.sync_jobs).length >= 1,
        "the syncs queued after the fetch are recorded on it",
      );
      const exports = pc.requestLog().filter((r) => r.method === "POST" && r.path.includes("/export"));
      // One billed export (the new invoice; the known one is not asked for) and the unbilled one.
      assert.equal(exports.filter((r) => r.path.includes("/billed/")).length, 1);
      const additions = await client.listAdditions(Number(agreementId), { orderBy: "id asc" });
      assert.equal(additions.length, 8, "the June sample's eight annual charges are in the PSA");
      // Sync history shows the pipeline: the fetch, linked to the annual sync run it led to.
      const [entry] = await fetchHistory(fetchAppOf(app), {});
      assert.equal(entry?.id, run!.id);
      const annual = entry!.syncRuns.find((r) => r.motion === "seat-annual");
      assert.equal(annual?.written, 8, JSON.stringify(entry!.syncRuns));
      assert.match(
        entry!.line,
        /^Partner Center: 1 new invoice\(s\) G100000001 \(\d+ lines\) → .*annual sync on CW: 8 written/,
      );
    });

    it("day 2: nothing new — no export request for known invoices, nothing written", async () => {
      pc.clearRequestLog();
      const posts = () => cw.server.requestLog().filter((r) => r.method === "POST").length;
      const before = posts();
      await day();
      const [run] = await app.sources.repository.listFetchRuns();
      assert.equal(run?.status, "nothing-new", run?.message ?? "");
      const billed = pc.requestLog().filter((r) => r.method === "POST" && r.path.includes("/billed/export"));
      assert.equal(billed.length, 0);
      assert.equal(posts(), before, "no PSA write");
      assert.equal((await client.listAdditions(Number(agreementId), {})).length, 8);
    });
  });
}
