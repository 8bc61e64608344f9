import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { generateRecon } from "./generate-recon.ts";

/**
 * npm run bench:ingest -- --lines 1000000
 * Generates a synthetic reconciliation CSV and measures, each in its own process under GNU time: (a) the bare
 * parser cspsync imports with (its reader, records counted and dropped), (b) the real `cspsync import` into a
 * new SQLite database, and for context csv-parse alone over the same file. Reports lines/s, CPU seconds, peak
 * RSS and the ratio of (b) to (a).
 */
const { values } = parseArgs({
  options: { lines: { type: "string", default: "1000000" }, keep: { type: "boolean" } },
});
const lines = Number(values.lines);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-"));
const file = path.join(dir, `recon-${lines}.csv`);
const BIN = path.resolve(import.meta.dirname, "../bin/cspsync.js");
// The V8 settings bin/cspsync.js runs with (read from its first line), so both runs use the same ones.
const NODE_FLAGS = (fs.readFileSync(BIN, "utf8").split("\n")[0] ?? "")
  .split(/\s+/)
  .filter((word) => word.startsWith("--"));

type Result = { lines: number; seconds: number; cpuSeconds: number; peakRssMb: number };

function measure(args: string[], linesFrom: (stdout: string) => number): Result {
  const run = spawnSync(
    "/usr/bin/time",
    ["-f", "TIME %e %M %U %S", process.execPath, ...NODE_FLAGS, ...args],
    {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    },
  );
  const timing = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(run.stderr);
  if (run.status !== 0 || !timing)
    throw new Error(`measurement failed (exit ${run.status}): ${run.stderr.slice(-2000)}`);
  return {
    lines: linesFrom(run.stdout),
    seconds: Number(timing[1]),
    cpuSeconds: Number(timing[3]) + Number(timing[4]),
    peakRssMb: Number(timing[2]) / 1024,
  };
}

console.log(`generating ${lines.toLocaleString("en-US")} lines…`);
await generateRecon(file, lines);
const sizeMb = fs.statSync(file).size / 1024 / 1024;
const PARSE_ONLY = path.join(import.meta.dirname, "parse-only.ts");
const parse = measure([PARSE_ONLY, file], (out) => Number(out.trim()));
const csvParse = measure([PARSE_ONLY, file, "--csv-parse"], (out) => Number(out.trim()));
const full = measure(
  [BIN, "import", file, "--json", "--db", `sqlite:${path.join(dir, "bench.db")}`],
  (out) => {
    const summary = JSON.parse(out) as { files: { lines: number; status: string }[] };
    if (summary.files[0]?.status !== "imported") throw new Error(`import failed: ${out.slice(0, 500)}`);
    return summary.files[0].lines;
  },
);
const rate = (r: Result) => r.lines / r.seconds;
const cpu = os.cpus();
console.log(
  `\nfile: ${sizeMb.toFixed(0)} MB, ${lines.toLocaleString("en-US")} lines; node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? "cpu"}; load ${os.loadavg()[0]!.toFixed(1)}`,
);
for (const [label, r] of [
  ["(a) bare parser (cspsync)", parse],
  ["(b) cspsync import into SQLite", full],
  ["    csv-parse alone, for context", csvParse],
] as const) {
  console.log(
    `${label.padEnd(33)} ${Math.round(rate(r)).toLocaleString("en-US").padStart(10)} lines/s  ${r.seconds.toFixed(1).padStart(6)} s wall  ${r.cpuSeconds.toFixed(1).padStart(6)} s CPU  peak RSS ${r.peakRssMb.toFixed(0)} MB`,
  );
}
console.log(`ratio (b) / (a): ${(rate(full) / rate(parse)).toFixed(2)}`);
if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
