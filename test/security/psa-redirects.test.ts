import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { connectAutotaskClient } from "../../src/psa/autotask/adapter.ts";
import { DEMO_API_USER, startAutotaskEmulator } from "../../emulators/autotask/index.ts";
import type { AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { startConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import type { ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { connectWiseClientOptions, createAdapter } from "../../src/psa/factory.ts";
import type { AdapterOptions } from "../../src/psa/factory.ts";
import { PsaError, PsaOutcomeUnknownError, PsaRedirectError } from "../../src/psa/shared/errors.ts";
import { PsaTransport } from "../../src/psa/shared/transport.ts";
import { assertHostAllowed, HostNotAllowedError } from "../../src/security/hosts.ts";
import type { ConnectionDetails } from "../../src/services/connections.ts";
import { startHarness, type Client, type Harness } from "../http/helpers.ts";
import { DIALECTS } from "../support/stores.ts";

/**
 * Attacks on the PSA credentials through the PSA's own answers: an allowed host redirecting elsewhere, a
 * nextPageUrl or zone pointing elsewhere, zone discovery receiving credentials. Everything runs on real
 * local servers: an allowed "front" (proxying to the vendor's emulator unless told to answer itself) and a
 * "collector" that must never hear from cspsync.
 */

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };
type Answer = { status: number; headers?: Record<string, string>; body?: unknown };
type Rule = (request: Seen) => Answer | undefined;

type LocalServer = { url: string; host: string; seen: Seen[]; close(): Promise<void> };

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A local server recording every request; closed after each test unless `keep` (the caller closes it). */
async function listen(
  handle: (seen: Seen, res: http.ServerResponse) => void,
  keep = false,
): Promise<LocalServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const entry = {
        method: req.method ?? "GET",
        url: req.url ?? "/",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      seen.push(entry);
      handle(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const local: LocalServer = {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  if (!keep) servers.push(local);
  return local;
}

function reply(res: http.ServerResponse, answer: Answer): void {
  const text = answer.body === undefined ? "" : JSON.stringify(answer.body);
  res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
  res.end(text);
}

/** Would happily accept anything: it answers 200 so that a leak would look like success. */
function startCollector(keep = false): Promise<LocalServer> {
  return listen((_seen, res) => reply(res, { status: 200, body: { item: null, itemId: 1 } }), keep);
}

/** Proxies to `upstream` (keeping the Host header, so the emulators hand out the front's URLs) unless `rule` answers. */
function startFront(upstream: string, rule: () => Rule | undefined, keep = false): Promise<LocalServer> {
  const target = new URL(upstream);
  return listen((seen, res) => {
    const answer = rule()?.(seen);
    if (answer) return reply(res, answer);
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: seen.method,
        path: seen.url,
        headers: seen.headers,
      },
      (upstreamResponse) => {
        res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        upstreamResponse.pipe(res);
      },
    );
    forward.on("error", () => reply(res, { status: 502 }));
    forward.end(seen.body);
  }, keep);
}

const redirectTo =
  (status: number, where: () => string, when: (seen: Seen) => boolean): Rule =>
  (seen) =>
    when(seen) ? { status, headers: { location: `${where()}${seen.url}` } } : undefined;

/** Nothing reached the collector: no request at all, so no header value either. */
function assertNothingCollected(collector: LocalServer, secrets: readonly string[]): void {
  const everything = collector.seen.map((s) => `${JSON.stringify(s.headers)}\n${s.body}`).join("\n");
  for (const secret of secrets) assert.ok(!everything.includes(secret), "a credential reached the collector");
  assert.deepEqual(
    collector.seen.map((s) => `${s.method} ${s.url}`),
    [],
    "the collector received a request",
  );
}

const NOT_ALLOWED = /which is not an allowed host; nothing was sent there/;
const ANOTHER_HOST = /which is another host; cspsync does not forward credentials across hosts/;

// ------------------------------------------------------------------------------------------- ConnectWise

describe("ConnectWise: redirects never carry the credentials off the allowed host", () => {
  let emulator: ConnectWiseEmulator;
  let rule: Rule | undefined;
  const credentials = { companyId: "redirecttest", publicKey: "pub-key-1234", privateKey: "Pr1v-Key-9876" };
  const clientId = "5b1f0a8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
  const basic = Buffer.from(
    `${credentials.companyId}+${credentials.publicKey}:${credentials.privateKey}`,
  ).toString("base64");
  const secrets = [credentials.privateKey, basic, clientId];

  before(async () => {
    emulator = await startConnectWiseEmulator({ seed: "demo", credentials });
  });
  after(() => emulator.close());
  afterEach(() => {
    rule = undefined;
  });

  const details = (site: string): Extract<ConnectionDetails, { vendor: "connectwise" }> => ({
    vendor: "connectwise",
    config: { site, companyId: credentials.companyId, publicKey: credentials.publicKey, clientId },
    secrets: { privateKey: credentials.privateKey },
    settings: { catalogMatch: "either" },
  });
  const options = (allowedHosts: string[]): AdapterOptions => ({
    allowedHosts,
    transport: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 5_000 },
  });
  const client = (front: LocalServer, allowedHosts = [front.host]) =>
    new ConnectWiseClient(connectWiseClientOptions(details(front.url), options(allowedHosts)));

  for (const status of [302, 307]) {
    it(`a GET answered ${status} to another host fails with PsaRedirectError naming it; nothing is sent there`, async () => {
      const collector = await startCollector();
      const front = await startFront(emulator.url, () => rule);
      rule = redirectTo(
        status,
        () => collector.url,
        (s) => s.url.includes("/company/companies/"),
      );
      const error = await client(front)
        .getCompany(250)
        .catch((e: unknown) => e);
      assert.ok(error instanceof PsaRedirectError, String(error));
      assert.equal(error.status, status);
      assert.ok(error.message.includes(`redirect to ${collector.url}/`), error.message);
      assert.match(error.message, NOT_ALLOWED);
      assertNothingCollected(collector, secrets);
    });

    it(`a POST (an addition) answered ${status} is refused, never replayed: its body goes nowhere`, async () => {
      const collector = await startCollector();
      const front = await startFront(emulator.url, () => rule);
      rule = redirectTo(
        status,
        () => collector.url,
        (s) => s.method === "POST",
      );
      const error = await client(front)
        .createAddition(1, {
          product: { id: 1 },
          billCustomer: "Billable",
          quantity: "5",
          unitPrice: "22.10",
          effectiveDate: "2025-03-01",
          syncKey: "cspsync:redirect-test-1",
        })
        .catch((e: unknown) => e);
      assert.ok(error instanceof PsaRedirectError, String(error));
      assert.ok(error.message.includes(`redirect to ${collector.url}/`), error.message);
      assert.match(error.message, NOT_ALLOWED);
      assert.match(error.message, /does not re-send a POST/);
      assertNothingCollected(collector, secrets);
      assert.equal(front.seen.filter((s) => s.method === "POST").length, 1, "sent once, to the allowed host");
    });

    it(`the connection test reports a ${status} redirect as a failed check, with the target named`, async () => {
      const collector = await startCollector();
      const front = await startFront(emulator.url, () => rule);
      rule = redirectTo(
        status,
        () => collector.url,
        (s) => s.url.includes("/system/info"),
      );
      const adapter = await createAdapter(details(front.url), options([front.host]));
      const result = await adapter.testConnection();
      assert.equal(result.ok, false);
      assert.ok(result.message.includes(`redirect to ${collector.url}/`), result.message);
      assert.match(result.message, NOT_ALLOWED);
      assertNothingCollected(collector, secrets);
    });
  }

  it("an allow-listed but different host is not followed either: credentials never cross hosts", async () => {
    const collector = await startCollector();
    const front = await startFront(emulator.url, () => rule);
    rule = redirectTo(
      302,
      () => collector.url,
      (s) => s.url.includes("/company/companies/"),
    );
    const error = await client(front, [front.host, collector.host])
      .getCompany(250)
      .catch((e: unknown) => e);
    assert.ok(error instanceof PsaRedirectError, String(error));
    assert.match(error.message, ANOTHER_HOST);
    assertNothingCollected(collector, secrets);
  });

  it("a same-origin redirect of a GET is followed (a few hops at most)", async () => {
    const front = await startFront(emulator.url, () => rule);
    const healthy = client(front);
    const [company] = await healthy.listCompanies({ pageSize: 1 });
    assert.ok(company);
    rule = (seen) =>
      seen.url.includes("/company/companies/999999")
        ? { status: 301, headers: { location: seen.url.replace("999999", String(company.id)) } }
        : undefined;
    assert.equal((await healthy.getCompany(999999)).id, company.id);

    rule = (seen) =>
      seen.url.includes("/company/companies/")
        ? {
            status: 302,
            headers: { location: seen.url.replace(/\/(\d+)$/, (_m, id: string) => `/${Number(id) + 1}`) },
          }
        : undefined;
    const loop = await healthy.getCompany(1).catch((e: unknown) => e);
    assert.ok(loop instanceof PsaRedirectError, String(loop));
    assert.match(loop.message, /more than 3 redirects/);
  });

  it("a same-origin redirect of a write is refused, not re-sent; a 303 leaves the outcome unknown", async () => {
    const front = await startFront(emulator.url, () => rule);
    const addition = {
      product: { id: 1 },
      billCustomer: "Billable" as const,
      quantity: "1",
      effectiveDate: "2025-03-01",
    };
    rule = (seen) =>
      seen.method === "POST" ? { status: 307, headers: { location: `${seen.url}/elsewhere` } } : undefined;
    const refused = await client(front)
      .createAddition(1, addition)
      .catch((e: unknown) => e);
    assert.ok(refused instanceof PsaRedirectError, String(refused));
    assert.match(
      refused.message,
      /does not re-send a POST to a redirect, and a redirect means the PSA did not apply it/,
    );
    assert.equal(front.seen.filter((s) => s.method === "POST").length, 1);

    rule = (seen) =>
      seen.method === "POST" ? { status: 303, headers: { location: `${seen.url}/42` } } : undefined;
    const unknown = await client(front)
      .createAddition(1, addition)
      .catch((e: unknown) => e);
    assert.ok(unknown instanceof PsaOutcomeUnknownError, String(unknown));
    assert.match(unknown.message, /can mean the PSA applied it/);
  });
});

// ------------------------------------------------------------------------------------------- Autotask

describe("Autotask: redirects, paging and zones never carry the credentials off the allowed host", () => {
  let emulator: AutotaskEmulator;
  let rule: Rule | undefined;
  const secrets = [DEMO_API_USER.secret, DEMO_API_USER.integrationCode, DEMO_API_USER.userName];
  const CREDENTIAL_HEADERS = ["username", "secret", "apiintegrationcode"];

  before(async () => {
    emulator = await startAutotaskEmulator({ now: () => new Date("2025-06-15T12:00:00Z") });
  });
  after(() => emulator.close());
  afterEach(() => {
    rule = undefined;
  });

  const details = (front: LocalServer): Extract<ConnectionDetails, { vendor: "autotask" }> => ({
    vendor: "autotask",
    config: { username: DEMO_API_USER.userName, discoveryUrl: `${front.url}/atservicesrest/v1.0/` },
    secrets: { secret: DEMO_API_USER.secret, integrationCode: DEMO_API_USER.integrationCode },
    settings: {},
  });
  const options = (allowedHosts: string[]): AdapterOptions => ({
    allowedHosts,
    transport: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 5_000 },
  });
  const connect = (front: LocalServer, allowedHosts = [front.host]) =>
    connectAutotaskClient(details(front), options(allowedHosts));

  for (const status of [302, 307]) {
    it(`a GET answered ${status} to another host fails with PsaRedirectError naming it; nothing is sent there`, async () => {
      const collector = await startCollector();
      const front = await startFront(emulator.url, () => rule);
      const client = await connect(front);
      rule = redirectTo(
        status,
        () => collector.url,
        (s) => /\/Companies\/\d+$/i.test(s.url),
      );
      const error = await client.companies.get(1001).catch((e: unknown) => e);
      assert.ok(error instanceof PsaRedirectError, String(error));
      assert.equal(error.status, status);
      assert.ok(error.message.includes(`redirect to ${collector.url}/`), error.message);
      assert.match(error.message, NOT_ALLOWED);
      assertNothingCollected(collector, secrets);
    });

    it(`a POST (a contract charge) answered ${status} is refused, never replayed: its body goes nowhere`, async () => {
      const collector = await startCollector();
      const front = await startFront(emulator.url, () => rule);
      const client = await connect(front);
      rule = redirectTo(
        status,
        () => collector.url,
        (s) => s.method === "POST" && /\/Charges$/i.test(s.url),
      );
      const error = await client.contractCharges
        .create(29684001, {
          name: "Microsoft 365 E3 (Annual)",
          datePurchased: "2025-06-01",
          chargeType: 1,
          unitQuantity: "5",
          unitPrice: "34.55",
        })
        .catch((e: unknown) => e);
      assert.ok(error instanceof PsaRedirectError, String(error));
      assert.ok(error.message.includes(`redirect to ${collector.url}/`), error.message);
      assert.match(error.message, NOT_ALLOWED);
      assertNothingCollected(collector, secrets);
      assert.equal(
        front.seen.filter((s) => /\/Charges$/i.test(s.url)).length,
        1,
        "sent once, to the allowed host",
      );
    });

    it(`the connection test reports a ${status} redirect as a failed test, with the target named`, async () => {
      const collector = await startCollector();
      const front = await startFront(emulator.url, () => rule);
      rule = redirectTo(
        status,
        () => collector.url,
        (s) => /ThresholdInformation/i.test(s.url),
      );
      const adapter = await createAdapter(details(front), options([front.host]));
      const result = await adapter.testConnection();
      assert.equal(result.ok, false);
      assert.ok(result.message.includes(`redirect to ${collector.url}/`), result.message);
      assert.match(result.message, NOT_ALLOWED);
      assertNothingCollected(collector, secrets);
    });
  }

  it("a redirect of zone discovery is not followed", async () => {
    const collector = await startCollector();
    const front = await startFront(emulator.url, () => rule);
    rule = redirectTo(
      302,
      () => collector.url,
      (s) => /zoneInformation/i.test(s.url),
    );
    const error = await connect(front).catch((e: unknown) => e);
    assert.ok(error instanceof PsaRedirectError, String(error));
    assert.match(error.message, NOT_ALLOWED);
    assertNothingCollected(collector, secrets);
  });

  it("zone discovery is sent without the credential headers; later requests carry them", async () => {
    const front = await startFront(emulator.url, () => undefined);
    const client = await connect(front);
    await client.companies.get(1001);
    const discovery = front.seen.filter((s) => /zoneInformation/i.test(s.url));
    assert.equal(discovery.length, 1);
    for (const header of CREDENTIAL_HEADERS)
      assert.equal(discovery[0]!.headers[header], undefined, `${header} was sent to zone discovery`);
    const text = JSON.stringify(discovery[0]!.headers);
    assert.ok(!text.includes(DEMO_API_USER.secret) && !text.includes(DEMO_API_USER.integrationCode));
    const read = front.seen.find((s) => /\/Companies\/1001$/i.test(s.url));
    assert.equal(read?.headers.secret, DEMO_API_USER.secret);
  });

  it("a zone on a host that is not allowed is refused before credentials go there", async () => {
    const collector = await startCollector();
    const front = await startFront(emulator.url, () => rule);
    rule = (seen) =>
      /zoneInformation/i.test(seen.url)
        ? { status: 200, body: { zoneName: "Elsewhere", url: `${collector.url}/ATServicesRest/` } }
        : undefined;
    const error = await connect(front).catch((e: unknown) => e);
    assert.ok(error instanceof HostNotAllowedError, String(error));
    assert.match(error.message, /nothing was sent/);
    assertNothingCollected(collector, secrets);
  });

  it("a nextPageUrl pointing to a host that is not allowed is refused before any request goes there", async () => {
    const collector = await startCollector();
    const front = await startFront(emulator.url, () => rule);
    const client = await connect(front);
    rule = (seen) =>
      /\/Companies\/query$/i.test(seen.url)
        ? {
            status: 200,
            body: {
              items: [{ id: 1001, companyName: "First page" }],
              pageDetails: {
                count: 1,
                requestCount: 1,
                prevPageUrl: null,
                nextPageUrl: `${collector.url}/ATServicesRest/V1.0/Companies/query/next?paging=%7B%7D`,
              },
            },
          }
        : undefined;
    const error = await client.companies
      .queryAll([client.companies.where.contains("companyName", "a")])
      .catch((e: unknown) => e);
    assert.ok(error instanceof PsaError, String(error));
    assert.match(
      error.message,
      /nextPageUrl points outside the Autotask zone; not followed, nothing was sent there/,
    );
    assertNothingCollected(collector, secrets);
  });
});

