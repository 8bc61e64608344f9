import { parseArgs } from "node:util";
import { MOTION_LABELS } from "../../core/billing.ts";
import { describePricing } from "../../core/pricing.ts";
import { describeRecord } from "../../core/product-words.ts";
import { findCustomer } from "../../store/billing-repository.ts";
import { getRun, listRuns } from "../../store/runs-repository.ts";
import type { App } from "../../app.ts";
import { RunAlreadyActiveError, type PlannedMapping, type RunSummary } from "../../services/annual-sync.ts";
import type { AzureRunSummary, PlannedAzureMapping } from "../../services/azure-sync.ts";
import { describePriceSource, type PricedBy, type PriceSource } from "../../core/pricing.ts";
import type { MonthlyLine, MonthlyRunSummary, PlannedMonthlyMapping } from "../../services/monthly-sync.ts";
import { START_POINTS, type StartPoint } from "../../core/monthly-plan.ts";
import { openMotionSync, type AnyMotionDryRun } from "../../services/sync-now.ts";
import { parseMotion } from "./listings.ts";
import { fetchAppOf } from "../../jobs/sync-worker.ts";
import { fetchHistory } from "../../services/fetch-partner-center.ts";
import { resolveConnection, withApp } from "./connections.ts";
import { printJson, renderTable, UsageError } from "../output.ts";

export const mapHelp = `cspsync map CONNECTION --customer TENANT-ID|NAME --motion seat-monthly|azure|seat-annual
                       --company PSA-COMPANY-ID --agreement AGREEMENT-ID
                       [--sync-date YYYY-MM-DD] [--pricing cost-and-retail|cost-only|markup] [--markup PERCENT]
                       [--start most-recent|next]
                       [--disable] [--json]

Maps one customer's billing motion to a PSA company and agreement/contract. A Seat-based Annual mapping is
checked against the PSA first (ConnectWise: active agreement with a One-Time billing cycle; Autotask: active
Fixed Price contract). Only charges dated on or after --sync-date are synced. A Seat-based Monthly mapping
starts from the customer's most recent invoice when it is enabled (--start most-recent, the default) or from
the next one (--start next). --markup is the markup percent of --pricing markup; with cost-and-retail (the
default) it is the fallback markup for lines Microsoft's price list has no entry for (see docs/price-lists.md).`;

export const syncHelp = `cspsync sync [CONNECTION] [--customer TENANT-ID|NAME] [--motion seat-annual|seat-monthly|azure] [--dry-run] [--json]

Writes every not-yet-synced charge of the enabled mappings into the PSA (of CONNECTION, or of every connection
with the sync on). --motion seat-annual (the default) writes Seat-based Annual charges of connections with the
annual sync on; --motion seat-monthly makes the mapped recurring agreements/contracts bill the monthly seat
timelines (ConnectWise additions, Autotask unit adjustments); --motion azure writes one line per month of Azure Plan usage for connections with an enabled
Azure Plan mapping. --dry-run shows the exact writes and changes nothing. Exit code 1 if any item failed, 3 if a
sync for the connection is already running.`;

export const runsHelp = `cspsync runs [--connection CONNECTION] [--json]
cspsync run RUN-ID [--json]

Sync history, newest first. Without --connection the fetches of billing data (Microsoft Partner Center) are
listed too, each with its outcome and the sync runs it led to ("fetches" in --json).`;
export const psaHelp = `cspsync psa companies CONNECTION --search NAME [--json]
cspsync psa agreements CONNECTION --company PSA-COMPANY-ID [--json]

Looks up PSA companies and their agreements/contracts (with type, billing cycle, dates and the motions each
can take), to find the ids that \`cspsync map\` needs.`;

const common = { db: { type: "string" }, json: { type: "boolean" } } as const;

