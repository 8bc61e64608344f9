import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { Store } from "../../src/store/db.ts";
import { baseRow, CONTOSO, FABRIKAM, writeCsv, type ReconRow } from "../support/recon-builder.ts";

/**
 * Two months of billing data for the reports (docs/reports.md): June (G-JUN) and July (G-JUL) 2024.
 *
 * Contoso: Business Premium P1Y paid up front (5 seats on Jun 5, +2 on Jun 25); Business Standard P1M
 * (10 seats, bought Jun 18, renewed Jul 18); Exchange Online P1Y up front (3 seats Jun 10, cancelled Jun 12);
 * Business Central P3Y billed annually (2 seats, Jul 1). Fabrikam (never mapped): Business Standard P1M,
 * 4 seats, Jun 1 and renewed Jul 1.
 */
export const SUB = {
  premium: "11111111-0000-4000-8000-000000000001",
  standard: "11111111-0000-4000-8000-000000000002",
  exo: "11111111-0000-4000-8000-000000000003",
  p3y: "11111111-0000-4000-8000-000000000004",
  fabrikam: "11111111-0000-4000-8000-000000000005",
};

const annual = (o: ReconRow): ReconRow =>
  baseRow({
    ProductId: "CFQ7TTC0LCHC",
    SkuId: "0002",
    AvailabilityId: "CFQ7TTC0LCHD",
    ProductName: "Microsoft 365 Business Premium",
    SkuName: "Microsoft 365 Business Premium",
    SubscriptionDescription: "Microsoft 365 Business Premium",
    TermAndBillingCycle: "One-Year commitment for yearly billing",
    BillingFrequency: "",
    SubscriptionId: SUB.premium,
    UnitPrice: "240",
    SubscriptionStartDate: "6/5/2024",
    SubscriptionEndDate: "6/4/2025",
    ...o,
  });

const exo = (o: ReconRow): ReconRow =>
  annual({
    ProductId: "CFQ7TTC0LH18",
    SkuId: "0001",
    ProductName: "Exchange Online (Plan 1)",
    SkuName: "Exchange Online (Plan 1)",
    SubscriptionDescription: "Exchange Online (Plan 1)",
    SubscriptionId: SUB.exo,
    UnitPrice: "48",
    SubscriptionStartDate: "6/10/2024",
    SubscriptionEndDate: "6/9/2025",
    ...o,
  });

