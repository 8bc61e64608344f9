import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { mappedConnectWise } from "../support/connectwise-setup.ts";
import { runCli } from "../support/cli.ts";

const PRICE_LIST = path.resolve(import.meta.dirname, "../../samples/price-list-2024-06.csv");

type DryLine = {
  productId: string;
  unitCost: string;
  unitPrice: string | null;
  priceSource: string;
  atOrBelowCost: boolean;
};
const linesOf = (stdout: string): DryLine[] =>
  (JSON.parse(stdout) as { mappings: { plan: { lines: DryLine[] } }[] }).mappings.flatMap(
    (m) => m.plan.lines,
  );

describe("cspsync price-list (ConnectWise emulator)", () => {
  it("imports the sample price list once, lists and shows it, and the dry run then sells at the ERP", async () => {
    const s = await mappedConnectWise("sqlite");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-pl-"));
    try {
      const cli = (...args: string[]) => runCli([...args, "--db", s.databaseUrl], { env: s.env });

      const before = await cli("sync", "CW", "--dry-run", "--json");
      assert.equal(before.code, 0, before.stderr);
      const premium = (lines: DryLine[]) =>
        lines.find((l) => l.productId === "CFQ7TTC0LCHC" && !l.unitCost.startsWith("-"))!;
      const was = premium(linesOf(before.stdout));
      assert.deepEqual(
        [was.unitPrice, was.priceSource, was.atOrBelowCost],
        [was.unitCost, "microsoft-list", true],
      );

      // A bad row: the whole file is refused, naming the row and column, and nothing is stored.
      const bad = path.join(dir, "bad.csv");
      const text = fs.readFileSync(PRICE_LIST, "utf8").split("\r\n");
      text[4] = text[4]!.replace(",26.4,", ",2x.4,");
      fs.writeFileSync(bad, text.join("\r\n"));
      const refused = await cli("price-list", "import", bad);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /bad\.csv, row 5, column UnitPrice: "2x\.4" is not a number/);
      const none = await cli("price-list", "list", "--json");
      assert.deepEqual(JSON.parse(none.stdout), { imports: [] });

      const imported = await cli("price-list", "import", PRICE_LIST, "--by", "ops");
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(
        imported.stdout,
        /Imported price-list-2024-06\.csv: US USD, 24 prices effective 2022-03-01 to 2023-04-01 \(24 new, 0 replaced\)/,
      );
      const again = await cli("price-list", "import", PRICE_LIST, "--json");
      const second = JSON.parse(again.stdout) as { duplicate: boolean; added: number };
      assert.deepEqual([second.duplicate, second.added], [true, 0]);

      const listed = await cli("price-list", "list");
      assert.match(listed.stdout, /price-list-2024-06\.csv\s+US\s+USD\s+2022-03-01 to 2023-04-01\s+24/);
      const shown = await cli("price-list", "show", "CFQ7TTC0LCHC:0002");
      assert.match(
        shown.stdout,
        /CFQ7TTC0LCHC:0002\s+Microsoft 365 Business Premium\s+P1Y\s+Annual\s+264 USD\s+330 USD/,
      );
      const byWords = await cli("price-list", "show", "teams", "rooms", "--json");
      assert.equal((JSON.parse(byWords.stdout) as { entries: unknown[] }).entries.length, 2);

      const after = await cli("sync", "CW", "--dry-run", "--json");
      const now = premium(linesOf(after.stdout));
      assert.deepEqual(
        [now.unitCost, now.unitPrice, now.priceSource, now.atOrBelowCost],
        [was.unitCost, "330", "price-list", false],
      );
      const textual = await cli("sync", "CW", "--dry-run");
      assert.match(textual.stdout, /price from price list ERP/);

      const help = await runCli(["price-list", "--help"]);
      assert.match(help.stdout + help.stderr, /New commerce license-based/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await s.cleanup();
    }
  });
});
