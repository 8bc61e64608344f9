import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FaultRule, RequestLogEntry } from "../../emulators/kit.ts";
import { IN_DOUBT_MS } from "../../src/psa/shared/write-once.ts";
import {
  createCatalogTarget,
  productSettingsFrom,
  ProductSync,
  type ProductSyncResult,
} from "../../src/services/product-sync.ts";
import { hostOf } from "../support/app.ts";
import { mappedAutotask } from "../support/autotask-setup.ts";
import { mappedConnectWise } from "../support/connectwise-setup.ts";
import { waitFor } from "../support/recovery.ts";
import type { Dialect } from "../../src/store/db.ts";
import { DIALECTS } from "../support/stores.ts";

/**
 * The product sync under faults (issue 6): a create whose answer is lost, one that outlasts the client's timeout
 * and lands later, and bursts of 429 / 5xx / dropped connections never leave two records for one key.
 */

type Row = Record<string, unknown>;

/** One vendor's side: how to run the sync, inject faults, and read which records carry each product key. */
type Harness = {
  sync(options?: { timeoutMs?: number; now?: () => Date }): Promise<ProductSyncResult>;
  addFaults(rules: FaultRule[]): void;
  log(): RequestLogEntry[];
  clearLog(): void;
  /** Record ids per product key, over every key a create can write. */
  recordsByKey(): Map<string, string[]>;
  /** Paths (fault syntax) of the create routes, by item kind. */
  createPath: { catalog: string; "charge-product"?: string };
  /** The catalog read (ConnectWise: GET; Autotask: POST …/query). */
  read: { method: string; path: string };
  tracked(): Promise<Array<{ product_key: string; psa_record_id: string | null; status: string }>>;
  cleanup(): Promise<void>;
};

const FAST = { baseDelayMs: 1, maxDelayMs: 5 };

async function connectWise(dialect: Dialect): Promise<Harness> {
  const setup = await mappedConnectWise(dialect);
  const details = await setup.app.connections.details(setup.connectionId);
  const settings = await productSettingsFrom("connectwise", {}, { productSyncMode: "all" });
  return {
    async sync(options = {}) {
      const target = await createCatalogTarget(details, settings, {
        allowedHosts: [hostOf(setup.emulator.url)],
        transport: { ...FAST, timeoutMs: options.timeoutMs ?? 5_000 },
      });
      return productSync(setup.app, setup.connectionId, target, options.now).sync("all");
    },
    addFaults: (rules) => void setup.emulator.server.addFaults(rules),
    log: () => setup.emulator.server.requestLog(),
    clearLog: () => setup.emulator.server.clearRequestLog(),
    recordsByKey: () =>
      groupIds(setup.emulator.data().tables.catalogItems as Row[], (r) => String(r.identifier)),
    createPath: { catalog: "re:/procurement/catalog$/" },
    read: { method: "GET", path: "re:/procurement/catalog$/" },
    tracked: () => trackedRows(setup.app, setup.connectionId),
    cleanup: () => setup.cleanup(),
  };
}

async function autotask(dialect: Dialect): Promise<Harness> {
  const setup = await mappedAutotask(dialect);
  const details = await setup.app.connections.details(setup.connectionId);
  const code = async (name: string) =>
    (await setup.client.billingCodes.queryAll([setup.client.billingCodes.where.eq("name", name)]))[0]!.id;
  const settings = await productSettingsFrom(
    "autotask",
    {},
    {
      productSyncMode: "all",
      serviceBillingCodeId: await code("Microsoft CSP Licensing"),
      productBillingCodeId: await code("Software Licences"),
    },
  );
  return {
    async sync(options = {}) {
      const target = await createCatalogTarget(details, settings, {
        allowedHosts: [hostOf(setup.emulator.url)],
        transport: { ...FAST, timeoutMs: options.timeoutMs ?? 5_000 },
      });
      return productSync(setup.app, setup.connectionId, target, options.now).sync("all");
    },
    addFaults: (rules) => void setup.emulator.addFaults(rules),
    log: () => setup.emulator.server.requestLog(),
    clearLog: () => setup.emulator.server.clearRequestLog(),
    recordsByKey: () => {
      const services = groupIds(setup.emulator.state.list("Services") as Row[], (r) =>
        String(r.name).replace(/^PC_/, ""),
      );
      const products = groupIds(
        (setup.emulator.state.list("Products") as Row[]).filter((r) => r.isActive !== false),
        (r) => `product:${String(r.sku)}`,
      );
      return new Map([...services, ...products]);
    },
    createPath: { catalog: "re:/Services$/i", "charge-product": "re:/Products$/i" },
    read: { method: "POST", path: "re:/query$/i" },
    tracked: () => trackedRows(setup.app, setup.connectionId),
    cleanup: () => setup.cleanup(),
  };
}

