import { parseArgs } from "node:util";
import { BILLING_MOTIONS, MOTION_LABELS, type BillingMotion } from "../../core/billing.ts";
import {
  findCustomer,
  listChargeEvents,
  listCustomers,
  listInvoices,
} from "../../store/billing-repository.ts";
import { DEFAULT_ORGANIZATION_ID } from "../../store/organization.ts";
import { withStore } from "../context.ts";
import { printJson, renderTable, UsageError } from "../output.ts";

export const invoicesHelp =
  "cspsync invoices [--json] [--db URL]\n\nLists imported invoices with their lines and totals.";
export const customersHelp =
  "cspsync customers [--search TEXT] [--json] [--db URL]\n\nLists customers seen in the billing data, with their charge events per billing motion.";
export const chargesHelp = `cspsync charges --customer TENANT-ID|NAME [--motion seat-monthly|azure|seat-annual] [--json] [--db URL]

Lists a customer's charge events: one per purchase, renewal, cycle charge or seat change (credit and charge
halves netted), with the billing motion each belongs to.`;

export async function invoicesCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: "boolean" }, db: { type: "string" } },
  });
  const invoices = await withStore(values.db, (store) => listInvoices(store, DEFAULT_ORGANIZATION_ID));
  if (values.json) printJson({ invoices });
  else if (invoices.length === 0)
    console.log("No invoices yet. Import a reconciliation file with `cspsync import FILE`.");
  else
    console.log(
      renderTable(invoices, [
        { header: "Invoice", value: (i) => i.invoiceNumber },
        { header: "Currency", value: (i) => i.currency },
        { header: "Charges from", value: (i) => i.firstChargeDate ?? "" },
        { header: "to", value: (i) => i.lastChargeDate ?? "" },
        { header: "Lines", value: (i) => String(i.lines), align: "right" },
        { header: "Subtotal", value: (i) => i.subtotal, align: "right" },
        { header: "Total", value: (i) => i.total, align: "right" },
        { header: "First file", value: (i) => i.sourceFile },
      ]),
    );
  return 0;
}

export async function customersCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: "boolean" }, search: { type: "string" }, db: { type: "string" } },
  });
  const customers = await withStore(values.db, (store) =>
    listCustomers(store, DEFAULT_ORGANIZATION_ID, values.search),
  );
  if (values.json) printJson({ customers });
  else if (customers.length === 0)
    console.log(values.search ? `No customer matches "${values.search}".` : "No customers yet.");
  else
    console.log(
      renderTable(customers, [
        { header: "Tenant id", value: (c) => c.tenantId },
        { header: "Name", value: (c) => c.name },
        { header: "Domain", value: (c) => c.domain ?? "" },
        { header: "Country", value: (c) => c.country ?? "" },
        { header: "Subs", value: (c) => String(c.subscriptions), align: "right" },
        ...BILLING_MOTIONS.map((m) => ({
          header: MOTION_LABELS[m],
          value: (c: (typeof customers)[number]) => String(c.eventsByMotion[m]),
          align: "right" as const,
        })),
      ]),
    );
  return 0;
}

export function parseMotion(value: string | undefined): BillingMotion | undefined {
  if (value === undefined) return undefined;
  if ((BILLING_MOTIONS as readonly string[]).includes(value)) return value as BillingMotion;
  throw new UsageError(`--motion must be one of ${BILLING_MOTIONS.join(", ")}; got "${value}"`);
}

export async function chargesCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean" },
      customer: { type: "string" },
      motion: { type: "string" },
      db: { type: "string" },
    },
  });
  if (!values.customer) throw new UsageError("charges needs --customer TENANT-ID or an exact customer name");
  const motion = parseMotion(values.motion);
  return withStore(values.db, async (store) => {
    const customer = await findCustomer(store, DEFAULT_ORGANIZATION_ID, values.customer!);
    if (!customer)
      throw new UsageError(
        `no customer with tenant id or name "${values.customer}" (see \`cspsync customers\`)`,
      );
    const events = await listChargeEvents(store, DEFAULT_ORGANIZATION_ID, {
      customerTenantId: customer.tenant_id,
      motion,
    });
    if (values.json) {
      printJson({ customer: { tenantId: customer.tenant_id, name: customer.name }, events });
      return 0;
    }
    console.log(`${customer.name} (${customer.tenant_id})${motion ? ` — ${MOTION_LABELS[motion]}` : ""}\n`);
    if (events.length === 0) {
      console.log("No charges.");
      return 0;
    }
    console.log(
      renderTable(events, [
        { header: "Charge start", value: (e) => e.chargeStart },
        { header: "End", value: (e) => e.chargeEnd ?? "" },
        { header: "Invoice", value: (e) => e.invoiceNumber },
        { header: "Motion", value: (e) => MOTION_LABELS[e.motion] },
        { header: "Kind", value: (e) => e.kind + (e.billable ? "" : " (not billable)") },
        { header: "Product", value: (e) => e.skuName ?? e.productName },
        { header: "Seats Δ", value: (e) => e.seatDelta, align: "right" },
        { header: "Unit price", value: (e) => e.effectiveUnitPrice, align: "right" },
        { header: "Amount", value: (e) => `${e.amount} ${e.currency}`, align: "right" },
        { header: "Subscription", value: (e) => e.subscriptionId },
      ]),
    );
    return 0;
  });
}
