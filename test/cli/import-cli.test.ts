import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DIALECTS, createTestDatabase, type TestDatabase } from "../support/stores.ts";
import { baseRow, toCsv, writeCsv } from "../support/recon-builder.ts";
import { SUBS, juneRows } from "../support/scenarios.ts";
import { runCli } from "../support/cli.ts";
import { randomBytes } from "node:crypto";
import { createApp } from "../../src/app.ts";
import { openStore } from "../../src/store/db.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-cli-"));
const june = writeCsv(path.join(dir, "june.csv"), juneRows());
const bad = writeCsv(path.join(dir, "bad.csv"), [baseRow(), baseRow({ EffectiveUnitPrice: "abc" })]);
const semicolons = path.join(dir, "semicolons.csv");
fs.writeFileSync(semicolons, toCsv([baseRow({ InvoiceNumber: "G200000002" })], { delimiter: ";" }));

for (const dialect of DIALECTS) {
  describe(`cspsync import and listings (${dialect})`, () => {
    let database: TestDatabase;
    before(async () => {
      database = await createTestDatabase(dialect);
    });
    after(async () => database.drop());

    it("imports a file and prints what it stored; a second import finds everything known", async () => {
      const first = await runCli(["import", june, "--db", database.url]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /june\.csv: imported \(csv\)/);
      assert.match(first.stdout, /lines\s+26 \(26 new, 0 already known\)/);
      assert.match(first.stdout, /Seat-based Monthly 13, Azure Plan 3, Seat-based Annual 10/);
      const second = await runCli(["import", june, "--json"], {
        env: { CSPSYNC_DATABASE_URL: database.url },
      });
      assert.equal(second.code, 0, second.stderr);
      const parsed = JSON.parse(second.stdout) as { files: { newLines: number; knownLines: number }[] };
      assert.deepEqual([parsed.files[0]!.newLines, parsed.files[0]!.knownLines], [0, 26]);
    });

    it("exits non-zero when a file is rejected, naming row and column, and still imports the good files", async () => {
      const result = await runCli(["import", bad, june, "--db", database.url]);
      assert.equal(result.code, 1);
      assert.match(
        result.stdout,
        /bad\.csv: REJECTED, nothing stored\n\s+bad\.csv, row 3, column EffectiveUnitPrice: "abc" is not a number/,
      );
      assert.match(result.stdout, /june\.csv: imported/);
    });

    it("a file in another separator is rejected with the option that reads it, and --delimiter reads it", async () => {
      const refused = await runCli(["import", semicolons, "--db", database.url]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stdout,
        /semicolons\.csv: REJECTED, nothing stored\n\s+semicolons\.csv, row 1: fields are separated by ";", expected ","[^\n]*\n\s+read it with --delimiter ';'\n/,
      );
      const json = JSON.parse(
        (await runCli(["import", semicolons, "--json", "--db", database.url])).stdout,
      ) as {
        files: { problem?: { hint?: unknown } }[];
      };
      assert.deepEqual(json.files[0]!.problem?.hint, { kind: "delimiter", detected: ";", expected: "," });
      const read = await runCli(["import", semicolons, "--delimiter", "semicolon", "--db", database.url]);
      assert.equal(read.code, 0, read.stdout + read.stderr);
      assert.match(read.stdout, /semicolons\.csv: imported \(csv\)/);
      assert.match(read.stdout, /invoices\s+G200000002/);
    });

    it("lists invoices, customers and a customer's charges, as tables and as JSON", async () => {
      const invoices = await runCli(["invoices", "--db", database.url]);
      assert.match(
        invoices.stdout,
        /G100000001\s+USD\s+2024-06-01\s+2025-06-09\s+26\s+4171\.09\s+4178\.59\s+june\.csv/,
      );
      const customers = JSON.parse(
        (await runCli(["customers", "--json", "--search", "fabrikam", "--db", database.url])).stdout,
      ) as {
        customers: { name: string; eventsByMotion: Record<string, number> }[];
      };
      assert.deepEqual(
        customers.customers.map((c) => c.name),
        ['Fabrikam "Northwind" Logistics'],
      );
      const charges = JSON.parse(
        (
          await runCli([
            "charges",
            "--customer",
            "196e2273-9651-43a3-ba7e-7cbcd918fc40",
            "--motion",
            "seat-annual",
            "--json",
            "--db",
            database.url,
          ])
        ).stdout,
      ) as { events: { subscriptionId: string; kind: string; seatDelta: string; amount: string }[] };
      const annual = charges.events.filter((e) => e.subscriptionId === SUBS.annual);
      assert.deepEqual(
        annual.map((e) => [e.kind, e.seatDelta, e.amount]),
        [
          ["purchase", "5", "1320"],
          ["seat-change", "2", "499.06"],
          ["seat-change", "-1", "-248.09"],
        ],
      );
    });

    it("explains usage errors with exit code 2", async () => {
      const noCustomer = await runCli(["charges", "--db", database.url]);
      assert.equal(noCustomer.code, 2);
      assert.match(noCustomer.stderr, /charges needs --customer/);
      const badMotion = await runCli([
        "charges",
        "--customer",
        "x",
        "--motion",
        "weekly",
        "--db",
        database.url,
      ]);
      assert.equal(badMotion.code, 2);
      assert.match(badMotion.stderr, /--motion must be one of seat-monthly, azure, seat-annual/);
      const missing = await runCli(["import", path.join(dir, "nope.csv"), "--db", database.url]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /nope\.csv: no such file/);
    });
  });
}

