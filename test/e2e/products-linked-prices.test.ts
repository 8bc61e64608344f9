import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { App } from "../../src/app.ts";
import { listProductRuns, previewProducts, runProductSync } from "../../src/services/product-runs.ts";
import { PriceConfirmationRequiredError } from "../../src/services/product-sync.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise } from "../support/connectwise-setup.ts";
import { mappedAutotask } from "../support/autotask-setup.ts";
import { billingCodeId } from "../support/product-setup.ts";

/**
 * A PSA record cspsync only linked is the MSP's: its sell price stays unless the connection's setting
 * linkedPriceUpdates is "confirm", and then changes only with a confirmation of exactly that change. Cost
 * follows the billing data. On ConnectWise the linked record is the demo catalog item M365-STD (price 15,
 * cost 12.5; billed at 10.08); on Autotask the demo Product with SKU CFQ7TTC0LCHC:0002:P1Y (price 414.6,
 * cost 338.28; billed at 264), which annual contract charges use.
 */
type Case = {
  vendor: string;
  setUp(dialect: (typeof DIALECTS)[number]): Promise<{
    app: App;
    connectionId: string;
    settings: Record<string, unknown>;
    /** Price and cost of the linked record in the PSA now. */
    record(): [string, string];
    /** Writes sent to the PSA since the last call. */
    writes(): string[];
    cleanup(): Promise<void>;
  }>;
  key: string;
  label: string;
  before: [string, string];
  billed: string;
};

const CASES: Case[] = [
  {
    vendor: "ConnectWise",
    key: "CFQ7TTC0LDPB:0001",
    label: "M365-STD",
    before: ["15", "12.5"],
    billed: "10.08",
    async setUp(dialect) {
      const setup = await mappedConnectWise(dialect);
      const item = () => setup.emulator.data().tables.catalogItems.find((i) => i.identifier === "M365-STD")!;
      const log = setup.emulator.server;
      return {
        app: setup.app,
        connectionId: setup.connectionId,
        settings: {},
        record: () => [String(item().price), String(item().cost)],
        writes() {
          const sent = log.requestLog().filter((r) => r.method !== "GET");
          log.clearRequestLog();
          return sent.map((r) => `${r.method} ${r.path}`);
        },
        cleanup: () => setup.cleanup(),
      };
    },
  },
  {
    vendor: "Autotask",
    key: "product:P1Y:A:CFQ7TTC0LCHC:0002",
    label: "Microsoft 365 Business Premium (Annual)",
    before: ["414.6", "338.28"],
    billed: "264",
    async setUp(dialect) {
      const setup = await mappedAutotask(dialect);
      const product = () =>
        setup.emulator.state.list("Products").find((p) => p.sku === "CFQ7TTC0LCHC:0002:P1Y")!;
      const log = setup.emulator.server;
      const settings = {
        serviceBillingCodeId: await billingCodeId(setup, "Microsoft CSP Licensing"),
      };
      log.clearRequestLog();
      return {
        app: setup.app,
        connectionId: setup.connectionId,
        settings,
        record: () => [String(product().unitPrice), String(product().unitCost)],
        writes() {
          const sent = log.requestLog().filter((r) => r.method !== "GET" && !/\/query/i.test(r.path));
          log.clearRequestLog();
          return sent.map((r) => `${r.method} ${r.path}`);
        },
        cleanup: () => setup.cleanup(),
      };
    },
  },
];

