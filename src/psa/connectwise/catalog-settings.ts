import { z } from "zod";

// The ConnectWise product catalog settings, kept apart from the catalog target so the PSA port can name them.
const idOrName = z.union([z.coerce.number().int().positive(), z.string().trim().min(1)]);

export const connectWiseCatalogSettingsSchema = z.object({
  /** Subcategory of new items, by id or name; default "Microsoft 365" (the demo seed's). */
  productSubcategory: idOrName.default("Microsoft 365"),
  /** Product type of new items, by id or name; default "Software Licensing". */
  productType: idOrName.default("Software Licensing"),
  /** Category id of new items; none: ConnectWise keeps the subcategory's own. */
  productCategoryId: z.coerce.number().int().positive().optional(),
  /** "Set New Products to Taxable" (docs/sync-behaviour.md §3). */
  productTaxable: z.boolean().default(false),
});
export type ConnectWiseCatalogSettings = z.infer<typeof connectWiseCatalogSettingsSchema>;