// What follows the imports is the command's own orchestration, the same on both databases: SQLite only.
describe("cspsync import: what follows the imports", () => {
  let database: TestDatabase;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-cli-notify-"));
  const env = {
    CSPSYNC_DATA_DIR: dataDir,
    CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
    CSPSYNC_NOTIFY_ALLOWED_HOSTS: "127.0.0.1:9",
  };
  before(async () => {
    database = await createTestDatabase("sqlite");
    const app = await createApp({ databaseUrl: database.url, env, log: false });
    try {
      await app.notifications.addChannel({
        kind: "webhook",
        name: "Hook",
        secrets: { url: "http://127.0.0.1:9/cspsync", signingSecret: "a-signing-secret-for-tests" },
      });
    } finally {
      await app.close();
    }
  });
  after(async () => {
    await database.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function told(): Promise<string[]> {
    const store = await openStore(database.url);
    try {
      const rows = await store.db
        .selectFrom("notification_outbox")
        .select(["event_kind", "title"])
        .orderBy("title")
        .execute();
      return rows.map((r) => `${r.event_kind}: ${r.title}`);
    } finally {
      await store.close();
    }
  }

  it("a rejected file is told to the notification channels; a file imported or already known is not", async () => {
    const rejected = await runCli(["import", bad, "--db", database.url], { env });
    assert.equal(rejected.code, 1);
    assert.deepEqual(await told(), ["import-rejected: Import rejected: bad.csv"]);
    for (let run = 0; run < 2; run++) {
      const imported = await runCli(["import", june, "--json", "--db", database.url], { env });
      assert.equal(imported.code, 0, imported.stderr);
      const json = JSON.parse(imported.stdout) as { files: { newLines: number }[]; queuedChecks: number };
      // No PSA connection is set up: new annual charges queue no check.
      assert.deepEqual([json.files[0]!.newLines, json.queuedChecks], [run === 0 ? 26 : 0, 0]);
    }
    assert.deepEqual(await told(), ["import-rejected: Import rejected: bad.csv"]);
  });

  it("needs no secret key when nothing follows; when something does and the key is unreadable, prints what was stored first", async () => {
    const unreadable = { ...env, CSPSYNC_SECRET_KEY: "not-a-key" };
    const known = await runCli(["import", june, "--db", database.url], { env: unreadable });
    assert.equal(known.code, 0, known.stderr);
    assert.match(known.stdout, /lines\s+26 \(0 new, 26 already known\)/);
    const rejected = await runCli(["import", june, bad, "--db", database.url], { env: unreadable });
    assert.equal(rejected.code, 1);
    assert.match(rejected.stdout, /june\.csv: imported[\s\S]*bad\.csv: REJECTED, nothing stored/);
    assert.match(rejected.stderr, /CSPSYNC_SECRET_KEY must be 32 bytes/);
  });
});
