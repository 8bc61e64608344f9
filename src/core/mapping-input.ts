import { z } from "zod";
import { parseDate } from "./dates.ts";
import { MAX_ID_CHARS } from "./limits.ts";
import { isDecimalText } from "./money.ts";
import { START_POINTS } from "./monthly-plan.ts";
import { PRICING_STRATEGIES } from "./pricing.ts";

/**
 * What a customer's mapping entry must be, as one zod schema for everyone who takes one: the API and the CLI
 * (through the mapping service) and the web app's mapping form, which checks a draft with it before sending.
 * Pure (zod and src/core only), so the web bundle can import it without server code.
 */
export const mappingInputSchema = z
  .object({
    psaCompanyId: z.string().trim().min(1).max(MAX_ID_CHARS),
    agreementId: z.string().trim().min(1).max(MAX_ID_CHARS),
    syncDate: z
      .string()
      .max(MAX_ID_CHARS)
      .refine((v) => parseDate(v) === v, "syncDate must be a date as YYYY-MM-DD")
      .nullable()
      .optional(),
    pricing: z.enum(PRICING_STRATEGIES).default("cost-and-retail"),
    markupPercent: z
      .string()
      .max(MAX_ID_CHARS)
      .refine(isDecimalText, "markupPercent must be a number")
      .optional(),
    /**
     * cost-and-retail only: the markup on cost for a line the price list has no entry for (docs/price-lists.md);
     * without it such a line takes the billing data's list price and is flagged when that is at cost.
     */
    fallbackMarkupPercent: z
      .string()
      .trim()
      .max(MAX_ID_CHARS)
      .refine(isDecimalText, "fallbackMarkupPercent must be a number such as 20")
      .refine((v) => !isDecimalText(v) || Number(v) >= -100, "fallbackMarkupPercent must not be below -100")
      .nullable()
      .optional(),
    enabled: z.boolean().default(true),
    startPoint: z.enum(START_POINTS).default("most-recent"),
  })
  .refine((m) => m.pricing !== "markup" || m.markupPercent !== undefined, {
    message: "markupPercent is required with markup pricing",
    path: ["markupPercent"],
  })
  .refine((m) => m.pricing === "cost-and-retail" || !m.fallbackMarkupPercent, {
    message: "fallbackMarkupPercent applies to cost-and-retail pricing only",
    path: ["fallbackMarkupPercent"],
  });
export type MappingInput = z.input<typeof mappingInputSchema>;
