import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { generateRecon } from "./generate-recon.ts";

/**
 * npm run bench:fetch [-- --lines N] — fetch + import of a large invoice month from the Partner Center emulator
 * (token, invoices API, Graph export, blob downloads, the gzip check, the import with its total check) beside
 * a plain file import of the same lines: lines per second and peak RSS of the cspsync process, each run in a
 * fresh process and database (docs/partner-center.md §5). The emulator runs in a process of its own.
 */
const { values } = parseArgs({
  options: {
    lines: { type: "string", default: "1000000" },
    "lines-per-blob": { type: "string", default: "250000" },
    keep: { type: "boolean" },
  },
});
const lines = Number(values.lines);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-fetch-"));
const file = path.join(dir, `recon-${lines}.csv`);
const BIN = path.resolve(import.meta.dirname, "../bin/cspsync.js");
const NODE_FLAGS = (fs.readFileSync(BIN, "utf8").split("\n")[0] ?? "")
  .split(/\s+/)
  .filter((word) => word.startsWith("--"));

type Result = { seconds: number; peakRssMb: number; stdout: string };

function measure(args: string[], env: NodeJS.ProcessEnv): Result {
  const run = spawnSync(
    "/usr/bin/time",
    ["-f", "TIME %e %M", process.execPath, ...NODE_FLAGS, BIN, ...args],
    {
      encoding: "utf8",
      maxBuffer: 64 << 20,
      env: { ...process.env, ...env },
    },
  );
  const timing = /TIME ([\d.]+) (\d+)/.exec(run.stderr);
  if (run.status !== 0 || !timing)
    throw new Error(
      `measurement failed (exit ${run.status}): ${run.stdout.slice(-1000)} ${run.stderr.slice(-2000)}`,
    );
  return { seconds: Number(timing[1]), peakRssMb: Number(timing[2]) / 1024, stdout: run.stdout };
}

console.log(`generating ${lines.toLocaleString("en-US")} lines…`);
await generateRecon(file, lines);

const emulator = spawn(
  process.execPath,
  [BIN, "emulator", "partner-center", "--recon", file, "--lines-per-blob", values["lines-per-blob"]!],
  { stdio: ["ignore", "pipe", "inherit"] },
);
let banner = "";
const url = await new Promise<string>((resolve, reject) => {
  emulator.stdout.on("data", (chunk: Buffer) => {
    banner += chunk.toString("utf8");
    const found = /listening on (http:\/\/\S+)/.exec(banner);
    if (found && banner.includes("use it:")) resolve(found[1]!);
  });
  emulator.once("exit", (code) => reject(new Error(`the emulator stopped (${code})`)));
});
const tenant = /tenant (\S+),/.exec(banner)![1]!;
const client = /client\) id (\S+),/.exec(banner)![1]!;
const secret = /client secret (\S+) /.exec(banner)![1]!;

try {
  const env = {
    CSPSYNC_DATA_DIR: dir,
    CSPSYNC_MICROSOFT_ALLOWED_HOSTS: new URL(url).host,
    CSPSYNC_SECRET_KEY: "0".repeat(64),
    BENCH_SECRET: secret,
  };
  const fetchDb = `sqlite:${path.join(dir, "fetch.db")}`;
  const added = spawnSync(
    process.execPath,
    [
      BIN,
      "source",
      "add",
      "partner-center",
      "--name",
      "PC",
      "--tenant-id",
      tenant,
      "--client-id",
      client,
      "--client-secret-env",
      "BENCH_SECRET",
      "--endpoints",
      url,
      "--db",
      fetchDb,
    ],
    { encoding: "utf8", env: { ...process.env, ...env } },
  );
  if (added.status !== 0) throw new Error(added.stderr);
  console.log("fetch + import from the emulator…");
  const fetched = measure(["fetch", "PC", "--json", "--db", fetchDb], env);
  const outcome = (JSON.parse(fetched.stdout) as { status: string; newLines: number }[])[0]!;
  if (outcome.status !== "imported") throw new Error(`fetch: ${fetched.stdout}`);
  console.log("plain file import…");
  const imported = measure(["import", file, "--json", "--db", `sqlite:${path.join(dir, "file.db")}`], env);
  const fileLines = lines;
  const rows = [
    { name: "fetch + import (emulator)", lines: outcome.newLines, ...fetched },
    { name: "file import (CSV)", lines: fileLines, ...imported },
  ];
  console.log("\n| run | lines | seconds | lines/s | peak RSS MB |\n| --- | ---: | ---: | ---: | ---: |");
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.lines.toLocaleString("en-US")} | ${r.seconds.toFixed(1)} | ${Math.round(r.lines / r.seconds).toLocaleString("en-US")} | ${r.peakRssMb.toFixed(0)} |`,
    );
  console.log(`\nfetch / file time: ${((fetched.seconds / imported.seconds) * 100).toFixed(0)} %`);
} finally {
  emulator.kill("SIGTERM");
  if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
}
