#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point for the `cspsync` command. The code is TypeScript run through Node 24's type stripping;
// npm scripts and `npx cspsync` put the project's Node 24 (devDependency `node`) first on PATH. Every command
// runs with a small young generation (8 MB semi-spaces): garbage is collected sooner instead of piling up as
// headroom — the reconciliation report of 100,000 lines peaked at 320 MB without it and 202 MB with it, and
// took less time (BENCHMARKS.md).
import { spawn } from "node:child_process";

const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  console.error(`cspsync needs Node.js 24 or newer (this is ${process.version}); run it through npm / npx.`);
  process.exit(1);
}

// `cspsync import` and `cspsync fetch` stream billing data of any size: a small young generation and a capped old
// generation keep their memory flat (BENCHMARKS.md: fetch + import of 50,000 lines peaked at 188 MB capped and
// 416 MB without). Only these commands run capped; `serve` and `worker` hold a whole organisation's working
// set and get Node's default heap. The flags must be given when V8 starts, so these commands run in a child
// process with them (one extra process start, about 40 ms).
const CAPPED_COMMANDS = new Set(["import", "fetch"]);
const HEAP_FLAGS = ["--max-semi-space-size=8", "--max-old-space-size=160"];
const capped = process.execArgv.some((flag) => flag.startsWith("--max-old-space-size"));
if (CAPPED_COMMANDS.has(process.argv[2] ?? "") && !capped) {
  const child = spawn(process.execPath, [...process.execArgv, ...HEAP_FLAGS, ...process.argv.slice(1)], {
    stdio: "inherit",
  });
  // A supervisor's or the terminal's signal reaches the import too, which then ends as it would on its own.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => {
    if (code !== null) process.exit(code);
    // Ended by a signal: end the same way, so the caller sees what the import saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
} else {
  await import("../src/cli/main.ts");
}
