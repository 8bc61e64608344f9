import { afterEach, describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { createEmulatorServer } from "../../../emulators/kit.ts";
import type { EmulatorOptions, EmulatorRoute, EmulatorServer } from "../../../emulators/kit.ts";
import {
  PsaAuthError,
  PsaError,
  PsaHttpError,
  PsaNetworkError,
  PsaNotFoundError,
  PsaOutcomeUnknownError,
  PsaTimedOutError,
  PsaRateLimitedError,
  PsaValidationError,
} from "../../../src/psa/shared/errors.ts";
import { jsonNumber } from "../../../src/psa/shared/json.ts";
import { PsaTransport } from "../../../src/psa/shared/transport.ts";
import type { TransportLogEvent, TransportOptions } from "../../../src/psa/shared/transport.ts";

const servers: EmulatorServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** An emulator with a counting "things" resource: POST creates, GET reads. */
async function startThings(extra: Partial<EmulatorOptions> = {}, routes: EmulatorRoute[] = []) {
  const created: unknown[] = [];
  const emulator = createEmulatorServer({
    name: "test",
    routes: [
      ...routes,
      {
        method: "POST",
        pattern: "/things",
        write: true,
        handler: (ctx) => {
          created.push(ctx.body);
          return { status: 201, body: { id: created.length } };
        },
      },
      {
        method: "GET",
        pattern: "/things/:id",
        handler: (ctx) => ({ status: 200, body: { id: ctx.params.id } }),
      },
    ],
    ...extra,
  });
  servers.push(emulator);
  const { url, port } = await emulator.listen();
  return { emulator, url, port, created };
}

/** A transport whose sleeps are recorded instead of waited for. */
function makeTransport(overrides: Partial<TransportOptions> = {}) {
  const sleeps: number[] = [];
  const events: TransportLogEvent[] = [];
  const transport = new PsaTransport({
    vendor: "connectwise",
    maxConcurrentPerKey: 4,
    secrets: () => [],
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    logger: (event) => events.push(event),
    ...overrides,
  });
  return { transport, sleeps, events };
}

async function rejection(promise: Promise<unknown>): Promise<PsaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PsaError, `expected a PsaError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the request to fail");
}

async function freePort(): Promise<number> {
  const probe = createEmulatorServer({ name: "probe", routes: [] });
  const { port } = await probe.listen();
  await probe.close();
  return port;
}

test("a 2xx response resolves with the parsed body and sends jsonNumber values bare", async () => {
  const { url, created } = await startThings();
  const { transport } = makeTransport();
  const response = await transport.request({
    method: "POST",
    url: `${url}/things`,
    body: { price: jsonNumber("0.846202666") },
  });
  assert.equal(response.status, 201);
  assert.deepEqual(response.body, { id: 1 });
  assert.deepEqual(created, [{ price: "0.846202666" }]);
});

test("429 with Retry-After in seconds is honoured, even for a POST (docs/connectwise.md §7.3)", async () => {
  const { url, emulator, created } = await startThings({ rateLimitBody: { message: "Too many requests." } });
  emulator.addFaults({ kind: "rate-limit", method: "POST", times: 1, retryAfterSeconds: 3 });
  const { transport, sleeps } = makeTransport();
  const response = await transport.request({ method: "POST", url: `${url}/things`, body: {} });
  assert.equal(response.status, 201);
  assert.deepEqual(sleeps, [3000]);
  assert.equal(created.length, 1);
});

test("429 with Retry-After as an HTTP date waits until that moment, capped by maxDelayMs", async () => {
  let retryAfter = "Tue, 01 Jan 2030 00:00:07 GMT";
  let refusals = 1;
  const { url } = await startThings({}, [
    {
      method: "GET",
      pattern: "/limited",
      handler: () =>
        refusals-- > 0
          ? { status: 429, headers: { "retry-after": retryAfter }, body: {} }
          : { status: 200, body: { ok: true } },
    },
  ]);
  const now = () => Date.parse("2030-01-01T00:00:00Z");
  const { transport, sleeps } = makeTransport({ now, maxDelayMs: 60_000 });
  await transport.request({ method: "GET", url: `${url}/limited` });
  assert.deepEqual(sleeps, [7000]);

  retryAfter = "Tue, 01 Jan 2030 01:00:00 GMT";
  refusals = 1;
  await transport.request({ method: "GET", url: `${url}/limited` });
  assert.deepEqual(sleeps, [7000, 60_000]);
});

test("429 on every attempt ends in PsaRateLimitedError after maxAttempts", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "rate-limit", retryAfterSeconds: 1 });
  const { transport, sleeps } = makeTransport({ maxAttempts: 3 });
  const error = await rejection(transport.request({ method: "GET", url: `${url}/things/1` }));
  assert.ok(error instanceof PsaRateLimitedError);
  assert.equal(error.status, 429);
  assert.deepEqual(sleeps, [1000, 1000]);
  assert.equal(emulator.stats().total, 3);
});

test("backoff is exponential, capped at maxDelayMs, with full jitter from the injected random", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "server-error" });
  const jitter = [0.5, 0.5, 0.5, 0.5, 0.999];
  const { transport, sleeps } = makeTransport({
    maxAttempts: 6,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    random: () => jitter.shift() ?? 0,
  });
  const error = await rejection(transport.request({ method: "GET", url: `${url}/things/1` }));
  assert.ok(error instanceof PsaHttpError);
  assert.equal(error.status, 503);
  // Ceilings 100, 200, 400, 800, 1000 (capped) times the jitter.
  assert.deepEqual(sleeps, [50, 100, 200, 400, 999]);
  assert.equal(emulator.stats().total, 6);
});

test("503 on a GET is retried and then succeeds", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "server-error", method: "GET", times: 2 });
  const { transport, sleeps } = makeTransport();
  const response = await transport.request({ method: "GET", url: `${url}/things/9` });
  assert.deepEqual(response.body, { id: "9" });
  assert.equal(sleeps.length, 2);
  assert.deepEqual(transport.stats().byStatus, { "503": 2, "200": 1 });
});

test("503 on a POST is an unknown outcome at once: no second POST reaches the server", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "server-error", method: "POST", status: 503, times: 1 });
  const { transport, sleeps } = makeTransport();
  const error = await rejection(transport.request({ method: "POST", url: `${url}/things`, body: {} }));
  assert.ok(error instanceof PsaOutcomeUnknownError);
  assert.equal(error.status, 503);
  assert.deepEqual(sleeps, []);
  assert.equal(emulator.requestLog().filter((entry) => entry.method === "POST").length, 1);
});

test("500 on a POST is a definite error, not retried and not an unknown outcome", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "server-error", method: "POST", status: 500, body: { errors: ["bad thing"] } });
  const { transport } = makeTransport();
  const error = await rejection(transport.request({ method: "POST", url: `${url}/things`, body: {} }));
  assert.equal(error.constructor, PsaHttpError);
  assert.deepEqual(error.details, ["bad thing"]);
  assert.equal(emulator.stats().total, 1);
});

test("connection refused on a POST is retried because nothing was sent", async () => {
  const port = await freePort();
  const { transport, sleeps, events } = makeTransport({
    // The server comes up during the first backoff, as after a restart.
    sleep: async (ms) => {
      sleeps.push(ms);
      if (sleeps.length === 1) await started.emulator.listen(port);
    },
  });
  const created: unknown[] = [];
  const started = {
    emulator: createEmulatorServer({
      name: "late",
      routes: [
        {
          method: "POST",
          pattern: "/things",
          handler: () => ({ status: 201, body: { id: created.push(1) } }),
        },
      ],
    }),
  };
  servers.push(started.emulator);
  const response = await transport.request({
    method: "POST",
    url: `http://127.0.0.1:${port}/things`,
    body: {},
  });
  assert.equal(response.status, 201);
  assert.equal(created.length, 1);
  assert.equal(sleeps.length, 1);
  assert.deepEqual(
    events.map((event) => event.type),
    ["retry", "request"],
  );
  assert.deepEqual(transport.stats().byStatus, { network: 1, "201": 1 });
});

