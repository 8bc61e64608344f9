import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { generateRecon } from "./generate-recon.ts";

/**
 * npm run bench:ingest -- --lines 1000000
 * Generates a synthetic reconciliation CSV and measures, each in its own process under GNU time: (a) the bare
 * parser cspsync imports with (its reader, records counted and dropped), the real `cspsync import` into a new
 * SQLite database and then the same file again (nothing new to store), the same two into a new PostgreSQL
 * database (CSPSYNC_BENCH_POSTGRES_URL, default the local server's admin URL), and for context csv-parse alone
 * over the same file. Reports lines/s, CPU seconds and peak RSS of each beside the goals, and the ratio of each
 * fresh import to (a).
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
/** `cspsync import FILE` into the database at `url`, measured; fails unless the file is imported. */
function importInto(url: string): Result & { newLines: number } {
  let newLines = 0;
  const result = measure([BIN, "import", file, "--json", "--db", url], (out) => {
    const summary = JSON.parse(out) as { files: { lines: number; newLines: number; status: string }[] };
    if (summary.files[0]?.status !== "imported") throw new Error(`import failed: ${out.slice(0, 500)}`);
    newLines = summary.files[0].newLines;
    return summary.files[0].lines;
  });
  return { ...result, newLines };
}

/** A new PostgreSQL database for the run, dropped afterwards. */
async function withPostgres<T>(run: (url: string) => Promise<T> | T): Promise<T> {
  const admin = process.env.CSPSYNC_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `cspsync_bench_${process.pid}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name}`);
  await client.query(`CREATE DATABASE ${name}`);
  try {
    const url = new URL(admin);
    url.pathname = `/${name}`;
    return await run(url.toString());
  } finally {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  }
}

const sqliteUrl = `sqlite:${path.join(dir, "bench.db")}`;
const sqliteFresh = importInto(sqliteUrl);
const sqliteAgain = importInto(sqliteUrl);
const [pgFresh, pgAgain] = await withPostgres((url) => [importInto(url), importInto(url)] as const);
if (sqliteAgain.newLines !== 0 || pgAgain.newLines !== 0) throw new Error("a re-import stored lines");
const rate = (r: Result) => r.lines / r.seconds;
const cpu = os.cpus();
console.log(
  `\nfile: ${sizeMb.toFixed(0)} MB, ${lines.toLocaleString("en-US")} lines; node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? "cpu"}; load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
const goals = {
  fresh: Math.max(50_000, 0.4 * rate(parse)),
  again: 100_000,
  rss: 300,
};
const check = (ok: boolean) => (ok ? "met" : "NOT met");
for (const [label, r, goal] of [
  ["(a) bare parser (cspsync)", parse, ""],
  [
    "(b) import, SQLite, new database",
    sqliteFresh,
    `≥ ${Math.round(goals.fresh).toLocaleString("en-US")}: ${check(rate(sqliteFresh) >= goals.fresh)}`,
  ],
  ["(c) import again, SQLite (0 new)", sqliteAgain, `≥ 100,000: ${check(rate(sqliteAgain) >= goals.again)}`],
  [
    "(d) import, PostgreSQL, new database",
    pgFresh,
    `≥ ${Math.round(goals.fresh).toLocaleString("en-US")}: ${check(rate(pgFresh) >= goals.fresh)}`,
  ],
  ["(e) import again, PostgreSQL (0 new)", pgAgain, `≥ 100,000: ${check(rate(pgAgain) >= goals.again)}`],
  ["    csv-parse alone, for context", csvParse, ""],
] as const) {
  console.log(
    `${label.padEnd(37)} ${Math.round(rate(r)).toLocaleString("en-US").padStart(10)} lines/s  ${r.seconds.toFixed(1).padStart(6)} s wall  ${r.cpuSeconds.toFixed(1).padStart(6)} s CPU  peak RSS ${r.peakRssMb.toFixed(0).padStart(4)} MB (${check(r.peakRssMb < goals.rss)} < 300)  ${goal}`,
  );
}
console.log(
  `ratio to (a): SQLite ${(rate(sqliteFresh) / rate(parse)).toFixed(2)}, PostgreSQL ${(rate(pgFresh) / rate(parse)).toFixed(2)} (goal ≥ 0.40)`,
);
if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
