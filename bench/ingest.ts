import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { generateRecon } from "./generate-recon.ts";

/**
 * npm run bench:ingest -- --lines 1000000
 * Generates a synthetic reconciliation CSV and measures, each in a fresh process: (a) the bare CSV parser
 * over the file, (b) a full import into a new SQLite database. Reports lines/s, peak RSS and the ratio.
 */
const { values } = parseArgs({
  options: { lines: { type: "string", default: "1000000" }, keep: { type: "boolean" } },
});
const lines = Number(values.lines);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-"));
const file = path.join(dir, `recon-${lines}.csv`);

type Result = { mode: string; lines: number; seconds: number; peakRssMb: number };
function measure(...args: string[]): Result {
  const output = execFileSync(
    process.execPath,
    [path.join(import.meta.dirname, "ingest-worker.ts"), ...args],
    {
      encoding: "utf8",
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(output.trim().split("\n").at(-1)!) as Result;
}

console.log(`generating ${lines.toLocaleString("en-US")} lines…`);
await generateRecon(file, lines);
const sizeMb = fs.statSync(file).size / 1024 / 1024;
const parse = measure("parse", file);
const full = measure("import", file, `sqlite:${path.join(dir, "bench.db")}`);
const rate = (r: Result) => r.lines / r.seconds;
const rows = [
  ["bare CSV parser (csv-parse)", parse],
  ["cspsync import into SQLite", full],
] as const;
console.log(
  `\nfile: ${sizeMb.toFixed(0)} MB, ${lines.toLocaleString("en-US")} lines; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}`,
);
for (const [label, r] of rows) {
  console.log(
    `${label.padEnd(30)} ${Math.round(rate(r)).toLocaleString("en-US").padStart(10)} lines/s  ${r.seconds.toFixed(1).padStart(6)} s  peak RSS ${r.peakRssMb.toFixed(0)} MB`,
  );
}
console.log(`import / parser rate: ${(rate(full) / rate(parse)).toFixed(2)}`);
if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
