import { z } from "zod";
import { START_POINTS } from "../core/monthly-plan.ts";
import { BILLING_MOTIONS } from "../core/billing.ts";
import { PRICE_SOURCES, PRICING_STRATEGIES } from "../core/pricing.ts";
import { ROLES } from "../services/auth.ts";
import { VENDORS } from "../services/connections.ts";
import type { ImportStatus } from "../services/import-recon.ts";
import type { RunStatus, SyncItemsTable } from "../store/schema.ts";

/**
 * Response shapes of the HTTP API. They mirror the service types field by field; the serializer drops any
 * field not listed here, so a value that is not declared (a secret, say) can never reach a client.
 * Response schemas carry no transforms or refinements: the serializer encodes through them.
 */
const instant = z
  .string()
  .meta({ description: "ISO-8601 instant, UTC", example: "2024-07-01T06:00:00.000Z" });
const date = z.string().meta({ description: "YYYY-MM-DD", example: "2024-06-01" });
const decimal = z.string().meta({ description: "exact decimal number as a string", example: "12.5" });

/** True only when `List` names every member of `Union`: a new status in the store fails the type check here. */
type Covers<Union, List extends readonly unknown[]> = [Exclude<Union, List[number]>] extends [never]
  ? true
  : false;

const RUN_STATUSES = [
  "running",
  "no-change",
  "success",
  "warning",
  "error",
  "abandoned",
] as const satisfies readonly RunStatus[];
const ITEM_OUTCOMES = [
  "written",
  "found-existing",
  "planned",
  "skipped",
  "warning",
  "error",
  "held",
] as const satisfies readonly SyncItemsTable["outcome"][];
const IMPORT_STATUSES = ["imported", "rejected", "empty"] as const satisfies readonly ImportStatus[];
const _listsAreComplete: [
  Covers<RunStatus, typeof RUN_STATUSES>,
  Covers<SyncItemsTable["outcome"], typeof ITEM_OUTCOMES>,
  Covers<ImportStatus, typeof IMPORT_STATUSES>,
] = [true, true, true];

export const motionSchema = z.enum(BILLING_MOTIONS);
export const roleSchema = z.enum(ROLES);
export const vendorSchema = z.enum(VENDORS);

export const userSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    role: roleSchema,
    createdAt: instant,
    lastLoginAt: instant.nullable(),
  })
  .meta({ id: "User" });
export const sessionUserSchema = z.object({ id: z.string(), email: z.string(), role: roleSchema });
export const sessionSchema = z
  .object({ user: sessionUserSchema, csrfToken: z.string() })
  .meta({ id: "Session" });

export const tokenStatusSchema = z.enum(["active", "expired", "owner-deleted", "owner-demoted"]);
export const tokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: roleSchema,
    createdAt: instant,
    lastUsedAt: instant.nullable(),
    expiresAt: instant.nullable().meta({ description: "null: the token never expires" }),
    owner: z
      .object({ id: z.string(), email: z.string() })
      .nullable()
      .meta({ description: "The user the token acts for; null once that user is deleted" }),
    status: tokenStatusSchema.meta({ description: "active, or why the token no longer works" }),
  })
  .meta({ id: "ApiToken" });
export const newTokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: roleSchema,
    expiresAt: instant.nullable(),
    token: z.string(),
  })
  .meta({ id: "NewApiToken", description: "The token is shown only here; cspsync stores a hash of it." });

export const connectionSchema = z
  .object({
    id: z.string(),
    vendor: vendorSchema,
    name: z.string(),
    config: z.record(z.string(), z.unknown()),
    secretsSet: z
      .record(z.string(), z.boolean())
      .meta({ description: "Which credentials are stored; their values are never returned." }),
    credentialsReadable: z.boolean().meta({
      description:
        "False when the stored credentials cannot be decrypted with the server's secret key (it was changed): " +
        "re-enter them (PATCH with every secret) or restore the key.",
    }),
    settings: z.record(z.string(), z.unknown()),
    seatAnnualEnabled: z.boolean(),
    lastTest: z.object({ at: instant, ok: z.boolean(), message: z.string() }).nullable(),
    lastSync: z
      .object({ at: instant, runId: z.string(), status: z.string(), message: z.string().nullable() })
      .nullable()
      .meta({
        description: "The connection's most recent finished sync run, and its first error when it failed",
      }),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: "Connection" });

