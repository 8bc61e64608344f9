import {
  chargesCommand,
  chargesHelp,
  customersCommand,
  customersHelp,
  invoicesCommand,
  invoicesHelp,
} from "./commands/listings.ts";
import { importCommand, importHelp } from "./commands/import.ts";
import { connectionCommand, connectionHelp, settingsCommand, settingsHelp } from "./commands/connections.ts";
import {
  mapCommand,
  mapHelp,
  psaCommand,
  psaHelp,
  runCommand,
  runsCommand,
  runsHelp,
  syncCommand,
  syncHelp,
} from "./commands/sync.ts";
import { emulatorCommand, emulatorHelp } from "./commands/emulator.ts";
import { workerCommand, workerHelp } from "./commands/worker.ts";
import { serveCommand, serveHelp } from "./commands/serve.ts";
import { demoCommand, demoHelp } from "./commands/demo.ts";
import { UsageError } from "./output.ts";

type Command = { run: (argv: string[]) => Promise<number>; help: string; summary: string };

const commands: Record<string, Command> = {
  import: {
    run: importCommand,
    help: importHelp,
    summary: "import reconciliation files (CSV or gzipped JSON Lines)",
  },
  invoices: { run: invoicesCommand, help: invoicesHelp, summary: "list imported invoices" },
  customers: { run: customersCommand, help: customersHelp, summary: "list customers in the billing data" },
  charges: { run: chargesCommand, help: chargesHelp, summary: "list a customer's charge events" },
  connection: {
    run: connectionCommand,
    help: connectionHelp,
    summary: "add, list, test or remove PSA connections",
  },
  settings: {
    run: settingsCommand,
    help: settingsHelp,
    summary: "show or change a connection's sync settings",
  },
  psa: { run: psaCommand, help: psaHelp, summary: "look up PSA companies and agreements/contracts" },
  map: {
    run: mapCommand,
    help: mapHelp,
    summary: "map a customer's billing motion to a PSA agreement/contract",
  },
  sync: {
    run: syncCommand,
    help: syncHelp,
    summary: "write new Seat-based Annual charges into the PSA (or --dry-run)",
  },
  runs: { run: runsCommand, help: runsHelp, summary: "list sync runs" },
  worker: {
    run: workerCommand,
    help: workerHelp,
    summary: "run the daily check and queued syncs in the background",
  },
  serve: {
    run: serveCommand,
    help: serveHelp,
    summary: "serve the web app and the HTTP API (and background syncing)",
  },
  demo: {
    run: demoCommand,
    help: demoHelp,
    summary: "try cspsync: sample data, both PSA emulators and the web app",
  },
  run: { run: runCommand, help: runsHelp, summary: "show one sync run with every item" },
  emulator: {
    run: emulatorCommand,
    help: emulatorHelp,
    summary: "run a local ConnectWise or Autotask emulator",
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
  const command = commands[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
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

process.exitCode = await main(process.argv.slice(2));
