import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEmulatorServer, loadJsonIfExists, persistJsonAtomically } from "../../../emulators/kit.ts";
import type {
  EmulatorContext,
  EmulatorOptions,
  EmulatorServer,
  FaultRule,
  RequestLogEntry,
} from "../../../emulators/kit.ts";
import { jsonNumber, parseJsonKeepingNumbers } from "../../../src/psa/shared/json.ts";

const servers: EmulatorServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

type Item = { id: number; name: string };

/** A tiny vendor emulator: items with create, read and a seeded state that reset restores. */
async function startItems(extra: Partial<EmulatorOptions> = {}) {
  const state = { items: [] as Item[], persisted: 0, resets: 0 };
  const seen: EmulatorContext[] = [];
  const emulator = createEmulatorServer({
    name: "items",
    routes: [
      {
        method: "POST",
        pattern: "/api/items",
        write: true,
        handler: (ctx) => {
          const item = { id: state.items.length + 1, name: String((ctx.body as { name?: unknown }).name) };
          state.items.push(item);
          return { status: 201, body: item };
        },
      },
      {
        method: "GET",
        pattern: "/api/items/:id/notes/:noteId",
        handler: (ctx) => {
          seen.push(ctx);
          return { status: 200, body: { params: ctx.params, q: ctx.query.get("q") } };
        },
      },
      {
        method: "GET",
        pattern: "/api/items/:id",
        handler: (ctx) => {
          const item = state.items.find((candidate) => candidate.id === Number(ctx.params.id));
          return item ? { status: 200, body: item } : { status: 404, body: { message: "no such item" } };
        },
      },
    ],
    persist: () => {
      state.persisted += 1;
    },
    onReset: () => {
      state.items = [];
      state.resets += 1;
    },
    dumpState: () => ({ items: state.items }),
    ...extra,
  });
  servers.push(emulator);
  const { url } = await emulator.listen();
  return { emulator, url, state, seen };
}