export const connectionTestSchema = z
  .object({
    ok: z.boolean(),
    message: z.string(),
    detail: z.string().optional().meta({ description: "A failed test's technical account, for Details" }),
    checks: z.array(z.object({ name: z.string(), ok: z.boolean(), message: z.string() })),
  })
  .meta({ id: "ConnectionTest" });

const validitySchema = z.object({ ok: z.boolean(), reason: z.string().optional() });

export const psaCompanySchema = z
  .object({ id: z.string(), name: z.string(), identifier: z.string().optional() })
  .meta({ id: "PsaCompany" });
export const psaAgreementSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    companyId: z.string(),
    type: z.string(),
    billingCycle: z.string().nullable(),
    startDate: date.nullable(),
    endDate: date.nullable(),
    status: z.string(),
    validFor: z.object({
      "seat-monthly": validitySchema,
      azure: validitySchema,
      "seat-annual": validitySchema,
    }),
  })
  .meta({ id: "PsaAgreement" });

export const pricingSchema = z.object({
  strategy: z.enum(PRICING_STRATEGIES),
  markupPercent: decimal.optional(),
  /** cost-and-retail: markup on cost for lines without a price list entry (docs/price-lists.md). */
  fallbackMarkupPercent: decimal.optional(),
});

export const mappingSchema = z
  .object({
    connectionId: z.string(),
    customerTenantId: z.string(),
    motion: motionSchema,
    psaCompanyId: z.string().nullable(),
    psaCompanyName: z.string().nullable(),
    agreementId: z.string().nullable(),
    agreementName: z.string().nullable(),
    syncDate: date.nullable(),
    pricing: pricingSchema,
    enabled: z.boolean(),
    startPoint: z.enum(START_POINTS).meta({
      description:
        "Seat-based Monthly: sync from the invoice that was the most recent when the entry was enabled, or from the next one",
    }),
    startInvoice: z
      .string()
      .nullable()
      .meta({ description: "Seat-based Monthly: that invoice, fixed when the entry is enabled" }),
    updatedAt: instant.nullable(),
  })
  .meta({ id: "Mapping" });

export const lastSyncSchema = z.object({
  lastSyncAt: instant.nullable(),
  lastStatus: z
    .enum(["no-change", "written", "held", "warning", "error"])
    .nullable()
    .meta({ description: "How the last run that covered this entry ended for it; null: never synced" }),
  lastMessage: z.string().nullable(),
});

export const mappingEntrySchema = z
  .object({
    motion: motionSchema,
    psaCompanyId: z.string().nullable(),
    psaCompanyName: z.string().nullable(),
    agreementId: z.string().nullable(),
    agreementName: z.string().nullable(),
    syncDate: date.nullable(),
    pricing: pricingSchema,
    enabled: z.boolean(),
    startPoint: z.enum(START_POINTS).meta({
      description:
        "Seat-based Monthly: sync from the invoice that was the most recent when the entry was enabled, or from the next one",
    }),
    startInvoice: z
      .string()
      .nullable()
      .meta({ description: "Seat-based Monthly: that invoice, fixed when the entry is enabled" }),
    ...lastSyncSchema.shape,
  })
  .meta({ id: "MappingEntry" });

/** A motion of a customer with billable charges and no mapped entry: the charges' count and cost per currency. */
export const unmappedChargesSchema = z
  .object({
    motion: motionSchema,
    lines: z.number().int(),
    totals: z.array(z.object({ currency: z.string(), amount: decimal })),
  })
  .meta({ id: "UnmappedCharges" });

export const customerSchema = z
  .object({
    tenantId: z.string(),
    name: z.string(),
    domain: z.string().nullable(),
    country: z.string().nullable(),
    mappings: z
      .array(mappingEntrySchema)
      .meta({ description: "seat-monthly, azure, seat-annual, in this order" }),
    heldLines: z
      .number()
      .int()
      .meta({ description: "Lines held for approval on this connection, not yet written" }),
    unmappedCharges: z.array(unmappedChargesSchema).meta({
      description: "Motions with billable charges and no mapped entry: what a mapping would bill (cost)",
    }),
  })
  .meta({ id: "CustomerWithMappings" });