test("a server that stays unreachable ends in PsaNetworkError", async () => {
  const port = await freePort();
  const { transport, sleeps } = makeTransport({ maxAttempts: 3 });
  const error = await rejection(
    transport.request({ method: "POST", url: `http://127.0.0.1:${port}/x`, body: {} }),
  );
  assert.ok(error instanceof PsaNetworkError);
  assert.match(error.message, /ECONNREFUSED/);
  assert.equal(sleeps.length, 2);
});

test("a socket destroyed after a POST was applied gives PsaOutcomeUnknownError, not a retry", async () => {
  const { url, emulator, created } = await startThings();
  emulator.addFaults({ kind: "lose-response", method: "POST", times: 1 });
  const { transport, sleeps } = makeTransport();
  const error = await rejection(transport.request({ method: "POST", url: `${url}/things`, body: { n: 1 } }));
  assert.ok(error instanceof PsaOutcomeUnknownError);
  assert.match(error.message, /may have been applied/);
  assert.equal(created.length, 1, "the write was committed");
  assert.deepEqual(sleeps, []);
  assert.equal(emulator.stats().total, 1);
});

test("a dropped connection on a GET is retried", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "drop-connection", method: "GET", times: 1 });
  const { transport, sleeps } = makeTransport();
  const response = await transport.request({ method: "GET", url: `${url}/things/3` });
  assert.equal(response.status, 200);
  assert.equal(sleeps.length, 1);
});