type App = Awaited<ReturnType<typeof mappedConnectWise>>["app"];

function productSync(
  app: App,
  connectionId: string,
  target: Awaited<ReturnType<typeof createCatalogTarget>>,
  now?: () => Date,
): ProductSync {
  return new ProductSync({
    store: app.store,
    organizationId: app.organizationId,
    connectionId,
    target,
    ...(now ? { now } : {}),
  });
}

function trackedRows(app: App, connectionId: string) {
  return app.store.db
    .selectFrom("synced_products")
    .select(["product_key", "psa_record_id", "status"])
    .where("connection_id", "=", connectionId)
    .execute();
}

function groupIds(rows: Row[], keyOf: (row: Row) => string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const row of rows) map.set(keyOf(row), [...(map.get(keyOf(row)) ?? []), String(row.id)]);
  return map;
}

const VENDORS = [
  ["ConnectWise", connectWise],
  ["Autotask", autotask],
] as const;

/** Every create the sync planned is in the PSA exactly once and tracked, synced, by that record's id. */
async function assertExactlyOnce(h: Harness, created: readonly string[]): Promise<void> {
  const records = h.recordsByKey();
  const tracked = new Map((await h.tracked()).map((t) => [t.product_key, t]));
  for (const key of created) {
    const ids = records.get(key) ?? [];
    assert.equal(ids.length, 1, `${key}: one record, found ${ids.length}`);
    assert.deepEqual(
      [tracked.get(key)?.psa_record_id, tracked.get(key)?.status],
      [ids[0], "synced"],
      `${key} is tracked by its record's id`,
    );
  }
}

/** A second sync has nothing to do: no write of any kind reaches the PSA. */
async function assertSecondSyncWritesNothing(h: Harness): Promise<void> {
  h.clearLog();
  const again = await h.sync();
  assert.equal(again.counts.written + again.counts.failed, 0, messages(again));
  const writes = h.log().filter((r) => r.method !== "GET" && !/\/query$/i.test(r.path.split("?")[0]!));
  assert.deepEqual(
    writes.map((r) => `${r.method} ${r.path}`),
    [],
  );
}

function messages(result: ProductSyncResult): string {
  return result.items
    .filter((i) => i.status === "failed")
    .map((i) => `${i.key}: ${i.message}`)
    .join("; ");
}

const creates = (result: ProductSyncResult) => result.items.filter((i) => i.action === "create");
const createPosts = (h: Harness) =>
  h.log().filter((r) => r.method === "POST" && /\/(procurement\/catalog|Services|Products)$/i.test(r.path));