for (const c of CASES) {
  for (const dialect of DIALECTS) {
    describe(`${c.vendor} product sync keeps the sell price of a linked record unless confirmed (${dialect})`, () => {
      let s: Awaited<ReturnType<Case["setUp"]>>;
      const configure = (linkedPriceUpdates?: string) =>
        s.app.connections.update(s.connectionId, {
          settings: { ...s.settings, productSyncMode: "all", linkedPriceUpdates: linkedPriceUpdates ?? null },
        });
      const refuse = { unconfirmed: "refuse" as const };

      before(async () => {
        s = await c.setUp(dialect);
        await configure();
      });
      after(async () => s?.cleanup());

      it("by default: the preview says linked and price kept; the sync writes the cost, never the price", async () => {
        assert.deepEqual(s.record(), c.before);
        const preview = await previewProducts(s.app, s.connectionId);
        const item = preview.plan.items.find((i) => i.key === c.key)!;
        assert.deepEqual(
          [item.action, item.owned, item.changes, item.linkedPrice],
          ["link", false, { cost: c.billed }, { from: c.before[0], to: c.billed, handling: "kept" }],
        );
        assert.deepEqual(preview.priceConfirmation.changes, []);
        // A person asking for the sync is not asked anything: there is no price change to confirm.
        const { run, result } = await runProductSync(s.app, s.connectionId, "manual", {}, refuse);
        assert.equal(run.failed, 0, JSON.stringify(result?.items.filter((i) => i.status === "failed")));
        assert.deepEqual(s.record(), [c.before[0], c.billed]);
        const written = result!.items.find((i) => i.key === c.key)!;
        assert.match(written.notes.join(), new RegExp(`sell price ${c.before[0]} kept`));
        s.writes();
      });

      it("with linkedPriceUpdates confirm but no confirmation: nothing is written and the change is listed", async () => {
        await configure("confirm");
        const runsBefore = (await listProductRuns(s.app.store, s.app.organizationId, s.connectionId)).length;
        const refused = await runProductSync(s.app, s.connectionId, "manual", {}, refuse).then(
          () => assert.fail("the sync went ahead without a confirmation"),
          (error: unknown) => error,
        );
        assert.ok(refused instanceof PriceConfirmationRequiredError);
        const listed = refused.confirmation.changes.find((ch) => ch.key === c.key);
        assert.deepEqual(
          [listed?.recordLabel, listed?.from, listed?.to, listed?.direction],
          [c.label, c.before[0], c.billed, "decrease"],
        );
        assert.match(
          refused.message,
          /^\d+ sell price changes? on linked PSA records \(not created by cspsync\) needs? confirmation; nothing was written: /,
        );
        assert.ok(
          refused.message.includes(`${c.label} (${c.key}): ${c.before[0]} → ${c.billed}, a decrease`),
        );
        assert.equal(refused.stale, false);
        assert.deepEqual(s.writes(), [], "nothing is sent to the PSA");
        assert.deepEqual(s.record(), [c.before[0], c.billed]);
        const runsAfter = (await listProductRuns(s.app.store, s.app.organizationId, s.connectionId)).length;
        assert.equal(runsAfter, runsBefore, "a refused sync leaves no run");

        // A confirmation of other changes (an old preview's) is no confirmation.
        const stale = await runProductSync(
          s.app,
          s.connectionId,
          "manual",
          {},
          {
            ...refuse,
            confirmed: { fingerprint: "0000000000000000" },
          },
        ).catch((error: unknown) => error);
        assert.ok(stale instanceof PriceConfirmationRequiredError && stale.stale);
        assert.deepEqual(s.writes(), []);
      });

      it("a scheduled sync cannot confirm: it holds the price change and says so", async () => {
        const { result } = await runProductSync(s.app, s.connectionId, "schedule");
        const item = result!.items.find((i) => i.key === c.key)!;
        // Planned as an update of the price; with the price held there was nothing to write.
        assert.deepEqual([item.action, item.status], ["update", "unchanged"]);
        assert.match(item.message, /the sell price was not written: .* needs a person's confirmation/);
        assert.deepEqual(s.record(), [c.before[0], c.billed]);
      });

      it("with the preview's confirmation the price is written, and nothing is left to confirm", async () => {
        const preview = await previewProducts(s.app, s.connectionId);
        assert.equal(preview.linkedPriceUpdates, "confirm");
        const listed = preview.priceConfirmation.changes.find((ch) => ch.key === c.key);
        assert.deepEqual([listed?.from, listed?.to], [c.before[0], c.billed]);
        const { result } = await runProductSync(
          s.app,
          s.connectionId,
          "manual",
          {},
          {
            ...refuse,
            confirmed: { fingerprint: preview.priceConfirmation.fingerprint },
          },
        );
        const item = result!.items.find((i) => i.key === c.key)!;
        assert.deepEqual([item.action, item.status], ["update", "written"]);
        assert.deepEqual(s.record(), [c.billed, c.billed]);
        assert.equal(
          s.writes().length,
          preview.priceConfirmation.changes.length,
          "one write per confirmed price, nothing else",
        );
        const after = await previewProducts(s.app, s.connectionId);
        assert.deepEqual(after.priceConfirmation.changes, []);
      });
    });
  }
}
