import fs from "node:fs";
import { parse } from "csv-parse";
import { openReconFile } from "../src/sources/reconciliation/reader.ts";

/**
 * The floor for ingest: a file's records read and counted (header excluded), nothing else done with them.
 * `--csv-parse` reads with csv-parse instead of cspsync's own reader, for comparison.
 */
let rows = 0;
if (process.argv[3] === "--csv-parse") {
  const parser = fs.createReadStream(process.argv[2]!, { highWaterMark: 1 << 20 }).pipe(parse({ bom: true }));
  for await (const _record of parser) rows += 1;
  rows -= 1;
} else {
  const recon = await openReconFile(process.argv[2]!);
  for await (const _row of recon.rows) rows += 1;
}
process.stdout.write(`${rows}\n`);