export const runSchema = z
  .object({
    id: z.string(),
    connectionId: z.string(),
    trigger: z.string(),
    scope: z.record(z.string(), z.unknown()),
    status: z.enum(RUN_STATUSES),
    startedAt: instant,
    finishedAt: instant.nullable(),
    written: z.number(),
    unchanged: z.number(),
    warnings: z.number(),
    errors: z.number(),
    psaRequests: z.number(),
    message: z.string().nullable(),
    customerTenantId: z.string().nullable().meta({ description: "The one customer the run was scoped to" }),
    customerName: z.string().nullable(),
  })
  .meta({ id: "Run" });

const outcomeSchema = z.enum(ITEM_OUTCOMES);

export const runItemSchema = z
  .object({
    sequence: z.number(),
    customerTenantId: z.string().nullable(),
    customerName: z.string().nullable(),
    motion: z.string().nullable(),
    subscriptionId: z.string().nullable(),
    eventKey: z.string().nullable(),
    writeKey: z.string().nullable(),
    outcome: outcomeSchema,
    psaRecordId: z.string().nullable(),
    message: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    hold: z
      .object({
        writeKey: z.string(),
        unitCost: z.string().nullable(),
        unitPrice: z.string().nullable(),
        status: z.enum(["held", "approved", "written", "replaced"]),
        approvedBy: z.string().nullable(),
      })
      .optional()
      .meta({
        description:
          "Held items: approve with POST /api/connections/{id}/holds/approve { writeKeys: [writeKey] }; status is the hold now",
      }),
    target: z
      .object({
        companyName: z.string().nullable(),
        agreementId: z.string().nullable(),
        agreementName: z.string().nullable(),
        link: z.string().nullable().meta({ description: "The agreement/contract in the PSA's web app" }),
      })
      .optional(),
  })
  .meta({ id: "RunItem" });

export const runTotalsSchema = z
  .object({
    lines: z.number(),
    currency: z.string().nullable(),
    cost: decimal,
    price: decimal.nullable(),
    margin: decimal.nullable(),
  })
  .meta({ id: "RunTotals", description: "Written lines: quantity × unit amount, exact" });

// Long descriptions live in constants: inline, Prettier formats these chains differently on each pass.
const atOrBelowCostField = z.boolean().optional().meta({
  description: "A charge sold for no more than its cost: flagged, not held (docs/price-lists.md)",
});

export const plannedLineSchema = z
  .object({
    writeKey: z.string(),
    eventKey: z.string(),
    customerTenantId: z.string(),
    subscriptionId: z.string(),
    productId: z.string(),
    skuId: z.string(),
    productName: z.string(),
    description: z.string(),
    quantity: decimal,
    unitCost: decimal,
    unitPrice: decimal.nullable(),
    extendedCost: decimal,
    extendedPrice: decimal.nullable(),
    effectiveDate: date,
    billable: z.boolean(),
    isCredit: z.boolean(),
    warnings: z.array(z.string()),
    pricedBy: z
      .object({ ruleId: z.string(), ruleName: z.string(), description: z.string() })
      .nullable()
      .optional()
      .meta({
        description: "The price rule that set unitPrice; null when the mapping's pricing strategy did.",
      }),
    belowCost: z.boolean().optional(),
    priceSource: z.enum(PRICE_SOURCES).optional().meta({
      description:
        "Where the price came from: price-list (Microsoft's ERP), fallback-markup, microsoft-list (the data's list price), price-rule, markup, cost-only",
    }),
    atOrBelowCost: atOrBelowCostField,
  })
  .meta({ id: "PlannedLine" });

const pricedBySchema = z.object({ ruleId: z.string(), ruleName: z.string(), description: z.string() });

export const azureMonthLineSchema = z
  .object({
    writeKey: z.string(),
    eventKey: z.string(),
    month: z.string().meta({ description: "YYYY-MM" }),
    customerTenantId: z.string(),
    description: z.string(),
    quantity: decimal,
    unitCost: decimal,
    unitPrice: decimal.nullable(),
    pricedBy: pricedBySchema.nullable().optional().meta({
      description: "The price rule that set unitPrice; null when the mapping's pricing strategy did.",
    }),
    belowCost: z.boolean().optional(),
    priceSource: z.enum(PRICE_SOURCES).optional().meta({
      description:
        "Where the price came from: price-list (Microsoft's ERP), fallback-markup, microsoft-list (the data's list price), price-rule, markup, cost-only",
    }),
    atOrBelowCost: atOrBelowCostField,
    currency: z.string(),
    periodStart: date,
    periodEnd: date,
    eventKeys: z.array(z.string()),
    subscriptionIds: z.array(z.string()),
    isCredit: z.boolean(),
    warnings: z.array(z.string()),
  })
  .meta({ id: "AzureMonthLine" });

