import type { BillingMotion, ChargeLine, Classification } from "../../core/billing.ts";
import { ExactSum } from "../../core/money.ts";
import { ReconFileError } from "./errors.ts";

/** Every line of one invoice in a file (new and already known): currency, date range, count and sum of Total. */
export type InvoiceLines = {
  invoiceNumber: string;
  currency: string;
  first: string;
  last: string;
  lines: number;
  total: string;
};

/** What a whole file holds, known and new lines alike; counted on the thread that reads it. */
export type FileTally = {
  lines: number;
  linesByMotion: Record<BillingMotion, number>;
  notBillable: number;
  customers: string[];
  invoices: InvoiceLines[];
};

type InvoiceSum = Omit<InvoiceLines, "total"> & { total: ExactSum };

export class FileTallier {
  private lines = 0;
  private readonly linesByMotion: Record<BillingMotion, number> = {
    "seat-monthly": 0,
    azure: 0,
    "seat-annual": 0,
  };
  private notBillable = 0;
  private readonly customers = new Set<string>();
  private readonly invoices = new Map<string, InvoiceSum>();
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  add(line: ChargeLine, classification: Classification): void {
    this.lines += 1;
    this.linesByMotion[classification.motion] += 1;
    if (!classification.billable) this.notBillable += 1;
    this.customers.add(line.customerTenantId);
    const last = line.chargeEnd ?? line.chargeStart;
    const invoice = this.invoices.get(line.invoiceNumber);
    if (!invoice) {
      const total = new ExactSum();
      total.add(line.total);
      this.invoices.set(line.invoiceNumber, {
        invoiceNumber: line.invoiceNumber,
        currency: line.currency,
        first: line.chargeStart,
        last,
        lines: 1,
        total,
      });
      return;
    }
    if (line.currency !== invoice.currency) this.refuseCurrency(invoice, line.currency, line.sourceRow);
    invoice.lines += 1;
    invoice.total.add(line.total);
    if (line.chargeStart < invoice.first) invoice.first = line.chargeStart;
    if (last > invoice.last) invoice.last = last;
  }

  /**
   * Adds what a later stretch of the same file holds (read apart, see split-read.ts), as if its lines had been
   * added one by one: `firstRows[i]` is the row of the first line of `part.invoices[i]`, where a currency other
   * than the invoice's so far is refused.
   */
  merge(part: FileTally, firstRows: readonly number[]): void {
    this.lines += part.lines;
    for (const motion of Object.keys(this.linesByMotion) as BillingMotion[])
      this.linesByMotion[motion] += part.linesByMotion[motion];
    this.notBillable += part.notBillable;
    for (const customer of part.customers) this.customers.add(customer);
    part.invoices.forEach((lines, i) => {
      const invoice = this.invoices.get(lines.invoiceNumber);
      if (!invoice) {
        const total = new ExactSum();
        total.add(lines.total);
        this.invoices.set(lines.invoiceNumber, { ...lines, total });
        return;
      }
      if (lines.currency !== invoice.currency) this.refuseCurrency(invoice, lines.currency, firstRows[i]!);
      invoice.lines += lines.lines;
      invoice.total.add(lines.total);
      if (lines.first < invoice.first) invoice.first = lines.first;
      if (lines.last > invoice.last) invoice.last = lines.last;
    });
  }

  // Microsoft issues one invoice per billing currency (docs/billing-data.md §2): another currency on the same
  // invoice means the file is not what it claims to be, and its totals could not be added up.
  private refuseCurrency(invoice: InvoiceSum, currency: string, row: number): never {
    throw new ReconFileError(
      this.file,
      `invoice ${invoice.invoiceNumber} is in ${invoice.currency} but this line is in ${currency}`,
      { row, column: "Currency" },
    );
  }

  tally(): FileTally {
    return {
      lines: this.lines,
      linesByMotion: { ...this.linesByMotion },
      notBillable: this.notBillable,
      customers: [...this.customers],
      invoices: [...this.invoices.values()].map((i) => ({ ...i, total: i.total.value() })),
    };
  }
}
