import { Dec } from "../../src/core/money.ts";
import type { ValidationIssue } from "./records.ts";
import type { TableName } from "./resources.ts";
import type { CwEmulatorData, Row } from "./state.ts";
import { findRow } from "./state.ts";

/**
 * Behaviour the reference marks as observed-but-unconfirmed or inferred sits behind a switch; each default is the
 * reference's best guess, and tests can flip them to check cspsync copes with the other answer.
 */
export type CwSwitches = {
  /**
   * docs/connectwise.md §10 [inferred]: POST/PATCH of an addition on a cancelled agreement fails with 400,
   * field agreementId.
   */
  rejectAdditionsOnCancelledAgreement: boolean;
  /**
   * docs/connectwise.md §10 [inferred]: the same for an expired agreement; no evidence either way, so off.
   */
  rejectAdditionsOnExpiredAgreement: boolean;
  /**
   * docs/connectwise.md §10 [observed, Sync365]: effectiveDate earlier than the agreement's billStartDate
   * (else startDate) fails.
   */
  rejectEffectiveDateBeforeBillingStart: boolean;
  /**
   * docs/connectwise.md §10 [observed, Sync365]: with prorate off, an effectiveDate inside an invoiced period
   * (before nextInvoiceDate) fails.
   */
  rejectInvoicedPeriodWithoutProrate: boolean;
  /** [inferred] A cancelledDate earlier than the effectiveDate fails. */
  rejectCancelledBeforeEffective: boolean;
  /** docs/connectwise.md §9.6 [observed]: Bundle-class catalog items cannot be agreement additions. */
  rejectBundleAdditions: boolean;
  /** docs/connectwise.md §4 [inferred]: an addition's product may be given as `{identifier}` alone. */
  resolveProductByIdentifier: boolean;
  /**
   * docs/connectwise.md §11 [inferred]: unitPrice, unitCost, description, taxableFlag and uom default from
   * the catalog item.
   */
  defaultAdditionFieldsFromCatalog: boolean;
  /** docs/connectwise.md §6 [inferred]: a PATCH `path` may start with `/`. */
  patchPathLeadingSlash: boolean;
  /** docs/connectwise.md §5.2 [secondary source]: pageSize above 1000 is capped silently (off: 400). */
  capPageSize: boolean;
  /** docs/connectwise.md §5.1 [inferred]: string comparisons ignore case (SQL Server collation). */
  caseInsensitiveStrings: boolean;
  /** [inferred] Company and catalog identifiers are unique (400 ObjectExists). */
  uniqueIdentifiers: boolean;
  /**
   * docs/connectwise.md §2: after a cloud upgrade a request on the old versioned codebase gets 404 (off: any
   * codebase works).
   */
  rejectStaleCodebase: boolean;
  /** docs/connectwise.md §3 [observed]: which 401 body bad credentials get. */
  authErrorStyle: "Unauthorized" | "UserNotAuthenticated";
};

export const DEFAULT_SWITCHES: CwSwitches = {
  rejectAdditionsOnCancelledAgreement: true,
  rejectAdditionsOnExpiredAgreement: false,
  rejectEffectiveDateBeforeBillingStart: true,
  rejectInvoicedPeriodWithoutProrate: true,
  rejectCancelledBeforeEffective: true,
  rejectBundleAdditions: true,
  resolveProductByIdentifier: true,
  defaultAdditionFieldsFromCatalog: true,
  patchPathLeadingSlash: true,
  capPageSize: true,
  caseInsensitiveStrings: true,
  uniqueIdentifiers: true,
  rejectStaleCodebase: false,
  authErrorStyle: "Unauthorized",
};

export type RuleEnv = { data: CwEmulatorData; switches: CwSwitches; now: Date };

// ---------------------------------------------------------------------------------------------- derived fields

export type AgreementStatus = "Active" | "Cancelled" | "Expired" | "Inactive";

/**
 * `agreementStatus` is derived from dates and cancel flags, not set directly (docs/connectwise.md §9.2
 * [inferred]).
 */