async function call(url: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(url, {
    method: init.method ?? "GET",
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
}

/** Outcome of each of `count` GETs: the status, or "failed" when the connection died. */
async function outcomes(url: string, count: number): Promise<Array<number | "failed">> {
  const results: Array<number | "failed"> = [];
  for (let index = 0; index < count; index += 1) {
    try {
      results.push((await fetch(url)).status);
    } catch {
      results.push("failed");
    }
  }
  return results;
}

test("routes match params (decoded), query and a trailing slash; method mismatch goes to notFound", async () => {
  const { url, seen } = await startItems({
    notFound: (ctx) => ({ status: 405, body: { message: `nothing for ${ctx.method} ${ctx.path}` } }),
  });
  const response = await call(`${url}/api/items/12/notes/a%20b/?q=x`);
  assert.deepEqual(response.body, { params: { id: "12", noteId: "a b" }, q: "x" });
  assert.equal(seen[0]?.baseUrl, url);
  const missing = await call(`${url}/api/items/12/notes/a`, { method: "DELETE" });
  assert.deepEqual(missing, {
    status: 405,
    headers: missing.headers,
    body: { message: "nothing for DELETE /api/items/12/notes/a" },
  });
  assert.deepEqual(
    (await call(`${url}/API/ITEMS/1`)).body,
    { message: "nothing for GET /API/ITEMS/1" },
    "case-sensitive by default",
  );
});

test("caseInsensitivePaths matches routes regardless of case (docs/autotask.md §4.1)", async () => {
  const { url } = await startItems({ caseInsensitivePaths: true });
  await call(`${url}/api/items`, { method: "POST", body: { name: "a" } });
  assert.deepEqual((await call(`${url}/API/Items/1`)).body, { id: 1, name: "a" });
});

test("the body is parsed with exact numbers; invalid JSON is reported to the handler", async () => {
  const contexts: EmulatorContext[] = [];
  const emulator = createEmulatorServer({
    name: "echo",
    routes: [
      {
        method: "POST",
        pattern: "/echo",
        handler: (ctx) => {
          contexts.push(ctx);
          return { status: 200, body: { price: jsonNumber("0.846202666") } };
        },
      },
    ],
  });
  servers.push(emulator);
  const { url } = await emulator.listen();
  const response = await fetch(`${url}/echo`, { method: "POST", body: '{"price":120.96}' });
  assert.equal(await response.text(), '{"price":0.846202666}');
  await fetch(`${url}/echo`, { method: "POST", body: "{oops" });
  assert.deepEqual(contexts[0]?.body, { price: "120.96" });
  assert.equal(contexts[1]?.body, undefined);
  assert.equal(typeof contexts[1]?.bodyError, "string");
});

test("authenticate can reject before the handler runs", async () => {
  const { url, state } = await startItems({
    authenticate: (ctx) =>
      ctx.headers["x-key"] === "ok" ? undefined : { status: 401, body: { message: "no" } },
  });
  assert.equal((await call(`${url}/api/items`, { method: "POST", body: { name: "x" } })).status, 401);
  assert.equal(state.items.length, 0);
});

test("fault selectors: nth, every, times, and no selector at all", async () => {
  const cases: Array<{ rule: FaultRule; expected: Array<number | "failed"> }> = [
    { rule: { kind: "server-error", nth: [2, 4] }, expected: [404, 503, 404, 503, 404, 404] },
    { rule: { kind: "server-error", every: 3 }, expected: [404, 404, 503, 404, 404, 503] },
    { rule: { kind: "server-error", times: 2 }, expected: [503, 503, 404, 404, 404, 404] },
    { rule: { kind: "server-error", status: 502 }, expected: [502, 502, 502, 502, 502, 502] },
  ];
  for (const { rule, expected } of cases) {
    const { url } = await startItems({ faults: [rule] });
    assert.deepEqual(await outcomes(`${url}/api/items/1`, 6), expected, JSON.stringify(rule));
  }
});

test("method and path filters (substring or /regex/) decide which requests a rule counts", async () => {
  const { url, emulator } = await startItems();
  emulator.addFaults([
    { kind: "server-error", method: "POST", nth: [1] },
    { kind: "server-error", path: "/notes/", status: 500 },
    { kind: "server-error", path: "re:/items\\/[0-9]+$/", status: 504, nth: [2] },
  ]);
  assert.deepEqual(await outcomes(`${url}/api/items/1`, 2), [404, 504]);
  assert.deepEqual(await outcomes(`${url}/api/items/1/notes/2`, 1), [500]);
  assert.equal((await call(`${url}/api/items`, { method: "POST", body: { name: "a" } })).status, 503);
  const counters = emulator.faults().map((fault) => [fault.matched, fault.fired]);
  assert.deepEqual(counters, [
    [1, 1],
    [1, 1],
    [2, 1],
  ]);
});

test("probability faults are reproducible for a given seed", async () => {
  const patterns: string[] = [];
  for (const seed of [42, 42, 7]) {
    const { url } = await startItems({ seed, faults: [{ kind: "server-error", probability: 0.5 }] });
    patterns.push((await outcomes(`${url}/api/items/1`, 16)).join(","));
  }
  assert.equal(patterns[0], patterns[1]);
  assert.notEqual(patterns[0], patterns[2]);
  assert.ok(patterns[0]?.includes("503") && patterns[0].includes("404"), patterns[0]);
});

test("rate-limit answers 429 with Retry-After and the vendor body", async () => {
  const { url } = await startItems({
    rateLimitBody: { error: "ConnectWiseAPI", message: "Too many requests." },
    faults: [{ kind: "rate-limit", retryAfterSeconds: 30, times: 1 }],
  });
  const limited = await call(`${url}/api/items/1`);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "30");
  assert.deepEqual(limited.body, { error: "ConnectWiseAPI", message: "Too many requests." });
});

test("thread-limit answers with the vendor's thread-limit body and status (docs/autotask.md §10)", async () => {
  const { url } = await startItems({
    threadLimitBody: { errors: ["Thread Threshold Exceeded: Itgenatr005"] },
    faults: [{ kind: "thread-limit", status: 500, times: 1 }],
  });
  const limited = await call(`${url}/api/items/1`);
  assert.deepEqual(
    [limited.status, limited.body],
    [500, { errors: ["Thread Threshold Exceeded: Itgenatr005"] }],
  );
});

test("drop-connection kills the socket before the handler runs: nothing is applied", async () => {
  const { url, state, emulator } = await startItems({
    faults: [{ kind: "drop-connection", method: "POST" }],
  });
  await assert.rejects(call(`${url}/api/items`, { method: "POST", body: { name: "a" } }));
  assert.equal(state.items.length, 0);
  assert.equal(state.persisted, 0);
  const [entry] = emulator.requestLog();
  assert.deepEqual([entry?.status, entry?.fault, entry?.write], ["dropped", "drop-connection", false]);
});

test("lose-response commits and persists the write, but the client sees a dropped connection", async () => {
  const { url, state, emulator } = await startItems({
    faults: [{ kind: "lose-response", method: "POST", times: 1 }],
  });
  await assert.rejects(call(`${url}/api/items`, { method: "POST", body: { name: "kept" } }));
  assert.deepEqual(state.items, [{ id: 1, name: "kept" }]);
  assert.equal(state.persisted, 1);
  assert.deepEqual((await call(`${url}/api/items/1`)).body, { id: 1, name: "kept" });
  const [entry] = emulator.requestLog();
  assert.deepEqual([entry?.status, entry?.fault, entry?.write], ["lost", "lose-response", true]);
});

test("latency faults delay the reply and are logged; setLatency applies to every request", async () => {
  const { url, emulator } = await startItems({ faults: [{ kind: "latency", latencyMs: 20, nth: [1] }] });
  assert.deepEqual(await outcomes(`${url}/api/items/1`, 2), [404, 404]);
  emulator.setLatency(5);
  assert.deepEqual(await outcomes(`${url}/api/items/1`, 1), [404]);
  const faults = emulator.requestLog().map((entry) => entry.fault);
  assert.deepEqual(faults, ["latency", undefined, undefined]);
});

test("writes persist only after a successful write route", async () => {
  const { url, state, emulator } = await startItems();
  await call(`${url}/api/items`, { method: "POST", body: { name: "a" } });
  await call(`${url}/api/items/1`);
  assert.equal(state.persisted, 1);
  assert.deepEqual(
    emulator.requestLog().map((entry) => entry.write),
    [true, false],
  );
});

test("admin API: health, requests log with since, stats, faults, latency, state, reset", async () => {
  const { url, state } = await startItems();
  const admin = `${url}/__emulator`;
  assert.deepEqual((await call(`${admin}/health`)).body, { ok: true, name: "items" });

  await call(`${url}/api/items`, { method: "POST", body: { name: "a" } });
  await call(`${url}/api/items/1?x=1`);
  await call(`${url}/nowhere`);
  const log = (await call(`${admin}/requests`)).body as RequestLogEntry[];
  assert.deepEqual(
    log.map((entry) => [entry.id, entry.method, entry.path, entry.status, entry.write]),
    [
      [1, "POST", "/api/items", 201, true],
      [2, "GET", "/api/items/1?x=1", 200, false],
      [3, "GET", "/nowhere", 404, false],
    ],
  );
  assert.equal(typeof log[0]?.durationMs, "number");
  assert.ok(!Number.isNaN(Date.parse(log[0]?.at ?? "")));
  assert.deepEqual(
    ((await call(`${admin}/requests?since=2`)).body as RequestLogEntry[]).map((entry) => entry.id),
    [3],
  );
  assert.deepEqual((await call(`${admin}/stats`)).body, {
    total: 3,
    byMethod: { POST: 1, GET: 2 },
    byRoute: { "POST /api/items": 1, "GET /api/items/:id": 1, "GET (no route)": 1 },
    byStatus: { "201": 1, "200": 1, "404": 1 },
    writes: 1,
  });
  assert.equal((await call(`${admin}/requests`, { method: "DELETE" })).status, 204);
  assert.deepEqual((await call(`${admin}/requests`)).body, []);

  const added = await call(`${admin}/faults`, { method: "POST", body: { kind: "server-error", times: 1 } });
  assert.equal(added.status, 201);
  await call(`${admin}/faults`, { method: "POST", body: [{ kind: "rate-limit", id: "mine", nth: [9] }] });
  const listed = (await call(`${admin}/faults`)).body as Array<{ id: string; kind: string }>;
  assert.deepEqual(
    listed.map((fault) => [fault.id, fault.kind]),
    [
      ["fault-1", "server-error"],
      ["mine", "rate-limit"],
    ],
  );
  assert.equal((await call(`${url}/api/items/1`)).status, 503);
  assert.equal((await call(`${admin}/faults`, { method: "DELETE" })).status, 204);
  assert.deepEqual((await call(`${admin}/faults`)).body, []);
  assert.equal((await call(`${admin}/faults`, { method: "POST", body: { kind: "meteor" } })).status, 400);

  assert.deepEqual((await call(`${admin}/latency`, { method: "PUT", body: { ms: 1 } })).body, { ms: 1 });
  assert.deepEqual((await call(`${admin}/state`)).body, { items: [{ id: 1, name: "a" }] });

  assert.equal((await call(`${admin}/reset`, { method: "POST" })).status, 204);
  assert.equal(state.resets, 1);
  assert.deepEqual((await call(`${admin}/state`)).body, { items: [] });
  assert.deepEqual((await call(`${admin}/requests`)).body, []);
  assert.equal(((await call(`${admin}/stats`)).body as { total: number }).total, 0);
  assert.equal((await call(`${admin}/nonsense`)).status, 404);
});

test("reset restores the configured faults, latency and RNG seed", async () => {
  const { url, emulator } = await startItems({
    seed: 3,
    faults: [{ kind: "server-error", probability: 0.5 }],
  });
  const first = await outcomes(`${url}/api/items/1`, 8);
  emulator.addFaults({ kind: "drop-connection" });
  await emulator.reset();
  assert.deepEqual(await outcomes(`${url}/api/items/1`, 8), first);
});

test("persistJsonAtomically and loadJsonIfExists round-trip state with exact numbers", () => {
  const dir = mkdtempSync(join(tmpdir(), "cspsync-emulator-"));
  try {
    const file = join(dir, "nested", "state.json");
    assert.equal(loadJsonIfExists(file), undefined);
    persistJsonAtomically(file, { price: jsonNumber("0.846202666"), name: "x" });
    persistJsonAtomically(file, { price: jsonNumber("120.96"), name: "y" });
    assert.equal(readFileSync(file, "utf8"), '{"price":120.96,"name":"y"}');
    assert.deepEqual(loadJsonIfExists(file), { price: "120.96", name: "y" });
    assert.equal(
      JSON.stringify(loadJsonIfExists(file, parseJsonKeepingNumbers)),
      '{"price":120.96,"name":"y"}',
    );
    assert.deepEqual(readdirSync(join(dir, "nested")), ["state.json"], "no temporary file left behind");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(existsSync(dir), false);
});
