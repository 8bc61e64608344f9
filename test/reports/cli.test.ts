import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import ExcelJS from "exceljs";
import { parse } from "csv-parse/sync";
import { openStore } from "../../src/store/db.ts";
import { runCli } from "../support/cli.ts";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../support/stores.ts";
import { importTwoMonths } from "./fixture.ts";

for (const dialect of DIALECTS) {
  describe(`cspsync report reconciliation and cspsync renewals (docs/reports.md §6, ${dialect})`, () => {
    let database: TestDatabase;
    let dir: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      database = await createTestDatabase(dialect);
      const store = await openStore(database.url);
      await importTwoMonths(store);
      await store.close();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-report-cli-"));
      env = {
        CSPSYNC_DATA_DIR: dir,
        CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
        CSPSYNC_LOG_LEVEL: "error",
      };
    });
    after(async () => {
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("prints the summary and writes CSV and XLSX files", async () => {
      const summary = await runCli(["report", "reconciliation", "--invoice", "G-JUN", "--db", database.url], {
        env,
      });
      assert.equal(summary.code, 0, summary.stderr);
      assert.match(summary.stdout, /1829\.87/);
      assert.match(summary.stdout, /no PSA connection/);
      const csvFile = path.join(dir, "june.csv");
      const csv = await runCli(
        [
          "report",
          "reconciliation",
          "--invoice",
          "G-JUN",
          "--format",
          "csv",
          "--out",
          csvFile,
          "--db",
          database.url,
        ],
        { env },
      );
      assert.equal(csv.code, 0, csv.stderr);
      assert.equal((parse(fs.readFileSync(csvFile)) as string[][]).length, 7);
      const xlsxFile = path.join(dir, "june.xlsx");
      const xlsx = await runCli(
        [
          "report",
          "reconciliation",
          "--invoice",
          "G-JUN",
          "--format",
          "xlsx",
          "--out",
          xlsxFile,
          "--db",
          database.url,
        ],
        { env },
      );
      assert.equal(xlsx.code, 0, xlsx.stderr);
      const book = new ExcelJS.Workbook();
      await book.xlsx.readFile(xlsxFile);
      assert.equal(book.getWorksheet("Lines")!.rowCount, 7);
      // JSON to standard output, streamed: the lines first, then the summary.
      const json = await runCli(
        ["report", "reconciliation", "--invoice", "G-JUN", "--format", "json", "--db", database.url],
        { env },
      );
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout) as { lines: { reason: string }[]; totals: { cost: string }[] };
      assert.deepEqual([report.lines.length, report.totals.map((t) => t.cost)], [6, ["1829.87"]]);
      assert.ok(report.lines.every((l) => l.reason === "no PSA connection"));
      const bad = await runCli(["report", "reconciliation", "--db", database.url], { env });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /--invoice is required/);
    });

    it("lists the ledger as JSON and makes a feed token", async () => {
      const ledger = await runCli(["renewals", "ledger", "--json", "--db", database.url], { env });
      assert.equal(ledger.code, 0, ledger.stderr);
      assert.equal((JSON.parse(ledger.stdout) as { ledger: unknown[] }).ledger.length, 5);
      const renewals = await runCli(["renewals", "--days", "30", "--json", "--db", database.url], { env });
      assert.equal(renewals.code, 0, renewals.stderr);
      assert.equal((JSON.parse(renewals.stdout) as { days: number }).days, 30);
      const token = await runCli(["renewals", "feed-token", "--db", database.url], { env });
      assert.equal(token.code, 0, token.stderr);
      assert.match(token.stdout, /\/api\/renewals\/feed\/csf_[A-Za-z0-9_-]{32}\.ics/);
    });
  });
}