test("timeout: a POST becomes an unknown outcome, a GET is retried", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "latency", latencyMs: 1000, times: 2 });
  const { transport, sleeps } = makeTransport({ timeoutMs: 100 });

  const postError = await rejection(transport.request({ method: "POST", url: `${url}/things`, body: {} }));
  assert.ok(postError instanceof PsaOutcomeUnknownError);
  // Told apart from a lost answer: the PSA may still be working on it, so a look-up now proves nothing.
  assert.ok(postError instanceof PsaTimedOutError);
  assert.match(postError.message, /timed out after 100 ms/);
  assert.deepEqual(sleeps, []);

  const response = await transport.request({ method: "GET", url: `${url}/things/5` });
  assert.deepEqual(response.body, { id: "5" });
  assert.equal(sleeps.length, 1);
});

test("an explicit idempotent flag makes a POST retryable after a server error", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "server-error", method: "POST", times: 1 });
  const { transport } = makeTransport();
  const response = await transport.request({
    method: "POST",
    url: `${url}/things`,
    body: {},
    idempotent: true,
  });
  assert.equal(response.status, 201);
});

test("the concurrency cap is enforced per key, counted on the server", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  let openGate: () => void = () => {};
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const { url } = await startThings({}, [
    {
      method: "GET",
      pattern: "/slow/:key",
      handler: async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await gate;
        inFlight -= 1;
        return { status: 200, body: {} };
      },
    },
  ]);
  const { transport } = makeTransport({ maxConcurrentPerKey: 2 });
  const calls = ["a", "a", "a", "a", "a", "b", "b", "b"].map((key) =>
    transport.request({ method: "GET", url: `${url}/slow/${key}`, concurrencyKey: key }),
  );
  while (inFlight < 4) await new Promise((resolve) => setTimeout(resolve, 5));
  // Give any request that ignored the cap time to arrive before counting.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(inFlight, 4, "two per key");
  openGate();
  await Promise.all(calls);
  assert.equal(maxInFlight, 4);
  assert.equal(transport.stats().requests, 8);
});

test("secrets in the URL query and headers never appear in errors or log events", async () => {
  const secret = "p@ss/word+1";
  const headerSecret = "Basic c2VjcmV0LWJhc2ljLXRva2Vu";
  const { url, emulator } = await startThings({}, [
    {
      method: "GET",
      pattern: "/echo",
      handler: (ctx) => ({
        status: 400,
        body: {
          code: "InvalidObject",
          message: `bad key ${ctx.query.get("key")} ${ctx.headers.authorization}`,
        },
      }),
    },
  ]);
  const { transport, events } = makeTransport({ secrets: () => [secret, headerSecret], maxAttempts: 2 });
  const query = `key=${encodeURIComponent(secret)}`;
  const headers = { authorization: headerSecret };
  const messages: string[] = [];
  messages.push(
    (await rejection(transport.request({ method: "GET", url: `${url}/echo?${query}`, headers }))).message,
  );
  emulator.addFaults({ kind: "lose-response", method: "POST", times: 1 });
  const lost = transport.request({ method: "POST", url: `${url}/things?${query}`, headers, body: {} });
  messages.push((await rejection(lost)).message);
  const port = await freePort();
  const refused = transport.request({ method: "GET", url: `http://127.0.0.1:${port}/x?${query}`, headers });
  messages.push((await rejection(refused)).message);

  const everything = [...messages, JSON.stringify(events)].join("\n");
  for (const forbidden of [secret, encodeURIComponent(secret), headerSecret, "c2VjcmV0LWJhc2ljLXRva2Vu"]) {
    assert.ok(!everything.includes(forbidden), `leaked ${forbidden}`);
  }
  assert.match(
    messages[0] ?? "",
    /GET http:\/\/127\.0\.0\.1:\d+\/echo\?key=\*\*\* HTTP 400 InvalidObject: bad key \*\*\*/,
  );
  assert.ok(events.some((event) => event.type === "error"));
});

