import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { createApp } from "../src/app.ts";
import { importReconFile } from "../src/services/import-recon.ts";
import { startConnectWiseEmulator } from "../emulators/connectwise/index.ts";
import { startAutotaskEmulator } from "../emulators/autotask/index.ts";
import { AutotaskClient } from "../src/psa/autotask/client.ts";
import { generateAnnualRecon } from "./generate-recon.ts";

/**
 * npm run bench:sync -- [--per-customer 20] [--latency 50]
 * Syncs annual charges for the 12 demo companies into each emulator with network latency on, and reports
 * PSA requests per synced charge and wall time next to the lower bounds the PSAs' limits allow.
 */
const { values } = parseArgs({
  options: { "per-customer": { type: "string", default: "20" }, latency: { type: "string", default: "50" } },
});
const perCustomer = Number(values["per-customer"]);
const latencyMs = Number(values.latency);
const CUSTOMERS = 12;

type Result = {
  vendor: string;
  charges: number;
  requests: number;
  writes: number;
  seconds: number;
  lowerBoundSeconds: number;
  bound: string;
};

async function benchVendor(
  vendor: "connectwise" | "autotask",
  dir: string,
  sample: string,
  tenants: string[],
): Promise<Result> {
  const emulator =
    vendor === "connectwise"
      ? await startConnectWiseEmulator({ seed: "demo", latencyMs })
      : await startAutotaskEmulator({ seed: "demo", latencyMs });
  const env = {
    CSPSYNC_DATA_DIR: path.join(dir, vendor),
    CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
    CSPSYNC_PSA_ALLOWED_HOSTS: new URL(emulator.url).host,
  };
  const app = await createApp({ databaseUrl: `sqlite:${path.join(dir, `${vendor}.db`)}`, env });
  try {
    await importReconFile(app.store, sample);
    let connectionId: string;
    if (vendor === "connectwise") {
      const cw = emulator as Awaited<ReturnType<typeof startConnectWiseEmulator>>;
      connectionId = (
        await app.connections.create({
          vendor,
          name: "CW",
          config: {
            site: cw.url,
            companyId: cw.credentials.companyId,
            publicKey: cw.credentials.publicKey,
            clientId: "00000000-0000-4000-8000-00000000b3c4",
          },
          secrets: { privateKey: cw.credentials.privateKey },
          settings: { fallbackCatalogItem: "O365-E1" },
        })
      ).id;
    } else {
      const at = emulator as Awaited<ReturnType<typeof startAutotaskEmulator>>;
      const user = at.users[0]!;
      const client = new AutotaskClient({
        credentials: { userName: user.userName, secret: user.secret, integrationCode: user.integrationCode },
        discoveryBaseUrl: at.apiBaseUrl,
      });
      const [code] = await client.billingCodes.queryAll([
        client.billingCodes.where.eq("name", "Software Licences"),
      ]);
      connectionId = (
        await app.connections.create({
          vendor,
          name: "AT",
          config: { username: user.userName, discoveryUrl: at.apiBaseUrl },
          secrets: { secret: user.secret, integrationCode: user.integrationCode },
          settings: { chargeBillingCodeId: code!.id },
        })
      ).id;
    }
    const adapter = await app.adapterFor(connectionId);
    const targets: { companyId: string; agreementId: string }[] = [];
    for (const company of await adapter.searchCompanies("")) {
      const target = (await adapter.listAgreements(company.id)).find((a) => a.validFor["seat-annual"].ok);
      if (target) targets.push({ companyId: company.id, agreementId: target.id });
    }
    for (const [i, tenant] of tenants.entries()) {
      const target = targets[i % targets.length]!;
      await app.mappings.save(
        connectionId,
        tenant,
        "seat-annual",
        { psaCompanyId: target.companyId, agreementId: target.agreementId },
        adapter,
      );
    }
    const sync = await app.annualSync(connectionId);
    const started = process.hrtime.bigint();
    const run = await sync.run("cli");
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (run.errors > 0)
      throw new Error(
        `${vendor}: ${run.errors} errors: ${run.items.find((i) => i.outcome === "error")?.message}`,
      );
    const charges = run.written;
    // One write per charge is the floor. ConnectWise: ~1000 requests/minute before throttling, which the client
    // paces itself under (900/min after a burst of 90; docs/connectwise.md §7.3), and the client's 4
    // connections at the given latency. Autotask: 3 concurrent requests per endpoint and 10,000 requests per
    // hour (docs/autotask.md §10).
    const concurrency = adapter.writeConcurrency;
    const byLatency = (charges * latencyMs) / 1000 / concurrency;
    // ConnectWise: the client's own pacing (900/min after a burst of 90) is what the threshold allows it.
    // Autotask: 10,000 requests per hour only bind beyond 10,000 requests, so here the thread limit does.
    const byRate =
      vendor === "connectwise"
        ? Math.max(0, run.psaRequests - 90) / (900 / 60)
        : Math.max(0, run.psaRequests - 10_000) / (10_000 / 3600);
    const lowerBoundSeconds = Math.max(byLatency, byRate);
    return {
      vendor,
      charges,
      requests: run.psaRequests,
      writes: charges,
      seconds,
      lowerBoundSeconds,
      bound: `writes × latency / ${concurrency} concurrent = ${byLatency.toFixed(1)} s; rate limit ${byRate.toFixed(1)} s (${vendor === "connectwise" ? "900/min after a burst of 90, under ≈1000/min" : "10,000/h"})`,
    };
  } finally {
    await app.close();
    await emulator.close();
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-sync-"));
const sample = path.join(dir, "annual.csv");
const tenants = await generateAnnualRecon(sample, CUSTOMERS, perCustomer);
console.log(
  `${CUSTOMERS} customers × ${perCustomer} annual purchases, emulator latency ${latencyMs} ms; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}\n`,
);
for (const vendor of ["connectwise", "autotask"] as const) {
  const r = await benchVendor(vendor, dir, sample, tenants);
  console.log(
    `${r.vendor.padEnd(11)} ${r.charges} charges  ${r.requests} PSA requests (${(r.requests / r.charges).toFixed(2)} per charge, minimum 1.00)  ` +
      `${r.seconds.toFixed(1)} s wall  (${(r.seconds / r.lowerBoundSeconds).toFixed(2)}× the minimum the limits allow)\n            minimum: ${r.bound}`,
  );
}
fs.rmSync(dir, { recursive: true, force: true });
