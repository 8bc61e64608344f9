import { baseRow, writeCsv, type ReconRow } from "../test/support/recon-builder.ts";

/**
 * The billing data of bench:daily: an MSP of `customers` customers, each with 15 lines on the June invoice —
 * three monthly-billed seat subscriptions (one of them with a mid-month seat increase: its two halves), two
 * annual up-front purchases and eight Azure plan meters — and, for the "1 % changed" day, a mid-month seat
 * increase of one more subscription for every hundredth customer (what the next unbilled export brings new).
 */
export const INVOICE = "G500000001";

export function tenantOf(c: number): string {
  return `d0000000-0000-4000-8000-${c.toString(16).padStart(12, "0")}`;
}

function sub(c: number, i: number): string {
  return `5ab5d000-0000-4000-8000-${(c * 100 + i).toString(16).padStart(12, "0")}`;
}

const P1M = "One-Month commitment for monthly billing";
const JUNE = { from: "6/1/2024", to: "6/30/2024" };
export const MONTHLY = [
  { ProductId: "CFQ7TTC0LDPB", SkuId: "0001", SkuName: "Microsoft 365 Business Standard", price: "12.5" },
  { ProductId: "CFQ7TTC0LCHC", SkuId: "0002", SkuName: "Microsoft 365 Business Premium", price: "22" },
  { ProductId: "CFQ7TTC0LH16", SkuId: "0001", SkuName: "Exchange Online (Plan 1)", price: "4" },
] as const;

function customerRow(c: number, overrides: ReconRow): ReconRow {
  return baseRow({
    CustomerId: tenantOf(c),
    CustomerName: `Daily Customer ${c}`,
    CustomerDomainName: `daily${c}.onmicrosoft.com`,
    InvoiceNumber: INVOICE,
    ...overrides,
  });
}

function monthlyRow(c: number, i: number, overrides: ReconRow): ReconRow {
  const p = MONTHLY[i]!;
  return customerRow(c, {
    SubscriptionId: sub(c, i),
    ProductId: p.ProductId,
    SkuId: p.SkuId,
    SkuName: p.SkuName,
    ProductName: p.SkuName,
    SubscriptionDescription: p.SkuName,
    TermAndBillingCycle: P1M,
    BillingFrequency: "Monthly",
    SubscriptionStartDate: JUNE.from,
    SubscriptionEndDate: JUNE.to,
    UnitPrice: p.price,
    ...overrides,
  });
}

/** The two halves of a seat increase on `day` of June (prorated over the days left, docs/billing-data.md §7). */
function seatIncrease(c: number, i: number, day: number, before: number, after: number): ReconRow[] {
  const price = MONTHLY[i]!.price;
  const effective = ((Number(price) / 30) * (31 - day)).toFixed(4);
  const half = (seats: number, sign: string) =>
    monthlyRow(c, i, {
      ChargeType: "addQuantity",
      ReferenceId: `bbbbbbbb-0000-4000-8000-${(c * 100 + i * 10 + day).toString(16).padStart(12, "0")}`,
      OrderDate: `6/${day}/2024`,
      ChargeStartDate: `6/${day}/2024`,
      ChargeEndDate: JUNE.to,
      EffectiveUnitPrice: `${sign}${effective}`,
      Quantity: String(seats),
      BillableQuantity: String(seats),
      Subtotal: ((sign === "-" ? -1 : 1) * Number(effective) * seats).toFixed(2),
      Total: ((sign === "-" ? -1 : 1) * Number(effective) * seats).toFixed(2),
    });
  return [half(before, "-"), half(after, "")];
}

function seatsOf(c: number, i: number): number {
  return 2 + ((c * 7 + i * 5) % 30);
}

