import { parseArgs } from "node:util";
import {
  itemKindLabel,
  recordOrigin,
  type PriceConfirmationItem,
  type ProductPlanItem,
} from "../../core/product-plan.ts";
import { previewProducts, productSyncOf, runProductSync } from "../../services/product-runs.ts";
import { PriceConfirmationRequiredError, type ProductItemResult } from "../../services/product-sync.ts";
import { resolveConnection, withApp } from "./connections.ts";
import { printJson, renderTable, UsageError } from "../output.ts";

export const productsHelp = `cspsync products preview|sync CONNECTION [--mode all|in-use] [--yes] [--json]
        ConnectWise: [--subcategory ID|NAME] [--type ID|NAME] [--category ID] [--taxable]
        Autotask:    [--billing-code ID] [--vendor-company ID] [--product-billing-code ID]

Product catalog sync: the products of the imported billing data become ConnectWise catalog items (identified
by SKU, P1Y:A / P1Y:M prefixes for annual terms, linked to existing items through the vendor SKU) or Autotask
services named PC_<SKU>, plus, on Autotask, the Products that Seat-based Annual contract charges use (SKU
P1Y:A:<SKU>, or <SKU> for one-time purchases; created only with --product-billing-code or its setting, else
linked where one exists). --mode all takes every product seen; in-use only those billed to customers with an
enabled mapping. The mode and defaults come from the connection's settings; the flags override them.
preview lists, per product, create / link / update / skip and every conflict, and writes nothing; sync applies
it (running it again does nothing). Exit code 1 if any product failed or has a conflict.
The sell price of a PSA record cspsync linked but did not create (shown as "linked (yours)") is never changed
unless the connection's setting linkedPriceUpdates is "confirm"; then sync lists those price changes and writes
nothing until it is run again with --yes. Cost always follows the billing data.`;

export async function productsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: "string" },
      json: { type: "boolean" },
      mode: { type: "string" },
      subcategory: { type: "string" },
      type: { type: "string" },
      category: { type: "string" },
      taxable: { type: "boolean" },
      "billing-code": { type: "string" },
      "vendor-company": { type: "string" },
      "product-billing-code": { type: "string" },
      yes: { type: "boolean" },
    },
  });
  const [action, connectionName] = positionals;
  if (action !== "preview" && action !== "sync") throw new UsageError("say preview or sync");
  if (values.mode !== undefined && values.mode !== "all" && values.mode !== "in-use")
    throw new UsageError("--mode is all or in-use");
  const overrides = {
    productSyncMode: values.mode,
    productSubcategory: values.subcategory,
    productType: values.type,
    productCategoryId: values.category,
    productTaxable: values.taxable,
    serviceBillingCodeId: values["billing-code"],
    serviceVendorCompanyId: values["vendor-company"],
    productBillingCodeId: values["product-billing-code"],
  };
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, connectionName);
    const { mode } = await productSyncOf(app, connection.id, overrides);
    if (mode === "off") {
      throw new UsageError(`product sync is off for ${connection.name}; pass --mode all or --mode in-use`);
    }
    if (action === "preview") {
      const preview = await previewProducts(app, connection.id, overrides);
      if (values.json) printJson({ preview });
      else printPlan(connection.name, preview.vendor, preview.plan.items);
      return preview.plan.counts.conflict > 0 ? 1 : 0;
    }
    // Recorded in the product sync history like the web app's and the scheduler's runs.
    let synced: Awaited<ReturnType<typeof runProductSync>>;
    try {
      synced = await runProductSync(app, connection.id, "cli", overrides, {
        unconfirmed: "refuse",
        ...(values.yes ? { confirmed: "all-planned" as const } : {}),
      });
    } catch (error) {
      if (!(error instanceof PriceConfirmationRequiredError)) throw error;
      if (values.json)
        printJson({ written: false, error: error.message, priceConfirmation: error.confirmation });
      else printConfirmationNeeded(connection.name, error.confirmation.changes);
      return 1;
    }
    const { run, result } = synced;
    if (!result) throw new Error(`product sync failed: ${run.message ?? "unknown error"}`);
    if (values.json) printJson({ result, runId: run.id });
    else printResult(connection.name, result.items);
    return result.counts.conflict + result.counts.failed > 0 ? 1 : 0;
  });
}

function printPlan(connection: string, vendor: "connectwise" | "autotask", items: ProductPlanItem[]): void {
  console.log(`Product sync preview for ${connection} (nothing written)\n`);
  console.log(
    renderTable(items, [
      { header: "Product", value: (i) => i.key },
      { header: "Name", value: (i) => i.name },
      { header: "Kind", value: (i) => itemKindLabel(vendor, i.kind) },
      { header: "Action", value: (i) => i.action },
      { header: "PSA record", value: (i) => i.recordLabel ?? "" },
      { header: "Record", value: (i) => ORIGIN_LABELS[recordOrigin(i) ?? "none"] },
      { header: "Details", value: (i) => [i.reason, ...i.notes].join("; ") },
    ]),
  );
}

const ORIGIN_LABELS = { cspsync: "created by cspsync", linked: "linked (yours)", none: "" } as const;

function printConfirmationNeeded(connection: string, changes: readonly PriceConfirmationItem[]): void {
  console.log(
    `Product sync for ${connection}: nothing was written. These sell prices are on PSA records cspsync linked ` +
      'but did not create (yours); the setting linkedPriceUpdates is "confirm", so they change only when you ' +
      "confirm:\n",
  );
  console.log(
    renderTable(changes, [
      { header: "Product", value: (c) => c.key },
      { header: "PSA record", value: (c) => c.recordLabel ?? c.recordId },
      { header: "Price now", value: (c) => c.from ?? "none", align: "right" },
      { header: "New price", value: (c) => c.to, align: "right" },
      { header: "Change", value: (c) => c.direction },
    ]),
  );
  console.log("\nRun the sync again with --yes to write these sell prices (and everything else).");
}

function printResult(connection: string, items: ProductItemResult[]): void {
  console.log(`Product sync for ${connection}\n`);
  console.log(
    renderTable(items, [
      { header: "Product", value: (i) => i.key },
      { header: "Action", value: (i) => i.action },
      { header: "Result", value: (i) => i.status },
      { header: "PSA id", value: (i) => i.recordId ?? "" },
      { header: "Details", value: (i) => [i.message, ...i.notes].join("; ") },
    ]),
  );
}