export function agreementStatus(agreement: Row, now: Date): AgreementStatus {
  if (agreement.cancelledFlag === true) return "Cancelled";
  const end = typeof agreement.endDate === "string" ? Date.parse(agreement.endDate) : Number.NaN;
  if (agreement.noEndingDateFlag !== true && !Number.isNaN(end) && end < now.getTime()) return "Expired";
  return "Active";
}

export function additionStatus(addition: Row, agreement: Row | undefined, now: Date): AgreementStatus {
  const cancelled =
    typeof addition.cancelledDate === "string" ? Date.parse(addition.cancelledDate) : Number.NaN;
  if (!Number.isNaN(cancelled) && cancelled <= now.getTime()) return "Cancelled";
  return agreement ? agreementStatus(agreement, now) : "Active";
}

/** Fields computed at read time. */
export function derivedFields(table: TableName, row: Row, env: RuleEnv): Record<string, unknown> {
  if (table === "agreements") return { agreementStatus: agreementStatus(row, env.now) };
  if (table === "additions") {
    const agreement =
      typeof row.agreementId === "number" ? findRow(env.data, "agreements", row.agreementId) : undefined;
    return { agreementStatus: additionStatus(row, agreement, env.now) };
  }
  return {};
}

// ---------------------------------------------------------------------------------------------- defaults

/**
 * Server defaults on POST: required fields left out are defaulted where the server can
 * (docs/connectwise.md §6).
 */
export function applyCreateDefaults(
  table: TableName,
  row: Record<string, unknown>,
  env: RuleEnv,
  parentId?: number,
): void {
  if (table === "additions") applyAdditionDefaults(row, env, parentId);
  if (table === "agreements") applyAgreementDefaults(row, env);
  if (table === "catalogItems") {
    row.productClass ??= "NonInventory";
    row.inactiveFlag ??= false;
    row.dateEntered = isoSeconds(env.now);
  }
  if (table === "companies") {
    row.deletedFlag ??= false;
    row.customFields ??= [];
  }
}

function applyAdditionDefaults(row: Record<string, unknown>, env: RuleEnv, parentId?: number): void {
  row.agreementId = parentId;
  const product = productOf(row, env.data);
  if (env.switches.defaultAdditionFieldsFromCatalog && product) {
    if (row.unitPrice === undefined) row.unitPrice = product.price ?? null;
    if (row.unitCost === undefined) row.unitCost = product.cost ?? null;
    if (row.description === undefined) row.description = product.description ?? null;
    if (row.taxableFlag === undefined) row.taxableFlag = product.taxableFlag ?? null;
    if (row.uom === undefined) row.uom = referenceName(product.unitOfMeasure) ?? "Each";
  }
  // [inferred] An addition without an effective date starts today.
  if (row.effectiveDate === undefined) row.effectiveDate = `${env.now.toISOString().slice(0, 10)}T00:00:00Z`;
  if (row.sequenceNumber === undefined) {
    const siblings = env.data.tables.additions.filter((other) => other.agreementId === parentId);
    const highest = siblings.reduce(
      (max, other) => Dec.max(max, String(other.sequenceNumber ?? "0")),
      new Dec(0),
    );
    row.sequenceNumber = highest.plus(1).toFixed();
  }
}

function applyAgreementDefaults(row: Record<string, unknown>, env: RuleEnv): void {
  const type = isReference(row.type) ? findRow(env.data, "agreementTypes", row.type.id) : undefined;
  row.employeeCompRate ??= type?.employeeCompRate ?? "Actual";
  row.invoicingCycle ??= type?.invoicingCycle ?? "ContractYear";
  for (const field of ["billTime", "billExpenses", "billProducts"])
    row[field] ??= type?.[field] ?? "Billable";
  if (row.billingCycle === undefined && type?.billingCycle) row.billingCycle = type.billingCycle;
  row.billOneTimeFlag ??= type?.billOneTimeFlag ?? false;
  row.prorateFlag ??= type?.prorateFlag ?? false;
  row.cancelledFlag ??= false;
  row.startDate ??= `${env.now.toISOString().slice(0, 10)}T00:00:00Z`;
  row.billStartDate ??= row.startDate;
  row.noEndingDateFlag ??= row.endDate === undefined || row.endDate === null;
  row.customFields ??= [];
}