export const monthlySegmentSchema = z
  .object({
    key: z.string(),
    subscriptionId: z.string(),
    productId: z.string(),
    skuId: z.string(),
    productName: z.string(),
    start: date,
    end: date.nullable().meta({ description: "Last day billed; null while the subscription runs on." }),
    quantity: decimal,
    unitCost: decimal,
    unitPrice: decimal.nullable(),
    pricedBy: pricedBySchema.nullable(),
    priceSource: z.enum(PRICE_SOURCES).optional().meta({
      description:
        "Where the price came from: price-list (Microsoft's ERP), fallback-markup, microsoft-list (the data's list price), price-rule, markup, cost-only",
    }),
    atOrBelowCost: atOrBelowCostField,
    currency: z.string(),
    invoiceNumber: z.string(),
  })
  .meta({ id: "MonthlySegment" });

/** A Seat-based Monthly write: a ConnectWise addition created or updated, or an Autotask unit adjustment. */
export const monthlyLineSchema = z
  .object({
    writeKey: z.string(),
    eventKey: z.string(),
    customerTenantId: z.string(),
    subscriptionId: z.string(),
    description: z.string(),
    action: z
      .string()
      .meta({ description: "create-addition, update-addition (ConnectWise) or adjust-units (Autotask)" }),
    warnings: z.array(z.string()).readonly(),
    segment: monthlySegmentSchema.nullable().optional(),
    effectiveDate: date.optional(),
    unitChange: z.number().optional(),
    unitsAfter: z.number().optional(),
  })
  .meta({ id: "MonthlyLine" });

export const runSummarySchema = z
  .object({
    motion: motionSchema,
    runId: z.string(),
    status: runSchema.shape.status,
    written: z.number(),
    unchanged: z.number(),
    warnings: z.number(),
    errors: z.number(),
    psaRequests: z.number(),
    items: z.array(
      z.object({
        outcome: outcomeSchema,
        customerTenantId: z.string().nullable(),
        subscriptionId: z.string().nullable(),
        eventKey: z.string().nullable(),
        writeKey: z.string().nullable(),
        psaRecordId: z.string().nullable(),
        message: z.string().nullable(),
        line: z.union([plannedLineSchema, azureMonthLineSchema, monthlyLineSchema]).optional(),
      }),
    ),
  })
  .meta({ id: "RunSummary" });

/** The PSA record a line matched, with its own name (a catalog item's description, a product's name). */
const matchedRecordSchema = z.object({ noun: z.string(), label: z.string(), name: z.string() });

export const plannedMappingSchema = z
  .object({
    mapping: mappingSchema,
    customerName: z.string(),
    problem: z.string().nullable(),
    plan: z.object({
      lines: z.array(plannedLineSchema),
      skipped: z.array(z.object({ eventKey: z.string(), subscriptionId: z.string(), reason: z.string() })),
    }),
    products: z
      .record(
        z.string(),
        z.union([
          z.object({
            ok: z.literal(true),
            productRef: z.string(),
            label: z.string(),
            record: matchedRecordSchema.optional(),
            nameMismatch: z
              .object({
                chargeProduct: z.string(),
                psaProduct: z.string(),
                psaRecord: z.string(),
                message: z.string(),
              })
              .optional()
              .meta({
                description:
                  "The PSA product's name shares no product word with the charge's: it may bill the wrong product (the line carries the message as a warning).",
              }),
          }),
          z.object({ ok: z.literal(false), reason: z.string() }),
        ]),
      )
      .optional()
      .meta({
        description:
          "Dry runs: the PSA product each line (by write key) would be billed as, or why none matches.",
      }),
  })
  .meta({ id: "PlannedMapping" });

const productMatchSchema = z.union([
  z.object({
    ok: z.literal(true),
    productRef: z.string(),
    label: z.string(),
    record: matchedRecordSchema.optional(),
  }),
  z.object({ ok: z.literal(false), reason: z.string() }),
]);

