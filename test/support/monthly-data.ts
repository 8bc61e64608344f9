import { baseRow, CONTOSO, type ReconRow } from "./recon-builder.ts";

/**
 * Two consecutive monthly invoices of Contoso's monthly-billed seats, in the documented NCE shape
 * (docs/billing-data.md §3, §6, §7; prorated prices = UnitPrice / cycle days × billable days):
 * - standard (P1M): 10 seats; +5 on Jun 11; renewed at 15 on Jul 1; −3 on Jul 3 (inside the 7-day window);
 * - premium (P1Y billed monthly): 5 seats at 22; +2 on Jul 16 charged at a new price, 24 (a mid-month price
 *   change);
 * - exchange (P1M): 3 seats in June, not renewed in July;
 * - teams (P1M): bought Jul 10 with 4 seats;
 * - visio (P1M): 2 seats bought Jun 20, cancelled on Jun 24, the refund on the July invoice.
 */
export const MONTHLY_INVOICES = { june: "G200000001", july: "G200000002" } as const;

export const MONTHLY_SUBS = {
  standard: "33333333-0000-4000-8000-000000000001",
  premium: "33333333-0000-4000-8000-000000000002",
  exchange: "33333333-0000-4000-8000-000000000003",
  teams: "33333333-0000-4000-8000-000000000004",
  visio: "33333333-0000-4000-8000-000000000005",
} as const;

export const MONTHLY_PRODUCTS = {
  standard: { ProductId: "CFQ7TTC0LDPB", SkuId: "0001", SkuName: "Microsoft 365 Business Standard" },
  premium: { ProductId: "CFQ7TTC0LCHC", SkuId: "0002", SkuName: "Microsoft 365 Business Premium" },
  exchange: { ProductId: "CFQ7TTC0LH16", SkuId: "0001", SkuName: "Exchange Online (Plan 1)" },
  teams: { ProductId: "CFQ7TTC0RM8K", SkuId: "0002", SkuName: "Microsoft Teams Essentials" },
  visio: { ProductId: "CFQ7TTC0HD33", SkuId: "0001", SkuName: "Visio Plan 2" },
} as const;

type Product = keyof typeof MONTHLY_PRODUCTS;

const P1M = "One-Month commitment for monthly billing";
const P1Y_MONTHLY = "One-Year commitment for monthly billing";

function line(product: Product, invoice: string, overrides: ReconRow): ReconRow {
  const p = MONTHLY_PRODUCTS[product];
  return baseRow({
    CustomerId: CONTOSO.id,
    InvoiceNumber: invoice,
    SubscriptionId: MONTHLY_SUBS[product],
    ProductId: p.ProductId,
    SkuId: p.SkuId,
    SkuName: p.SkuName,
    ProductName: p.SkuName,
    SubscriptionDescription: p.SkuName,
    TermAndBillingCycle: product === "premium" ? P1Y_MONTHLY : P1M,
    BillingFrequency: "Monthly",
    ...overrides,
  });
}

type Cycle = { from: string; to: string; subFrom: string; subTo: string };

function charge(
  product: Product,
  invoice: string,
  type: "new" | "renew" | "cycleCharge",
  cycle: Cycle,
  seats: string,
  price: string,
  subtotal: string,
): ReconRow {
  return line(product, invoice, {
    ChargeType: type,
    OrderDate: cycle.from,
    ChargeStartDate: cycle.from,
    ChargeEndDate: cycle.to,
    SubscriptionStartDate: cycle.subFrom,
    SubscriptionEndDate: cycle.subTo,
    UnitPrice: price,
    EffectiveUnitPrice: price,
    Quantity: seats,
    BillableQuantity: seats,
    Subtotal: subtotal,
    Total: subtotal,
  });
}

/** The credit and charge halves of a seat change (docs/billing-data.md §7), sharing a ReferenceId. */
function seatChange(
  product: Product,
  invoice: string,
  type: "addQuantity" | "removeQuantity",
  change: { on: string; to: string; reference: string; cycle: Cycle },
  seats: { before: string; after: string },
  price: { unit: string; effective: string; credit: string; charge: string },
): ReconRow[] {
  const half = (quantity: string, effective: string, subtotal: string) =>
    line(product, invoice, {
      ChargeType: type,
      ReferenceId: change.reference,
      OrderDate: change.on,
      ChargeStartDate: change.on,
      ChargeEndDate: change.to,
      SubscriptionStartDate: change.cycle.subFrom,
      SubscriptionEndDate: change.cycle.subTo,
      UnitPrice: price.unit,
      EffectiveUnitPrice: effective,
      Quantity: quantity,
      BillableQuantity: quantity,
      Subtotal: subtotal,
      Total: subtotal,
    });
  return [
    half(seats.before, `-${price.effective}`, price.credit),
    half(seats.after, price.effective, price.charge),
  ];
}

const JUNE: Cycle = { from: "6/1/2024", to: "6/30/2024", subFrom: "6/1/2024", subTo: "6/30/2024" };
const JULY: Cycle = { from: "7/1/2024", to: "7/31/2024", subFrom: "7/1/2024", subTo: "7/31/2024" };
const PREMIUM_TERM = { subFrom: "1/1/2024", subTo: "12/31/2024" };
const VISIO: Cycle = { from: "6/20/2024", to: "7/19/2024", subFrom: "6/20/2024", subTo: "7/19/2024" };
const TEAMS: Cycle = { from: "7/10/2024", to: "8/9/2024", subFrom: "7/10/2024", subTo: "8/9/2024" };

