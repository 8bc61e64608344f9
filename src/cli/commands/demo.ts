import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createApp, type App } from "../../app.ts";
import type { AutotaskEmulator } from "../../../emulators/autotask/index.ts";
import { ConnectWiseClient } from "../../psa/connectwise/client.ts";
import type { ConnectWiseEmulator } from "../../../emulators/connectwise/index.ts";
import { ensurePrivateDir } from "../../security/files.ts";
import { importReconFile } from "../../services/import-recon.ts";
import { PriceListService } from "../../services/price-lists.ts";
import { UsageError } from "../output.ts";

export const demoHelp = `cspsync demo [--port N] [--host H]

Starts a complete cspsync to try out, on this machine only: a fresh SQLite database in ./data/demo (wiped
at every start), the bundled sample billing data and Microsoft price list imported, ConnectWise and Autotask emulators with demo
companies and agreements, both connected with Seat-based Annual subscription sync on, and a demo admin whose
password is printed. Open the printed URL, pick a customer under Microsoft CSP, map its Seat-based Annual
entry and press "Sync now". Builds the web app first if web/dist is missing. Stop it with Ctrl+C.`;

const REPO_ROOT = path.resolve(import.meta.dirname, "../../..");
export const WEB_DIR = path.join(REPO_ROOT, "web");
export const WEB_DIST = path.join(WEB_DIR, "dist");
const SAMPLES_DIR = path.join(REPO_ROOT, "samples");
const DEMO_EMAIL = "demo@cspsync.local";
const DEMO_PORT = 8080;
/** A fallback catalog item the demo adds to the emulated ConnectWise, so every sample product finds one. */
const CW_FALLBACK_ITEM = "CSP-LICENSE";
const CW_CLIENT_ID = "00000000-0000-4000-8000-00000000c11e";

