import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { App } from "../../src/app.ts";
import { fetchSource, testSource, type FetchOutcome } from "../../src/services/fetch-partner-center.ts";
import { listImports, listInvoices } from "../../src/store/billing-repository.ts";
import {
  startPartnerCenterEmulator,
  type PartnerCenterEmulator,
} from "../../emulators/partner-center/index.ts";
import { DIALECTS } from "../support/stores.ts";
import { createTestApp, hostOf } from "../support/app.ts";
import { addSource, FAST, fetchAppOf, SAMPLE } from "../sources/support.ts";

const INVOICE = "G100000001";

/**
 * Every fault of docs/partner-center.md §4–§5 leaves nothing half-stored and the next fetch recovers. Each test
 * starts from an app that has not imported the invoice yet.
 */
for (const dialect of DIALECTS) {
  describe(`Partner Center faults (${dialect})`, () => {
    let pc: PartnerCenterEmulator;
    let app: App;
    let cleanup: (() => Promise<void>) | undefined;
    let sourceId: string;

    before(async () => {
      pc = await startPartnerCenterEmulator({ files: [SAMPLE], unbilledFiles: [SAMPLE], linesPerBlob: 7 });
    });
    beforeEach(async () => {
      await cleanup?.();
      ({ app, cleanup } = await createTestApp(dialect, []));
      sourceId = (await addSource(app, pc)).id;
      pc.clearFaults();
      pc.clearRequestLog();
    });
    after(async () => {
      await cleanup?.();
      await pc.close();
    });

    const fetch = (options: Partial<Parameters<typeof fetchSource>[2]> = {}) =>
      fetchSource(fetchAppOf(app), sourceId, { trigger: "manual", ...FAST, ...options });
    const stored = async () =>
      (await listInvoices(app.store, app.organizationId)).map((i) => i.invoiceNumber);
    const imported = (outcome: FetchOutcome) => {
      assert.equal(outcome.status, "imported", outcome.message);
      assert.equal(outcome.invoices[0]?.lines, pc.invoices()[0]!.lineCount);
    };
    async function failsThenRecovers(outcome: FetchOutcome, kind: string) {
      assert.equal(outcome.status, "failed");
      assert.equal(outcome.errorKind, kind, outcome.message);
      assert.deepEqual(await stored(), [], "nothing of the invoice is stored");
      assert.equal((await app.sources.repository.invoice(INVOICE))?.status, "failed");
      pc.clearFaults();
      imported(await fetch());
      assert.deepEqual(await stored(), [INVOICE]);
    }

    it("429 with Retry-After and 5xx answers are waited out and retried", async () => {
      pc.addFaults([
        { kind: "rate-limit", path: "/v1/invoices", times: 1, retryAfterSeconds: 0 },
        { kind: "server-error", path: "/billed/export", times: 2, status: 503 },
        { kind: "rate-limit", path: "/operations/", times: 1, retryAfterSeconds: 0 },
      ]);
      imported(await fetch());
      const statuses = pc.requestLog().map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 429).length, 2);
      assert.equal(statuses.filter((s) => s === 503).length, 2);
    });

    it("throttling that does not end fails the fetch as throttled, nothing stored; later it recovers", async () => {
      pc.addFaults({ kind: "rate-limit", path: "/billed/export", retryAfterSeconds: 0 });
      await failsThenRecovers(await fetch(), "throttled");
    });

    it("a slow operation is polled until it finishes", async () => {
      pc.addFaults({ kind: "slow-operation", polls: 4, retryAfterSeconds: 0 });
      imported(await fetch());
      const polls = pc.requestLog().filter((r) => r.path.includes("/operations/"));
      assert.equal(polls.length, 5);
    });

    it("an operation that never finishes is reported after the bounded wait; nothing stored", async () => {
      pc.addFaults({ kind: "slow-operation", polls: 1_000_000, retryAfterSeconds: 0 });
      await failsThenRecovers(
        await fetch({ poll: { pollIntervalMs: 5, maxWaitMs: 200 } }),
        "operation-timeout",
      );
    });

    it("a failed operation with code 5000 'No data available' is nothing to import, not an error", async () => {
      pc.addFaults({ kind: "failed-operation", code: "5000", message: "No data available" });
      const outcome = await fetch();
      assert.equal(outcome.status, "nothing-new", outcome.message);
      assert.equal(outcome.errorKind, null);
      assert.equal(outcome.invoices[0]?.outcome, "no-data");
      assert.deepEqual(await stored(), []);
    });

    it("a failed operation with another code fails the invoice with Microsoft's reason", async () => {
      pc.addFaults({ kind: "failed-operation", code: "InternalError", message: "Export failed" });
      const outcome = await fetch();
      assert.match(outcome.message, /Export failed \(code InternalError\)/);
      await failsThenRecovers(outcome, "operation-failed");
    });

    it("an expired SAS: the export is requested again and the blobs downloaded with the new one", async () => {
      pc.addFaults({ kind: "expired-sas", times: 1 });
      imported(await fetch());
      const exports = pc.requestLog().filter((r) => r.path.includes("/billed/export"));
      assert.equal(exports.length, 2);
    });

    it("a truncated blob stores nothing and is reported as such; the next fetch recovers", async () => {
      // The first of four blobs: the import reads the next blob's bytes as the rest of it and fails; the blob
      // that does not decompress whole is named, and not even a rejected import is recorded.
      pc.addFaults({ kind: "truncated-blob", path: "part-00000", times: 1 });
      const outcome = await fetch();
      assert.match(outcome.message, /blob part-00000\.json\.gz is truncated or corrupt/);
      assert.deepEqual(await listImports(app.store, app.organizationId, 10), []);
      await failsThenRecovers(outcome, "corrupt-blob");
    });

    it("a truncated blob of the unbilled export stores no snapshot and names the blob", async () => {
      pc.addFaults({ kind: "truncated-blob", path: "part-00001", times: 1 });
      const failed = await fetch({ billed: false, unbilled: true });
      assert.equal(failed.unbilled[0]?.outcome, "failed");
      assert.match(failed.unbilled[0]?.message ?? "", /blob part-00001\.json\.gz is truncated or corrupt/);
      assert.deepEqual(await app.sources.repository.latestUnbilled(sourceId, "USD"), []);
      const stored = await fetch({ billed: false, unbilled: true });
      assert.equal(stored.unbilled[0]?.outcome, "stored", stored.unbilled[0]?.message);
      assert.equal(stored.unbilled[0]?.lines, pc.invoices()[0]!.lineCount);
    });

    it("data missing without an error (lines short of the invoice total) is rejected with both figures", async () => {
      pc.addFaults({ kind: "partial-data", times: 1 });
      const outcome = await fetch();
      assert.equal(outcome.status, "failed");
      assert.equal(outcome.errorKind, "incomplete");
      const total = pc.invoices()[0]!.total;
      assert.match(outcome.message, new RegExp(`but the invoice total is ${total.replace(".", "\\.")} USD`));
      assert.match(outcome.message, /add up to -?\d/);
      assert.deepEqual(await stored(), [], "the rolled-back import left no line");
      imported(await fetch());
    });

    it("a changed eTag: a manual fetch of the invoice imports the new version; the same eTag downloads nothing", async () => {
      imported(await fetch());
      pc.clearRequestLog();
      const same = await fetch({ invoiceId: INVOICE });
      assert.equal(same.invoices[0]?.outcome, "unchanged");
      assert.equal(pc.requestLog().filter((r) => r.path.startsWith("/blob/")).length, 0);
      pc.addFaults({ kind: "changed-etag", times: 1 });
      const changed = await fetch({ invoiceId: INVOICE });
      assert.equal(changed.invoices[0]?.outcome, "imported", changed.message);
      assert.equal(changed.invoices[0]?.newLines, 0, "lines already stored add nothing");
      assert.ok(pc.requestLog().some((r) => r.path.startsWith("/blob/")));
    });
  });

  describe(`Partner Center connection test failures (${dialect})`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    after(async () => cleanup?.());

    it("names each way the test fails: wrong tenant, secret expired, consent missing, permission missing", async () => {
      const pc = await startPartnerCenterEmulator({
        apps: [
          { clientId: "00000000-0000-4000-8000-000000000001", secret: "s1" },
          { clientId: "00000000-0000-4000-8000-000000000002", secret: "s2", secretExpired: true },
          { clientId: "00000000-0000-4000-8000-000000000003", secret: "s3", consented: false },
          { clientId: "00000000-0000-4000-8000-000000000004", secret: "s4", graphPermission: false },
          { clientId: "00000000-0000-4000-8000-000000000005", secret: "s5", partnerCenterAccess: false },
        ],
      });
      let app: App;
      ({ app, cleanup } = await createTestApp(dialect, []));
      app.config.microsoftAllowedHosts.push(hostOf(pc.url));
      const cases: [string, string, string, RegExp][] = [
        ["wrong tenant", "0badc0de-0000-4000-8000-000000000000", "1", /tenant id/],
        ["wrong secret", pc.tenantId, "1", /not valid/],
        ["secret expired", pc.tenantId, "2", /expired/],
        ["consent missing", pc.tenantId, "3", /consent/],
        ["permission missing", pc.tenantId, "4", /PartnerBilling\.Read\.All/],
        ["no Partner Center access", pc.tenantId, "5", /Partner Center API/],
      ];
      const kinds: string[] = [];
      for (const [name, tenantId, n, message] of cases) {
        const source = await app.sources.create({
          name,
          config: { tenantId, clientId: `00000000-0000-4000-8000-00000000000${n}`, endpoints: pc.endpoints },
          secrets: { clientSecret: name === "wrong secret" ? "nope" : `s${n}` },
        });
        const test = await testSource(fetchAppOf(app), source.id, FAST);
        assert.equal(test.ok, false, name);
        assert.match(test.message, message, `${name}: ${test.message}`);
        kinds.push(test.kind ?? "");
      }
      assert.deepEqual(kinds, [
        "wrong-tenant",
        "bad-credentials",
        "secret-expired",
        "consent-missing",
        "permission-missing",
        "consent-missing",
      ]);
      await pc.close();
    });
  });
}
