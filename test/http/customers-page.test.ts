import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { generateAnnualRecon } from "../../bench/generate-recon.ts";
import { buildServer } from "../../src/http/server.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { CONTOSO } from "../support/recon-builder.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedAutotask, type MappedAutotask } from "../support/autotask-setup.ts";
import { Client } from "./helpers.ts";

/**
 * The Microsoft CSP page's list at scale: 120 generated customers beside the June sample, paged on the server,
 * filtered by status (unmapped with charges, mapped, error, held) with a count for each, and searched.
 */
type Page = {
  customers: {
    tenantId: string;
    name: string;
    heldLines: number;
    unmappedCharges: { motion: string; lines: number; totals: { currency: string; amount: string }[] }[];
    mappings: { motion: string; psaCompanyId: string | null; lastStatus: string | null }[];
  }[];
  total: number;
  page: number;
  pageSize: number;
  counts: Record<"all" | "unmapped" | "mapped" | "error" | "held", number>;
};
type Unmapped = { tenantId: string; name: string; motion: string; lines: number; totals: unknown[] };

const GENERATED = 120;

for (const dialect of DIALECTS) {
  describe(`the customer list paged and filtered by status (${dialect})`, () => {
    let s: MappedAutotask;
    let server: FastifyInstance;
    let admin: Client;
    let dir: string;
    let sampleCustomers: number;
    const list = async (params: string): Promise<Page> => {
      const reply = await admin.get(`/api/connections/${s.connectionId}/customers?${params}`);
      assert.equal(reply.status, 200, reply.text);
      return reply.body as Page;
    };

    before(async () => {
      s = await mappedAutotask(dialect);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-scale-"));
      sampleCustomers = (await list0()).total;
      const file = path.join(dir, "annual.csv");
      await generateAnnualRecon(file, GENERATED, 2);
      await importReconFile(s.app.store, file);
      server = await buildServer(s.app, { webRoot: dir, log: false, auth: { passwordCost: 1024 } });
      admin = new Client(server);
      assert.equal((await admin.setup()).status, 200);
      // One held line for a generated customer, as a sync with "hold below cost" leaves it.
      await s.app.store.db
        .insertInto("price_holds")
        .values({
          connection_id: s.connectionId,
          write_key: "cspsync-bbbbbbbbbbbbbbbbbbbbbbbb",
          organization_id: s.app.organizationId,
          customer_tenant_id: (
            await s.app.store.db
              .selectFrom("customers")
              .select("tenant_id")
              .where("name", "=", "Annual Customer 7")
              .executeTakeFirstOrThrow()
          ).tenant_id,
          motion: "seat-annual",
          event_key: "line:held",
          description: "Exchange Online (Plan 1): 3 seats",
          unit_cost: "48",
          unit_price: "10",
          priced_by: null,
          status: "held",
          held_at: "2024-07-01T06:00:00.000Z",
          held_run_id: null,
          approved_by: null,
          approved_at: null,
        })
        .execute();
    });
    after(async () => {
      await server?.close();
      await s.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The sample's customers, counted straight from the store before the generated file is imported. */
    async function list0(): Promise<{ total: number }> {
      const row = await s.app.store.db
        .selectFrom("customers")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      return { total: Number(row.n) };
    }

    it("sends one page with the total, and the next page goes on where it stopped", async () => {
      const all = GENERATED + sampleCustomers;
      const first = await list("pageSize=25");
      assert.deepEqual([first.customers.length, first.total, first.page, first.pageSize], [25, all, 1, 25]);
      const second = await list("pageSize=25&page=2");
      assert.equal(second.customers.length, 25);
      const firstIds = new Set(first.customers.map((c) => c.tenantId));
      assert.ok(
        second.customers.every((c) => !firstIds.has(c.tenantId)),
        "page 2 repeats nobody",
      );
      const last = await list(`pageSize=25&page=${Math.ceil(all / 25)}`);
      assert.equal(last.customers.length, all - 25 * (Math.ceil(all / 25) - 1));
      const beyond = await list("pageSize=25&page=99");
      assert.deepEqual([beyond.customers.length, beyond.total], [0, all]);
      const unpaged = await list("");
      assert.equal(unpaged.customers.length, all, "without pageSize every customer is listed");
      assert.equal((await admin.get(`/api/connections/${s.connectionId}/customers?status=odd`)).status, 400);
    });

    it("pages by name in the same order as the full list, and the pickers' names list pages and searches alike", async () => {
      const all = GENERATED + sampleCustomers;
      const unpaged = (await list("")).customers.map((c) => c.tenantId);
      const paged: string[] = [];
      for (let page = 1; page <= Math.ceil(all / 40); page++)
        paged.push(...(await list(`pageSize=40&page=${page}`)).customers.map((c) => c.tenantId));
      assert.deepEqual(paged, unpaged, "the pages, one after another, are the whole list in its order");

      type Names = { customers: { tenantId: string; name: string }[]; total: number };
      const names = async (params: string) => {
        const reply = await admin.get(`/api/customers?${params}`);
        assert.equal(reply.status, 200, reply.text);
        return reply.body as Names;
      };
      const first = await names("limit=30");
      assert.deepEqual([first.customers.length, first.total], [30, all]);
      const rest = await names(`limit=5000&offset=30`);
      assert.deepEqual(
        [...first.customers, ...rest.customers].map((c) => c.tenantId),
        unpaged,
        "the same customers in the same order",
      );
      assert.deepEqual(Object.keys(first.customers[0]!).sort(), ["name", "tenantId"]);
      const seven = await names("search=annual%20customer%207");
      assert.ok(
        seven.customers.some((c) => c.name === "Annual Customer 7"),
        JSON.stringify(seven),
      );
      assert.equal(seven.total, seven.customers.length);
      assert.ok(seven.total < all);
      assert.equal((await admin.get("/api/customers?limit=5001")).status, 400);
    });

    it("filters by status with a count for each, and the counts follow the search", async () => {
      const first = await list("pageSize=25");
      assert.equal(first.counts.all, first.total);
      assert.equal(first.counts.mapped, 1, "only Contoso is mapped");
      assert.equal(first.counts.error, 0);
      assert.equal(first.counts.held, 1);
      const mapped = await list("status=mapped&pageSize=25");
      assert.deepEqual(
        mapped.customers.map((c) => c.tenantId),
        [CONTOSO.id],
      );
      const held = await list("status=held");
      assert.deepEqual(
        held.customers.map((c) => [c.name, c.heldLines]),
        [["Annual Customer 7", 1]],
      );
      const unmapped = await list("status=unmapped&pageSize=500");
      assert.equal(unmapped.total, unmapped.counts.unmapped);
      assert.ok(unmapped.total >= GENERATED, "every generated customer has charges and no mapping");
      const seven = unmapped.customers.find((c) => c.name === "Annual Customer 7")!;
      assert.deepEqual(
        seven.unmappedCharges.map((u) => [u.motion, u.lines, u.totals.length]),
        [["seat-annual", 2, 1]],
      );
      assert.ok(unmapped.customers.every((c) => c.unmappedCharges.length > 0));
      const searched = await list("search=annual%20customer%2011&pageSize=25");
      assert.deepEqual(
        searched.customers.map((c) => c.name).sort(),
        Array.from({ length: GENERATED }, (_, i) => `Annual Customer ${i + 1}`)
          .filter((n) => n.startsWith("Annual Customer 11"))
          .sort(),
      );
      assert.deepEqual(searched.counts, {
        all: searched.total,
        unmapped: searched.total,
        mapped: 0,
        error: 0,
        held: 0,
      });
    });

    it("marks a customer whose last sync failed as error, and Dry run all names the unmapped ones", async () => {
      s.emulator.server.addFaults({ kind: "drop-connection" });
      const failed = await admin.post(`/api/connections/${s.connectionId}/sync`, { motion: "seat-annual" });
      s.emulator.server.clearFaults();
      assert.equal(failed.status, 200, failed.text);
      const errors = await list("status=error");
      assert.deepEqual(
        errors.customers.map((c) => c.tenantId),
        [CONTOSO.id],
      );
      assert.equal(errors.counts.error, 1);

      const dry = await admin.post(`/api/connections/${s.connectionId}/sync`, { dryRun: true });
      assert.equal(dry.status, 200, dry.text);
      const named = (dry.body as { unmapped: Unmapped[] }).unmapped;
      const seven = named.find((u) => u.name === "Annual Customer 7");
      assert.deepEqual([seven?.motion, seven?.lines], ["seat-annual", 2]);
      assert.ok(!named.some((u) => u.tenantId === CONTOSO.id && u.motion === "seat-annual"), "mapped");
      const page = await list("status=unmapped&pageSize=500");
      assert.equal(
        new Set(named.map((u) => u.tenantId)).size,
        page.total,
        "the dry run names exactly the customers of the unmapped filter",
      );
    });
  });
}
