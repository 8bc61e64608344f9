import fs from "node:fs";
import { parseArgs } from "node:util";
import { fetchAppOf, openJobQueue, runFetch } from "../../jobs/sync-worker.ts";
import { testSource, unbilledPreview, type FetchOutcome } from "../../services/fetch-partner-center.ts";
import type { SourceView } from "../../services/source-connections.ts";
import { printJson, renderTable, UsageError } from "../output.ts";
import { withApp } from "./connections.ts";

export const sourceHelp = `cspsync source add partner-center --name NAME --tenant-id GUID --client-id GUID
                      --client-secret-env VAR | --client-secret SECRET
                      | --certificate-key FILE.pem --thumbprint SHA256-HEX
                      [--endpoints URL]   (an emulator's base URL; its host must be in CSPSYNC_MICROSOFT_ALLOWED_HOSTS)
cspsync source edit SOURCE [--name NAME] [--client-id GUID]
                      [--client-secret-env VAR | --client-secret SECRET | --certificate-key FILE.pem --thumbprint SHA256-HEX]
                      [--endpoints URL]
cspsync source list [--json]
cspsync source test SOURCE [--json]
cspsync source remove SOURCE
cspsync source unbilled SOURCE [--json]

A Microsoft Partner Center source: the partner tenant, the Entra app and its client secret or certificate
(encrypted at rest, never printed). "source edit" rotates the secret or changes the certificate in place (the
last test is cleared; run "source test" again). See docs/partner-center.md for the app registration.`;

export const fetchHelp = `cspsync fetch [SOURCE] [--invoice ID] [--unbilled] [--json]

Fetches new billed invoices from Microsoft Partner Center (Graph billing reconciliation export) and imports
them; --invoice exports one invoice again (a changed data version is imported again); --unbilled also fetches the
open period's unbilled data, kept as a preview ("cspsync source unbilled SOURCE") and never synced.
The fetch runs here, in the foreground. When it brought new lines, the syncs of every connection with a billing
motion on are queued, as the daily pipeline does, for a running worker (cspsync serve or cspsync worker) to run;
they show in cspsync runs linked to this fetch. The background worker runs the same fetch every day before the
syncs. Exit code 1 if the fetch failed.`;

const common = { db: { type: "string" }, json: { type: "boolean" } } as const;

function describe(source: SourceView): string {
  const test = source.lastTest
    ? `${source.lastTest.ok ? "OK" : `FAILED (${source.lastTest.kind})`} ${source.lastTest.at}`
    : "never tested";
  return `${source.name} (partner-center, id ${source.id}) — tenant ${source.config.tenantId}, app ${source.config.clientId}, ${source.config.credential}; last test: ${test}`;
}

export async function sourceCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  switch (action) {
    case "add":
      return addSource(rest);
    case "list":
      return listSources(rest);
    case "test":
      return runTest(rest);
    case "remove":
      return removeSource(rest);
    case "edit":
      return editSource(rest);
    case "unbilled":
      return showUnbilled(rest);
    default:
      throw new UsageError("source needs add, edit, list, test, remove or unbilled");
  }
}

async function addSource(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      name: { type: "string" },
      "tenant-id": { type: "string" },
      "client-id": { type: "string" },
      ...credentialOptions,
    },
  });
  if (positionals[0] !== "partner-center") throw new UsageError("source add needs the kind: partner-center");
  if (!values.name || !values["tenant-id"] || !values["client-id"])
    throw new UsageError("source add needs --name, --tenant-id and --client-id");
  const given = credentialsOf(values);
  if (!given) throw new UsageError("give --client-secret-env VAR (or --certificate-key)");
  const { credential, secrets } = given;
  const base = values.endpoints?.replace(/\/$/, "");
  const config = {
    tenantId: values["tenant-id"],
    clientId: values["client-id"],
    credential,
    ...(values.thumbprint ? { thumbprintSha256: values.thumbprint } : {}),
    ...(base ? { endpoints: endpointsOf(base) } : {}),
  };
  return withApp(values.db, async (app) => {
    const source = await app.sources.create({ name: values.name!, config, secrets });
    if (values.json) printJson(source);
    else console.log(`added ${describe(source)}`);
    return 0;
  });
}

const credentialOptions = {
  "client-secret": { type: "string" },
  "client-secret-env": { type: "string" },
  "certificate-key": { type: "string" },
  thumbprint: { type: "string" },
  endpoints: { type: "string" },
} as const;

function endpointsOf(base: string) {
  return { login: base, partnerCenter: `${base}/partnercenter`, graph: `${base}/graph` };
}

/** The credential given on the command line (a secret from a variable or the flag, or a key file), if any. */
function credentialsOf(values: {
  "client-secret"?: string;
  "client-secret-env"?: string;
  "certificate-key"?: string;
}): { credential: "secret" | "certificate"; secrets: Record<string, string> } | null {
  if (values["certificate-key"])
    return {
      credential: "certificate",
      secrets: { privateKeyPem: fs.readFileSync(values["certificate-key"], "utf8") },
    };
  const envName = values["client-secret-env"];
  if (!envName && values["client-secret"] === undefined) return null;
  const secret = envName ? process.env[envName] : values["client-secret"];
  if (!secret)
    throw new UsageError(envName ? `environment variable ${envName} is empty` : "--client-secret is empty");
  return { credential: "secret", secrets: { clientSecret: secret } };
}

