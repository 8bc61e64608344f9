import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { parse as parseCsv, CsvError } from "csv-parse";
import { z } from "zod";
import { parseDate } from "../../core/dates.ts";
import { canonicalDecimal, isDecimalText } from "../../core/money.ts";
import { parseBillingPlan, type PriceListEntry } from "../../core/price-list.ts";
import { normalizeHeader } from "../reconciliation/columns.ts";
import { ReconFileError } from "../reconciliation/errors.ts";

/**
 * Reads Microsoft's new commerce license-based price list CSV (docs/price-lists.md): the whole file is checked
 * before anything is returned, so a file with one bad row stores nothing. Errors name the file, the row (the
 * header is row 1, as a spreadsheet numbers it) and the column.
 */
export class PriceListFileError extends ReconFileError {
  constructor(file: string, reason: string, where: { row?: number; column?: string } = {}) {
    super(file, reason, where);
    this.name = "PriceListFileError";
  }
}

/** The columns cspsync reads; any other column (Segment, EndofSaleDate, ChangeIndicator, …) is ignored. */
export const PRICE_LIST_COLUMNS = [
  { name: "ProductTitle", required: true },
  { name: "ProductId", required: true },
  { name: "SkuId", required: true },
  { name: "SkuTitle", required: true },
  { name: "TermDuration", required: true },
  { name: "BillingPlan", required: true },
  { name: "Market", required: true },
  { name: "Currency", required: true },
  { name: "UnitPrice", required: true },
  { name: "PricingTierRangeMin", required: false },
  { name: "PricingTierRangeMax", required: false },
  { name: "EffectiveStartDate", required: true },
  { name: "EffectiveEndDate", required: false },
  { name: "ERP Price", required: true },
] as const;
type Column = (typeof PRICE_LIST_COLUMNS)[number]["name"];

export type PriceListFile = {
  file: string;
  sha256: string;
  market: string;
  currency: string;
  entries: PriceListEntry[];
  /** Data rows read (header excluded), kept or skipped. */
  rows: number;
  /** Rows left out on purpose, by reason (a blank BillingPlan or TermDuration: not a license-based price). */
  skipped: Record<string, number>;
};

const TERM = /^P\d+[DMY]$/;

const entrySchema = z.object({
  productId: z.string().min(1).max(200),
  skuId: z.string().min(1).max(200),
  termDuration: z.string().regex(TERM),
  billingPlan: z.enum(["Monthly", "Annual", "Triennial"]),
  market: z.string().min(1).max(20),
  currency: z.string().regex(/^[A-Z]{3}$/),
  unitPrice: z.string(),
  erpPrice: z.string(),
  tierMin: z.string().nullable(),
  tierMax: z.string().nullable(),
  effectiveStart: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  effectiveEnd: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .nullable(),
  productTitle: z.string().max(1000),
  skuTitle: z.string().max(1000),
});

/** Microsoft writes open-ended rows with an end date in the year 9999. */
const OPEN_ENDED_FROM = "9000-01-01";

/** Reads a price list from a path or a stream (an upload); `file` names it in errors. */
export async function readPriceList(source: string | Readable, fileName?: string): Promise<PriceListFile> {
  const file = fileName ?? (typeof source === "string" ? path.basename(source) : "price list");
  const input = typeof source === "string" ? fs.createReadStream(source) : source;
  const hash = createHash("sha256");
  // A zip archive fails as CSV before its first record is seen, so its signature is read from the bytes.
  let firstBytes: Buffer | null = null;
  const hashed = input.on("data", (chunk: Buffer) => {
    firstBytes ??= chunk.subarray(0, 4);
    hash.update(chunk);
  });
  const parser = hashed.pipe(
    parseCsv({ bom: true, skip_empty_lines: true, relax_column_count: false, trim: false }),
  );
  let indexOf: Partial<Record<Column, number>> | null = null;
  let row = 0;
  const entries: PriceListEntry[] = [];
  const skipped: Record<string, number> = {};
  let market: string | null = null;
  let currency: string | null = null;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      row += 1;
      if (!indexOf) {
        if (isZip(firstBytes)) throw zipError(file);
        indexOf = headerIndex(record, file);
        continue;
      }
      const read = new RowReader(record, indexOf, file, row);
      const plan = read.text("BillingPlan");
      const term = read.text("TermDuration");
      if (plan === null || term === null) {
        const reason = plan === null ? "blank BillingPlan" : "blank TermDuration";
        skipped[reason] = (skipped[reason] ?? 0) + 1;
        continue;
      }
      const entry = read.entry(plan, term);
      if (market === null) market = entry.market;
      else if (entry.market !== market)
        read.fail("Market", `is ${entry.market} but the file's first row is ${market}; one market per file`);
      if (currency === null) currency = entry.currency;
      else if (entry.currency !== currency)
        read.fail(
          "Currency",
          `is ${entry.currency} but the file's first row is ${currency}; one currency per file`,
        );
      entries.push(entry);
    }
  } catch (error) {
    if (isZip(firstBytes)) throw zipError(file);
    if (error instanceof ReconFileError) throw error;
    if (error instanceof CsvError) {
      // csv-parse counts the record it failed on by its line; the records read so far are one short of it.
      const line = (error as CsvError & { lines?: number }).lines;
      throw new PriceListFileError(file, `is not valid CSV (${error.message})`, { row: line ?? row + 1 });
    }
    throw new PriceListFileError(file, `could not be read (${(error as Error).message})`);
  }
  if (!indexOf) throw new PriceListFileError(file, "the file is empty");
  if (entries.length === 0) throw new PriceListFileError(file, "has no price rows");
  return {
    file,
    sha256: hash.digest("hex"),
    market: market!,
    currency: currency!,
    entries,
    rows: row - 1,
    skipped,
  };
}