export async function mapCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      customer: { type: "string" },
      motion: { type: "string" },
      company: { type: "string" },
      agreement: { type: "string" },
      "sync-date": { type: "string" },
      start: { type: "string" },
      pricing: { type: "string" },
      markup: { type: "string" },
      disable: { type: "boolean" },
    },
  });
  const motion = parseMotion(values.motion);
  if (!values.customer || !motion || !values.company || !values.agreement) {
    throw new UsageError("map needs --customer, --motion, --company and --agreement");
  }
  if (values.start !== undefined && !START_POINTS.includes(values.start as StartPoint))
    throw new UsageError(`--start must be one of ${START_POINTS.join(", ")}`);
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    const customer = await findCustomer(app.store, app.organizationId, values.customer!);
    if (!customer)
      throw new UsageError(`no customer "${values.customer}" in the billing data (see cspsync customers)`);
    const adapter = await app.adapterFor(connection.id);
    const mapping = await app.mappings.save(
      connection.id,
      customer.tenant_id,
      motion,
      {
        psaCompanyId: values.company!,
        agreementId: values.agreement!,
        syncDate: values["sync-date"] ?? null,
        pricing: (values.pricing ?? "cost-and-retail") as "cost-and-retail",
        // With cost-and-retail, --markup is the fallback for lines without a price list entry.
        ...(values.markup !== undefined
          ? (values.pricing ?? "cost-and-retail") === "cost-and-retail"
            ? { fallbackMarkupPercent: values.markup }
            : { markupPercent: values.markup }
          : {}),
        enabled: !values.disable,
        ...(values.start !== undefined ? { startPoint: values.start as StartPoint } : {}),
      },
      adapter,
    );
    if (values.json) printJson({ mapping });
    else
      console.log(
        `${customer.name} — ${MOTION_LABELS[motion]} → ${mapping.psaCompanyName} / ${mapping.agreementName}` +
          ` (sync date ${mapping.syncDate ?? "none"}, ${describePricing(mapping.pricing)}, ${mapping.enabled ? "enabled" : "disabled"}` +
          (motion === "seat-monthly"
            ? `, starts ${mapping.startPoint === "next" ? "after" : "from"} invoice ${mapping.startInvoice ?? "(none yet)"})`
            : ")"),
      );
    return 0;
  });
}

export async function syncCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      customer: { type: "string" },
      motion: { type: "string" },
      "dry-run": { type: "boolean" },
    },
  });
  const motion = parseMotion(values.motion) ?? "seat-annual";
  return withApp(values.db, async (app) => {
    const connections =
      motion === "seat-annual"
        ? await annualConnections(app, positionals[0])
        : await mappedConnections(app, positionals[0], motion);
    let customerTenantId: string | undefined;
    if (values.customer) {
      const customer = await findCustomer(app.store, app.organizationId, values.customer);
      if (!customer) throw new UsageError(`no customer "${values.customer}" in the billing data`);
      customerTenantId = customer.tenant_id;
    }
    const scope = customerTenantId ? { customerTenantId } : {};
    let exitCode = 0;
    const results: unknown[] = [];
    for (const connection of connections) {
      const sync = await openMotionSync(app, motion, connection.id);
      if (connections.length > 1 && !values.json) console.log(`== ${connection.name}`);
      if (values["dry-run"]) {
        const plan = (await sync.plan(scope)) as AnyMotionDryRun;
        if (!values.json) {
          printMotionPlan(plan);
          printHolds(plan.holds);
        }
        results.push({
          connectionId: connection.id,
          dryRun: true,
          mappings: plan.mappings,
          holds: Object.fromEntries(plan.holds),
        });
        if (plan.failed) exitCode = Math.max(exitCode, 1);
        continue;
      }
      try {
        const summary = await sync.run("cli", scope);
        if (!values.json) {
          printSummary(summary);
          printHoldCommands(connection.name, summary.items);
        }
        results.push({ connectionId: connection.id, ...summary });
        if (summary.errors > 0) exitCode = Math.max(exitCode, 1);
      } catch (error) {
        if (!(error instanceof RunAlreadyActiveError)) throw error;
        results.push({ connectionId: connection.id, alreadyRunning: error.activeRunId });
        console.error(`${connection.name}: ${error.message}`);
        exitCode = 3;
      }
    }
    if (values.json) printJson(connections.length === 1 ? results[0] : { connections: results });
    return exitCode;
  });
}

function printHolds(holds: Map<string, string>) {
  const say = {
    "would hold": "would be held for approval",
    held: "held, waiting for approval",
    approved: "approved",
  };
  for (const [key, state] of holds)
    console.log(`  HOLD ${key}: sells below cost; ${say[state as keyof typeof say] ?? state}`);
}