// ---------------------------------------------------------------------------------------------- computed fields

/**
 * docs/connectwise.md §11 [inferred]: billedQuantity = max(0, quantity − lessIncluded); ext* = billedQuantity
 * × unit*.
 */
export function computeAddition(row: Record<string, unknown>): void {
  const quantity = decimalOrZero(row.quantity);
  const billed = Dec.max(0, quantity.minus(decimalOrZero(row.lessIncluded)));
  const extPrice = billed.times(decimalOrZero(row.unitPrice));
  const extCost = billed.times(decimalOrZero(row.unitCost));
  row.billedQuantity = canonical(billed);
  row.extPrice = canonical(extPrice);
  row.extCost = canonical(extCost);
  row.margin = canonical(extPrice.minus(extCost));
  // Proration is not modelled: the formulas are unknown (docs/connectwise.md §12).
  row.prorateCost = "0";
  row.proratePrice = "0";
  row.extendedProrateCost = "0";
  row.extendedProratePrice = "0";
}

// ---------------------------------------------------------------------------------------------- validation

/**
 * Business rules checked on create (previous undefined) and update; each returns the docs/connectwise.md §7.2
 * errors[] entries.
 */
export function businessRuleIssues(
  table: TableName,
  candidate: Record<string, unknown>,
  previous: Row | undefined,
  env: RuleEnv,
): ValidationIssue[] {
  switch (table) {
    case "additions":
      return additionIssues(candidate, previous, env);
    case "companies":
      return [
        ...companyAddressIssues(candidate),
        ...uniqueIdentifierIssues(table, "company", candidate, previous, env),
      ];
    case "catalogItems":
      return uniqueIdentifierIssues(table, "catalogItem", candidate, previous, env);
    default:
      return [];
  }
}

function additionIssues(
  candidate: Record<string, unknown>,
  previous: Row | undefined,
  env: RuleEnv,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const issue = (field: string, message: string, code = "InvalidField"): void => {
    issues.push({ code, message, resource: "addition", field });
  };
  const agreementId = typeof candidate.agreementId === "number" ? candidate.agreementId : undefined;
  const agreement = agreementId === undefined ? undefined : findRow(env.data, "agreements", agreementId);
  if (!agreement) return issues;
  const status = agreementStatus(agreement, env.now);
  if (status === "Cancelled" && env.switches.rejectAdditionsOnCancelledAgreement) {
    issue("agreementId", "Additions cannot be added to or changed on a cancelled agreement.");
  }
  if (status === "Expired" && env.switches.rejectAdditionsOnExpiredAgreement) {
    issue("agreementId", "Additions cannot be added to or changed on an expired agreement.");
  }
  const product = productOf(candidate, env.data);
  if (product?.productClass === "Bundle" && env.switches.rejectBundleAdditions) {
    issue("product", "Bundle products cannot be added to an agreement.");
  }
  const effective = epochOf(candidate.effectiveDate);
  const effectiveChanged = previous === undefined || previous.effectiveDate !== candidate.effectiveDate;
  if (effectiveChanged && effective !== undefined) {
    const billingStart = epochOf(agreement.billStartDate) ?? epochOf(agreement.startDate);
    if (
      env.switches.rejectEffectiveDateBeforeBillingStart &&
      billingStart !== undefined &&
      effective < billingStart
    ) {
      issue("effectiveDate", "effectiveDate cannot be less than the agreement billing start date");
    }
    const nextInvoice = epochOf(agreement.nextInvoiceDate);
    const invoicedPeriod =
      agreement.prorateFlag === false && nextInvoice !== undefined && effective < nextInvoice;
    if (env.switches.rejectInvoicedPeriodWithoutProrate && invoicedPeriod) {
      issue(
        "effectiveDate",
        "Since this period has already been invoiced there will not be an invoice generated for additional products for this period. Please prorate the agreement or update the start date to on or after the Next Invoice Date.",
      );
    }
  }
  const cancelled = epochOf(candidate.cancelledDate);
  if (
    env.switches.rejectCancelledBeforeEffective &&
    cancelled !== undefined &&
    effective !== undefined &&
    cancelled < effective
  ) {
    issue("cancelledDate", "cancelledDate cannot be earlier than effectiveDate.");
  }
  return issues;
}