test("error bodies map to typed errors with the server code and messages", async () => {
  const { url } = await startThings({}, [
    {
      method: "POST",
      pattern: "/invalid",
      handler: () => ({
        status: 400,
        body: {
          code: "InvalidObject",
          message: "addition object is invalid",
          errors: [{ code: "MissingRequiredField", message: "product is required.", field: "product" }],
        },
      }),
    },
    {
      method: "GET",
      pattern: "/denied",
      handler: () => ({ status: 401, body: { errors: ["bad credentials"] } }),
    },
  ]);
  const { transport } = makeTransport();
  const invalid = await rejection(transport.request({ method: "POST", url: `${url}/invalid`, body: {} }));
  assert.ok(invalid instanceof PsaValidationError);
  assert.equal(invalid.code, "InvalidObject");
  assert.deepEqual(invalid.details, ["addition object is invalid", "product: product is required."]);
  assert.match(
    invalid.message,
    /^connectwise POST .*\/invalid HTTP 400 InvalidObject: addition object is invalid/,
  );
  assert.ok(
    (await rejection(transport.request({ method: "GET", url: `${url}/denied` }))) instanceof PsaAuthError,
  );
  assert.ok(
    (await rejection(transport.request({ method: "GET", url: `${url}/missing` }))) instanceof
      PsaNotFoundError,
  );
});

test("classifyResponse can turn a refusal into a retry and an error body into a typed error", async () => {
  const { url, emulator, created } = await startThings({
    threadLimitBody: { errors: ["Thread Threshold Exceeded (Itgenatr005)"] },
  });
  // docs/autotask.md §9: the thread-limit refusal may not be a 429.
  emulator.addFaults({ kind: "thread-limit", status: 500, times: 1, method: "POST" });
  emulator.addFaults({
    kind: "server-error",
    status: 500,
    method: "GET",
    body: { errors: ["Unable to find foo"] },
  });
  const { transport, sleeps } = makeTransport({
    vendor: "autotask",
    classifyResponse: (response, request) => {
      const text = JSON.stringify(response.body);
      if (text.includes("Itgenatr005")) return "retry";
      if (response.status === 500) {
        return new PsaValidationError({
          vendor: "autotask",
          method: request.method,
          url: "(hidden)",
          details: [text],
        });
      }
      return undefined;
    },
  });
  const response = await transport.request({ method: "POST", url: `${url}/things`, body: {} });
  assert.equal(response.status, 201);
  assert.equal(created.length, 1);
  assert.equal(sleeps.length, 1);

  const error = await rejection(transport.request({ method: "GET", url: `${url}/things/1` }));
  assert.ok(error instanceof PsaValidationError);
  assert.equal(sleeps.length, 1, "a hook error is final");
});

test("stats count requests, attempts, retries, methods and statuses, and reset", async () => {
  const { url, emulator } = await startThings();
  emulator.addFaults({ kind: "server-error", method: "GET", nth: [1] });
  const { transport } = makeTransport();
  await transport.request({ method: "GET", url: `${url}/things/1` });
  await transport.request({ method: "POST", url: `${url}/things`, body: {} });
  assert.deepEqual(transport.stats(), {
    requests: 2,
    attempts: 3,
    retries: 1,
    byMethod: { GET: 2, POST: 1 },
    byStatus: { "503": 1, "200": 1, "201": 1 },
  });
  transport.resetStats();
  assert.deepEqual(transport.stats(), { requests: 0, attempts: 0, retries: 0, byMethod: {}, byStatus: {} });
});

describe("client-side pacing", () => {
  it("allows a burst, then starts attempts no faster than the configured rate", async () => {
    let now = 0;
    const waits: number[] = [];
    const server = createEmulatorServer({
      name: "pacing",
      routes: [{ method: "GET", pattern: "/ok", handler: () => ({ status: 200, body: {} }) }],
    });
    const { url } = await server.listen();
    try {
      const transport = new PsaTransport({
        vendor: "connectwise",
        maxConcurrentPerKey: 1,
        secrets: () => [],
        now: () => now,
        sleep: async (ms) => {
          waits.push(ms);
          now += ms;
        },
        pacing: { perMinute: 600, burst: 3 },
      });
      for (let i = 0; i < 6; i++) await transport.request({ method: "GET", url: `${url}/ok` });
      // 600/min is one every 100 ms: three go at once, then each waits for its token.
      assert.deepEqual(waits, [100, 100, 100]);
    } finally {
      await server.close();
    }
  });
});
