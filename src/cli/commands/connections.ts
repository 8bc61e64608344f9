import { parseArgs } from "node:util";
import { createApp, reportUnreadableCredentials, type App } from "../../app.ts";
import type { ConnectionView } from "../../services/connections.ts";
import { printJson, renderTable, UsageError } from "../output.ts";

export const connectionHelp = `cspsync connection add connectwise --name NAME --site URL --company-id ID --public-key KEY
                               --private-key-env VAR | --private-key KEY  --client-id GUID
                               [--catalog-match identifier|vendor-sku|either] [--fallback-item IDENTIFIER]
cspsync connection add autotask --name NAME --username USER --secret-env VAR | --secret SECRET
                               --integration-code-env VAR | --integration-code CODE
                               [--discovery-url URL] [--charge-product ID] [--charge-billing-code ID]
cspsync connection list [--json]
cspsync connection test CONNECTION [--json]
cspsync connection remove CONNECTION

Credentials are encrypted at rest and never printed. Prefer the *-env forms so they stay out of shell history.
PSA hosts other than the vendors' public ones must be listed in CSPSYNC_PSA_ALLOWED_HOSTS.`;

export const settingsHelp = `cspsync settings CONNECTION [--seat-annual on|off] [--catalog-match M] [--fallback-item ID]
                            [--charge-product ID] [--charge-billing-code ID] [--json]

Shows or changes a connection's sync settings. "Seat-based Annual subscription sync" is off by default.`;

const common = { db: { type: "string" }, json: { type: "boolean" } } as const;

export async function withApp<T>(db: string | undefined, work: (app: App) => Promise<T>): Promise<T> {
  const app = await createApp(db ? { databaseUrl: db } : {});
  try {
    await reportUnreadableCredentials(app);
    return await work(app);
  } finally {
    await app.close();
  }
}

/** Finds a connection by id or by (unique, case-insensitive) name. */
export async function resolveConnection(app: App, idOrName: string | undefined): Promise<ConnectionView> {
  const all = await app.connections.list();
  if (!idOrName) {
    if (all.length === 1) return all[0]!;
    throw new UsageError(
      all.length === 0
        ? "no PSA connection yet (cspsync connection add …)"
        : "several connections exist; name one",
    );
  }
  const found = all.filter((c) => c.id === idOrName || c.name.toLowerCase() === idOrName.toLowerCase());
  if (found.length !== 1)
    throw new UsageError(`no single connection "${idOrName}" (see cspsync connection list)`);
  return found[0]!;
}

function secretFrom(values: Record<string, unknown>, flag: string): string | undefined {
  const envName = values[`${flag}-env`];
  if (typeof envName === "string") {
    const value = process.env[envName];
    if (!value) throw new UsageError(`environment variable ${envName} (from --${flag}-env) is empty`);
    return value;
  }
  const direct = values[flag];
  return typeof direct === "string" ? direct : undefined;
}

function describeConnection(c: ConnectionView): string {
  const test = c.lastTest ? `${c.lastTest.ok ? "OK" : "FAILED"} ${c.lastTest.at}` : "never tested";
  return `${c.name} (${c.vendor}, id ${c.id}) — Seat-based Annual sync ${c.seatAnnualEnabled ? "on" : "off"}; last test: ${test}`;
}

export async function connectionCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  switch (action) {
    case "add":
      return addConnection(rest);
    case "list":
      return listConnections(rest);
    case "test":
      return testConnection(rest);
    case "remove":
      return removeConnection(rest);
    default:
      throw new UsageError("connection needs add, list, test or remove");
  }
}