function customerRows(c: number): ReconRow[] {
  const rows: ReconRow[] = [];
  for (let i = 0; i < MONTHLY.length; i++) {
    const seats = seatsOf(c, i);
    const total = (Number(MONTHLY[i]!.price) * seats).toFixed(2);
    rows.push(
      monthlyRow(c, i, {
        ChargeType: "renew",
        OrderDate: JUNE.from,
        ChargeStartDate: JUNE.from,
        ChargeEndDate: JUNE.to,
        EffectiveUnitPrice: MONTHLY[i]!.price,
        Quantity: String(seats),
        BillableQuantity: String(seats),
        Subtotal: total,
        Total: total,
      }),
    );
  }
  rows.push(...seatIncrease(c, 0, 11, seatsOf(c, 0), seatsOf(c, 0) + 3));
  for (let i = 0; i < 2; i++) {
    const [productId, skuId, name, unit] =
      i === 0
        ? ["CFQ7TTC0LFLX", "0002", "Microsoft 365 E3", "36"]
        : ["CFQ7TTC0LH18", "0001", "Microsoft 365 Business Basic", "6"];
    const seats = 1 + ((c + i * 3) % 20);
    const price = String(Number(unit) * 12);
    const total = (Number(price) * seats).toFixed(2);
    rows.push(
      customerRow(c, {
        SubscriptionId: `5ab5e000-0000-4000-8000-${(c * 10 + i).toString(16).padStart(12, "0")}`,
        ProductId: productId,
        SkuId: skuId,
        SkuName: name,
        ProductName: name,
        SubscriptionDescription: name,
        ChargeType: "new",
        OrderDate: `6/${5 + i}/2024`,
        ChargeStartDate: `6/${5 + i}/2024`,
        ChargeEndDate: `6/${4 + i}/2025`,
        SubscriptionStartDate: `6/${5 + i}/2024`,
        SubscriptionEndDate: `6/${4 + i}/2025`,
        TermAndBillingCycle: "One-Year commitment for yearly billing",
        BillingFrequency: "",
        UnitPrice: price,
        EffectiveUnitPrice: price,
        Quantity: String(seats),
        BillableQuantity: String(seats),
        Subtotal: total,
        Total: total,
      }),
    );
  }
  for (let m = 0; m < 8; m++) {
    const quantity = (1 + ((c * 13 + m * 7) % 400) / 10).toFixed(4);
    const price = ["0.045", "0.096", "9.6", "0.02"][m % 4]!;
    const total = (Number(price) * Number(quantity)).toFixed(2);
    rows.push(
      customerRow(c, {
        OrderDate: "7/1/2024",
        ProductId: "DZH318Z0BQ4F",
        SkuId: `00${10 + m}`,
        AvailabilityId: "",
        SkuName: `Meter ${m}`,
        ProductName: "Azure plan meters",
        ChargeType: "new",
        UnitPrice: price,
        EffectiveUnitPrice: price,
        Quantity: "",
        BillableQuantity: quantity,
        Subtotal: total,
        Total: total,
        SubscriptionDescription: "Azure plan",
        SubscriptionId: `a2a2a2a2-0000-4000-8000-${c.toString(16).padStart(12, "0")}`,
        ChargeStartDate: "6/1/2024",
        ChargeEndDate: "6/30/2024",
        TermAndBillingCycle: "",
        UnitType: "1 Hour",
        BillingFrequency: "",
        PCToBCExchangeRateDate: "6/1/2024",
        MeterDescription: `Meter ${m}`,
        SubscriptionStartDate: "1/1/2024",
        SubscriptionEndDate: "",
      }),
    );
  }
  return rows;
}

/** The June invoice of every customer; returns the number of lines. */
export function writeMonth(file: string, customers: number): number {
  const rows: ReconRow[] = [];
  for (let c = 1; c <= customers; c++) rows.push(...customerRows(c));
  writeCsv(file, rows);
  return rows.length;
}

/** The customers that change on the "1 % changed" day: every hundredth (at least one). */
export function changedCustomers(customers: number): number[] {
  const step = Math.min(100, customers);
  const changed: number[] = [];
  for (let c = step; c <= customers; c += step) changed.push(c);
  return changed;
}

/** The new lines of the changed customers: a seat increase of their Business Premium subscription on Jun 20. */
export function writeChange(file: string, customers: number): number {
  const rows = changedCustomers(customers).flatMap((c) =>
    seatIncrease(c, 1, 20, seatsOf(c, 1), seatsOf(c, 1) + 2),
  );
  writeCsv(file, rows);
  return rows.length;
}
