import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/server.ts";
import { connectWiseCatalogSettingsSchema } from "../../src/psa/connectwise/catalog-settings.ts";
import { DEFAULT_MAX_CONCURRENT } from "../../src/psa/connectwise/client.ts";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import * as where from "../../src/psa/connectwise/conditions.ts";
import { createConnection } from "../../src/psa/factory.ts";
import type { AzureMonthLine } from "../../src/core/azure-plan.ts";
import type { PsaConnection } from "../../src/psa/port.ts";
import { RequestBudgets, type RequestBudget } from "../../src/psa/shared/transport.ts";
import { CLIENT_ID, NOW } from "./connectwise/support.ts";

/**
 * One stored connection has ONE rate and concurrency budget, whatever the motions do: the factory's connection
 * puts the annual adapter, the monthly and Azure targets and the catalog target on one client. Checked on the
 * wire: every request goes through a counting front (a local proxy to the ConnectWise emulator), and the reads
 * of all motions, started at once, never have more requests in flight there than one client's cap, and are
 * counted once (every target reports the connection's one count, equal to what the front saw).
 */

type Front = {
  url: string;
  host: string;
  total: number;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
};

/** Forwards to the emulator (keeping the Host header, so paging links name the front) and counts. */
async function startCountingFront(upstream: string): Promise<Front> {
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    front.total += 1;
    front.inFlight += 1;
    front.maxInFlight = Math.max(front.maxInFlight, front.inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      front.inFlight -= 1;
    };
    res.on("close", finish);
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const front: Front = {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    total: 0,
    inFlight: 0,
    maxInFlight: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return front;
}

describe("one connection, one rate and concurrency budget across motions (ConnectWise)", () => {
  let emulator: ConnectWiseEmulator;
  let front: Front;
  let connection: PsaConnection;
  let companyId: string;
  let agreementId: string;

  before(async () => {
    // Each answer takes a while, so requests started together really are in flight together.
    emulator = await startConnectWiseEmulator({ now: () => NOW, latencyMs: 40 });
    front = await startCountingFront(emulator.url);
    connection = await createConnection(
      {
        vendor: "connectwise",
        config: {
          site: front.url,
          companyId: emulator.credentials.companyId,
          publicKey: emulator.credentials.publicKey,
          clientId: CLIENT_ID,
        },
        secrets: { privateKey: emulator.credentials.privateKey },
        settings: { catalogMatch: "identifier" },
      },
      { allowedHosts: [front.host], transport: { timeoutMs: 10_000 } },
    );
    // Looked up on the emulator directly, not through the front: only the motions' reads are counted there.
    const setup = new ConnectWiseClient({
      siteUrl: emulator.url,
      ...emulator.credentials,
      clientId: CLIENT_ID,
      transport: { timeoutMs: 10_000 },
    });
    const [company] = await setup.listCompanies({ conditions: where.eq("identifier", "AdventureWorks") });
    assert.ok(company, "the demo seed has AdventureWorks");
    companyId = String(company.id);
    const agreement = (await setup.listAgreementsForCompany(company.id)).find((a) =>
      a.name.startsWith("Microsoft CSP -"),
    );
    assert.ok(agreement, "AdventureWorks has a recurring agreement");
    agreementId = String(agreement.id);
  });

  after(async () => {
    await front?.close();
    await emulator?.close();
  });

  it("sends the reads of every motion through one client: never more in flight than its cap, counted once", async () => {
    const catalog = connection.catalog({
      vendor: "connectwise",
      catalog: connectWiseCatalogSettingsSchema.parse({}),
    });
    const reads: Promise<unknown>[] = [];
    for (let round = 0; round < 4; round++) {
      // Seat-based Annual (and connection-level reads): companies and agreements.
      reads.push(connection.annual.searchCompanies("Adventure"));
      reads.push(connection.annual.listAgreements(companyId));
      // Seat-based Monthly: what cspsync wrote to the agreement.
      reads.push(
        connection.monthly.planMonthly(
          {
            connectionId: "c-1",
            customerTenantId: "t-1",
            startPoint: "next",
            startInvoice: null,
            pricing: { strategy: "cost-only" },
          },
          agreementId,
          { timelines: [], invoices: [], skipped: [] },
        ),
      );
      // Azure Plan: a month looked up by its write key.
      reads.push(
        connection.azure.findAzureMonth(agreementId, {
          writeKey: `cspsync-${String(round).padStart(24, "0")}`,
        } as AzureMonthLine),
      );
      // Product catalog.
      reads.push(catalog.read());
    }
    await Promise.all(reads);

    assert.ok(front.total >= reads.length, `every read reached the PSA (${front.total} requests)`);
    assert.ok(
      front.maxInFlight <= DEFAULT_MAX_CONCURRENT,
      `at most ${DEFAULT_MAX_CONCURRENT} requests of the connection in flight at once, saw ${front.maxInFlight}`,
    );
    assert.ok(front.maxInFlight >= 2, `the motions' reads overlapped (saw ${front.maxInFlight} at once)`);
    // Counted once: the connection and each of its targets report the same count, the one the PSA saw.
    assert.equal(connection.requestCount(), front.total);
    assert.equal(connection.annual.requestCount(), front.total);
    assert.equal(connection.monthly.requestCount(), front.total);
    assert.equal(connection.azure.requestCount(), front.total);
    assert.equal(catalog.requestCount(), front.total);
  });

  it("shares one budget between connections built for the same stored connection (two syncs at once)", async () => {
    const details = {
      vendor: "connectwise" as const,
      config: {
        site: front.url,
        companyId: emulator.credentials.companyId,
        publicKey: emulator.credentials.publicKey,
        clientId: CLIENT_ID,
      },
      secrets: { privateKey: emulator.credentials.privateKey },
      settings: { catalogMatch: "identifier" as const },
    };
    /** Reads of two connections at once (a billing sync and a product sync, say); the most in flight. */
    const overlap = async (budgetOf: (sync: number) => RequestBudget | undefined) => {
      const [billing, products] = await Promise.all(
        [0, 1].map((sync) =>
          createConnection(details, {
            allowedHosts: [front.host],
            transport: { timeoutMs: 10_000, budget: budgetOf(sync) },
          }),
        ),
      );
      front.maxInFlight = 0;
      const reads: Promise<unknown>[] = [];
      for (let round = 0; round < 6; round++) {
        reads.push(billing!.annual.searchCompanies("Adventure"), products!.annual.searchCompanies("Contoso"));
      }
      await Promise.all(reads);
      return front.maxInFlight;
    };
    const budgets = new RequestBudgets();
    const shared = await overlap(() => budgets.for("connection-1"));
    assert.ok(
      shared <= DEFAULT_MAX_CONCURRENT,
      `one budget: at most ${DEFAULT_MAX_CONCURRENT}, saw ${shared}`,
    );
    assert.ok(shared >= 2, `the two connections' reads overlapped (saw ${shared} at once)`);
    // The control: without the shared budget each client has a cap of its own, and together they exceed it.
    const separate = await overlap((sync) => budgets.for(`connection-${sync + 2}`));
    assert.ok(separate > DEFAULT_MAX_CONCURRENT, `two budgets let more through (saw ${separate} at once)`);
  });

  it("has the factory's connection refuse a host outside the allow-list before any request", async () => {
    const before = front.total;
    await assert.rejects(
      createConnection(
        {
          vendor: "connectwise",
          config: { site: front.url, companyId: "x", publicKey: "y", clientId: CLIENT_ID },
          secrets: { privateKey: "z" },
          settings: { catalogMatch: "identifier" },
        },
        { allowedHosts: ["psa.example.com"] },
      ),
      /not allowed|allow/i,
    );
    assert.equal(front.total, before);
  });
});
