import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { sql, type Transaction } from "kysely";
import pg from "pg";
import { generateRecon } from "./generate-recon.ts";
import { importReconFile, insertImportRow } from "../src/services/import-recon.ts";
import { openStore, type Store } from "../src/store/db.ts";
import { DEFAULT_ORGANIZATION_ID } from "../src/store/organization.ts";
import { PostgresLineWriter } from "../src/store/postgres-line-writer.ts";
import { SqliteLineWriter } from "../src/store/sqlite-line-writer.ts";
import type { ChargeLinesTable, Database } from "../src/store/schema.ts";

/**
 * npm run bench:store-floor -- --lines 1000000
 * What the database alone takes to store charge lines exactly as `cspsync import` stores them, with nothing
 * else done: no reading, parsing, hashing, classifying, subscriptions, customers, key blocks, rows as read or
 * pair events. The lines are real stored lines (a generated file of 20,000 lines imported first, then read
 * back), repeated with their keys made unique until there are `--lines`, and written in batches of 400
 * through the import's own line writers (src/store/*-line-writer.ts) into a new, migrated database, in one
 * transaction with its imports row, committed at the end. SQLite: the cached multi-row INSERTs; PostgreSQL:
 * COPY, then ANALYZE. PostgreSQL is measured a second time with the table's two foreign keys dropped, to show
 * their share. The fastest a fresh import could be with today's stored line is at most these rates.
 */
const { values } = parseArgs({ options: { lines: { type: "string", default: "1000000" } } });
const lines = Number(values.lines);
const BATCH = 400;
const SAMPLE_LINES = 20_000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-store-floor-"));
const postgresAdmin = process.env.CSPSYNC_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Lines as cspsync stored them for a generated file (rowid order). */
async function storedSample(): Promise<ChargeLinesTable[]> {
  const file = path.join(dir, "sample.csv");
  await generateRecon(file, SAMPLE_LINES);
  const store = await openStore(`sqlite:${path.join(dir, "sample.db")}`);
  try {
    await importReconFile(store, file, {});
    return await store.db
      .selectFrom("charge_lines")
      .selectAll()
      .orderBy(sql`rowid`)
      .execute();
  } finally {
    await store.close();
  }
}

/** The n-th line to store: a sample line whose key (and, through it, event key) is unique to its round. */
function lineAt(sample: readonly ChargeLinesTable[], n: number, importId: string): ChargeLinesTable {
  const line = sample[n % sample.length]!;
  const round = Math.floor(n / sample.length);
  return {
    ...line,
    import_id: importId,
    line_key: `${line.line_key}~${round}`,
    event_key: `${line.event_key}~${round}`,
    source_row: n + 2,
  };
}

type Writer = { append(rows: ChargeLinesTable[]): Promise<void>; finish(): Promise<void> };

async function measure(
  store: Store,
  sample: readonly ChargeLinesTable[],
  writerFor: (trx: Transaction<Database>) => Writer,
) {
  const importId = `floor-${Date.now()}`;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await store.db.transaction().execute(async (trx) => {
    await insertImportRow(trx, {
      importId,
      organizationId: DEFAULT_ORGANIZATION_ID,
      fileName: "floor.csv",
      format: "csv",
      startedAt: new Date().toISOString(),
    });
    const writer = writerFor(trx);
    for (let start = 0; start < lines; start += BATCH) {
      const rows: ChargeLinesTable[] = [];
      for (let n = start; n < Math.min(start + BATCH, lines); n++) rows.push(lineAt(sample, n, importId));
      await writer.append(rows);
    }
    await writer.finish();
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rate: lines / seconds, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

async function sqliteFloor(sample: readonly ChargeLinesTable[]) {
  const store = await openStore(`sqlite:${path.join(dir, "floor.db")}`);
  try {
    return await measure(store, sample, (trx) => {
      const writer = new SqliteLineWriter(trx, DEFAULT_ORGANIZATION_ID);
      return { append: (rows) => writer.append(rows, null), finish: () => writer.finish() };
    });
  } finally {
    await store.close();
  }
}

async function postgresFloor(sample: readonly ChargeLinesTable[], foreignKeys: boolean) {
  const name = `cspsync_store_floor_${process.pid}`;
  const admin = new pg.Client({ connectionString: postgresAdmin });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(postgresAdmin);
  url.pathname = `/${name}`;
  try {
    const store = await openStore(url.toString());
    try {
      if (!foreignKeys) {
        const constraints = await sql<{ conname: string }>`
          select conname from pg_constraint where conrelid = 'charge_lines'::regclass and contype = 'f'
        `.execute(store.db);
        for (const { conname } of constraints.rows)
          await sql`alter table charge_lines drop constraint ${sql.id(conname)}`.execute(store.db);
      }
      return await measure(store, sample, (trx) => {
        const writer = new PostgresLineWriter(trx, DEFAULT_ORGANIZATION_ID);
        return { append: (rows) => writer.append(rows, null), finish: () => writer.finish() };
      });
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const sample = await storedSample();
const cpu = os.cpus();
console.log(
  `${lines.toLocaleString("en-US")} stored lines (${sample.length.toLocaleString("en-US")} distinct, repeated); node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? "cpu"}; load ${os.loadavg()[0]!.toFixed(1)}`,
);
const report = (label: string, r: { rate: number; seconds: number; cpuSeconds: number }) =>
  console.log(
    `${label.padEnd(44)} ${Math.round(r.rate).toLocaleString("en-US").padStart(9)} lines/s  ${r.seconds.toFixed(1).padStart(5)} s wall  ${r.cpuSeconds.toFixed(1).padStart(5)} s CPU (this process)`,
  );
report("SQLite, as cspsync stores them", await sqliteFloor(sample));
report("PostgreSQL, as cspsync stores them", await postgresFloor(sample, true));
report("PostgreSQL, without the two foreign keys", await postgresFloor(sample, false));
console.log(`load at the end ${os.loadavg()[0]!.toFixed(1)}`);
fs.rmSync(dir, { recursive: true, force: true });