/** "At least one address field is required" (docs/connectwise.md §9.8, 2022.1 docs). */
function companyAddressIssues(candidate: Record<string, unknown>): ValidationIssue[] {
  const fields = ["addressLine1", "addressLine2", "city", "state", "zip", "country"];
  const hasAddress = fields.some(
    (field) => candidate[field] !== undefined && candidate[field] !== null && candidate[field] !== "",
  );
  if (hasAddress) return [];
  return [
    {
      code: "MissingRequiredField",
      message:
        "At least one address field is required -- addressLine1, addressLine2, city, state, zip and/or country",
      resource: "company",
      field: "addressLine1",
    },
  ];
}

function uniqueIdentifierIssues(
  table: TableName,
  resource: string,
  candidate: Record<string, unknown>,
  previous: Row | undefined,
  env: RuleEnv,
): ValidationIssue[] {
  if (!env.switches.uniqueIdentifiers || typeof candidate.identifier !== "string") return [];
  const wanted = candidate.identifier.toLowerCase();
  const clash = env.data.tables[table].some(
    (row) =>
      row.id !== previous?.id &&
      typeof row.identifier === "string" &&
      row.identifier.toLowerCase() === wanted,
  );
  if (!clash) return [];
  return [
    {
      code: "ObjectExists",
      message: `The identifier ${candidate.identifier} is already in use.`,
      resource,
      field: "identifier",
    },
  ];
}

/** Why a row cannot be deleted (409, docs/connectwise.md §7.1 "the record is in use"), or undefined. */
export function inUseReason(table: TableName, row: Row, data: CwEmulatorData): string | undefined {
  if (table === "agreements" && data.tables.additions.some((addition) => addition.agreementId === row.id)) {
    return "This agreement has additions and cannot be deleted.";
  }
  const referencedBy = (other: TableName, field: string): boolean =>
    data.tables[other].some((candidate) => isReference(candidate[field]) && candidate[field].id === row.id);
  if (table === "catalogItems" && referencedBy("additions", "product"))
    return "This product is used on agreement additions.";
  if (table === "companies" && referencedBy("agreements", "company")) return "This company has agreements.";
  if (table === "agreementTypes" && referencedBy("agreements", "type"))
    return "This agreement type is in use.";
  if (table === "billingCycles" && referencedBy("agreements", "billingCycle"))
    return "This billing cycle is in use.";
  return undefined;
}

// ---------------------------------------------------------------------------------------------- helpers

function productOf(row: Record<string, unknown>, data: CwEmulatorData): Row | undefined {
  return isReference(row.product) ? findRow(data, "catalogItems", row.product.id) : undefined;
}

function isReference(value: unknown): value is { id: number } {
  return typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "number";
}

function referenceName(value: unknown): string | undefined {
  const name = typeof value === "object" && value !== null ? (value as { name?: unknown }).name : undefined;
  return typeof name === "string" ? name : undefined;
}

/** A date-time or a plain `YYYY-MM-DD` date (nextInvoiceDate), as epoch milliseconds. */
function epochOf(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const epoch = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  return Number.isNaN(epoch) ? undefined : epoch;
}

function decimalOrZero(value: unknown): Dec {
  return typeof value === "string" || typeof value === "number" ? new Dec(value) : new Dec(0);
}

function canonical(value: Dec): string {
  return value.isZero() ? "0" : value.toFixed();
}

export function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