async function editSource(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, name: { type: "string" }, "client-id": { type: "string" }, ...credentialOptions },
  });
  if (!positionals[0]) throw new UsageError("source edit needs a source");
  const given = credentialsOf(values);
  const base = values.endpoints?.replace(/\/$/, "");
  const config = {
    ...(values["client-id"] ? { clientId: values["client-id"] } : {}),
    ...(given ? { credential: given.credential } : {}),
    ...(values.thumbprint ? { thumbprintSha256: values.thumbprint } : {}),
    ...(base ? { endpoints: endpointsOf(base) } : {}),
  };
  if (!given && !values.name && Object.keys(config).length === 0)
    throw new UsageError(
      "source edit needs something to change: --client-secret-env, --certificate-key, --name …",
    );
  return withApp(values.db, async (app) => {
    const source = await app.sources.update(positionals[0]!, {
      ...(values.name ? { name: values.name } : {}),
      config,
      ...(given ? { secrets: given.secrets } : {}),
    });
    if (values.json) printJson(source);
    else console.log(`updated ${describe(source)}`);
    return 0;
  });
}

async function listSources(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: common });
  return withApp(values.db, async (app) => {
    const sources = await app.sources.list();
    if (values.json) printJson(sources);
    else if (sources.length === 0) console.log("no source yet (cspsync source add partner-center …)");
    else for (const source of sources) console.log(describe(source));
    return 0;
  });
}

async function runTest(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  if (!positionals[0]) throw new UsageError("source test needs a source");
  return withApp(values.db, async (app) => {
    const test = await testSource(fetchAppOf(app), positionals[0]!);
    if (values.json) printJson(test);
    else console.log(test.ok ? `OK: ${test.message}` : `FAILED (${test.kind}): ${test.message}`);
    return test.ok ? 0 : 1;
  });
}

async function removeSource(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  if (!positionals[0]) throw new UsageError("source remove needs a source");
  return withApp(values.db, async (app) => {
    await app.sources.remove(positionals[0]!);
    console.log(`removed source ${positionals[0]}`);
    return 0;
  });
}

async function showUnbilled(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  if (!positionals[0]) throw new UsageError("source unbilled needs a source");
  return withApp(values.db, async (app) => {
    const previews = await unbilledPreview(fetchAppOf(app), positionals[0]!);
    if (values.json) printJson(previews);
    else if (previews.length === 0) console.log("no unbilled data fetched yet (cspsync fetch --unbilled)");
    else
      for (const preview of previews) {
        console.log(
          `Next invoice so far (${preview.currency}, provisional, fetched ${preview.fetchedAt}): ${preview.total}`,
        );
        console.log(
          renderTable(preview.entries, [
            { header: "Customer", value: (e) => e.customerName },
            { header: "Motion", value: (e) => e.motion },
            { header: "So far", value: (e) => e.total, align: "right" },
            { header: "Since last fetch", value: (e) => e.change, align: "right" },
          ]),
        );
      }
    return 0;
  });
}

function printOutcome(outcome: FetchOutcome): void {
  console.log(`${outcome.sourceName}: ${outcome.status} — ${outcome.message}`);
  for (const invoice of outcome.invoices)
    console.log(
      `  ${invoice.invoiceId}: ${invoice.outcome}${invoice.message ? ` — ${invoice.message}` : ""}`,
    );
  for (const unbilled of outcome.unbilled)
    console.log(
      `  unbilled ${unbilled.currency}: ${unbilled.outcome}${unbilled.lines !== undefined ? ` (${unbilled.lines} lines, ${unbilled.total})` : ""}${unbilled.message ? ` — ${unbilled.message}` : ""}`,
    );
}

export async function fetchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, invoice: { type: "string" }, unbilled: { type: "boolean" } },
  });
  return withApp(values.db, async (app) => {
    const sources = positionals[0] ? [await app.sources.view(positionals[0])] : await app.sources.list();
    if (sources.length === 0) throw new UsageError("no source yet (cspsync source add partner-center …)");
    const outcomes: FetchOutcome[] = [];
    const queue = openJobQueue(app);
    try {
      for (const source of sources) {
        // In the foreground; new lines queue the syncs for a worker, linked to this fetch (like the daily run).
        const outcome = await runFetch(app, queue, {
          sourceId: source.id,
          trigger: "cli",
          ...(values.invoice ? { invoiceId: values.invoice } : {}),
          unbilled: values.unbilled ?? false,
        });
        outcomes.push(outcome);
        if (!values.json) printOutcome(outcome);
      }
    } finally {
      await queue.stop();
    }
    const queued = await Promise.all(
      outcomes.map(async (o) => {
        const run = await app.sources.repository.fetchRun(o.runId);
        return JSON.parse(run?.sync_jobs ?? "[]") as { connectionId: string; jobId: string | null }[];
      }),
    );
    if (values.json)
      printJson(outcomes.map(({ imports: _imports, ...o }, i) => ({ ...o, syncJobs: queued[i] })));
    else {
      const n = queued.flat().filter((j) => j.jobId !== null).length;
      if (n > 0)
        console.log(`Queued the syncs of ${n} connection(s); a running worker runs them (cspsync runs).`);
    }
    return outcomes.some((o) => o.status === "failed") ? 1 : 0;
  });
}
