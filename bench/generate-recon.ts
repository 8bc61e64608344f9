import fs from "node:fs";
import { once } from "node:events";
import { RECON_COLUMN_NAMES } from "../src/sources/reconciliation/columns.ts";
import { Dec } from "../src/core/money.ts";

/**
 * Writes a realistic synthetic reconciliation CSV of `lines` rows: customers with monthly seats, annual
 * up-front subscriptions, seat-change pairs, Azure meters and trials, in the documented column layout.
 * Deterministic for a given size, streamed so any size fits in memory.
 */
const PRODUCTS = [
  ["CFQ7TTC0LDPB", "0001", "Microsoft 365 Business Standard", "12.5"],
  ["CFQ7TTC0LCHC", "0002", "Microsoft 365 Business Premium", "22"],
  ["CFQ7TTC0LH18", "0001", "Microsoft 365 Business Basic", "6"],
  ["CFQ7TTC0LFLX", "0002", "Microsoft 365 E3", "36"],
  ["CFQ7TTC0LH16", "0001", "Exchange Online (Plan 1)", "4"],
] as const;
const METERS = [
  ["DZH318Z0BNZ5", "006G", "Tables - LRS", "Tables - LRS Data Stored (GB/Month)", "1 GB/Month", "0.045"],
  ["DZH318Z0BPS6", "0070", "D2 v3", "D2 v3/D2s v3", "1 Hour", "0.096"],
  ["DZH318Z0BQ4F", "0011", "Standard SSD Managed Disks", "E10 LRS Disk", "1/Month", "9.6"],
] as const;

function rng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function guid(n: number, prefix: string): string {
  const hex = n.toString(16).padStart(12, "0");
  return `${prefix}-0000-4000-8000-${hex}`;
}

function csv(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export async function generateRecon(file: string, lines: number): Promise<void> {
  const out = fs.createWriteStream(file);
  const random = rng(42);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, "drain");
  };
  await write(RECON_COLUMN_NAMES.join(",") + "\r\n");
  let written = 0;
  let customer = 0;
  while (written < lines) {
    customer += 1;
    const customerId = guid(customer, "c0ffee00");
    const name = `Customer ${customer}, Inc.`;
    const perCustomer = 20 + Math.floor(random() * 60);
    for (let i = 0; i < perCustomer && written < lines; i++) {
      const kind = random();
      const sub = guid(customer * 1000 + i, "5ab5c000");
      const base: Record<string, string> = {
        PartnerId: "0e195b37-4574-4539-bc42-0e539b9684c0",
        CustomerId: customerId,
        CustomerName: name,
        CustomerDomainName: `customer${customer}.onmicrosoft.com`,
        CustomerCountry: "US",
        InvoiceNumber: "G200000001",
        MpnId: "6034453",
        ResellerMpnId: "0",
        OrderId: `o${customer}x${i}`,
        OrderDate: "6/18/2024",
        Currency: "USD",
        TaxTotal: "0",
        PriceAdjustmentDescription:
          '["Price for given billing period","You are getting a discount for being a partner."]',
        PublisherName: "Microsoft Corporation",
        SubscriptionId: sub,
        PricingCurrency: "USD",
        PCToBCExchangeRate: "1",
        PCToBCExchangeRateDate: "6/1/2024",
        ProductQualifiers: "[]",
        ProductCategory: "OnlineServices",
      };
      const rows: Record<string, string>[] = [];
      if (kind < 0.25) {
        const [productId, skuId, product, meter, unitType, unit] =
          METERS[Math.floor(random() * METERS.length)]!;
        const quantity = (random() * 500).toFixed(4);
        const eup = new Dec(unit).times("0.85").toFixed(5);
        rows.push({
          ...base,
          ProductId: productId,
          SkuId: skuId,
          SkuName: product,
          ProductName: product,
          ChargeType: "new",
          UnitPrice: unit,
          EffectiveUnitPrice: eup,
          BillableQuantity: quantity,
          Subtotal: new Dec(eup).times(quantity).toFixed(2, Dec.ROUND_DOWN),
          ChargeStartDate: "6/1/2024",
          ChargeEndDate: "6/30/2024",
          SubscriptionDescription: "Azure plan",
          SubscriptionStartDate: "1/1/2024",
          MeterDescription: meter,
          UnitType: unitType,
          BillingFrequency: "",
        });
      } else {
        const [productId, skuId, product, unit] = PRODUCTS[Math.floor(random() * PRODUCTS.length)]!;
        const seats = 1 + Math.floor(random() * 50);
        const annual = kind > 0.85;
        const price = annual ? new Dec(unit).times(12).toFixed() : unit;
        const term = annual
          ? {
              SubscriptionStartDate: "6/5/2024",
              SubscriptionEndDate: "6/4/2025",
              ChargeStartDate: "6/5/2024",
              ChargeEndDate: "6/4/2025",
              BillingFrequency: "",
            }
          : {
              SubscriptionStartDate: "6/18/2024",
              SubscriptionEndDate: "7/17/2024",
              ChargeStartDate: "6/18/2024",
              ChargeEndDate: "7/17/2024",
              BillingFrequency: "Monthly",
            };
        const product_ = {
          ProductId: productId,
          SkuId: skuId,
          SkuName: product,
          ProductName: product,
          SubscriptionDescription: product,
          AvailabilityId: "CFQ7TTC0K5RQ",
        };
        rows.push({
          ...base,
          ...product_,
          ...term,
          ChargeType: kind < 0.3 ? "renew" : "new",
          UnitPrice: price,
          EffectiveUnitPrice: price,
          Quantity: String(seats),
          BillableQuantity: String(seats),
          Subtotal: new Dec(price).times(seats).toFixed(2),
        });
        if (random() < 0.2) {
          const ref = guid(customer * 1000 + i, "fefe0000");
          const eup = new Dec(price).times("0.6").toFixed(4);
          rows.push({
            ...base,
            ...product_,
            ...term,
            ChargeType: "addQuantity",
            ReferenceId: ref,
            UnitPrice: price,
            EffectiveUnitPrice: `-${eup}`,
            Quantity: String(seats),
            BillableQuantity: String(seats),
            Subtotal: new Dec(eup).times(-seats).toFixed(2),
          });
          rows.push({
            ...base,
            ...product_,
            ...term,
            ChargeType: "addQuantity",
            ReferenceId: ref,
            UnitPrice: price,
            EffectiveUnitPrice: eup,
            Quantity: String(seats + 2),
            BillableQuantity: String(seats + 2),
            Subtotal: new Dec(eup).times(seats + 2).toFixed(2),
          });
        }
      }
      for (const row of rows) {
        if (written >= lines) break;
        row.Total = row.Subtotal!;
        await write(RECON_COLUMN_NAMES.map((c) => csv(row[c] ?? "")).join(",") + "\r\n");
        written += 1;
      }
    }
  }
  out.end();
  await once(out, "finish");
}

