import os from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { findCustomer } from "../../store/billing-repository.ts";
import type { App } from "../../app.ts";
import { PricingError, PricingService, type HoldView, type PriceRuleView } from "../../services/pricing.ts";
import { PriceListError, PriceListService } from "../../services/price-lists.ts";
import { ReconFileError } from "../../sources/reconciliation/errors.ts";
import { resolveConnection, withApp } from "./connections.ts";
import { printJson, renderTable, UsageError } from "../output.ts";

export const priceRulesHelp = `cspsync price-rules list CONNECTION [--json]
cspsync price-rules add CONNECTION [--product SKU] [--customer TENANT-ID|NAME] --markup PCT | --price AMOUNT
                        --from YYYY-MM-DD [--to YYYY-MM-DD] [--name NAME] [--json]
cspsync price-rules remove CONNECTION RULE-ID
cspsync price-rules below-cost CONNECTION [warn|hold]

Price rules set the sell price of matching lines, beating the mapping's pricing strategy: --product (a product
id for every SKU of it, ProductId:SkuId for one SKU, AZURE-PLAN for Azure Plan months), --customer, or both.
--markup marks the cost up by PCT percent; --price is a fixed price per unit (per seat for the term, prorated
like the cost). The most specific rule wins (customer and product, then product, then customer), then the
latest --from on or before the charge's date; --to is the last day a rule applies.
below-cost shows or sets what a sell price below cost does: warn (default; written with a warning) or hold
(not written until approved with cspsync holds approve).`;

export const holdsHelp = `cspsync holds CONNECTION [--json]
cspsync holds approve CONNECTION WRITE-KEY… | --all [--by NAME] [--json]

Lists the lines held for approval because they sell below cost (with the connection's below-cost setting on
hold), and approves them at the price they were held at: the next sync writes them. --by names who approved
(default: the signed-in system user); who and when are recorded.`;

const common = { db: { type: "string" }, json: { type: "boolean" } } as const;

/** Service fields as the command's options, so an error names what the user typed. */
const OPTION_OF: Record<string, string> = {
  name: "--name",
  productKey: "--product",
  customerTenantId: "--customer",
  value: "--markup/--price",
  kind: "--markup/--price",
  effectiveFrom: "--from",
  effectiveTo: "--to",
};

const addOptionsSchema = z
  .object({
    product: z.string().optional(),
    customer: z.string().optional(),
    markup: z.string().optional(),
    price: z.string().optional(),
    from: z.string({ message: "--from DATE is required" }),
    to: z.string().optional(),
    name: z.string().optional(),
  })
  .refine((o) => o.product !== undefined || o.customer !== undefined, {
    message: "give --product SKU, --customer TENANT, or both",
  })
  .refine((o) => (o.markup === undefined) !== (o.price === undefined), {
    message: "give exactly one of --markup PCT or --price AMOUNT",
  });

export async function priceRulesCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  switch (action) {
    case "list":
      return listRules(rest);
    case "add":
      return addRule(rest);
    case "remove":
      return removeRule(rest);
    case "below-cost":
      return belowCost(rest);
    default:
      throw new UsageError("price-rules needs list, add, remove or below-cost");
  }
}

function serviceOf(app: App): PricingService {
  return new PricingService(app.store, app.organizationId);
}

/** Reports a service validation error with the option it came from. */
async function asUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof PricingError)) throw error;
    const option = error.field ? OPTION_OF[error.field] : undefined;
    const message = option ? error.message.replace(/^[\w.]+: /, `${option}: `) : error.message;
    throw new UsageError(message);
  }
}

function printRules(rules: PriceRuleView[]) {
  if (rules.length === 0) {
    console.log("No price rules: every line is priced by its mapping's pricing strategy.");
    return;
  }
  console.log(
    renderTable(rules, [
      { header: "Id", value: (r) => r.id },
      { header: "Name", value: (r) => r.name },
      { header: "Product", value: (r) => r.productKey ?? "any" },
      { header: "Customer", value: (r) => r.customerTenantId ?? "any" },
      { header: "Price", value: (r) => r.description },
      { header: "From", value: (r) => r.effectiveFrom },
      { header: "To", value: (r) => r.effectiveTo ?? "" },
    ]),
  );
}

async function listRules(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    const rules = await serviceOf(app).listRules(connection.id);
    if (values.json) printJson({ rules });
    else printRules(rules);
    return 0;
  });
}