function zipError(file: string): PriceListFileError {
  return new PriceListFileError(
    file,
    "this is the zip archive Partner Center downloads; extract it and import the .csv inside",
    { row: 1 },
  );
}

function isZip(firstBytes: Buffer | null): boolean {
  return firstBytes !== null && firstBytes.length >= 4 && firstBytes.readUInt32LE(0) === 0x04034b50;
}

/** Header names match case-insensitively, ignoring spaces, dashes and underscores ("ERP Price", "erpprice"). */
function headerIndex(header: readonly string[], file: string): Partial<Record<Column, number>> {
  const byName = new Map(header.map((name, index) => [normalizeHeader(name.trim()), index]));
  const indexOf: Partial<Record<Column, number>> = {};
  const missing: string[] = [];
  for (const column of PRICE_LIST_COLUMNS) {
    const index = byName.get(normalizeHeader(column.name));
    if (index !== undefined) indexOf[column.name] = index;
    else if (column.required) missing.push(column.name);
  }
  if (missing.length > 0)
    throw new PriceListFileError(
      file,
      `is not a new commerce license-based price list: missing column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
      { row: 1 },
    );
  return indexOf;
}

class RowReader {
  private readonly fields: readonly string[];
  private readonly indexOf: Partial<Record<Column, number>>;
  private readonly file: string;
  private readonly row: number;

  constructor(
    fields: readonly string[],
    indexOf: Partial<Record<Column, number>>,
    file: string,
    row: number,
  ) {
    this.fields = fields;
    this.indexOf = indexOf;
    this.file = file;
    this.row = row;
  }

  text(column: Column): string | null {
    const index = this.indexOf[column];
    const value = index === undefined ? "" : (this.fields[index] ?? "").trim();
    return value === "" ? null : value;
  }

  required(column: Column): string {
    return this.text(column) ?? this.fail(column, "is empty but a value is required");
  }

  decimal(column: Column): string {
    return this.optionalDecimal(column) ?? this.fail(column, "is empty but a number is required");
  }

  optionalDecimal(column: Column): string | null {
    const value = this.text(column);
    if (value === null) return null;
    if (!isDecimalText(value)) this.fail(column, `${JSON.stringify(value)} is not a number`);
    const canonical = canonicalDecimal(value);
    if (canonical.startsWith("-")) this.fail(column, `${value} is negative; prices and tiers are not`);
    return canonical;
  }

  date(column: Column): string | null {
    const value = this.text(column);
    if (value === null) return null;
    return (
      parseDate(value) ??
      this.fail(
        column,
        `${JSON.stringify(value)} is not a date (expected M/D/YYYY [h:mm[:ss] AM] or ISO 8601)`,
      )
    );
  }

  entry(planText: string, term: string): PriceListEntry {
    const billingPlan =
      parseBillingPlan(planText) ??
      this.fail("BillingPlan", `${JSON.stringify(planText)} is not Monthly, Annual or Triennial`);
    const termDuration = term.toUpperCase();
    if (!TERM.test(termDuration))
      this.fail("TermDuration", `${JSON.stringify(term)} is not an ISO-8601 period such as P1M, P1Y or P3Y`);
    const currency = this.required("Currency").toUpperCase();
    if (!/^[A-Z]{3}$/.test(currency))
      this.fail("Currency", `${JSON.stringify(currency)} is not a three-letter currency code`);
    const effectiveStart =
      this.date("EffectiveStartDate") ?? this.fail("EffectiveStartDate", "is empty but a date is required");
    const end = this.date("EffectiveEndDate");
    const effectiveEnd = end === null || end >= OPEN_ENDED_FROM ? null : end;
    if (effectiveEnd !== null && effectiveEnd < effectiveStart)
      this.fail("EffectiveEndDate", `${effectiveEnd} is before EffectiveStartDate ${effectiveStart}`);
    const tierMin = this.optionalDecimal("PricingTierRangeMin");
    const tierMax = this.optionalDecimal("PricingTierRangeMax");
    const candidate = {
      productId: this.required("ProductId").toUpperCase(),
      skuId: this.required("SkuId").toUpperCase(),
      termDuration,
      billingPlan,
      market: this.required("Market").toUpperCase(),
      currency,
      unitPrice: this.decimal("UnitPrice"),
      erpPrice: this.decimal("ERP Price"),
      tierMin,
      tierMax,
      effectiveStart,
      effectiveEnd,
      productTitle: this.text("ProductTitle") ?? "",
      skuTitle: this.text("SkuTitle") ?? "",
    };
    const checked = entrySchema.safeParse(candidate);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      this.fail(columnOf(String(issue.path[0] ?? "")), issue.message);
    }
    return checked.data;
  }

  fail(column: Column, reason: string): never {
    throw new PriceListFileError(this.file, reason, { row: this.row, column });
  }
}

const COLUMN_OF_FIELD: Record<string, Column> = {
  productId: "ProductId",
  skuId: "SkuId",
  termDuration: "TermDuration",
  billingPlan: "BillingPlan",
  market: "Market",
  currency: "Currency",
  unitPrice: "UnitPrice",
  erpPrice: "ERP Price",
  tierMin: "PricingTierRangeMin",
  tierMax: "PricingTierRangeMax",
  effectiveStart: "EffectiveStartDate",
  effectiveEnd: "EffectiveEndDate",
  productTitle: "ProductTitle",
  skuTitle: "SkuTitle",
};

function columnOf(field: string): Column {
  return COLUMN_OF_FIELD[field] ?? "ProductId";
}

/** For uploads held in memory. */
export function readPriceListText(text: string | Buffer, fileName: string): Promise<PriceListFile> {
  return readPriceList(Readable.from([Buffer.from(text)]), fileName);
}
