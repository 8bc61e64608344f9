import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { parseArgs } from "node:util";
import { generateRecon } from "./generate-recon.ts";
import { openReconFile } from "../src/sources/reconciliation/reader.ts";
import { toChargeLine } from "../src/sources/reconciliation/row.ts";
import { contentHash, lineKey } from "../src/sources/reconciliation/line-key.ts";

/**
 * npm run bench:ingest-floor -- --lines 1000000 [--integer-keys]
 * What SQLite itself can take on this machine, before cspsync does any work: rows shaped like the typed part
 * of a stored charge line (31 values taken from real generated lines), inserted through node:sqlite with
 * 32-row prepared statements in one transaction, nothing else done. Three shapes, each under cspsync's own
 * settings (WAL, synchronous NORMAL, 16 MB cache) and under no durability at all (journal and syncing off,
 * 256 MB cache) as an upper bound:
 *   typed             the typed columns alone, appended in rowid order, no index;
 *   typed + source    plus the line's source record as a compact JSON array of its values;
 *   typed + key       the typed columns plus the unique line-key index (content hash + occurrence) that
 *                     recognises known lines;
 *   typed + key + source   all three, the least a stored line is.
 */
const { values } = parseArgs({
  options: { lines: { type: "string", default: "1000000" }, "integer-keys": { type: "boolean" } },
});
// --integer-keys: the line key as a 64-bit integer taken from the hash instead of text (a smaller index).
const integerKeys = values["integer-keys"] === true;
const lines = Number(values.lines);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-floor-"));

type Sample = { typed: SQLInputValue[]; hash: string; source: string };

async function sampleLines(count: number): Promise<Sample[]> {
  const file = path.join(dir, "sample.csv");
  await generateRecon(file, count);
  const recon = await openReconFile(file);
  const samples: Sample[] = [];
  for await (const { row, fields } of recon.rows) {
    const line = toChargeLine(fields, recon.mapping, recon.file, row);
    samples.push({
      typed: [
        "default",
        "import-id",
        row,
        line.invoiceNumber,
        line.customerTenantId,
        line.subscriptionId,
        `line:${contentHash(line, fields, recon.mapping)}-0`,
        "seat-monthly",
        1,
        "billed monthly",
        line.chargeType,
        line.orderDate,
        line.chargeStart,
        line.chargeEnd,
        line.subscriptionStart,
        line.subscriptionEnd,
        line.productId,
        line.skuId,
        line.availabilityId,
        line.productName,
        line.skuName,
        line.billingFrequency,
        line.unitPrice,
        line.effectiveUnitPrice,
        line.quantity,
        line.billableQuantity,
        line.subtotal,
        line.taxTotal,
        line.total,
        line.currency,
        line.referenceId,
      ],
      hash: contentHash(line, fields, recon.mapping),
      source: JSON.stringify(fields),
    });
  }
  return samples;
}

function keyOf(hash: string, occurrence: number): SQLInputValue {
  if (!integerKeys) return lineKey(hash, occurrence);
  return BigInt.asIntN(64, BigInt(`0x${hash.slice(0, 16)}`) + BigInt(occurrence));
}

type Shape = "typed" | "typed + source" | "typed + key" | "typed + key + source";
const withKey = (shape: Shape) => shape.includes("key");
const withSource = (shape: Shape) => shape.includes("source");
type Durability = "cspsync settings" | "no durability";
const ROWS_PER_STATEMENT = 32;

function measure(samples: Sample[], shape: Shape, durability: Durability) {
  const file = path.join(dir, `floor-${Date.now()}.db`);
  const db = new DatabaseSync(file);
  if (durability === "cspsync settings") {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384");
  } else {
    db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144");
  }
  const typedColumns = samples[0]!.typed.map((_, i) => `c${i}`);
  const columns = [
    ...typedColumns,
    ...(withKey(shape) ? ["line_key"] : []),
    ...(withSource(shape) ? ["source"] : []),
  ];
  db.exec(`create table line (id integer primary key, ${columns.map((c) => `${c} any`).join(", ")})`);
  if (withKey(shape)) db.exec("create unique index line_key on line (c0, line_key)");
  const tuple = `(${columns.map(() => "?").join(",")})`;
  const insert = db.prepare(
    `insert into line (${columns.join(",")}) values ${Array(ROWS_PER_STATEMENT).fill(tuple).join(",")}`,
  );
  const started = performance.now();
  const cpu = process.cpuUsage();
  db.exec("begin");
  const parameters: SQLInputValue[] = [];
  let written = 0;
  for (let i = 0; i < lines; i++) {
    const sample = samples[i % samples.length]!;
    for (const value of sample.typed) parameters.push(value ?? null);
    if (withKey(shape)) parameters.push(keyOf(sample.hash, Math.floor(i / samples.length)));
    if (withSource(shape)) parameters.push(sample.source);
    if (parameters.length === ROWS_PER_STATEMENT * columns.length) {
      insert.run(...parameters);
      written += ROWS_PER_STATEMENT;
      parameters.length = 0;
    }
  }
  db.exec("commit");
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  db.close();
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
  return { rate: written / seconds, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

const samples = await sampleLines(Math.min(lines, 20_000));
const cpu = os.cpus();
console.log(
  `${lines.toLocaleString("en-US")} rows${integerKeys ? ", integer keys" : ""}; node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? "cpu"}; load ${os.loadavg()[0]!.toFixed(1)}`,
);
for (const durability of ["cspsync settings", "no durability"] as const) {
  for (const shape of ["typed", "typed + source", "typed + key", "typed + key + source"] as const) {
    const r = measure(samples, shape, durability);
    console.log(
      `${durability.padEnd(17)} ${shape.padEnd(20)} ${Math.round(r.rate).toLocaleString("en-US").padStart(9)} rows/s  ${r.seconds.toFixed(1).padStart(5)} s wall  ${r.cpuSeconds.toFixed(1).padStart(5)} s CPU`,
    );
  }
}
fs.rmSync(dir, { recursive: true, force: true });
