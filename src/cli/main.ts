import { setDefaultLogDestination } from "../log.ts";
import { UsageError } from "./output.ts";

/** Commands whose standard output is their log (long-running processes); the others log on standard error. */
const LOGGING_TO_STDOUT = new Set(["serve", "worker"]);

/**
 * The `cspsync` command. Each command's module is loaded only when that command runs, so a quick listing or
 * an import does not pay for the web server, the job queue or the emulators.
 */
type CommandModule = { run: (argv: string[]) => Promise<number>; help: string };
type Command = { summary: string; load: () => Promise<CommandModule> };

const commands: Record<string, Command> = {
  import: {
    summary: "import reconciliation files (CSV or gzipped JSON Lines)",
    load: async () => {
      const m = await import("./commands/import.ts");
      return { run: m.importCommand, help: m.importHelp };
    },
  },
  invoices: {
    summary: "list imported invoices",
    load: async () => {
      const m = await import("./commands/listings.ts");
      return { run: m.invoicesCommand, help: m.invoicesHelp };
    },
  },
  customers: {
    summary: "list customers in the billing data",
    load: async () => {
      const m = await import("./commands/listings.ts");
      return { run: m.customersCommand, help: m.customersHelp };
    },
  },
  charges: {
    summary: "list a customer's charge events",
    load: async () => {
      const m = await import("./commands/listings.ts");
      return { run: m.chargesCommand, help: m.chargesHelp };
    },
  },
  report: {
    summary: "the reconciliation and margin report of an invoice (summary, CSV, XLSX or JSON)",
    load: async () => {
      const m = await import("./commands/reports.ts");
      return { run: m.reportCommand, help: m.reportHelp };
    },
  },
  renewals: {
    summary: "NCE renewals and change windows, the term ledger, the calendar feed token",
    load: async () => {
      const m = await import("./commands/reports.ts");
      return { run: m.renewalsCommand, help: m.renewalsHelp };
    },
  },
  connection: {
    summary: "add, list, test or remove PSA connections",
    load: async () => {
      const m = await import("./commands/connections.ts");
      return { run: m.connectionCommand, help: m.connectionHelp };
    },
  },
  source: {
    summary: "add, list, test or remove billing-data sources (Microsoft Partner Center)",
    load: async () => {
      const m = await import("./commands/sources.ts");
      return { run: m.sourceCommand, help: m.sourceHelp };
    },
  },
  fetch: {
    summary: "fetch new invoices (and unbilled data) from Microsoft Partner Center and import them",
    load: async () => {
      const m = await import("./commands/sources.ts");
      return { run: m.fetchCommand, help: m.fetchHelp };
    },
  },
  settings: {
    summary: "show or change a connection's sync settings",
    load: async () => {
      const m = await import("./commands/connections.ts");
      return { run: m.settingsCommand, help: m.settingsHelp };
    },
  },
  psa: {
    summary: "look up PSA companies and agreements/contracts",
    load: async () => {
      const m = await import("./commands/sync.ts");
      return { run: m.psaCommand, help: m.psaHelp };
    },
  },
  map: {
    summary: "map a customer's billing motion to a PSA agreement/contract",
    load: async () => {
      const m = await import("./commands/sync.ts");
      return { run: m.mapCommand, help: m.mapHelp };
    },
  },
  sync: {
    summary: "write new Seat-based Annual charges into the PSA (or --dry-run)",
    load: async () => {
      const m = await import("./commands/sync.ts");
      return { run: m.syncCommand, help: m.syncHelp };
    },
  },
  runs: {
    summary: "list sync runs",
    load: async () => {
      const m = await import("./commands/sync.ts");
      return { run: m.runsCommand, help: m.runsHelp };
    },
  },
  run: {
    summary: "show one sync run with every item",
    load: async () => {
      const m = await import("./commands/sync.ts");
      return { run: m.runCommand, help: m.runsHelp };
    },
  },
  "price-rules": {
    summary: "list, add or remove price rules; set what a sell price below cost does",
    load: async () => {
      const m = await import("./commands/pricing.ts");
      return { run: m.priceRulesCommand, help: m.priceRulesHelp };
    },
  },
  "price-list": {
    summary:
      "import Microsoft's NCE price list (ERP, the retail price of cost-and-retail), list or search it",
    load: async () => {
      const m = await import("./commands/pricing.ts");
      return { run: m.priceListCommand, help: m.priceListHelp };
    },
  },
  holds: {
    summary: "list lines held for approval (sold below cost) and approve them",
    load: async () => {
      const m = await import("./commands/pricing.ts");
      return { run: m.holdsCommand, help: m.holdsHelp };
    },
  },
  products: {
    summary: "preview or sync the product catalog (ConnectWise catalog items / Autotask services)",
    load: async () => {
      const m = await import("./commands/products.ts");
      return { run: m.productsCommand, help: m.productsHelp };
    },
  },
  user: {
    summary: "list users, reset a password or change a role (operator recovery, no sign-in needed)",
    load: async () => {
      const m = await import("./commands/users.ts");
      return { run: m.userCommand, help: m.userHelp };
    },
  },
  notify: {
    summary: "notification channels (e-mail, Teams, Slack, webhook), tests, the daily digest",
    load: async () => {
      const m = await import("./commands/notify.ts");
      return { run: m.notifyCommand, help: m.notifyHelp };
    },
  },
  serve: {
    summary: "serve the web app and the HTTP API (and background syncing)",
    load: async () => {
      const m = await import("./commands/serve.ts");
      return { run: m.serveCommand, help: m.serveHelp };
    },
  },
  worker: {
    summary: "run the daily check and queued syncs in the background",
    load: async () => {
      const m = await import("./commands/worker.ts");
      return { run: m.workerCommand, help: m.workerHelp };
    },
  },
  demo: {
    summary: "try cspsync: sample data, both PSA emulators and the web app",
    load: async () => {
      const m = await import("./commands/demo.ts");
      return { run: m.demoCommand, help: m.demoHelp };
    },
  },
  emulator: {
    summary: "run a local ConnectWise or Autotask emulator",
    load: async () => {
      const m = await import("./commands/emulator.ts");
      return { run: m.emulatorCommand, help: m.emulatorHelp };
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    "cspsync — Microsoft CSP billing into ConnectWise Manage and Autotask",
    "",
    "Usage: cspsync <command> [options]   (every command takes --db URL; default CSPSYNC_DATABASE_URL or ./data/cspsync.db)",
    "",
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "cspsync <command> --help shows a command's options.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`Unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
  // A one-shot command's standard output is its answer (tables, --json): log lines go to standard error.
  setDefaultLogDestination(LOGGING_TO_STDOUT.has(name) ? 1 : 2);
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`cspsync ${name}: ${(error as Error).message}\n\n${command.help}`);
      return 2;
    }
    console.error(`cspsync ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A command that failed has said why on stderr; whatever it may have left open (a connection pool, a timer)
// must not keep the process alive doing nothing, where a supervisor would never restart it.
if (code !== 0) process.exit(code);