async function addRule(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      product: { type: "string" },
      customer: { type: "string" },
      markup: { type: "string" },
      price: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      name: { type: "string" },
    },
  });
  const parsed = addOptionsSchema.safeParse(values);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  const options = parsed.data;
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    let customerTenantId: string | null = null;
    if (options.customer !== undefined) {
      const customer = await findCustomer(app.store, app.organizationId, options.customer);
      if (!customer)
        throw new UsageError(
          `--customer: no customer "${options.customer}" in the billing data (see cspsync customers)`,
        );
      customerTenantId = customer.tenant_id;
    }
    const rule = await asUsage(() =>
      serviceOf(app).addRule(connection.id, {
        ...(options.name !== undefined ? { name: options.name } : {}),
        productKey: options.product ?? null,
        customerTenantId,
        kind: options.markup !== undefined ? "markup" : "fixed",
        value: options.markup ?? options.price,
        effectiveFrom: options.from,
        effectiveTo: options.to ?? null,
      }),
    );
    if (values.json) printJson({ rule });
    else console.log(`Added price rule ${rule.id}: ${rule.name} (${rule.description})`);
    return 0;
  });
}

async function removeRule(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  if (!positionals[1])
    throw new UsageError("price-rules remove needs CONNECTION and RULE-ID (see price-rules list)");
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    await asUsage(() => serviceOf(app).removeRule(connection.id, positionals[1]!));
    console.log(`Removed price rule ${positionals[1]}.`);
    return 0;
  });
}

async function belowCost(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    const service = serviceOf(app);
    const action =
      positionals[1] === undefined
        ? await service.belowCost(connection.id)
        : await asUsage(() => service.setBelowCost(connection.id, positionals[1]));
    if (values.json) printJson({ belowCost: action });
    else
      console.log(
        `${connection.name}: a sell price below cost is ${action === "hold" ? "held for approval" : "written with a warning"}.`,
      );
    return 0;
  });
}

function printHolds(holds: HoldView[]) {
  if (holds.length === 0) {
    console.log("No lines held for approval.");
    return;
  }
  console.log(
    renderTable(holds, [
      { header: "Key", value: (h) => h.writeKey },
      { header: "Customer", value: (h) => h.customerName ?? h.customerTenantId },
      { header: "Line", value: (h) => h.description },
      { header: "Cost", value: (h) => h.unitCost, align: "right" },
      { header: "Price", value: (h) => h.unitPrice, align: "right" },
      { header: "Priced by", value: (h) => (h.pricedBy ? `rule ${h.pricedBy.ruleName}` : "mapping") },
      { header: "Status", value: (h) => (h.status === "approved" ? `approved by ${h.approvedBy}` : "held") },
    ]),
  );
}

export async function holdsCommand(argv: string[]): Promise<number> {
  if (argv[0] === "approve") return approveHolds(argv.slice(1));
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    const holds = await serviceOf(app).listHolds(connection.id);
    if (values.json) printJson({ holds });
    else printHolds(holds);
    return 0;
  });
}

async function approveHolds(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, all: { type: "boolean" }, by: { type: "string" } },
  });
  const [connectionName, ...keys] = positionals;
  if (!connectionName) throw new UsageError("holds approve needs CONNECTION");
  if (Boolean(values.all) === keys.length > 0)
    throw new UsageError("holds approve needs the WRITE-KEYs to approve, or --all (not both)");
  const by = values.by?.trim() || os.userInfo().username;
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, connectionName);
    const approved = await asUsage(() =>
      serviceOf(app).approve(connection.id, values.all ? { all: true } : { writeKeys: keys }, by),
    );
    if (values.json) printJson({ approved });
    else
      console.log(
        approved.length === 0
          ? "Nothing to approve."
          : `Approved ${approved.length} line${approved.length === 1 ? "" : "s"} as ${by}; the next sync writes them.`,
      );
    return 0;
  });
}

export const priceListHelp = `cspsync price-list import FILE.csv [--by NAME] [--json]
cspsync price-list list [--json]
cspsync price-list show PRODUCT[:SKU]|WORDS [--json]
cspsync price-list remove IMPORT-ID

Microsoft's new commerce license-based price list (Partner Center: Pricing → New commerce license-based →
market → export; extract the downloaded archive and import the .csv inside). Each file is one market and one
currency; every month you import is kept, so a charge is priced with the list in effect on its term start.
Importing the same file again adds nothing. "Cost and retail" mappings sell at the list's estimated retail
price (ERP), prorated like the cost. show looks entries up by product id (ProductId or ProductId:SkuId) or
by words of the product title. See docs/price-lists.md.`;

