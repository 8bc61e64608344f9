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
 * Sync history is filtered and paged by the server (motion, status, customer, date range), each run names its
 * customer, and a run's detail carries its connection, the written lines' totals and, per item, the mapped
 * contract with a link built from the connection's own host. The dashboard counts what needs doing next.
 */
type RunRow = { id: string; status: string; customerTenantId: string | null; customerName: string | null };
type Page = { runs: RunRow[]; total: number; offset: number; limit: number };

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

for (const dialect of DIALECTS) {
  describe(`Sync history filters, run detail and dashboard (${dialect})`, () => {
    let s: MappedAutotask;
    let server: FastifyInstance;
    let admin: Client;
    let webRoot: string;
    let failedId: string;
    let writtenId: string;

    before(async () => {
      s = await mappedAutotask(dialect);
      webRoot = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-noweb-"));
      server = await buildServer(s.app, { webRoot, log: false, auth: { passwordCost: 1024 } });
      admin = new Client(server);
      assert.equal((await admin.setup()).status, 200);
      s.emulator.server.addFaults({ kind: "drop-connection" });
      const failed = await admin.post(`/api/connections/${s.connectionId}/sync`, { motion: "seat-annual" });
      assert.equal(failed.status, 200, failed.text);
      failedId = (failed.body as { runs: { runId: string }[] }).runs[0]!.runId;
      s.emulator.server.clearFaults();
      const written = await admin.post(`/api/connections/${s.connectionId}/sync`, {
        motion: "seat-annual",
        customerTenantId: CONTOSO.id,
      });
      assert.equal(written.status, 200, written.text);
      writtenId = (written.body as { runs: { runId: string; written: number }[] }).runs[0]!.runId;
    });
    after(async () => {
      await server.close();
      await s.cleanup();
      fs.rmSync(webRoot, { recursive: true, force: true });
    });

    const page = async (query: string) => {
      const reply = await admin.get(`/api/runs?${query}`);
      assert.equal(reply.status, 200, reply.text);
      return reply.body as Page;
    };

    it("filters by status, motion, customer and date range in the server, and pages", async () => {
      const all = await page("");
      assert.deepEqual(
        all.runs.map((r) => r.id),
        [writtenId, failedId],
      );
      assert.equal(all.total, 2);
      const scoped = all.runs[0]!;
      assert.deepEqual([scoped.customerTenantId, scoped.customerName], [CONTOSO.id, CONTOSO.name]);
      assert.deepEqual([all.runs[1]!.customerTenantId, all.runs[1]!.customerName], [null, null]);

      const failed = await page("status=error");
      assert.deepEqual([failed.runs.map((r) => r.id), failed.total], [[failedId], 1]);
      assert.equal(
        (await page("status=success")).runs.some((r) => r.id === failedId),
        false,
      );
      assert.deepEqual((await page("motion=seat-monthly")).total, 0);
      assert.deepEqual((await page("motion=seat-annual")).total, 2);
      assert.deepEqual(
        (await page(`customerTenantId=${CONTOSO.id}`)).runs.map((r) => r.id),
        [writtenId],
        "the all-customers run that failed before any item of Contoso is not Contoso's",
      );
      assert.equal((await page("customerTenantId=00000000-0000-0000-0000-000000000000")).total, 0);
      assert.equal((await page(`from=${day(1)}`)).total, 0);
      assert.equal((await page(`to=${day(-1)}`)).total, 0);
      assert.equal((await page(`from=${day(0)}&to=${day(0)}`)).total, 2);

      const second = await page("limit=1&offset=1");
      assert.deepEqual([second.runs.map((r) => r.id), second.total, second.offset], [[failedId], 2, 1]);

      const backwards = await admin.get(`/api/runs?from=${day(0)}&to=${day(-1)}`);
      assert.equal(backwards.status, 400);
      assert.equal((await admin.get("/api/runs?status=nonsense")).status, 400);
      assert.equal((await admin.get("/api/runs?from=yesterday")).status, 400);
    });

    it("a run's detail names its connection, totals the written lines, and links each item's contract", async () => {
      const reply = await admin.get(`/api/runs/${writtenId}`);
      assert.equal(reply.status, 200, reply.text);
      const detail = reply.body as {
        run: { customerName: string | null };
        connection: { id: string; name: string; vendor: string };
        totals: {
          lines: number;
          currency: string | null;
          cost: string;
          price: string | null;
          margin: string | null;
        };
        items: {
          outcome: string;
          details: { quantity?: number; unitCost?: string; unitPrice?: string | null };
          target?: { agreementId: string | null; link: string | null };
        }[];
      };
      assert.deepEqual(detail.connection, { id: s.connectionId, name: "AT", vendor: "autotask" });
      assert.equal(detail.run.customerName, CONTOSO.name);
      const written = detail.items.filter((i) => i.outcome === "written" || i.outcome === "warning");
      assert.ok(written.length > 0, "the sync wrote lines");
      assert.equal(detail.totals.lines, written.length);
      // The totals are the exact sum of quantity × unit amount over the written items, in cents.
      const cents = (v: string) => Math.round(Number(v) * 10_000);
      const cost = written.reduce((n, i) => n + i.details.quantity! * cents(i.details.unitCost!), 0);
      assert.equal(cents(detail.totals.cost), cost);
      if (detail.totals.price !== null) {
        const price = written.reduce((n, i) => n + i.details.quantity! * cents(i.details.unitPrice!), 0);
        assert.equal(cents(detail.totals.price), price);
        assert.equal(cents(detail.totals.margin!), price - cost);
      }
      const target = written[0]!.target!;
      assert.equal(target.agreementId, String(s.contractId));
      const host = new URL(s.emulator.apiBaseUrl).origin;
      assert.equal(target.link, `${host}/Mvc/Contracts/ContractDetail.mvc?contractId=${s.contractId}`);
    });

    it("the dashboard counts runs with errors, held lines and unmapped customers", async () => {
      const reply = await admin.get("/api/dashboard");
      assert.equal(reply.status, 200, reply.text);
      const dash = reply.body as {
        erroredRuns: number;
        heldLines: number;
        unmappedCustomers: number;
        customers: number;
        connections: { id: string; heldLines: number; productSyncMode: string; lastProductRun: unknown }[];
        dailySync: { dailySyncTime: string };
      };
      assert.equal(dash.erroredRuns, 1);
      assert.equal(dash.heldLines, 0);
      // Only Contoso is mapped; every other customer of the sample has charges.
      assert.equal(dash.unmappedCustomers, dash.customers - 1);
      assert.ok(dash.unmappedCustomers > 0);
      assert.deepEqual(
        dash.connections.map((c) => [c.id, c.heldLines, c.productSyncMode, c.lastProductRun]),
        [[s.connectionId, 0, "off", null]],
      );
      assert.match(dash.dailySync.dailySyncTime, /^\d{2}:\d{2}$/);
    });
  });
}
