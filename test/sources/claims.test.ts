import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createApp, type App } from "../../src/app.ts";
import { fetchSource, type InvoiceOutcome } from "../../src/services/fetch-partner-center.ts";
import { listImports } from "../../src/store/billing-repository.ts";
import type { PartnerCenterEmulator } from "../../emulators/partner-center/index.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { addSource, FAST, fetchAppOf, startEmulator } from "./support.ts";

const INVOICE = "G100000001";

/**
 * Two workers never fetch one invoice twice (docs/partner-center.md §6): two app instances on one database race
 * for the same invoice; a claim whose worker died is taken over after its lease, a live one never.
 */
for (const dialect of DIALECTS) {
  describe(`Partner Center invoice claims (${dialect})`, () => {
    let pc: PartnerCenterEmulator;
    let one: App;
    let two: App;
    let cleanup: (() => Promise<void>) | undefined;
    let sourceId: string;

    before(async () => {
      pc = await startEmulator();
    });
    beforeEach(async () => {
      await two?.close();
      await cleanup?.();
      const created = await createTestApp(dialect, []);
      one = created.app;
      cleanup = created.cleanup;
      // A second process on the same database (same key, same data directory).
      two = await createApp({ databaseUrl: created.databaseUrl, env: created.env, log: false });
      two.config.microsoftAllowedHosts.push(hostOf(pc.url));
      sourceId = (await addSource(one, pc)).id;
      pc.clearFaults();
      pc.clearRequestLog();
    });
    after(async () => {
      await two?.close();
      await cleanup?.();
      await pc.close();
    });

    const billedExports = () =>
      pc.requestLog().filter((r) => r.method === "POST" && r.path.includes("/billed/export"));
    const outcomeOf = (invoices: InvoiceOutcome[]) => invoices.find((i) => i.invoiceId === INVOICE);

    it("two workers racing for the same invoice: one export request, one import, the other leaves it", async () => {
      // The export takes many polls, longer than the short lease: only the heartbeat keeps the claim.
      pc.addFaults({ kind: "slow-operation", polls: 100, retryAfterSeconds: 0 });
      const options = { trigger: "schedule", ...FAST, poll: { pollIntervalMs: 10, maxWaitMs: 10_000 } };
      const first = fetchSource(fetchAppOf(one), sourceId, { ...options, claimLeaseMs: 150 });
      // Once the first is exporting (however long a loaded machine takes to get there), the second starts
      // when the first's claim is older than the lease: only its heartbeat keeps it.
      for (let waited = 0; billedExports().length === 0 && waited < 10_000; waited += 20) await sleep(20);
      assert.equal(billedExports().length, 1, "the first is exporting");
      await sleep(400);
      const second = fetchSource(fetchAppOf(two), sourceId, { ...options, claimLeaseMs: 150 });
      const [a, b] = await Promise.all([first, second]);
      const outcomes = [outcomeOf(a.invoices), outcomeOf(b.invoices)].map((o) => o?.outcome ?? "settled");
      assert.deepEqual(
        outcomes.toSorted(),
        outcomes.includes("settled") ? ["imported", "settled"] : ["claimed-elsewhere", "imported"],
        JSON.stringify([a.message, b.message]),
      );
      assert.equal(billedExports().length, 1, "exactly one export request for the invoice");
      const imports = await listImports(one.store, one.organizationId, 100);
      assert.equal(imports.length, 1, "exactly one import");
      // A later fetch by either finds it settled and asks Microsoft for nothing.
      pc.clearRequestLog();
      const later = await fetchSource(fetchAppOf(two), sourceId, options);
      assert.equal(later.status, "nothing-new", later.message);
      assert.equal(billedExports().length, 0);
    });

    it("a claim whose worker died is taken over once its heartbeat is older than the lease; a live one is not", async () => {
      const repo = one.sources.repository;
      const facts = { currency: "USD", invoice_total: null, period_start: null };
      // A worker claimed the invoice and is alive (fresh heartbeat): the other leaves it alone.
      assert.equal(await repo.claimInvoice(INVOICE, sourceId, randomUUID(), 60_000, facts), true);
      const live = await fetchSource(fetchAppOf(two), sourceId, { trigger: "schedule", ...FAST });
      assert.equal(outcomeOf(live.invoices)?.outcome, "claimed-elsewhere", live.message);
      assert.equal(billedExports().length, 0, "no export while another worker holds the claim");
      // That worker died: its heartbeat stops; ten minutes later (by the database's clock) the claim is stale.
      await one.store.db
        .updateTable("source_invoices")
        .set({ claimed_at: new Date(Date.now() - 10 * 60_000).toISOString() })
        .where("invoice_id", "=", INVOICE)
        .execute();
      const taken = await fetchSource(fetchAppOf(two), sourceId, { trigger: "schedule", ...FAST });
      assert.equal(outcomeOf(taken.invoices)?.outcome, "imported", taken.message);
      assert.equal(billedExports().length, 1);
      assert.equal((await repo.invoice(INVOICE))?.status, "imported");
    });

    it("a worker that lost its claim while silent (lease over, taken over) does not import", async () => {
      const repo = one.sources.repository;
      const facts = { currency: "USD", invoice_total: null, period_start: null };
      const token = randomUUID();
      assert.equal(await repo.claimInvoice(INVOICE, sourceId, token, 60_000, facts), true);
      assert.equal(await repo.heartbeatClaim(INVOICE, token), true);
      await one.store.db
        .updateTable("source_invoices")
        .set({ claimed_at: new Date(Date.now() - 10 * 60_000).toISOString() })
        .where("invoice_id", "=", INVOICE)
        .execute();
      assert.equal(
        await repo.claimInvoice(INVOICE, sourceId, randomUUID(), 60_000, facts),
        true,
        "taken over",
      );
      assert.equal(
        await repo.heartbeatClaim(INVOICE, token),
        false,
        "the old holder learns it lost the claim",
      );
      assert.equal(await repo.holdsClaim(INVOICE, token), false);
    });
  });
}