export const plannedAzureMappingSchema = z
  .object({
    mapping: mappingSchema,
    customerName: z.string(),
    problem: z.string().nullable(),
    plan: z.object({
      lines: z.array(azureMonthLineSchema),
      skipped: z.array(z.object({ month: z.string(), reason: z.string() })),
    }),
    product: productMatchSchema
      .optional()
      .meta({ description: "Dry runs: the PSA product the months would be billed as, or why none matches." }),
  })
  .meta({ id: "PlannedAzureMapping" });

export const plannedMonthlyMappingSchema = z
  .object({
    mapping: mappingSchema,
    customerName: z.string(),
    problem: z.string().nullable(),
    plan: z.object({
      lines: z.array(monthlyLineSchema),
      invoices: z.array(z.string()),
      skipped: z.array(z.object({ invoiceNumber: z.string(), reason: z.string() })),
    }),
  })
  .meta({ id: "PlannedMonthlyMapping" });

const plannedHoldsSchema = z
  .record(z.string(), z.enum(["would hold", "held", "approved"]))
  .optional()
  .meta({
    description:
      "With below-cost lines held for approval: per write key of a line selling below cost, whether the sync " +
      "would hold it, it waits for approval, or it was approved (and will be written).",
  });

/** One motion's dry run. */
export const motionPlanSchema = z
  .union([
    z.object({
      motion: z.literal("seat-annual"),
      mappings: z.array(plannedMappingSchema),
      holds: plannedHoldsSchema,
    }),
    z.object({
      motion: z.literal("azure"),
      mappings: z.array(plannedAzureMappingSchema),
      holds: plannedHoldsSchema,
    }),
    z.object({
      motion: z.literal("seat-monthly"),
      mappings: z.array(plannedMonthlyMappingSchema),
      holds: plannedHoldsSchema,
    }),
  ])
  .meta({ id: "MotionPlan" });

const productStatusSchema = z.enum(["written", "unchanged", "conflict", "failed"]);
const productActionSchema = z.enum(["create", "link", "update", "skip", "conflict"]);

const productKindSchema = z.enum(["catalog", "charge-product"]).meta({
  description:
    "catalog: the ConnectWise catalog item or Autotask service; charge-product: an Autotask Product for Seat-based Annual contract charges",
});

const currentPriceField = z.object({ price: decimal.nullable(), cost: decimal.nullable() }).nullable().meta({
  description:
    "The PSA record's price and cost now (null when there is no record yet): with changes, what changes from what",
});

export const productPreviewItemSchema = z
  .object({
    key: z.string().meta({
      description:
        "ProductId:SkuId with its term prefix, e.g. P1Y:A:CFQ7TTC0LF8Q:0001; products for contract charges are product: + their SKU",
    }),
    kind: productKindSchema,
    kindLabel: z
      .string()
      .meta({ description: 'What is written, e.g. "Service" or "Product (for contract charges)"' }),
    name: z.string(),
    variant: z.string(),
    action: productActionSchema,
    recordId: z.string().nullable(),
    recordLabel: z.string().nullable(),
    price: decimal.nullable(),
    cost: decimal.nullable(),
    changes: z.object({ price: decimal.optional(), cost: decimal.optional() }).meta({
      description:
        "What a sync writes. On a linked record the price is here only when it needs confirmation (linkedPrice).",
    }),
    recordOrigin: z
      .enum(["cspsync", "linked"])
      .nullable()
      .meta({
        description:
          "cspsync: the PSA record was (or will be) created by cspsync, its price follows the billing data; linked: an " +
          "existing record cspsync only linked, the MSP's own, whose sell price is never changed without the " +
          "linkedPriceUpdates setting and a confirmation; null: no record",
      }),
    linkedPrice: z
      .object({
        from: decimal.nullable(),
        to: decimal,
        handling: z.enum(["kept", "needs-confirmation"]),
      })
      .nullable()
      .meta({
        description:
          "A linked record whose sell price differs from the billing data's: kept (linkedPriceUpdates never) or " +
          "written only when the sync is confirmed (linkedPriceUpdates confirm)",
      }),
    current: currentPriceField,
    reason: z.string().meta({ description: "The same in a sentence, for the command line and logs" }),
    notes: z.array(z.string()),
  })
  .meta({ id: "ProductPreviewItem" });