for (const dialect of DIALECTS) {
  for (const [vendor, start] of VENDORS) {
    describe(`${vendor} product sync under faults on ${dialect}`, () => {
      let h: Harness | undefined;
      after(async () => h?.cleanup());
      const fresh = async () => {
        await h?.cleanup();
        h = await start(dialect);
        return h;
      };

      it("a create whose answer is lost after the PSA committed it: found, not repeated", async () => {
        const s = await fresh();
        const lost: FaultRule[] = [
          { kind: "lose-response", method: "POST", path: s.createPath.catalog, nth: [2] },
        ];
        const charge = s.createPath["charge-product"];
        if (charge) lost.push({ kind: "lose-response", method: "POST", path: charge, nth: [1] });
        s.addFaults(lost);
        const first = await s.sync();
        assert.equal(first.counts.failed, 0, messages(first));
        assert.equal(
          s.log().filter((r) => r.status === "lost").length,
          lost.length,
          "each lost answer was injected",
        );
        const planned = creates(first).map((i) => i.key);
        assert.ok(planned.length >= 4, "the sample needs several creates");
        for (const item of creates(first)) assert.equal(item.recordId, s.recordsByKey().get(item.key)?.[0]);
        assert.equal(createPosts(s).length, planned.length, "one create request per new record");
        await assertExactlyOnce(s, planned);
        await assertSecondSyncWritesNothing(s);
      });

      it("a create that outlasts the client's timeout and lands later is never sent twice", async () => {
        const s = await fresh();
        s.addFaults([
          { kind: "latency", method: "POST", path: s.createPath.catalog, nth: [2], latencyMs: 2_500 },
        ]);
        const first = await s.sync({ timeoutMs: 400 });
        const slowed = first.items.filter((i) => i.status === "failed");
        assert.equal(slowed.length, 1, messages(first));
        assert.match(
          slowed[0]!.message,
          /timed out and may still reach the PSA; it is left for a run after /,
        );
        const planned = creates(first).map((i) => i.key);

        // Right after, whether or not it has landed yet, the next run does not send it again.
        s.clearLog();
        const second = await s.sync({ timeoutMs: 400 });
        assert.deepEqual(createPosts(s), []);
        const waiting = second.items.find((i) => i.key === slowed[0]!.key)!;
        if (waiting.status === "failed")
          assert.match(waiting.message, /may still arrive, so it is left for a run after/);

        await waitFor(
          "the slowed create landed",
          () => (s.recordsByKey().get(slowed[0]!.key) ?? []).length > 0,
        );
        const third = await s.sync();
        assert.equal(third.counts.failed, 0, messages(third));
        await assertExactlyOnce(s, planned);
        await assertSecondSyncWritesNothing(s);
      });

      it("429, 5xx and dropped connections in bursts: one run ends with the exact catalog", async () => {
        const s = await fresh();
        const paths = [s.createPath.catalog, s.createPath["charge-product"]].filter((p) => p !== undefined);
        const faults: FaultRule[] = [
          { kind: "server-error", status: 500, method: "GET", nth: [3, 4, 9] },
          { kind: "server-error", status: 500, ...s.read, nth: [2, 5] },
        ];
        for (const path of paths) {
          faults.push(
            { kind: "rate-limit", method: "POST", path, nth: [1, 2, 6], retryAfterSeconds: 0 },
            // Gateway errors and dropped connections before the PSA applied the create: outcome unknown.
            { kind: "server-error", status: 503, method: "POST", path, nth: [3, 4] },
            { kind: "drop-connection", method: "POST", path, nth: [7] },
          );
        }
        s.addFaults(faults);
        const first = await s.sync();
        assert.equal(first.counts.failed, 0, messages(first));
        assert.ok(s.log().some((r) => r.status === 503) && s.log().some((r) => r.status === "dropped"));
        await assertExactlyOnce(
          s,
          creates(first).map((i) => i.key),
        );
        await assertSecondSyncWritesNothing(s);
      });

      it("after the in-doubt window a late-landed create is linked, not created again", async () => {
        const s = await fresh();
        // Times out and never lands in time for the next run: the emulator's delay outlasts it.
        s.addFaults([
          { kind: "latency", method: "POST", path: s.createPath.catalog, nth: [1], latencyMs: 2_500 },
        ]);
        const first = await s.sync({ timeoutMs: 400 });
        const key = first.items.find((i) => i.status === "failed")!.key;
        await waitFor("the slowed create landed", () => (s.recordsByKey().get(key) ?? []).length > 0);
        const later = () => new Date(Date.now() + IN_DOUBT_MS);
        const second = await s.sync({ now: later });
        const item = second.items.find((i) => i.key === key)!;
        assert.deepEqual([item.action, item.status], ["link", "written"]);
        await assertExactlyOnce(
          s,
          creates(first).map((i) => i.key),
        );
      });
    });
  }
}