/** A month of annual up-front purchases: `perCustomer` subscriptions for each of `customers` tenants. */
export async function generateAnnualRecon(
  file: string,
  customers: number,
  perCustomer: number,
): Promise<string[]> {
  const out = fs.createWriteStream(file);
  const tenants: string[] = [];
  out.write(RECON_COLUMN_NAMES.join(",") + "\r\n");
  for (let c = 1; c <= customers; c++) {
    const tenant = guid(c, "a11a0000");
    tenants.push(tenant);
    for (let i = 0; i < perCustomer; i++) {
      const [productId, skuId, product, unit] = PRODUCTS[i % PRODUCTS.length]!;
      const seats = 1 + ((c * 7 + i * 3) % 25);
      const price = new Dec(unit).times(12).toFixed();
      const day = 1 + (i % 28);
      const row: Record<string, string> = {
        PartnerId: "0e195b37-4574-4539-bc42-0e539b9684c0",
        CustomerId: tenant,
        CustomerName: `Annual Customer ${c}`,
        InvoiceNumber: "G300000001",
        ProductId: productId,
        SkuId: skuId,
        SkuName: product,
        ProductName: product,
        ChargeType: "new",
        UnitPrice: price,
        EffectiveUnitPrice: price,
        Quantity: String(seats),
        BillableQuantity: String(seats),
        Subtotal: new Dec(price).times(seats).toFixed(2),
        Total: new Dec(price).times(seats).toFixed(2),
        Currency: "USD",
        SubscriptionId: guid(c * 1000 + i, "5ab5a000"),
        ChargeStartDate: `6/${day}/2024`,
        ChargeEndDate: `6/${day - 1 || 30}/2025`,
        SubscriptionStartDate: `6/${day}/2024`,
        SubscriptionEndDate: `6/${day - 1 || 30}/2025`,
        BillingFrequency: "",
      };
      out.write(RECON_COLUMN_NAMES.map((col) => csv(row[col] ?? "")).join(",") + "\r\n");
    }
  }
  out.end();
  await once(out, "finish");
  return tenants;
}