export const JUNE: ReconRow[] = [
  annual({
    InvoiceNumber: "G-JUN",
    OrderDate: "6/5/2024",
    ChargeStartDate: "6/5/2024",
    ChargeEndDate: "6/4/2025",
    Quantity: "5",
    BillableQuantity: "5",
    EffectiveUnitPrice: "240",
    Subtotal: "1200",
    Total: "1200",
  }),
  // +2 seats on Jun 25: the credit for the 5 and the charge for the 7, one ReferenceId.
  annual({
    InvoiceNumber: "G-JUN",
    ChargeType: "addQuantity",
    ReferenceId: "ref-premium-add",
    OrderDate: "6/25/2024",
    ChargeStartDate: "6/25/2024",
    ChargeEndDate: "6/4/2025",
    Quantity: "5",
    BillableQuantity: "5",
    EffectiveUnitPrice: "-226.85",
    Subtotal: "-1134.25",
    Total: "-1134.25",
  }),
  annual({
    InvoiceNumber: "G-JUN",
    ChargeType: "addQuantity",
    ReferenceId: "ref-premium-add",
    OrderDate: "6/25/2024",
    ChargeStartDate: "6/25/2024",
    ChargeEndDate: "6/4/2025",
    Quantity: "7",
    BillableQuantity: "7",
    EffectiveUnitPrice: "226.85",
    Subtotal: "1587.95",
    Total: "1587.95",
  }),
  baseRow({
    InvoiceNumber: "G-JUN",
    SubscriptionId: SUB.standard,
    OrderDate: "6/18/2024",
    ChargeStartDate: "6/18/2024",
    ChargeEndDate: "7/17/2024",
    SubscriptionStartDate: "6/18/2024",
    SubscriptionEndDate: "7/17/2024",
  }),
  exo({
    InvoiceNumber: "G-JUN",
    OrderDate: "6/10/2024",
    ChargeStartDate: "6/10/2024",
    ChargeEndDate: "6/9/2025",
    Quantity: "3",
    BillableQuantity: "3",
    EffectiveUnitPrice: "48",
    Subtotal: "144",
    Total: "144",
  }),
  exo({
    InvoiceNumber: "G-JUN",
    ChargeType: "cancelImmediate",
    OrderDate: "6/12/2024",
    ChargeStartDate: "6/12/2024",
    ChargeEndDate: "6/9/2025",
    Quantity: "3",
    BillableQuantity: "3",
    EffectiveUnitPrice: "-47.61",
    Subtotal: "-142.83",
    Total: "-142.83",
  }),
  baseRow({
    InvoiceNumber: "G-JUN",
    CustomerId: FABRIKAM.id,
    CustomerName: FABRIKAM.name,
    CustomerDomainName: FABRIKAM.domain,
    SubscriptionId: SUB.fabrikam,
    OrderDate: "6/1/2024",
    ChargeStartDate: "6/1/2024",
    ChargeEndDate: "6/30/2024",
    SubscriptionStartDate: "6/1/2024",
    SubscriptionEndDate: "6/30/2024",
    Quantity: "4",
    BillableQuantity: "4",
    Subtotal: "50",
    Total: "50",
  }),
];

export const JULY: ReconRow[] = [
  baseRow({
    InvoiceNumber: "G-JUL",
    SubscriptionId: SUB.standard,
    ChargeType: "renew",
    OrderDate: "7/18/2024",
    ChargeStartDate: "7/18/2024",
    ChargeEndDate: "8/17/2024",
    SubscriptionStartDate: "7/18/2024",
    SubscriptionEndDate: "8/17/2024",
  }),
  annual({
    InvoiceNumber: "G-JUL",
    ProductId: "CFQ7TTC0LH1M",
    SkuId: "0003",
    ProductName: "Dynamics 365 Business Central Essentials",
    SkuName: "Dynamics 365 Business Central Essentials",
    SubscriptionDescription: "Dynamics 365 Business Central Essentials",
    TermAndBillingCycle: "Three-year commitment for monthly/yearly billing",
    BillingFrequency: "Annual",
    SubscriptionId: SUB.p3y,
    OrderDate: "7/1/2024",
    ChargeStartDate: "7/1/2024",
    ChargeEndDate: "6/30/2025",
    SubscriptionStartDate: "7/1/2024",
    SubscriptionEndDate: "6/30/2027",
    UnitPrice: "840",
    EffectiveUnitPrice: "840",
    Quantity: "2",
    BillableQuantity: "2",
    Subtotal: "1680",
    Total: "1680",
  }),
  baseRow({
    InvoiceNumber: "G-JUL",
    CustomerId: FABRIKAM.id,
    CustomerName: FABRIKAM.name,
    CustomerDomainName: FABRIKAM.domain,
    SubscriptionId: SUB.fabrikam,
    ChargeType: "renew",
    OrderDate: "7/1/2024",
    ChargeStartDate: "7/1/2024",
    ChargeEndDate: "7/31/2024",
    SubscriptionStartDate: "7/1/2024",
    SubscriptionEndDate: "7/31/2024",
    Quantity: "4",
    BillableQuantity: "4",
    Subtotal: "50",
    Total: "50",
  }),
];

/** Imports June and July into the store. */
export async function importTwoMonths(store: Store): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-reports-"));
  try {
    await importReconFile(store, writeCsv(path.join(dir, "june.csv"), JUNE));
    await importReconFile(store, writeCsv(path.join(dir, "july.csv"), JULY));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export { CONTOSO, FABRIKAM };