export const priceConfirmationSchema = z
  .object({
    fingerprint: z.string().meta({
      description:
        "Identifies exactly these changes; send it as confirmPriceChanges to POST …/products/sync to write them",
    }),
    changes: z.array(
      z.object({
        key: z.string(),
        kind: productKindSchema,
        name: z.string(),
        recordId: z.string(),
        recordLabel: z.string().nullable(),
        from: decimal.nullable(),
        to: decimal,
        direction: z.enum(["decrease", "increase"]),
      }),
    ),
  })
  .meta({
    id: "PriceConfirmation",
    description:
      "Sell-price changes on linked PSA records (not created by cspsync) that need a person's confirmation",
  });

export const productPreviewSchema = z
  .object({
    connectionId: z.string(),
    vendor: vendorSchema,
    mode: z.enum(["all", "in-use"]),
    counts: z.object({
      create: z.number(),
      link: z.number(),
      update: z.number(),
      skip: z.number(),
      conflict: z.number(),
    }),
    linkedPriceUpdates: z.enum(["never", "confirm"]),
    items: z.array(productPreviewItemSchema),
    priceConfirmation: priceConfirmationSchema,
  })
  .meta({ id: "ProductPreview" });

export const productRunSchema = z
  .object({
    id: z.string(),
    connectionId: z.string(),
    trigger: z.string(),
    mode: z.string(),
    status: z.enum(RUN_STATUSES),
    startedAt: instant,
    finishedAt: instant.nullable(),
    written: z.number(),
    unchanged: z.number(),
    conflicts: z.number(),
    failed: z.number(),
    psaRequests: z.number(),
    message: z.string().nullable(),
  })
  .meta({ id: "ProductRun" });

export const productRunItemSchema = z
  .object({
    sequence: z.number(),
    key: z.string(),
    kind: productKindSchema,
    name: z.string(),
    action: productActionSchema,
    status: productStatusSchema,
    recordId: z.string().nullable(),
    message: z.string(),
    notes: z.array(z.string()),
  })
  .meta({ id: "ProductRunItem" });

export const invoiceSchema = z
  .object({
    invoiceNumber: z.string(),
    currency: z.string(),
    firstChargeDate: date.nullable(),
    lastChargeDate: date.nullable(),
    lines: z.number(),
    subtotal: decimal,
    total: decimal,
    sourceFile: z.string(),
  })
  .meta({ id: "InvoiceSummary" });

export const importRecordSchema = z
  .object({
    id: z.string(),
    fileName: z.string(),
    format: z.string(),
    status: z.enum(IMPORT_STATUSES),
    startedAt: instant,
    lines: z.number(),
    newLines: z.number(),
    knownLines: z.number(),
    error: z.string().nullable(),
  })
  .meta({ id: "ImportRecord" });

export const importSummarySchema = z
  .object({
    importId: z.string(),
    file: z.string(),
    format: z.enum(["csv", "csv.gz", "jsonl", "jsonl.gz", "unknown"]),
    status: z.enum(IMPORT_STATUSES),
    invoices: z.array(z.string()),
    lines: z.number(),
    newLines: z.number(),
    knownLines: z.number(),
    customers: z.number(),
    newEvents: z.number(),
    linesByMotion: z.object({ "seat-monthly": z.number(), azure: z.number(), "seat-annual": z.number() }),
    notBillable: z.number(),
    problem: z
      .object({
        row: z.number().optional(),
        column: z.string().optional(),
        reason: z.string(),
        message: z.string(),
        hint: z
          .object({
            kind: z.literal("delimiter"),
            detected: z.enum([",", ";", "\t", "|"]),
            expected: z.string(),
          })
          .optional()
          .meta({
            description:
              "What the user can do, as data: kind delimiter means the fields are separated by `detected`; " +
              "upload the file again with that delimiter",
          }),
      })
      .optional(),
  })
  .meta({ id: "ImportSummary" });

export const settingsSchema = z
  .object({ dailySyncTime: z.string(), timeZone: z.string() })
  .meta({ id: "Settings" });

export const idParams = z.object({ id: z.string().min(1) });
export const noContent = z.undefined().meta({ description: "No content" });
