import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import nodeIcal from "node-ical";
import { DIALECTS } from "../support/stores.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";
import { importTwoMonths } from "./fixture.ts";

const VIEWER = { email: "viewer@example.com", password: "viewer password 1" };

for (const dialect of DIALECTS) {
  describe(`HTTP API: reports and renewals (docs/reports.md §6, ${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let viewer: Client;

    before(async () => {
      h = await startHarness(dialect);
      admin = h.client();
      await admin.setup();
      await admin.post("/api/users", { ...VIEWER, role: "viewer" });
      viewer = h.client();
      await viewer.login(VIEWER.email, VIEWER.password);
      await importTwoMonths(h.app.store);
    });
    after(async () => h.cleanup());

    it("a viewer reads the report (no connection: nothing mapped) and downloads its CSV and XLSX", async () => {
      const reply = await viewer.get("/api/reports/reconciliation?invoice=G-JUN");
      assert.equal(reply.status, 200);
      const body = reply.body as { totals: { cost: string; notBilled: string }[]; lines?: unknown };
      assert.deepEqual(
        body.totals.map((t) => [t.cost, t.notBilled]),
        [["1829.87", "1829.87"]],
      );
      assert.equal(body.lines, undefined, "the summary carries no lines: they come a page at a time");
      // The per-customer lists come a page at a time too: groups filtered and paged, the ranking's head.
      type Summary = {
        groups: { customerTenantId: string; motion: string }[];
        groupsTotal: number;
        customers: { customerTenantId: string }[];
        customersTotal: number;
        totals: { cost: string }[];
      };
      const whole = (await viewer.get("/api/reports/reconciliation?invoice=G-JUN&groupsLimit=1000"))
        .body as Summary;
      assert.ok(whole.groupsTotal >= 2, JSON.stringify(whole.groups));
      assert.equal(whole.groups.length, whole.groupsTotal);
      const pages: Summary["groups"] = [];
      for (let offset = 0; offset < whole.groupsTotal; offset++) {
        const one = (
          await viewer.get(`/api/reports/reconciliation?invoice=G-JUN&groupsLimit=1&groupsOffset=${offset}`)
        ).body as Summary;
        assert.deepEqual([one.groups.length, one.groupsTotal], [1, whole.groupsTotal]);
        assert.deepEqual(one.totals, whole.totals, "every page carries the whole totals");
        pages.push(...one.groups);
      }
      assert.deepEqual(pages, whole.groups, "the pages, one after another, are every group in order");
      const head = (await viewer.get("/api/reports/reconciliation?invoice=G-JUN&customersLimit=1"))
        .body as Summary;
      assert.deepEqual(
        [head.customers.length, head.customersTotal, head.customers[0]],
        [1, whole.customersTotal, whole.customers[0]],
      );
      const tenant = whole.groups[0]!.customerTenantId;
      const one = (await viewer.get(`/api/reports/reconciliation?invoice=G-JUN&customer=${tenant}`))
        .body as Summary;
      assert.ok(one.groups.length > 0 && one.groups.every((g) => g.customerTenantId === tenant));
      assert.deepEqual(
        one.customers.map((c) => c.customerTenantId),
        [tenant],
      );
      const notMapped = (
        await viewer.get("/api/reports/reconciliation?invoice=G-JUN&motion=seat-monthly&status=not-mapped")
      ).body as Summary;
      assert.ok(notMapped.groups.length > 0 && notMapped.groups.every((g) => g.motion === "seat-monthly"));
      assert.equal(
        (await viewer.get("/api/reports/reconciliation?invoice=G-JUN&groupsLimit=1001")).status,
        400,
      );
      const page = await viewer.get("/api/reports/reconciliation/lines?invoice=G-JUN&offset=2&limit=3");
      assert.equal(page.status, 200);
      const lines = page.body as {
        total: number;
        offset: number;
        limit: number;
        lines: { reason: string }[];
      };
      assert.deepEqual([lines.total, lines.offset, lines.limit, lines.lines.length], [6, 2, 3, 3]);
      assert.ok(lines.lines.every((l) => l.reason === "no PSA connection"));
      const monthly = await viewer.get(
        "/api/reports/reconciliation/lines?invoice=G-JUN&motion=seat-monthly&status=not-mapped",
      );
      assert.equal((monthly.body as { total: number }).total, 2);
      assert.equal(
        (await viewer.get("/api/reports/reconciliation/lines?invoice=G-JUN&limit=5000")).status,
        400,
      );
      const json = await viewer.get("/api/reports/reconciliation/export?invoice=G-JUN&format=json");
      assert.equal(json.status, 200);
      const exported = JSON.parse(json.text) as { lines: unknown[]; totals: { cost: string }[] };
      assert.deepEqual([exported.lines.length, exported.totals[0]!.cost], [6, "1829.87"]);
      assert.equal(
        (await viewer.get("/api/reports/reconciliation/export?invoice=G-NOPE&format=csv")).status,
        404,
      );
      const csv = await viewer.get("/api/reports/reconciliation/export?invoice=G-JUN&format=csv");
      assert.equal(csv.status, 200);
      assert.match(String(csv.headers["content-type"]), /^text\/csv/);
      assert.match(String(csv.headers["content-disposition"]), /reconciliation-G-JUN\.csv/);
      assert.equal(csv.text.trim().split("\n").length, 7);
      const xlsx = await viewer.get("/api/reports/reconciliation/export?invoice=G-JUN&format=xlsx");
      assert.equal(xlsx.status, 200);
      assert.match(String(xlsx.headers["content-type"]), /spreadsheetml/);
      assert.equal((await viewer.get("/api/reports/reconciliation?invoice=G-NOPE")).status, 404);
      const trend = await viewer.get("/api/reports/trend");
      assert.deepEqual(
        (trend.body as { invoiceNumber: string; cost: string }[]).map((p) => [p.invoiceNumber, p.cost]),
        [
          ["G-JUN", "1829.87"],
          ["G-JUL", "1855"],
        ],
      );
    });

    it("renewals and the ledger; only an admin makes a feed token; the feed answers only to it", async () => {
      const ledger = await viewer.get("/api/renewals/ledger");
      assert.equal(ledger.status, 200);
      assert.equal((ledger.body as unknown[]).length, 5);
      const renewals = await viewer.get("/api/renewals?days=90");
      assert.equal(renewals.status, 200);
      assert.equal((await viewer.get("/api/renewals/export?days=30")).status, 200);
      assert.equal((await viewer.post("/api/renewals/feed-token", {})).status, 403);
      assert.equal((await viewer.get("/api/renewals/feed-token")).status, 403);
      assert.deepEqual((await admin.get("/api/renewals/feed-token")).body, {
        exists: false,
        createdAt: null,
        lastUsedAt: null,
      });
      const made = await admin.post("/api/renewals/feed-token", {});
      assert.equal(made.status, 200);
      const status = (await admin.get("/api/renewals/feed-token")).body as Record<string, unknown>;
      assert.deepEqual(status, {
        exists: true,
        createdAt: (made.body as { createdAt: string }).createdAt,
        lastUsedAt: null,
      });
      assert.ok(!JSON.stringify(status).includes("csf_"), "the token is never shown again");
      const { path } = made.body as { path: string };
      const anonymous = h.client();
      const feed = await anonymous.get(path);
      assert.equal(feed.status, 200);
      assert.match(String(feed.headers["content-type"]), /^text\/calendar/);
      const events = Object.values(nodeIcal.sync.parseICS(feed.text)).filter((c) => c?.type === "VEVENT");
      assert.ok(events.length >= 1);
      const wrong = await anonymous.get(`/api/renewals/feed/csf_${"x".repeat(32)}.ics`);
      assert.equal(wrong.status, 401);
      const used = (await admin.get("/api/renewals/feed-token")).body as { lastUsedAt: string | null };
      assert.ok(used.lastUsedAt !== null, "reading the feed is recorded");
    });
  });
}
