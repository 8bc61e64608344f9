import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startPartnerCenterEmulator } from "../emulators/partner-center/index.ts";
import { PartnerCenterClient } from "../src/sources/partner-center/client.ts";
import { createTokenProvider } from "../src/sources/partner-center/token.ts";
import { generateRecon } from "./generate-recon.ts";

/**
 * npm run bench:fetch [-- --lines N] — fetch + import of a large invoice month from the Partner Center emulator
 * (token, invoices API, Graph export, blob downloads, the import with its gzip and total checks) beside
 * plain file imports of the same lines, each run in a fresh process (and database) under GNU time, so the peak
 * RSS is the cspsync process's own (docs/partner-center.md §5). The parts are measured apart:
 *
 *  - the emulator runs in a process of its own and builds its gzipped blobs once, before any timing; its CPU
 *    seconds during each run are read from /proc, so what it costs the shared cores is seen;
 *  - "download only": the export, polling, manifest and every blob appended to one .jsonl.gz file, nothing
 *    imported (the part of the fetch that is not the importer; the import inflates and checks the gzip);
 *  - "fetch + import": `cspsync fetch` as shipped, the import reading the file while the blobs are still
 *    downloading (docs/partner-center.md §5);
 *  - "file import (JSON Lines)": the importer alone on the very file the download wrote, which is what the fetch
 *    imports: fetch + import is compared with this (like with like) and with the CSV import;
 *  - the fixed costs apart from the lines: `cspsync fetch` with nothing new (start-up, modules, token, invoice
 *    list) beside `cspsync import` of the 26-line sample (start-up, modules, one small import).
 *
 * Internal modes (the bench runs itself): --serve-emulator (the emulator process), --download-only.
 */
const { values } = parseArgs({
  options: {
    lines: { type: "string", default: "1000000" },
    "lines-per-blob": { type: "string", default: "250000" },
    keep: { type: "boolean" },
    "serve-emulator": { type: "string" },
    "blob-dir": { type: "string" },
    "download-only": { type: "string" },
  },
});

if (values["serve-emulator"]) {
  // The emulator process: builds the blobs (timed and reported, not part of any run), then serves.
  const started = performance.now();
  const emulator = await startPartnerCenterEmulator({
    files: [values["serve-emulator"]],
    linesPerBlob: Number(values["lines-per-blob"]),
    prebuildBlobsDir: values["blob-dir"]!,
  });
  console.log(
    JSON.stringify({
      url: emulator.url,
      tenantId: emulator.tenantId,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      invoices: emulator
        .invoices()
        .map((i) => ({ id: i.id, lines: i.lineCount, blobs: i.blobFiles?.length })),
      prebuildSeconds: (performance.now() - started) / 1000,
    }),
  );
  await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
  await emulator.close();
  process.exit(0);
}

if (values["download-only"]) {
  // Download only: what fetchSource does before it imports (src/services/fetch-partner-center.ts downloadAll).
  const emu = JSON.parse(values["download-only"]) as {
    url: string;
    tenantId: string;
    clientId: string;
    clientSecret: string;
    invoiceId: string;
    out: string;
  };
  const http = { allowedHosts: [new URL(emu.url).host], timeoutMs: 600_000 };
  const client = new PartnerCenterClient({
    http,
    tokens: createTokenProvider({
      tenantId: emu.tenantId,
      clientId: emu.clientId,
      credential: { kind: "secret", clientSecret: emu.clientSecret },
      loginBase: emu.url,
      http,
    }),
    endpoints: { partnerCenter: `${emu.url}/partnercenter`, graph: `${emu.url}/graph` },
  });
  await client.listInvoices();
  const result = await client.export({ kind: "billed", invoiceId: emu.invoiceId }, { pollIntervalMs: 50 });
  if (result.kind !== "ready") throw new Error(result.message);
  const out = fs.createWriteStream(emu.out);
  let bytes = 0;
  for (const blob of result.manifest.blobs) bytes += await client.appendBlob(result.manifest, blob.name, out);
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  console.log(JSON.stringify({ blobs: result.manifest.blobs.length, bytes }));
  process.exit(0);
}

const lines = Number(values.lines);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-bench-fetch-"));
const file = path.join(dir, `recon-${lines}.csv`);
const BIN = path.resolve(import.meta.dirname, "../bin/cspsync.js");
const SELF = import.meta.filename;
const SAMPLE = path.resolve(import.meta.dirname, "../samples/nce-reconciliation-2024-06.csv");
const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

type Result = { seconds: number; peakRssMb: number; stdout: string; emulatorCpu: number };

/** utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

let emulatorPid = 0;
function measure(script: string, args: string[], env: NodeJS.ProcessEnv, flags: string[] = []): Result {
  const before = emulatorPid ? cpuSeconds(emulatorPid) : 0;
  const run = spawnSync("/usr/bin/time", ["-f", "TIME %e %M", process.execPath, ...flags, script, ...args], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
    env: { ...process.env, ...env },
  });
  const emulatorCpu = emulatorPid ? cpuSeconds(emulatorPid) - before : 0;
  const timing = /TIME ([\d.]+) (\d+)/.exec(run.stderr);
  if (run.status !== 0 || !timing)
    throw new Error(
      `measurement failed (exit ${run.status}): ${run.stdout.slice(-1000)} ${run.stderr.slice(-2000)}`,
    );
  return {
    seconds: Number(timing[1]),
    peakRssMb: Number(timing[2]) / 1024,
    stdout: run.stdout,
    emulatorCpu,
  };
}

const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
// The commit measured: the import may change speed between runs.
const git = (args: string[]) =>
  spawnSync("git", args, { cwd: path.dirname(BIN), encoding: "utf8" }).stdout?.trim() ?? "";
const changed = git(["status", "--porcelain", "--untracked-files=no"]) !== "";
console.log(
  `code: ${git(["rev-parse", "--short", "HEAD"]) || "not a git checkout"}${changed ? " with uncommitted changes" : ""}`,
);
console.log(
  `generating ${lines.toLocaleString("en-US")} lines… (uptime: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")})`,
);
await generateRecon(file, lines);

const emulator = spawn(
  process.execPath,
  [
    SELF,
    "--serve-emulator",
    file,
    "--lines-per-blob",
    values["lines-per-blob"]!,
    "--blob-dir",
    path.join(dir, "blobs"),
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
emulatorPid = emulator.pid!;
type Emu = {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  invoices: { id: string; lines: number; blobs: number }[];
  prebuildSeconds: number;
};
const emu = await new Promise<Emu>((resolve, reject) => {
  let banner = "";
  emulator.stdout.on("data", (chunk: Buffer) => {
    banner += chunk.toString("utf8");
    if (banner.includes("\n")) resolve(JSON.parse(banner) as Emu);
  });
  emulator.once("exit", (code) => reject(new Error(`the emulator stopped (${code})`)));
});
console.log(
  `emulator: ${emu.invoices.map((i) => `${i.id} ${i.lines} lines in ${i.blobs} blobs`).join(", ")}, built in ${emu.prebuildSeconds.toFixed(1)} s (not timed)`,
);

try {
  const env = {
    CSPSYNC_DATA_DIR: dir,
    CSPSYNC_MICROSOFT_ALLOWED_HOSTS: new URL(emu.url).host,
    CSPSYNC_SECRET_KEY: "0".repeat(64),
    BENCH_SECRET: emu.clientSecret,
  };
  const invoice = emu.invoices[0]!;
  const jsonl = path.join(dir, `${invoice.id}.jsonl.gz`);

  console.log("download only…");
  const downloaded = measure(
    SELF,
    ["--download-only", JSON.stringify({ ...emu, invoiceId: invoice.id, out: jsonl })],
    env,
  );

  const addSource = (db: string) => {
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
        emu.tenantId,
        "--client-id",
        emu.clientId,
        "--client-secret-env",
        "BENCH_SECRET",
        "--endpoints",
        emu.url,
        "--db",
        db,
      ],
      { encoding: "utf8", env: { ...process.env, ...env } },
    );
    if (added.status !== 0) throw new Error(added.stderr);
  };
  const fetchDb = `sqlite:${path.join(dir, "fetch.db")}`;
  addSource(fetchDb);
  console.log(`fetch + import from the emulator… (load ${loadAverage()})`);
  const fetched = measure(BIN, ["fetch", "PC", "--json", "--db", fetchDb], env);
  const outcome = (JSON.parse(fetched.stdout) as { status: string; newLines: number }[])[0]!;
  if (outcome.status !== "imported") throw new Error(`fetch: ${fetched.stdout}`);
  console.log("fetch again, nothing new (the fetch's fixed cost)…");
  const fetchedNothing = measure(BIN, ["fetch", "PC", "--json", "--db", fetchDb], env);
  const nothing = (JSON.parse(fetchedNothing.stdout) as { status: string }[])[0]!;
  if (nothing.status !== "nothing-new") throw new Error(`fetch: ${fetchedNothing.stdout}`);
  console.log("import of the 26-line sample (the import's fixed cost)…");
  const importedSample = measure(
    BIN,
    ["import", SAMPLE, "--json", "--db", `sqlite:${path.join(dir, "sample.db")}`],
    env,
  );
  console.log(`file import of the downloaded JSON Lines… (load ${loadAverage()})`);
  const importedJsonl = measure(
    BIN,
    ["import", jsonl, "--json", "--db", `sqlite:${path.join(dir, "jsonl.db")}`],
    env,
  );
  console.log("file import of the CSV…");
  const importedCsv = measure(
    BIN,
    ["import", file, "--json", "--db", `sqlite:${path.join(dir, "csv.db")}`],
    env,
  );
  const rows = [
    { name: "download only (export, blobs)", lines, ...downloaded },
    { name: "fetch + import (emulator)", lines: outcome.newLines, ...fetched },
    { name: "file import (the downloaded .jsonl.gz)", lines, ...importedJsonl },
    { name: "file import (CSV)", lines, ...importedCsv },
    { name: "fixed cost: fetch, nothing new", lines: 0, ...fetchedNothing },
    { name: "fixed cost: import of the 26-line sample", lines: 26, ...importedSample },
  ];
  console.log(
    "\n| run | lines | seconds | lines/s | peak RSS MB | emulator CPU s |\n| --- | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.lines.toLocaleString("en-US")} | ${r.seconds.toFixed(1)} | ${Math.round(r.lines / r.seconds).toLocaleString("en-US")} | ${r.peakRssMb.toFixed(0)} | ${r.emulatorCpu.toFixed(1)} |`,
    );
  const pct = (a: Result, b: Result) => `${(a.seconds / b.seconds).toFixed(2)}× the time`;
  console.log(`\nfetch vs file import of the same JSON Lines: ${pct(fetched, importedJsonl)}`);
  console.log(
    `fetch - file import of the same JSON Lines: ${(fetched.seconds - importedJsonl.seconds).toFixed(1)} s (download alone ${downloaded.seconds.toFixed(1)} s)`,
  );
  console.log(`fetch vs file import of the CSV: ${pct(fetched, importedCsv)}`);
  console.log(`JSON Lines file import vs CSV file import: ${pct(importedJsonl, importedCsv)}`);
  console.log(`load average at the end: ${loadAverage()}`);
} finally {
  emulator.kill("SIGTERM");
  if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
}
