import { z } from "zod";
import { parseDate } from "./dates.ts";
import { MAX_ID_CHARS } from "./limits.ts";
import { canonicalDecimal, Dec, isDecimalText } from "./money.ts";
import { normalizeProductKey, PRICE_RULE_KINDS } from "./pricing.ts";

/**
 * What a price rule must be, as one zod schema for everyone who takes one: the API and the CLI (through the
 * pricing service) and the web app's rule form, which checks a draft with it before sending. Pure (zod and
 * src/core only), so the web bundle can import it without server code.
 */
const isoDate = (field: string) =>
  z
    .string()
    .max(MAX_ID_CHARS)
    .refine((v) => parseDate(v) === v, `${field} must be a date as YYYY-MM-DD`);
const decimalText = (field: string) =>
  z
    .string()
    .trim()
    .max(MAX_ID_CHARS)
    .refine(isDecimalText, `${field} must be a number such as 12.5`)
    // Zod still runs transforms after a failed check; a non-number passes through to be reported.
    .transform((v) => (isDecimalText(v) ? canonicalDecimal(v) : v));

/** A product key as the billing data names it: `ProductId`, or `ProductId:SkuId`, or AZURE-PLAN. */
export const PRODUCT_KEY = /^[A-Za-z0-9-]+(:[A-Za-z0-9-]+)?$/;

export const priceRuleInputSchema = z
  .object({
    name: z.string().trim().min(1, "name must not be empty").max(200).optional(),
    productKey: z
      .string()
      .trim()
      .max(MAX_ID_CHARS)
      .regex(PRODUCT_KEY, "productKey must be a product id or ProductId:SkuId, e.g. CFQ7TTC0LCHC:0002")
      .transform(normalizeProductKey)
      .nullable()
      .optional(),
    customerTenantId: z
      .string()
      .trim()
      .min(1, "customerTenantId must not be empty")
      .max(MAX_ID_CHARS)
      .nullable()
      .optional(),
    kind: z.enum(PRICE_RULE_KINDS, { message: "kind must be markup or fixed" }),
    value: decimalText("value"),
    effectiveFrom: isoDate("effectiveFrom"),
    effectiveTo: isoDate("effectiveTo").nullable().optional(),
  })
  .refine((r) => Boolean(r.productKey) || Boolean(r.customerTenantId), {
    message: "a rule needs a productKey, a customerTenantId, or both",
    path: ["productKey"],
  })
  .refine((r) => !r.effectiveTo || r.effectiveTo >= r.effectiveFrom, {
    message: "effectiveTo must be on or after effectiveFrom",
    path: ["effectiveTo"],
  })
  .refine((r) => r.kind !== "fixed" || !isDecimalText(r.value) || !new Dec(r.value).isNegative(), {
    message: "a fixed price must not be negative",
    path: ["value"],
  })
  .refine(
    (r) => r.kind !== "markup" || !isDecimalText(r.value) || new Dec(r.value).greaterThanOrEqualTo(-100),
    {
      message: "a markup must not be below -100 (that would be a negative price)",
      path: ["value"],
    },
  );
/** A price rule as a client sends it (before trimming and canonical decimals). */
export type PriceRuleInput = z.input<typeof priceRuleInputSchema>;