/** "priced by rule …" under a planned line, when a price rule set its price. */
/** The rule that priced a line: on the line itself, or (monthly) on the segment the line writes. */
function pricedByText(line: object): string | null {
  type Priced = { pricedBy?: PricedBy | null };
  const by = (line as Priced).pricedBy ?? (line as { segment?: Priced | null }).segment?.pricedBy;
  return by ? `priced by rule ${by.ruleName} (${by.description})` : null;
}

/**
 * Where a planned line's price came from, and "AT OR BELOW COST" when it sells for no more than its cost
 * (docs/price-lists.md); null for lines that carry no price (monthly updates).
 */
function priceFlagText(line: object): string | null {
  const priced = line as { priceSource?: PriceSource; atOrBelowCost?: boolean };
  if (!priced.priceSource) return null;
  const flag = priced.atOrBelowCost ? "AT OR BELOW COST; " : "";
  return `${flag}price from ${describePriceSource(priced.priceSource)}`;
}

type NamedConnection = { id: string; name: string };

/** The named connection, or every connection with the annual sync on; the sync must be on for each. */
async function annualConnections(app: App, name: string | undefined): Promise<NamedConnection[]> {
  const connections = name
    ? [await resolveConnection(app, name)]
    : (await app.connections.list()).filter((c) => c.seatAnnualEnabled);
  if (connections.length === 0)
    throw new UsageError("no connection has Seat-based Annual subscription sync on");
  const off = connections.find((c) => !c.seatAnnualEnabled);
  if (off) {
    throw new UsageError(
      `Seat-based Annual subscription sync is off for ${off.name}; turn it on with cspsync settings ${off.name} --seat-annual on`,
    );
  }
  return connections;
}

/** The named connection, or every connection with at least one enabled mapping of the motion. */
async function mappedConnections(
  app: App,
  name: string | undefined,
  motion: "azure" | "seat-monthly",
): Promise<NamedConnection[]> {
  if (name) return [await resolveConnection(app, name)];
  const connections: NamedConnection[] = [];
  for (const connection of await app.connections.list()) {
    if ((await app.mappings.enabled(connection.id, motion)).length > 0) connections.push(connection);
  }
  if (connections.length === 0)
    throw new UsageError(
      `no connection has an enabled ${MOTION_LABELS[motion]} mapping (see cspsync map --motion ${motion})`,
    );
  return connections;
}

/** A dry run's writes, for people, in the words of its motion. */
function printMotionPlan(plan: AnyMotionDryRun): void {
  if (plan.motion === "seat-monthly") printMonthlyPlan(plan.mappings);
  else if (plan.motion === "azure") printAzurePlan(plan.mappings);
  else printPlan(plan.mappings);
}

function printAzurePlan(plan: PlannedAzureMapping[]) {
  if (plan.length === 0) console.log("No enabled Azure Plan mappings.");
  for (const entry of plan) {
    console.log(
      `${entry.customerName} → agreement ${entry.mapping.agreementName ?? entry.mapping.agreementId}`,
    );
    if (entry.problem) {
      console.log(`  ERROR ${entry.problem}`);
      for (const line of entry.blocked) console.log(`  blocked ${line.month}  ${line.description}`);
    } else if (entry.plan.lines.length === 0) console.log("  nothing to write");
    for (const line of entry.plan.lines) {
      const price = line.unitPrice === null ? "PSA price" : line.unitPrice;
      console.log(
        `  WRITE ${line.writeKey}  ${line.month}  cost ${line.unitCost} / price ${price}  ${line.description}`,
      );
      const priced = pricedByText(line);
      if (priced) console.log(`        ${priced}`);
      for (const warning of line.warnings) console.log(`        warning: ${warning}`);
    }
    if (entry.product)
      console.log(entry.product.ok ? `  as ${entry.product.label}` : `  ERROR ${entry.product.reason}`);
    for (const skipped of entry.plan.skipped) console.log(`  skip  ${skipped.month}: ${skipped.reason}`);
  }
}