async function addConnection(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      name: { type: "string" },
      site: { type: "string" },
      "company-id": { type: "string" },
      "public-key": { type: "string" },
      "private-key": { type: "string" },
      "private-key-env": { type: "string" },
      "client-id": { type: "string" },
      "catalog-match": { type: "string" },
      "fallback-item": { type: "string" },
      username: { type: "string" },
      secret: { type: "string" },
      "secret-env": { type: "string" },
      "integration-code": { type: "string" },
      "integration-code-env": { type: "string" },
      "discovery-url": { type: "string" },
      "charge-product": { type: "string" },
      "charge-billing-code": { type: "string" },
    },
  });
  const vendor = positionals[0];
  if (vendor !== "connectwise" && vendor !== "autotask")
    throw new UsageError("connection add needs connectwise or autotask");
  const input =
    vendor === "connectwise"
      ? {
          vendor: "connectwise" as const,
          name: values.name ?? "ConnectWise",
          config: {
            site: values.site,
            companyId: values["company-id"],
            publicKey: values["public-key"],
            clientId: values["client-id"],
          },
          secrets: { privateKey: secretFrom(values, "private-key") },
          settings: { catalogMatch: values["catalog-match"], fallbackCatalogItem: values["fallback-item"] },
        }
      : {
          vendor: "autotask" as const,
          name: values.name ?? "Autotask",
          config: { username: values.username, discoveryUrl: values["discovery-url"] },
          secrets: {
            secret: secretFrom(values, "secret"),
            integrationCode: secretFrom(values, "integration-code"),
          },
          settings: {
            chargeProductId: values["charge-product"],
            chargeBillingCodeId: values["charge-billing-code"],
          },
        };
  const created = await withApp(values.db, (app) => app.connections.create(input));
  if (values.json) printJson({ connection: created });
  else console.log(`Added ${describeConnection(created)}\nNext: cspsync connection test ${created.id}`);
  return 0;
}

async function listConnections(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: common });
  const connections = await withApp(values.db, (app) => app.connections.list());
  if (values.json) printJson({ connections });
  else if (connections.length === 0)
    console.log("No PSA connections. Add one with `cspsync connection add connectwise|autotask …`.");
  else
    console.log(
      renderTable(connections, [
        { header: "Id", value: (c) => c.id },
        { header: "Name", value: (c) => c.name },
        { header: "PSA", value: (c) => c.vendor },
        { header: "Seat-based Annual", value: (c) => (c.seatAnnualEnabled ? "on" : "off") },
        { header: "Credentials", value: (c) => (c.credentialsReadable ? "ok" : "UNREADABLE") },
        {
          header: "Last test",
          value: (c) => (c.lastTest ? `${c.lastTest.ok ? "OK" : "FAILED"} ${c.lastTest.at}` : "never"),
        },
      ]),
    );
  return 0;
}

async function testConnection(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    let result;
    try {
      result = await (await app.adapterFor(connection.id)).testConnection();
    } catch (error) {
      result = { ok: false, message: error instanceof Error ? error.message : String(error), checks: [] };
    }
    await app.connections.recordTest(connection.id, result.ok, result.message);
    if (values.json) printJson({ connectionId: connection.id, ...result });
    else {
      console.log(`${connection.name}: ${result.ok ? "OK" : "FAILED"} — ${result.message}`);
      for (const check of result.checks)
        console.log(`  ${check.ok ? "✓" : "✗"} ${check.name}: ${check.message}`);
    }
    return result.ok ? 0 : 1;
  });
}

async function removeConnection(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    await app.connections.remove(connection.id);
    console.log(`Removed ${connection.name}.`);
    return 0;
  });
}

export async function settingsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      "seat-annual": { type: "string" },
      "catalog-match": { type: "string" },
      "fallback-item": { type: "string" },
      "charge-product": { type: "string" },
      "charge-billing-code": { type: "string" },
    },
  });
  const seatAnnual = values["seat-annual"];
  if (seatAnnual !== undefined && seatAnnual !== "on" && seatAnnual !== "off")
    throw new UsageError("--seat-annual must be on or off");
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    const settings: Record<string, unknown> = {};
    if (values["catalog-match"]) settings.catalogMatch = values["catalog-match"];
    if (values["fallback-item"]) settings.fallbackCatalogItem = values["fallback-item"];
    if (values["charge-product"]) settings.chargeProductId = values["charge-product"];
    if (values["charge-billing-code"]) settings.chargeBillingCodeId = values["charge-billing-code"];
    const updated = await app.connections.update(connection.id, {
      ...(seatAnnual ? { seatAnnualEnabled: seatAnnual === "on" } : {}),
      ...(Object.keys(settings).length > 0 ? { settings } : {}),
    });
    if (values.json) printJson({ connection: updated });
    else console.log(`${describeConnection(updated)}\nSettings: ${JSON.stringify(updated.settings)}`);
    return 0;
  });
}