export async function priceListCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  switch (action) {
    case "import":
      return importPriceList(rest);
    case "list":
      return listPriceLists(rest);
    case "show":
      return showPriceList(rest);
    case "remove":
      return removePriceList(rest);
    default:
      throw new UsageError("price-list needs import, list, show or remove");
  }
}

function priceListsOf(app: App): PriceListService {
  return new PriceListService(app.store, app.organizationId);
}

async function importPriceList(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, by: { type: "string" } },
  });
  const file = positionals[0];
  if (!file) throw new UsageError("give the price list CSV file: cspsync price-list import FILE.csv");
  return withApp(values.db, async (app) => {
    let result;
    try {
      result = await priceListsOf(app).import(file, { importedBy: values.by ?? os.userInfo().username });
    } catch (error) {
      if (error instanceof ReconFileError) {
        console.error(`error: ${error.message}`);
        return 1;
      }
      throw error;
    }
    if (values.json) printJson(result);
    else {
      const i = result.import;
      console.log(
        result.duplicate
          ? `${i.fileName} was already imported on ${i.importedAt}: nothing added.`
          : `Imported ${i.fileName}: ${i.market} ${i.currency}, ${i.entryCount} prices effective ${i.firstEffective} to ${i.lastEffective} (${result.added} new, ${result.replaced} replaced).`,
      );
      for (const [reason, count] of Object.entries(result.skipped))
        console.log(`  skipped ${count} row${count === 1 ? "" : "s"}: ${reason}`);
    }
    return 0;
  });
}

async function listPriceLists(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: common });
  return withApp(values.db, async (app) => {
    const imports = await priceListsOf(app).listImports();
    if (values.json) printJson({ imports });
    else if (imports.length === 0)
      console.log("No price lists imported: cost-and-retail sells at the billing data's list price.");
    else
      console.log(
        renderTable(imports, [
          { header: "Id", value: (i) => i.id },
          { header: "File", value: (i) => i.fileName },
          { header: "Market", value: (i) => i.market },
          { header: "Currency", value: (i) => i.currency },
          { header: "Effective", value: (i) => `${i.firstEffective} to ${i.lastEffective}` },
          { header: "Prices", value: (i) => String(i.entryCount) },
          { header: "Imported", value: (i) => i.importedAt },
        ]),
      );
    return 0;
  });
}

async function showPriceList(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  const query = positionals.join(" ").trim();
  if (!query) throw new UsageError("give a product id (ProductId or ProductId:SkuId) or words of its title");
  return withApp(values.db, async (app) => {
    const entries = await priceListsOf(app).lookup(query);
    if (values.json) printJson({ entries });
    else if (entries.length === 0) console.log(`No price list entry matches ${query}.`);
    else
      console.log(
        renderTable(entries, [
          { header: "Product", value: (e) => `${e.productId}:${e.skuId}` },
          { header: "Title", value: (e) => e.skuTitle || e.productTitle },
          { header: "Term", value: (e) => e.termDuration },
          { header: "Plan", value: (e) => e.billingPlan },
          { header: "Unit price", value: (e) => `${e.unitPrice} ${e.currency}` },
          { header: "ERP", value: (e) => `${e.erpPrice} ${e.currency}` },
          {
            header: "Tier",
            value: (e) =>
              e.tierMin === null && e.tierMax === null ? "" : `${e.tierMin ?? ""}-${e.tierMax ?? ""}`,
          },
          { header: "From", value: (e) => e.effectiveStart },
          { header: "To", value: (e) => e.effectiveEnd ?? "" },
        ]),
      );
    return 0;
  });
}

async function removePriceList(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  const id = positionals[0];
  if (!id) throw new UsageError("give the import id (see cspsync price-list list)");
  return withApp(values.db, async (app) => {
    try {
      await priceListsOf(app).deleteImport(id);
    } catch (error) {
      if (error instanceof PriceListError) throw new UsageError(error.message);
      throw error;
    }
    console.log(`Removed price list import ${id} and the prices it set.`);
    return 0;
  });
}