function printPlan(plan: PlannedMapping[]) {
  if (plan.length === 0) console.log("No enabled Seat-based Annual mappings.");
  for (const entry of plan) {
    console.log(
      `${entry.customerName} → agreement ${entry.mapping.agreementName ?? entry.mapping.agreementId}`,
    );
    if (entry.problem) {
      console.log(`  ERROR ${entry.problem}`);
      for (const line of entry.blocked) console.log(`  blocked ${line.effectiveDate}  ${line.description}`);
    } else if (entry.plan.lines.length === 0) console.log("  nothing to write");
    for (const line of entry.plan.lines) {
      const price = line.unitPrice === null ? "PSA price" : line.unitPrice;
      console.log(
        `  WRITE ${line.writeKey}  ${line.effectiveDate}  qty ${line.quantity} × cost ${line.unitCost} / price ${price}  ${line.description}`,
      );
      const priced = pricedByText(line);
      if (priced) console.log(`        ${priced}`);
      const flag = priceFlagText(line);
      if (flag) console.log(`        ${flag}`);
      const product = entry.products?.[line.writeKey];
      if (product)
        console.log(
          product.ok
            ? `        as ${product.record ? describeRecord(product.record) : product.label}`
            : `        ERROR ${product.reason}`,
        );
      for (const warning of line.warnings) console.log(`        warning: ${warning}`);
    }
    for (const skipped of entry.plan.skipped)
      console.log(`  skip  ${skipped.subscriptionId}: ${skipped.reason}`);
  }
}

type Summary = RunSummary | AzureRunSummary | MonthlyRunSummary<MonthlyLine>;

function printMonthlyPlan(plan: PlannedMonthlyMapping<MonthlyLine>[]) {
  if (plan.length === 0) console.log("No enabled Seat-based Monthly mappings.");
  for (const entry of plan) {
    console.log(
      `${entry.customerName} → agreement ${entry.mapping.agreementName ?? entry.mapping.agreementId}` +
        ` (invoices ${entry.plan.invoices.join(", ") || "none"})`,
    );
    if (entry.problem) {
      console.log(`  ERROR ${entry.problem}`);
      for (const line of entry.blocked) console.log(`  blocked ${line.description}`);
    } else if (entry.plan.lines.length === 0) console.log("  nothing to write");
    for (const line of entry.plan.lines) {
      const priced = pricedByText(line);
      console.log(
        `  WRITE ${line.writeKey}  ${line.action}  ${line.description}${priced ? ` [${priced}]` : ""}`,
      );
      const flag = priceFlagText(line);
      if (flag) console.log(`        ${flag}`);
      for (const warning of line.warnings) console.log(`        warning: ${warning}`);
    }
    for (const skipped of entry.plan.skipped)
      console.log(`  skip  ${skipped.invoiceNumber}: ${skipped.reason}`);
  }
}

/**
 * The command that approves each line this run held: the stored message says only that it is held and why, so
 * each interface names its own action (here the command; the web app shows an Approve button).
 */
function printHoldCommands(
  connectionName: string,
  items: readonly { outcome: string; writeKey: string | null }[],
): void {
  const held = items.filter((i) => i.outcome === "held" && i.writeKey);
  if (held.length === 0) return;
  const name = /^[\w.-]+$/.test(connectionName) ? connectionName : JSON.stringify(connectionName);
  console.log(
    `Held for approval: approve with cspsync holds approve ${name} ${held.map((i) => i.writeKey).join(" ")}`,
  );
}

function printSummary(summary: Summary) {
  console.log(
    `Run ${summary.runId}: ${summary.status} — ${summary.written} written, ${summary.unchanged} already present, ` +
      `${summary.warnings} warnings, ${summary.errors} errors, ${summary.psaRequests} PSA requests`,
  );
  for (const item of summary.items) {
    const priced = item.line ? pricedByText(item.line) : null;
    const what = item.line ? `${item.line.description}${priced ? ` [${priced}]` : ""}` : "";
    console.log(
      `  ${item.outcome.padEnd(14)} ${item.psaRecordId ?? ""} ${what} ${item.message ?? ""}`.trimEnd(),
    );
  }
}

