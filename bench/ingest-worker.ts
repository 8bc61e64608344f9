import fs from "node:fs";
import { parse } from "csv-parse";
import { openStore } from "../src/store/db.ts";
import { importReconFile } from "../src/services/import-recon.ts";

/** Runs one measured ingest in its own process, so peak RSS belongs to that run alone. */
const [mode, file, dbUrl] = process.argv.slice(2);

async function bareParse(path: string): Promise<number> {
  let rows = 0;
  const parser = fs.createReadStream(path, { highWaterMark: 1 << 20 }).pipe(parse({ bom: true }));
  for await (const _record of parser) rows += 1;
  return rows - 1;
}

async function fullImport(path: string, url: string): Promise<number> {
  const store = await openStore(url);
  try {
    const summary = await importReconFile(store, path);
    if (summary.status !== "imported") throw new Error(summary.problem?.message);
    return summary.lines;
  } finally {
    await store.close();
  }
}

const started = process.hrtime.bigint();
const lines = mode === "parse" ? await bareParse(file!) : await fullImport(file!, dbUrl!);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(
  JSON.stringify({ mode, lines, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }) + "\n",
);
