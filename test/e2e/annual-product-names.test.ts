import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { PlannedLine } from "../../src/core/annual-plan.ts";
import type { PlannedMapping } from "../../src/services/annual-sync.ts";
import { DIALECTS } from "../support/stores.ts";
import { mappedConnectWise, type MappedConnectWise } from "../support/connectwise-setup.ts";
import { mappedAutotask, type MappedAutotask } from "../support/autotask-setup.ts";
import { runCli } from "../support/cli.ts";

/**
 * A charge matched to a PSA product whose name shares no product word with it is billed as the wrong product:
 * a catalog SKU typed for another product (the June sample once had Microsoft 365 E3 and E5 swapped), or a
 * fallback named after one product. Dry runs say so as data and as the line's warning; the written item
 * carries the same warning.
 */
const E3_WRONG_ITEM =
  'the charge is "Microsoft 365 E3" but it matched catalog item "M365-E5-ANNUAL — Microsoft 365 E5 (annual)": check the product mapping';
const VISIO_FALLBACK =
  'the charge is "Visio Plan 2" but it matched catalog item "O365-E1 — Office 365 E1": check the product mapping';
const SERVER_FALLBACK =
  'the charge is "Windows Server 2022 Standard - 16 Core License Pack" but it matched catalog item "O365-E1 — Office 365 E1": check the product mapping';
const E3_WRONG_PRODUCT =
  'the charge is "Microsoft 365 E3" but it matched Autotask product "Microsoft 365 E5 (Annual)": check the product mapping';

function lineOf(entry: PlannedMapping, productName: string): PlannedLine {
  const line = entry.plan.lines.find((l) => l.productName === productName);
  assert.ok(line, `no planned line for ${productName}`);
  return line;
}

for (const dialect of DIALECTS) {
  describe(`Product-name check on ConnectWise (${dialect})`, () => {
    let s: MappedConnectWise;

    before(async () => {
      s = await mappedConnectWise(dialect);
      // The E3 annual SKU typed on an E5 item, and a fallback named after one product.
      const item = s.emulator.data().tables.catalogItems.find((i) => i.identifier === "M365-E3-ANNUAL")!;
      Object.assign(item, { identifier: "M365-E5-ANNUAL", description: "Microsoft 365 E5 (annual)" });
      await s.app.connections.update(s.connectionId, { settings: { fallbackCatalogItem: "O365-E1" } });
    });
    after(async () => await s.cleanup());

    it("the dry run names each mismatch as data and warns on the line; well-matched lines stay quiet", async () => {
      const [entry] = await (await s.app.annualSync(s.connectionId)).plan({}, { resolveProducts: true });
      const e3 = lineOf(entry!, "Microsoft 365 E3");
      const { productRef, ...product } = entry!.products![e3.writeKey] as { productRef: string };
      assert.match(productRef, /^\d+$/);
      assert.deepEqual(product, {
        ok: true,
        label: "M365-E5-ANNUAL",
        record: { noun: "catalog item", label: "M365-E5-ANNUAL", name: "Microsoft 365 E5 (annual)" },
        nameMismatch: {
          chargeProduct: "Microsoft 365 E3",
          psaProduct: "M365-E5-ANNUAL — Microsoft 365 E5 (annual)",
          psaRecord: "catalog item",
          message: E3_WRONG_ITEM,
        },
      });
      assert.deepEqual(e3.warnings, [E3_WRONG_ITEM]);
      assert.deepEqual(lineOf(entry!, "Visio Plan 2").warnings, [VISIO_FALLBACK]);
      assert.equal(
        entry!.products![lineOf(entry!, "Visio Plan 2").writeKey]!.nameMismatch?.psaProduct,
        "O365-E1 — Office 365 E1",
      );
      for (const name of ["Microsoft 365 Business Premium", "Exchange Online (Plan 1)"]) {
        for (const line of entry!.plan.lines.filter((l) => l.productName === name)) {
          assert.equal(entry!.products![line.writeKey]!.nameMismatch, undefined, name);
          assert.deepEqual(line.warnings, [], name);
        }
      }
    });

    it("cspsync sync --dry-run prints the warning under the line and gives it as data with --json", async () => {
      const cli = (...args: string[]) =>
        runCli(["sync", "CW", "--dry-run", ...args, "--db", s.databaseUrl], { env: s.env });
      const text = await cli();
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout,
        /as M365-E5-ANNUAL — Microsoft 365 E5 \(annual\)\n\s+warning: the charge is "Microsoft 365 E3"/,
      );
      assert.ok(text.stdout.includes(`warning: ${VISIO_FALLBACK}`), text.stdout);
      const json = await cli("--json");
      const result = JSON.parse(json.stdout) as { mappings: PlannedMapping[] };
      const mismatches = Object.values(result.mappings[0]!.products!)
        .map((p) => p.nameMismatch?.message)
        .filter(Boolean)
        .sort();
      assert.deepEqual(mismatches, [E3_WRONG_ITEM, VISIO_FALLBACK, SERVER_FALLBACK]);
    });

    it("the sync writes the lines and reports the same warnings on the written items", async () => {
      const run = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([run.status, run.written, run.errors], ["warning", 8, 0]);
      const warned = run.items
        .filter((i) => i.outcome === "warning")
        .map((i) => i.message)
        .sort();
      assert.deepEqual(warned, [E3_WRONG_ITEM, VISIO_FALLBACK, SERVER_FALLBACK]);
      const e3 = run.items.find((i) => i.line?.productName === "Microsoft 365 E3")!;
      assert.deepEqual(e3.line!.warnings, [E3_WRONG_ITEM]);
      assert.ok(e3.psaRecordId);
    });
  });

  describe(`Product-name check on Autotask (${dialect})`, () => {
    let s: MappedAutotask;

    before(async () => {
      s = await mappedAutotask(dialect);
      const product = s.emulator.state.list("Products").find((p) => p.name === "Microsoft 365 E3 (Annual)")!;
      product.name = "Microsoft 365 E5 (Annual)";
    });
    after(async () => await s.cleanup());

    it("the dry run and the written item warn for a product named for another; billing codes are not checked", async () => {
      const sync = await s.app.annualSync(s.connectionId);
      const [entry] = await sync.plan({}, { resolveProducts: true });
      const e3 = lineOf(entry!, "Microsoft 365 E3");
      assert.equal(entry!.products![e3.writeKey]!.nameMismatch?.message, E3_WRONG_PRODUCT);
      assert.deepEqual(e3.warnings, [E3_WRONG_PRODUCT]);
      // Visio falls back to the billing code: a billing code names no product, so nothing is compared.
      const visio = lineOf(entry!, "Visio Plan 2");
      assert.equal(entry!.products![visio.writeKey]!.nameMismatch, undefined);
      assert.deepEqual(visio.warnings, []);

      const run = await (await s.app.annualSync(s.connectionId)).run("manual");
      assert.deepEqual([run.status, run.written, run.errors], ["warning", 8, 0]);
      assert.deepEqual(
        run.items.filter((i) => i.outcome === "warning").map((i) => i.message),
        [E3_WRONG_PRODUCT],
      );
    });
  });
}