/** Builds the web app with Vite (a development dependency, loaded only when a build is needed). */
export async function buildWebApp(outDir: string = WEB_DIST): Promise<void> {
  const { build } = await import("vite");
  await build({
    root: WEB_DIR,
    configFile: path.join(WEB_DIR, "vite.config.ts"),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
}

export type DemoConnections = { connectWiseId: string; autotaskId: string };

/** Connects both emulators with what a newcomer needs to see charges land, and turns annual sync on. */
export async function connectDemoPsas(
  app: App,
  connectWise: ConnectWiseEmulator,
  autotask: AutotaskEmulator,
): Promise<DemoConnections> {
  const cw = connectWise.credentials;
  await new ConnectWiseClient({
    siteUrl: connectWise.url,
    companyId: cw.companyId,
    publicKey: cw.publicKey,
    privateKey: cw.privateKey,
    clientId: CW_CLIENT_ID,
  }).createCatalogItem({
    identifier: CW_FALLBACK_ITEM,
    description: "Microsoft CSP licence",
    customerDescription: "Microsoft CSP licence",
    subcategory: { id: 2 },
    type: { id: 2 },
    productClass: "NonInventory",
  });
  const connectWiseConnection = await app.connections.create({
    vendor: "connectwise",
    name: "ConnectWise",
    config: {
      site: connectWise.url,
      companyId: cw.companyId,
      publicKey: cw.publicKey,
      clientId: CW_CLIENT_ID,
    },
    secrets: { privateKey: cw.privateKey },
    settings: { catalogMatch: "either", fallbackCatalogItem: CW_FALLBACK_ITEM },
  });
  const user = autotask.users[0];
  if (!user) throw new Error("the Autotask emulator has no API user");
  const billingCode = autotask.state.list("BillingCodes").find((code) => code.name === "Software Licences");
  const autotaskConnection = await app.connections.create({
    vendor: "autotask",
    name: "Autotask",
    config: { username: user.userName, discoveryUrl: autotask.apiBaseUrl },
    secrets: { secret: user.secret, integrationCode: user.integrationCode },
    settings: billingCode ? { chargeBillingCodeId: Number(billingCode.id) } : {},
  });
  for (const id of [connectWiseConnection.id, autotaskConnection.id]) {
    await app.connections.update(id, { seatAnnualEnabled: true });
    const test = await (await app.adapterFor(id)).testConnection();
    await app.connections.recordTest(id, test.ok, test.message);
  }
  return { connectWiseId: connectWiseConnection.id, autotaskId: autotaskConnection.id };
}

/** The bundled reconciliation files (the price list in samples/ is imported on its own, see priceListFiles). */
function sampleFiles(): string[] {
  return fs
    .readdirSync(SAMPLES_DIR)
    .filter((name) => name.endsWith(".csv") && !name.startsWith("price-list-"))
    .sort()
    .map((name) => path.join(SAMPLES_DIR, name));
}

/** Microsoft price lists bundled with the samples: imported so "cost and retail" shows retail prices. */
function priceListFiles(): string[] {
  return fs
    .readdirSync(SAMPLES_DIR)
    .filter((name) => name.startsWith("price-list-") && name.endsWith(".csv"))
    .sort()
    .map((name) => path.join(SAMPLES_DIR, name));
}

async function listenOn(
  app: App,
  options: { port: number; host: string; password: string; explicitPort: boolean },
) {
  const { startServer } = await import("../../http/server.ts");
  const start = (port: number) =>
    startServer(app, {
      port,
      host: options.host,
      webRoot: WEB_DIST,
      log: { level: "warn" },
      env: { CSPSYNC_ADMIN_EMAIL: DEMO_EMAIL, CSPSYNC_ADMIN_PASSWORD: options.password },
    });
  try {
    return await start(options.port);
  } catch (error) {
    // The usual port may be taken by something else; a demo is just as good on any free port.
    if ((error as { code?: string }).code !== "EADDRINUSE" || options.explicitPort) throw error;
    return await start(0);
  }
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: "string" }, host: { type: "string" } },
  });
  const port = values.port === undefined ? DEMO_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port must be 0–65535");
  const host = values.host ?? "127.0.0.1";

  if (!fs.existsSync(path.join(WEB_DIST, "index.html"))) {
    console.log("Building the web app (first run only)…");
    await buildWebApp();
  }

  const dataDir = path.resolve("data", "demo");
  fs.rmSync(dataDir, { recursive: true, force: true });
  // Created owner-only from the start, like every data directory cspsync makes (security/files.ts).
  ensurePrivateDir(dataDir);

  // The emulators load only here, so other commands do not pay for them at start-up.
  const { startConnectWiseEmulator } = await import("../../../emulators/connectwise/index.ts");
  const { startAutotaskEmulator } = await import("../../../emulators/autotask/index.ts");
  const { startPartnerCenterEmulator } = await import("../../../emulators/partner-center/index.ts");
  const connectWise = await startConnectWiseEmulator({ seed: "demo" });
  const autotask = await startAutotaskEmulator({ seed: "demo" });
  // Microsoft Partner Center, serving the sample billing month: the demo's data arrives by itself.
  const partnerCenter = await startPartnerCenterEmulator({
    files: sampleFiles(),
    unbilledFiles: sampleFiles().slice(0, 1),
  });
  const stopEmulators = async () => {
    await connectWise.close();
    await autotask.close();
    await partnerCenter.close();
  };
  let app: App | null = null;
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CSPSYNC_DATA_DIR: dataDir,
      CSPSYNC_PSA_ALLOWED_HOSTS: [new URL(connectWise.url).host, new URL(autotask.url).host].join(","),
      CSPSYNC_MICROSOFT_ALLOWED_HOSTS: new URL(partnerCenter.url).host,
    };
    delete env.CSPSYNC_DATABASE_URL;
    app = await createApp({ databaseUrl: `sqlite:${path.join(dataDir, "cspsync.db")}`, env });

    const source = await app.sources.create({
      name: "Partner Center (emulator)",
      config: {
        tenantId: partnerCenter.tenantId,
        clientId: partnerCenter.clientId,
        endpoints: partnerCenter.endpoints,
      },
      secrets: { clientSecret: partnerCenter.clientSecret },
    });
    const { fetchAppOf } = await import("../../jobs/sync-worker.ts");
    const { fetchSource } = await import("../../services/fetch-partner-center.ts");
    const fetched = await fetchSource(fetchAppOf(app), source.id, { trigger: "manual", unbilled: true });
    console.log(`Fetched from the Partner Center emulator: ${fetched.message}`);
    if (fetched.status === "failed")
      for (const file of sampleFiles()) {
        const summary = await importReconFile(app.store, file);
        console.log(`Imported ${path.basename(file)} instead: ${summary.status}, ${summary.lines} lines`);
      }
    const priceLists = new PriceListService(app.store, app.organizationId);
    for (const file of priceListFiles()) {
      const result = await priceLists.import(file, { importedBy: DEMO_EMAIL });
      console.log(
        `Imported price list ${path.basename(file)}: ${result.import.market} ${result.import.currency}, ${result.import.entryCount} prices`,
      );
    }
    await connectDemoPsas(app, connectWise, autotask);

    const password = randomBytes(12).toString("base64url");
    const running = await listenOn(app, { port, host, password, explicitPort: values.port !== undefined });
    const url = running.url;
    console.log(
      [
        "",
        "cspsync demo is running.",
        "",
        `  Open      ${url}`,
        `  Email     ${DEMO_EMAIL}`,
        `  Password  ${password}`,
        "",
        "  PSAs      ConnectWise and Autotask emulators (in this process), Seat-based Annual sync on",
        `            ConnectWise emulator ${connectWise.url} · Autotask emulator ${autotask.url}`,
        `  Billing   Microsoft Partner Center emulator ${partnerCenter.url} (Billing sources › Fetch now)`,
        `  Data      ${dataDir} (wiped at the next start)`,
        "",
        "Try it: Microsoft CSP under ConnectWise › search “Contoso” › pencil on Seat-based Annual ›",
        "search company “Contoso” › pick the One-Time agreement › Sync now.",
        "(Autotask: map a customer to e.g. “Harborview Dental Group” › Microsoft Annual Subscriptions.)",
        "",
        "Press Ctrl+C to stop.",
      ].join("\n"),
    );
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    console.log("\nStopping…");
    await running.close();
    return 0;
  } finally {
    await app?.close();
    await stopEmulators();
  }
}
