import { z } from "zod";

// The Autotask product catalog settings, kept apart from the catalog target so the PSA port can name them.
export const autotaskCatalogSettingsSchema = z.object({
  /** Billing (allocation) code of new services; must be an active Recurring Contract Service code. */
  serviceBillingCodeId: z.coerce.number().int().positive().optional(),
  /** Vendor company set on new services (reporting only). */
  serviceVendorCompanyId: z.coerce.number().int().positive().optional(),
  /**
   * Billing code of the Products created for Seat-based Annual contract charges (docs/autotask.md §8.9
   * productBillingCodeID). Optional: without it such Products are linked and kept current but not created.
   */
  productBillingCodeId: z.coerce.number().int().positive().optional(),
});
export type AutotaskCatalogSettings = z.infer<typeof autotaskCatalogSettingsSchema>;