export function juneMonthlyRows(): ReconRow[] {
  const invoice = MONTHLY_INVOICES.june;
  return [
    charge("standard", invoice, "renew", JUNE, "10", "12.5", "125"),
    // +5 on Jun 11: 20 of 30 days, 12.5 / 30 × 20 = 8.3333.
    ...seatChange(
      "standard",
      invoice,
      "addQuantity",
      { on: "6/11/2024", to: "6/30/2024", reference: "bbbbbbbb-0000-4000-8000-000000000001", cycle: JUNE },
      { before: "10", after: "15" },
      { unit: "12.5", effective: "8.3333", credit: "-83.33", charge: "125" },
    ),
    charge("premium", invoice, "cycleCharge", { ...JUNE, ...PREMIUM_TERM }, "5", "22", "110"),
    charge("exchange", invoice, "renew", JUNE, "3", "4", "12"),
    charge("visio", invoice, "new", VISIO, "2", "8", "16"),
  ];
}

export function julyMonthlyRows(): ReconRow[] {
  const invoice = MONTHLY_INVOICES.july;
  return [
    charge("standard", invoice, "renew", JULY, "15", "12.5", "187.5"),
    // −3 on Jul 3: 29 of 31 days, 12.5 / 31 × 29 = 11.6935.
    ...seatChange(
      "standard",
      invoice,
      "removeQuantity",
      { on: "7/3/2024", to: "7/31/2024", reference: "bbbbbbbb-0000-4000-8000-000000000002", cycle: JULY },
      { before: "15", after: "12" },
      { unit: "12.5", effective: "11.6935", credit: "-175.40", charge: "140.32" },
    ),
    charge("premium", invoice, "cycleCharge", { ...JULY, ...PREMIUM_TERM }, "5", "22", "110"),
    // +2 on Jul 16 at the new price 24: 16 of 31 days, 24 / 31 × 16 = 12.3871.
    ...seatChange(
      "premium",
      invoice,
      "addQuantity",
      {
        on: "7/16/2024",
        to: "7/31/2024",
        reference: "bbbbbbbb-0000-4000-8000-000000000003",
        cycle: { ...JULY, ...PREMIUM_TERM },
      },
      { before: "5", after: "7" },
      { unit: "24", effective: "12.3871", credit: "-61.94", charge: "86.71" },
    ),
    charge("teams", invoice, "new", TEAMS, "4", "4", "16"),
    // Visio cancelled on Jun 24, 4 days after purchase: 26 unused days of 30 refunded.
    line("visio", invoice, {
      ChargeType: "cancelImmediate",
      OrderDate: "6/24/2024",
      ChargeStartDate: "6/24/2024",
      ChargeEndDate: "7/19/2024",
      SubscriptionStartDate: VISIO.subFrom,
      SubscriptionEndDate: VISIO.subTo,
      UnitPrice: "8",
      EffectiveUnitPrice: "-6.9333",
      Quantity: "2",
      BillableQuantity: "2",
      Subtotal: "-13.87",
      Total: "-13.87",
    }),
  ];
}

/** An addition as the tests compare them: what ConnectWise bills. */
export type ExpectedSegment = {
  sub: keyof typeof MONTHLY_SUBS;
  from: string;
  to: string | null;
  quantity: string;
  cost: string;
  price: string;
};

export const AFTER_JUNE: ExpectedSegment[] = [
  { sub: "standard", from: "2024-06-01", to: "2024-06-10", quantity: "10", cost: "12.5", price: "12.5" },
  { sub: "standard", from: "2024-06-11", to: null, quantity: "15", cost: "12.5", price: "12.5" },
  { sub: "premium", from: "2024-06-01", to: null, quantity: "5", cost: "22", price: "22" },
  { sub: "exchange", from: "2024-06-01", to: null, quantity: "3", cost: "4", price: "4" },
  { sub: "visio", from: "2024-06-20", to: null, quantity: "2", cost: "8", price: "8" },
];

export const AFTER_JULY: ExpectedSegment[] = [
  { sub: "standard", from: "2024-06-01", to: "2024-06-10", quantity: "10", cost: "12.5", price: "12.5" },
  { sub: "standard", from: "2024-06-11", to: "2024-07-02", quantity: "15", cost: "12.5", price: "12.5" },
  { sub: "standard", from: "2024-07-03", to: null, quantity: "12", cost: "12.5", price: "12.5" },
  { sub: "premium", from: "2024-06-01", to: "2024-07-15", quantity: "5", cost: "22", price: "22" },
  { sub: "premium", from: "2024-07-16", to: null, quantity: "7", cost: "22", price: "22" },
  { sub: "exchange", from: "2024-06-01", to: "2024-06-30", quantity: "3", cost: "4", price: "4" },
  { sub: "teams", from: "2024-07-10", to: null, quantity: "4", cost: "4", price: "4" },
  { sub: "visio", from: "2024-06-20", to: "2024-06-23", quantity: "2", cost: "8", price: "8" },
];

export const PRICE_WARNINGS = [
  "Subscription retail unit price changed from 22 to 24 on 2024-07-16",
  "Subscription cost unit price changed from 22 to 24 on 2024-07-16",
];