export async function runsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...common, connection: { type: "string" } } });
  return withApp(values.db, async (app) => {
    const connectionId = values.connection ? (await resolveConnection(app, values.connection)).id : undefined;
    const runs = await listRuns(app.store, app.organizationId, connectionId ? { connectionId } : {});
    // The pipeline's fetches (docs/partner-center.md §7), with the syncs each led to.
    const fetches = connectionId ? [] : await fetchHistory(fetchAppOf(app), { limit: 20 });
    if (values.json) printJson(connectionId ? { runs } : { runs, fetches });
    else if (runs.length === 0) console.log("No sync runs yet.");
    else
      console.log(
        renderTable(runs, [
          { header: "Run", value: (r) => r.id },
          { header: "Started", value: (r) => r.startedAt },
          { header: "Trigger", value: (r) => r.trigger },
          { header: "Status", value: (r) => r.status },
          { header: "Written", value: (r) => String(r.written), align: "right" },
          { header: "Present", value: (r) => String(r.unchanged), align: "right" },
          { header: "Warnings", value: (r) => String(r.warnings), align: "right" },
          { header: "Errors", value: (r) => String(r.errors), align: "right" },
        ]),
      );
    if (!values.json && fetches.length > 0)
      console.log(
        `\nBilling data fetches:\n${renderTable(fetches, [
          { header: "Fetch", value: (f) => f.id },
          { header: "Started", value: (f) => f.startedAt },
          { header: "Trigger", value: (f) => f.trigger },
          { header: "Status", value: (f) => f.status },
          { header: "Source → syncs", value: (f) => `${f.sourceName ?? f.sourceId}: ${f.line}` },
        ])}`,
      );
    return 0;
  });
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common });
  if (!positionals[0]) throw new UsageError("run needs a RUN-ID (see cspsync runs)");
  return withApp(values.db, async (app) => {
    const detail = await getRun(app.store, app.organizationId, positionals[0]!);
    if (!detail) throw new UsageError(`no run ${positionals[0]}`);
    if (values.json) {
      printJson(detail);
      return 0;
    }
    const { run, items } = detail;
    const connectionName = (await app.connections.list()).find((c) => c.id === run.connectionId)?.name;
    console.log(
      `Run ${run.id} (${run.trigger}) ${run.status}, ${run.startedAt} → ${run.finishedAt ?? "still running"}`,
    );
    console.log(
      `${run.written} written, ${run.unchanged} already present, ${run.warnings} warnings, ${run.errors} errors, ${run.psaRequests} PSA requests\n`,
    );
    if (items.length === 0) console.log("No items: nothing new to write.");
    else
      console.log(
        renderTable(items, [
          { header: "#", value: (i) => String(i.sequence), align: "right" },
          { header: "Customer", value: (i) => i.customerName ?? i.customerTenantId ?? "" },
          { header: "Subscription", value: (i) => i.subscriptionId ?? "" },
          { header: "Outcome", value: (i) => i.outcome },
          { header: "PSA record", value: (i) => i.psaRecordId ?? "" },
          {
            header: "Line / message",
            value: (i) =>
              [String(i.details.description ?? ""), pricedByText(i.details) ?? "", i.message ?? ""]
                .filter(Boolean)
                .join(" — "),
          },
        ]),
      );
    if (connectionName) printHoldCommands(connectionName, items);
    return 0;
  });
}

export async function psaCommand(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { ...common, search: { type: "string" }, company: { type: "string" } },
  });
  return withApp(values.db, async (app) => {
    const connection = await resolveConnection(app, positionals[0]);
    const adapter = await app.adapterFor(connection.id);
    if (what === "companies") {
      if (!values.search) throw new UsageError("psa companies needs --search NAME");
      const companies = await adapter.searchCompanies(values.search);
      if (values.json) printJson({ companies });
      else
        console.log(
          companies.length
            ? renderTable(companies, [
                { header: "Id", value: (c) => c.id },
                { header: "Name", value: (c) => c.name },
              ])
            : "No company matches.",
        );
      return 0;
    }
    if (what === "agreements") {
      if (!values.company) throw new UsageError("psa agreements needs --company ID");
      const agreements = await adapter.listAgreements(values.company);
      if (values.json) printJson({ agreements });
      else
        console.log(
          renderTable(agreements, [
            { header: "Id", value: (a) => a.id },
            { header: "Name", value: (a) => a.name },
            { header: "Type", value: (a) => a.type },
            { header: "Billing cycle", value: (a) => a.billingCycle ?? "" },
            { header: "Start", value: (a) => a.startDate ?? "" },
            { header: "End", value: (a) => a.endDate ?? "" },
            { header: "Status", value: (a) => a.status },
            { header: "Annual?", value: (a) => (a.validFor["seat-annual"].ok ? "yes" : "no") },
            { header: "Monthly?", value: (a) => (a.validFor["seat-monthly"].ok ? "yes" : "no") },
          ]),
        );
      return 0;
    }
    throw new UsageError("psa needs companies or agreements");
  });
}