// ------------------------------------------------------------------------------------------- transport

describe("PsaTransport: checkUrl is asked before every attempt", () => {
  it("a refused URL fails with the check's error and nothing is sent", async () => {
    const collector = await startCollector();
    const transport = new PsaTransport({
      vendor: "autotask",
      maxConcurrentPerKey: 1,
      secrets: () => [],
      checkUrl: (url) => assertHostAllowed(url, "autotask", []),
    });
    const error = await transport
      .request({ method: "GET", url: `${collector.url}/ATServicesRest/V1.0/Companies/query/next` })
      .catch((e: unknown) => e);
    assert.ok(error instanceof HostNotAllowedError, String(error));
    assert.match(error.message, /is not a public autotask API host.*nothing was sent/);
    assert.equal(collector.seen.length, 0);
  });
});

// ------------------------------------------------------------------------------------------- HTTP API

for (const dialect of DIALECTS) {
  describe(`POST /api/connections/:id/test reports a redirect as a failed test (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let cw: ConnectWiseEmulator;
    let at: AutotaskEmulator;
    let cwFront: LocalServer;
    let atFront: LocalServer;
    let discoveryFront: LocalServer;
    let collector: LocalServer;
    const redirectAll: Rule = (seen) =>
      /zoneInformation|companyinfo/i.test(seen.url)
        ? undefined
        : { status: 307, headers: { location: `${collector.url}${seen.url}` } };

    before(async () => {
      cw = await startConnectWiseEmulator({ seed: "demo" });
      at = await startAutotaskEmulator({ now: () => new Date("2025-06-15T12:00:00Z") });
      collector = await startCollector(true);
      cwFront = await startFront(cw.url, () => redirectAll, true);
      atFront = await startFront(at.url, () => redirectAll, true);
      const redirectDiscovery = redirectTo(
        302,
        () => collector.url,
        () => true,
      );
      discoveryFront = await startFront(at.url, () => redirectDiscovery, true);
      h = await startHarness(dialect, { allowedHosts: [cwFront.host, atFront.host, discoveryFront.host] });
      admin = h.client();
      await admin.setup();
    });
    after(async () => {
      await h.cleanup();
      await Promise.all(
        [cw, at, collector, cwFront, atFront, discoveryFront].map((server) => server.close()),
      );
    });

    it("for ConnectWise and Autotask: 200 with ok false, the target named, stored as lastTest", async () => {
      const created = [
        await admin.post("/api/connections", {
          vendor: "connectwise",
          name: "CW behind a redirect",
          config: {
            site: cwFront.url,
            companyId: cw.credentials.companyId,
            publicKey: cw.credentials.publicKey,
            clientId: "00000000-0000-4000-8000-00000000c11e",
          },
          secrets: { privateKey: cw.credentials.privateKey },
        }),
        await admin.post("/api/connections", {
          vendor: "autotask",
          name: "Autotask behind a redirect",
          config: { username: DEMO_API_USER.userName, discoveryUrl: `${atFront.url}/atservicesrest/v1.0/` },
          secrets: { secret: DEMO_API_USER.secret, integrationCode: DEMO_API_USER.integrationCode },
        }),
        await admin.post("/api/connections", {
          vendor: "autotask",
          name: "Autotask discovery behind a redirect",
          config: {
            username: DEMO_API_USER.userName,
            discoveryUrl: `${discoveryFront.url}/atservicesrest/v1.0/`,
          },
          secrets: { secret: DEMO_API_USER.secret, integrationCode: DEMO_API_USER.integrationCode },
        }),
      ];
      for (const reply of created) {
        assert.equal(reply.status, 201, reply.text);
        const id = (reply.body as { connection: { id: string } }).connection.id;
        const test = await admin.post(`/api/connections/${id}/test`);
        assert.equal(test.status, 200, test.text);
        const result = test.body as { ok: boolean; message: string };
        assert.equal(result.ok, false);
        assert.ok(result.message.includes(`redirect to ${collector.url}/`), result.message);
        assert.match(result.message, NOT_ALLOWED);
        const view = await admin.get(`/api/connections/${id}`);
        const lastTest = (view.body as { connection: { lastTest: { ok: boolean; message: string } } })
          .connection.lastTest;
        assert.deepEqual([lastTest.ok, lastTest.message], [false, result.message]);
      }
      assertNothingCollected(collector, [
        cw.credentials.privateKey,
        DEMO_API_USER.secret,
        DEMO_API_USER.integrationCode,
      ]);
    });
  });
}
