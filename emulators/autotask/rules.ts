import { Dec } from "../../src/core/money.ts";
import { validationError } from "./api-error.ts";
import { parseAutotaskDate } from "./query-engine.ts";
import { coerceBody, dayOf, formatDateOnly, formatInstant, mergeUdfs } from "./records.ts";
import type { CoercedBody, LengthOverrides, WriteMode } from "./records.ts";
import {
  BILLING_CODE_TYPES,
  BILLING_CODE_USE_TYPES,
  CONTRACT_STATUS,
  CONTRACT_TYPES,
  ENTITIES,
} from "./schema.ts";
import type { EntityDef, EntityName } from "./schema.ts";
import type { AutotaskStore, NewRow, Row } from "./store.ts";

/**
 * The emulator's write side: validation and the business rules that matter to billing (docs/autotask.md §6,
 * §8, §12). Every failure is an HTTP 500 `{"errors":[...]}` as on the real API (docs/autotask.md §9).
 */

/**
 * Behaviour the reference marks as unverified or inferred, each behind a switch whose default is the
 * reference's best guess.
 */
export type AutotaskEmulatorSwitches = {
  /** docs/autotask.md §5.1: an empty or missing filter is rejected. Default true. */
  rejectEmptyFilter: boolean;
  /** docs/autotask.md §9, §13: GET /E/{id} for a missing id answers 200 `{"item":null}` (default) or 404. */
  missingItem: "null-item" | "404";
  /**
   * docs/autotask.md §5.3: a GET to a nextPageUrl produced by a POST query is refused with 405 (default) or
   * allowed.
   */
  nextPageGetAfterPostQuery: "reject" | "allow";
  /**
   * docs/autotask.md §8.5: two adjustments of one contract service collide on the same day (default) or in
   * the same period.
   */
  duplicateAdjustment: "same-day" | "same-period";
  /**
   * docs/autotask.md §8.7, §13: Services.name max length, 100 (production experience) or 150 (SOAP metadata).
   */
  serviceNameMaxLength: number;
  /** docs/autotask.md §9, §10: the thread-limit refusal's status; "may not be 429", default 500. */
  threadLimitStatus: number;
  /** docs/autotask.md §2, §13: status for zone information on an unknown user; default 404. */
  unknownZoneUserStatus: number;
  /** docs/autotask.md §2: zone discovery works without the auth headers (default) or requires them. */
  zoneInformationRequiresAuth: boolean;
  /** docs/autotask.md §9: a 401's body is empty (default) or `{"errors":[...]}`. */
  authFailureBody: "empty" | "errors";
  /** Not documented: whether charges may be added to inactive or expired contracts. Default "allow". */
  chargesOnInactiveContracts: "allow" | "reject";
  /**
   * docs/autotask.md §8.2 and the contract-type activation note: contract types whose module is off; default
   * none.
   */
  disabledContractTypes: number[];
  /**
   * docs/autotask.md §8.2: Recurring Service contracts need contractPeriodType on create ("should be set on
   * create"). Default true.
   */
  recurringContractsRequirePeriodType: boolean;
  /**
   * docs/autotask.md §8.8, §8.9: which billing codes a Product's productBillingCodeID may reference. Not
   * documented: "active-non-system" (default: any active code whose billingCodeType is not System), "general"
   * (active General Billing Code material codes only, the strictest plausible rule) or "any" (only that the
   * code exists).
   */
  productBillingCodes: "active-non-system" | "general" | "any";
};

export const DEFAULT_SWITCHES: AutotaskEmulatorSwitches = {
  rejectEmptyFilter: true,
  missingItem: "null-item",
  nextPageGetAfterPostQuery: "reject",
  duplicateAdjustment: "same-day",
  serviceNameMaxLength: 100,
  threadLimitStatus: 500,
  unknownZoneUserStatus: 404,
  zoneInformationRequiresAuth: false,
  authFailureBody: "empty",
  chargesOnInactiveContracts: "allow",
  disabledContractTypes: [],
  recurringContractsRequirePeriodType: true,
  productBillingCodes: "active-non-system",
};

export type WriteContext = {
  store: AutotaskStore;
  now: () => Date;
  /**
   * The resource writes are attributed to: the impersonated one, else the API user's (docs/autotask.md §3,
   * §6.4).
   */
  resourceId: number;
  switches: AutotaskEmulatorSwitches;
};

const PERIOD_MONTHS: Record<number, number> = { 2: 1, 3: 3, 4: 6, 5: 12 };

function entityDef(name: EntityName): EntityDef {
  return ENTITIES[name];
}

function nowInstant(ctx: WriteContext): string {
  return formatInstant(ctx.now().getTime());
}

function todayMillis(ctx: WriteContext): number {
  const now = ctx.now();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
}

function lengthOverrides(entity: EntityDef, ctx: WriteContext): LengthOverrides {
  return entity.name === "Services" ? { name: ctx.switches.serviceNameMaxLength } : {};
}

function coerce(entity: EntityDef, body: unknown, mode: WriteMode, ctx: WriteContext): CoercedBody {
  return coerceBody(entity, body, mode, lengthOverrides(entity, ctx));
}

function requireFields(entity: EntityDef, row: Record<string, unknown>): void {
  const isBlank = (value: unknown) =>
    value === null || value === undefined || (typeof value === "string" && value.trim() === "");
  const missing = entity.fields.filter((field) => field.required && isBlank(row[field.name]));
  if (missing.length > 0) {
    throw validationError(...missing.map((field) => `Missing Required Field: ${field.name}`));
  }
}

/**
 * docs/autotask.md §9: "Reference value on field: <field> of type: <Entity> does not exist or is invalid."
 */
function checkReferences(entity: EntityDef, row: Record<string, unknown>, store: AutotaskStore): void {
  for (const field of entity.fields) {
    const value = row[field.name];
    if (!field.reference || value === null || value === undefined) continue;
    if (!store.get(field.reference, Number(value))) {
      const typeName = entityDef(field.reference).typeName;
      throw validationError(
        `Reference value on field: ${field.name} of type: ${typeName} does not exist or is invalid.`,
      );
    }
  }
}

function checkImmutable(entity: EntityDef, current: Row, changes: Record<string, unknown>): void {
  for (const field of entity.fields) {
    if (!field.immutable || !(field.name in changes)) continue;
    if ((changes[field.name] ?? null) !== (current[field.name] ?? null)) {
      throw validationError(`${field.name} cannot be changed after the ${entity.typeName} has been created.`);
    }
  }
}

function requireId(entity: EntityDef, coerced: CoercedBody): number {
  if (coerced.id === undefined) throw validationError(`An id is required to update a ${entity.typeName}.`);
  return coerced.id;
}

function existing(entity: EntityDef, id: number, store: AutotaskStore): Row {
  const row = store.get(entity.name, id);
  if (!row) throw validationError(`Unable to find ${entity.typeName} with id ${id}.`);
  return row;
}

function newRow(entity: EntityDef, coerced: CoercedBody): NewRow {
  const row: Record<string, unknown> = {};
  for (const field of entity.fields) if (field.name !== "id") row[field.name] = null;
  Object.assign(row, coerced.fields);
  return { ...row, userDefinedFields: mergeUdfs([], coerced.udfs) };
}

function merged(current: Row, coerced: CoercedBody): Row {
  return {
    ...current,
    ...coerced.fields,
    userDefinedFields: mergeUdfs(current.userDefinedFields, coerced.udfs),
  };
}

/** Quantity, cost and price are rounded to 4 decimals on charges (docs/autotask.md §8.3). */
function round4(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const rounded = new Dec(String(value)).toDecimalPlaces(4, Dec.ROUND_HALF_UP);
  return rounded.isZero() ? "0" : rounded.toFixed();
}

function times(quantity: unknown, price: unknown): string {
  if (quantity === null || quantity === undefined || price === null || price === undefined) return "0";
  return round4(new Dec(String(quantity)).times(String(price)).toFixed()) ?? "0";
}

// --------------------------------------------------------------------------- Companies docs/autotask.md §8.1

export function createCompany(ctx: WriteContext, body: unknown): number {
  const entity = entityDef("Companies");
  const row = newRow(entity, coerce(entity, body, "create", ctx));
  row.isActive ??= true;
  validateCompany(ctx, entity, row);
  row.createDate = nowInstant(ctx);
  row.createdByResourceID = ctx.resourceId;
  row.lastTrackedModifiedDateTime = row.createDate;
  return ctx.store.insert("Companies", row).id;
}

export function updateCompany(ctx: WriteContext, body: unknown, mode: WriteMode): number {
  const entity = entityDef("Companies");
  const coerced = coerce(entity, body, mode, ctx);
  const current = existing(entity, requireId(entity, coerced), ctx.store);
  const row = merged(current, coerced);
  validateCompany(ctx, entity, row);
  row.lastTrackedModifiedDateTime = nowInstant(ctx);
  ctx.store.put("Companies", row);
  return row.id;
}

function validateCompany(ctx: WriteContext, entity: EntityDef, row: Record<string, unknown>): void {
  requireFields(entity, row);
  checkReferences(entity, row, ctx.store);
  if (!ctx.store.resources.some((resource) => resource.id === row.ownerResourceID)) {
    throw validationError(
      "Reference value on field: ownerResourceID of type: Resource does not exist or is invalid.",
    );
  }
}

// --------------------------------------------------------------------------- Contracts docs/autotask.md §8.2

export function createContract(ctx: WriteContext, body: unknown): number {
  const entity = entityDef("Contracts");
  const row = newRow(entity, coerce(entity, body, "create", ctx));
  validateContract(ctx, entity, row);
  row.lastModifiedDateTime = nowInstant(ctx);
  return ctx.store.insert("Contracts", row).id;
}

export function updateContract(ctx: WriteContext, body: unknown, mode: WriteMode): number {
  const entity = entityDef("Contracts");
  const coerced = coerce(entity, body, mode, ctx);
  const current = existing(entity, requireId(entity, coerced), ctx.store);
  checkContractTypeEnabled(ctx, current);
  // docs/autotask.md §8.2: contractType and companyID are fixed.
  checkImmutable(entity, current, coerced.fields);
  const row = merged(current, coerced);
  validateContract(ctx, entity, row);
  row.lastModifiedDateTime = nowInstant(ctx);
  ctx.store.put("Contracts", row);
  // Moving the window (e.g. PATCHing endDate to extend a contract, docs/autotask.md §8.2) reshapes its
  // service periods.
  for (const service of ctx.store.all("ContractServices")) {
    if (service.contractID === row.id) rebuildServiceUnits(ctx, service);
  }
  return row.id;
}

function validateContract(ctx: WriteContext, entity: EntityDef, row: Record<string, unknown>): void {
  requireFields(entity, row);
  checkReferences(entity, row, ctx.store);
  checkContractTypeEnabled(ctx, row);
  const start = parseAutotaskDate(String(row.startDate));
  const end = parseAutotaskDate(String(row.endDate));
  if (start !== undefined && end !== undefined && end < start) {
    throw validationError("The contract endDate must be on or after its startDate.");
  }
  if (
    ctx.switches.recurringContractsRequirePeriodType &&
    row.contractType === CONTRACT_TYPES.recurringService &&
    (row.contractPeriodType ?? null) === null
  ) {
    throw validationError(
      "Missing Required Field: contractPeriodType (required for Recurring Service contracts)",
    );
  }
}

function checkContractTypeEnabled(ctx: WriteContext, row: Record<string, unknown>): void {
  if (ctx.switches.disabledContractTypes.includes(Number(row.contractType))) {
    throw validationError(
      `Contracts of type ${String(row.contractType)} are read-only because that contract type is not enabled.`,
    );
  }
}

function contractFor(ctx: WriteContext, contractId: number): Row {
  const contract = ctx.store.get("Contracts", contractId);
  if (!contract) {
    throw validationError(
      "Reference value on field: contractID of type: Contract does not exist or is invalid.",
    );
  }
  return contract;
}

function contractWindow(contract: Row): { start: string; end: string } {
  return { start: dayOf(contract.startDate), end: dayOf(contract.endDate) };
}

export function isContractExpired(contract: Row, todayMs: number): boolean {
  const end = parseAutotaskDate(String(contract.endDate));
  return end !== undefined && end < todayMs;
}

// --------------------------------------------------------------------- ContractCharges docs/autotask.md §8.3

/**
 * Charges are created only through `/Contracts/{id}/Charges` (docs/autotask.md §4.2); the route enforces the
 * URL.
 */
export function createContractCharge(ctx: WriteContext, contractId: number, body: unknown): number {
  const entity = entityDef("ContractCharges");
  const coerced = coerce(entity, body, "create", ctx);
  const row = newRow(entity, coerced);
  row.contractID ??= contractId;
  if (row.contractID !== contractId) {
    throw validationError(
      `contractID ${String(row.contractID)} does not match the parent Contract ${contractId}.`,
    );
  }
  row.isBillableToCompany ??= true;
  row.status ??= 1;
  validateCharge(ctx, entity, row);
  computeChargeAmounts(ctx, row);
  row.isBilled = false;
  row.createDate = nowInstant(ctx);
  row.creatorResourceID = ctx.resourceId;
  row.statusLastModifiedDate = row.createDate;
  row.statusLastModifiedBy = ctx.resourceId;
  return ctx.store.insert("ContractCharges", row).id;
}

export function updateContractCharge(
  ctx: WriteContext,
  contractId: number,
  body: unknown,
  mode: WriteMode,
): number {
  const entity = entityDef("ContractCharges");
  const coerced = coerce(entity, body, mode, ctx);
  const current = chargeOfContract(ctx, contractId, requireId(entity, coerced));
  if (mode === "put" && coerced.fields.contractID === null) coerced.fields.contractID = contractId;
  checkImmutable(entity, current, coerced.fields);
  const row = merged(current, coerced);
  validateCharge(ctx, entity, row);
  computeChargeAmounts(ctx, row);
  if (row.status !== current.status) {
    row.statusLastModifiedDate = nowInstant(ctx);
    row.statusLastModifiedBy = ctx.resourceId;
  }
  ctx.store.put("ContractCharges", row);
  return row.id;
}

export function deleteContractCharge(ctx: WriteContext, contractId: number, chargeId: number): number {
  chargeOfContract(ctx, contractId, chargeId);
  ctx.store.delete("ContractCharges", chargeId);
  return chargeId;
}

/** docs/autotask.md §8.3: a charge can be updated or deleted only while `isBilled` is false. */
function chargeOfContract(ctx: WriteContext, contractId: number, chargeId: number): Row {
  const charge = existing(entityDef("ContractCharges"), chargeId, ctx.store);
  if (charge.contractID !== contractId) {
    throw validationError(`ContractCharge ${chargeId} does not belong to Contract ${contractId}.`);
  }
  if (charge.isBilled === true) {
    throw validationError(
      `ContractCharge ${chargeId} has been billed and can no longer be changed or deleted.`,
    );
  }
  return charge;
}

const PURCHASE_ONLY_CONTRACT_TYPES = new Set<number>([
  CONTRACT_TYPES.blockHours,
  CONTRACT_TYPES.retainer,
  CONTRACT_TYPES.perTicket,
]);

function validateCharge(ctx: WriteContext, entity: EntityDef, row: Record<string, unknown>): void {
  requireFields(entity, row);
  checkReferences(entity, row, ctx.store);
  if ((row.productID ?? null) === null && (row.billingCodeID ?? null) === null) {
    throw validationError("A ContractCharge requires either a productID or a billingCodeID.");
  }
  for (const key of ["unitQuantity", "unitPrice", "unitCost"]) row[key] = round4(row[key]);
  const contract = contractFor(ctx, Number(row.contractID));
  if (PURCHASE_ONLY_CONTRACT_TYPES.has(Number(contract.contractType)) && !isPurchaseBillingCode(ctx, row)) {
    throw validationError(
      "Charges on Block Hour, Retainer and Per Ticket contracts require a Block Hour, Retainer or Incident purchase billing code.",
    );
  }
  const inactive =
    contract.status === CONTRACT_STATUS.inactive || isContractExpired(contract, todayMillis(ctx));
  if (ctx.switches.chargesOnInactiveContracts === "reject" && inactive) {
    throw validationError(`Contract ${contract.id} is inactive or expired; charges cannot be added to it.`);
  }
}

function chargeBillingCode(ctx: WriteContext, row: Record<string, unknown>): Row | undefined {
  if ((row.billingCodeID ?? null) !== null) return ctx.store.get("BillingCodes", Number(row.billingCodeID));
  const product = ctx.store.get("Products", Number(row.productID));
  return product ? ctx.store.get("BillingCodes", Number(product.productBillingCodeID)) : undefined;
}

function isPurchaseBillingCode(ctx: WriteContext, row: Record<string, unknown>): boolean {
  const code = chargeBillingCode(ctx, row);
  return code?.billingCodeType === BILLING_CODE_TYPES.system && /purchase$/i.test(String(code.name));
}

/**
 * docs/autotask.md §8.3: billableAmount = quantity × price (price from the billing code when absent);
 * extendedCost = quantity × cost.
 */
function computeChargeAmounts(ctx: WriteContext, row: Record<string, unknown>): void {
  if ((row.unitPrice ?? null) === null) {
    const code = chargeBillingCode(ctx, row);
    const product =
      (row.productID ?? null) === null ? undefined : ctx.store.get("Products", Number(row.productID));
    row.unitPrice = round4(code?.unitPrice ?? product?.unitPrice ?? null);
  }
  row.billableAmount = times(row.unitQuantity, row.unitPrice);
  row.extendedCost = times(row.unitQuantity, row.unitCost);
  row.internalCurrencyBillableAmount = row.billableAmount;
  row.internalCurrencyUnitPrice = row.unitPrice;
}

// -------------------------------------------------------------------- ContractServices docs/autotask.md §8.4

export function createContractService(ctx: WriteContext, contractId: number, body: unknown): number {
  const entity = entityDef("ContractServices");
  const coerced = coerce(entity, body, "create", ctx);
  const row = newRow(entity, coerced);
  row.contractID ??= contractId;
  if (row.contractID !== contractId) {
    throw validationError(
      `contractID ${String(row.contractID)} does not match the parent Contract ${contractId}.`,
    );
  }
  return insertContractService(ctx, row).id;
}

function insertContractService(ctx: WriteContext, row: NewRow): Row {
  const entity = entityDef("ContractServices");
  requireFields(entity, row);
  checkReferences(entity, row, ctx.store);
  const contract = contractFor(ctx, Number(row.contractID));
  if (contract.contractType !== CONTRACT_TYPES.recurringService) {
    throw validationError(
      "Contract services can only be added to Recurring Service contracts (contractType 7).",
    );
  }
  const service = existing(entityDef("Services"), Number(row.serviceID), ctx.store);
  // docs/autotask.md §8.4: unitPrice comes from the Service; adjustedPrice (write-only) is this contract's
  // price.
  row.unitPrice = service.unitPrice;
  row.unitCost ??= service.unitCost;
  row.__basePrice = row.adjustedPrice ?? service.unitPrice;
  row.__baseCost = row.unitCost;
  applyServicePrice(row, row.__basePrice);
  delete row.adjustedPrice;
  const inserted = ctx.store.insert("ContractServices", row);
  rebuildServiceUnits(ctx, inserted);
  return inserted;
}

function applyServicePrice(row: Record<string, unknown>, price: unknown): void {
  row.internalCurrencyUnitPrice = row.unitPrice;
  row.internalCurrencyAdjustedPrice = price;
}

/** docs/autotask.md §8.4: on update only `adjustedPrice` and `invoiceDescription` can be written. */
const CONTRACT_SERVICE_UPDATABLE = new Set(["adjustedPrice", "invoiceDescription"]);

export function updateContractService(
  ctx: WriteContext,
  contractId: number,
  body: unknown,
  mode: WriteMode,
): number {
  const entity = entityDef("ContractServices");
  const coerced = coerce(entity, body, mode === "put" ? "patch" : mode, ctx);
  const current = existing(entity, requireId(entity, coerced), ctx.store);
  if (current.contractID !== contractId) {
    throw validationError(`ContractService ${current.id} does not belong to Contract ${contractId}.`);
  }
  for (const [name, value] of Object.entries(coerced.fields)) {
    if (CONTRACT_SERVICE_UPDATABLE.has(name)) continue;
    if ((value ?? null) !== (current[name] ?? null)) {
      throw validationError(
        `Only adjustedPrice and invoiceDescription can be updated on a ContractService (${name}).`,
      );
    }
  }
  const row = merged(current, { fields: {} });
  if ("invoiceDescription" in coerced.fields) row.invoiceDescription = coerced.fields.invoiceDescription;
  if ((coerced.fields.adjustedPrice ?? null) !== null) {
    row.__basePrice = coerced.fields.adjustedPrice;
    applyServicePrice(row, coerced.fields.adjustedPrice);
  }
  ctx.store.put("ContractServices", row);
  rebuildServiceUnits(ctx, row);
  return row.id;
}

// ---------------------------------------------------------- ContractServiceAdjustments docs/autotask.md §8.5

export function createServiceAdjustment(
  ctx: WriteContext,
  contractIdFromUrl: number | undefined,
  body: unknown,
): number {
  const entity = entityDef("ContractServiceAdjustments");
  const row = newRow(entity, coerce(entity, body, "create", ctx));
  if (contractIdFromUrl !== undefined) {
    row.contractID ??= contractIdFromUrl;
    if (row.contractID !== contractIdFromUrl) {
      throw validationError(
        `contractID ${String(row.contractID)} does not match the parent Contract ${contractIdFromUrl}.`,
      );
    }
  }
  requireFields(entity, row);
  checkReferences(entity, row, ctx.store);
  row.unitChange ??= 0;
  const contractService = resolveAdjustedService(ctx, row);
  const contract = contractFor(ctx, Number(contractService.contractID));
  const window = contractWindow(contract);
  const effective = dayOf(row.effectiveDate);
  if (effective < window.start || effective > window.end) {
    throw validationError("effectiveDate must be between the start date and end date of the Contract");
  }
  if (collidesWithExistingAdjustment(ctx, contract, contractService.id, effective)) {
    throw validationError("Attempt to insert duplicate data into contract_service_period");
  }
  row.contractID = contractService.contractID;
  row.serviceID = contractService.serviceID;
  row.contractServiceID = contractService.id;
  const inserted = ctx.store.insert("ContractServiceAdjustments", row);
  if ((row.adjustedUnitPrice ?? null) !== null && isLatestPriceChange(ctx, contractService.id, inserted)) {
    applyServicePrice(contractService, row.adjustedUnitPrice);
  }
  if ((row.adjustedUnitCost ?? null) !== null) contractService.unitCost = row.adjustedUnitCost;
  ctx.store.put("ContractServices", contractService);
  rebuildServiceUnits(ctx, contractService);
  return inserted.id;
}

/**
 * By contractServiceID, or by the (contractID, serviceID) pair; docs/autotask.md §8.5: a missing contract
 * service is created.
 */
function resolveAdjustedService(ctx: WriteContext, row: Record<string, unknown>): Row {
  if ((row.contractServiceID ?? null) !== null) {
    const service = existing(entityDef("ContractServices"), Number(row.contractServiceID), ctx.store);
    if ((row.contractID ?? null) !== null && row.contractID !== service.contractID) {
      throw validationError(
        `ContractService ${service.id} does not belong to Contract ${String(row.contractID)}.`,
      );
    }
    return service;
  }
  if ((row.contractID ?? null) === null || (row.serviceID ?? null) === null) {
    throw validationError("An adjustment requires contractServiceID, or both contractID and serviceID.");
  }
  const found = ctx.store
    .all("ContractServices")
    .find((service) => service.contractID === row.contractID && service.serviceID === row.serviceID);
  if (found) return found;
  return insertContractService(ctx, {
    contractID: row.contractID,
    serviceID: row.serviceID,
    adjustedPrice: row.adjustedUnitPrice ?? null,
    unitCost: row.adjustedUnitCost ?? null,
    invoiceDescription: null,
    internalDescription: null,
    quoteItemID: null,
    userDefinedFields: [],
  });
}

function collidesWithExistingAdjustment(
  ctx: WriteContext,
  contract: Row,
  contractServiceId: number,
  effectiveDay: string,
): boolean {
  const earlier = adjustmentsOf(ctx, contractServiceId).map((adjustment) => dayOf(adjustment.effectiveDate));
  if (ctx.switches.duplicateAdjustment === "same-day") return earlier.includes(effectiveDay);
  const periodOf = (day: string) => periodIndex(contract, day);
  return earlier.some((day) => periodOf(day) === periodOf(effectiveDay));
}

function adjustmentsOf(ctx: WriteContext, contractServiceId: number): Row[] {
  return ctx.store
    .all("ContractServiceAdjustments")
    .filter((adjustment) => adjustment.contractServiceID === contractServiceId)
    .sort((a, b) => dayOf(a.effectiveDate).localeCompare(dayOf(b.effectiveDate)) || a.id - b.id);
}

function isLatestPriceChange(ctx: WriteContext, contractServiceId: number, adjustment: Row): boolean {
  const priced = adjustmentsOf(ctx, contractServiceId).filter((a) => (a.adjustedUnitPrice ?? null) !== null);
  return priced.at(-1)?.id === adjustment.id;
}

// ---------------------------------------------------------------- ContractServiceUnits docs/autotask.md §8.6

function addMonths(day: string, months: number): string {
  const [year, month, date] = day.split("-").map(Number) as [number, number, number];
  const target = new Date(Date.UTC(year, month - 1 + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date, lastDay));
  return target.toISOString().slice(0, 10);
}

function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

function periodStarts(contract: Row): string[] {
  const { start, end } = contractWindow(contract);
  const months = PERIOD_MONTHS[Number(contract.contractPeriodType)] ?? 1;
  const starts: string[] = [];
  for (let index = 0; ; index += 1) {
    const periodStart = addMonths(start, index * months);
    if (periodStart > end) return starts;
    starts.push(periodStart);
  }
}

function periodIndex(contract: Row, day: string): number {
  const starts = periodStarts(contract);
  let index = 0;
  starts.forEach((start, position) => {
    if (start <= day) index = position;
  });
  return index;
}

/**
 * docs/autotask.md §8.6: one row per billing period of the contract, split at each adjustment's effective
 * date (Autotask pro-rates a period that starts mid-cycle); units are the running sum of `unitChange` up to
 * the row's start. Row ids stay stable for an unchanged (contract service, start date).
 */
function rebuildServiceUnits(ctx: WriteContext, contractService: Row): void {
  const contract = ctx.store.get("Contracts", Number(contractService.contractID));
  if (!contract) return;
  const { start: windowStart, end } = contractWindow(contract);
  const adjustments = adjustmentsOf(ctx, contractService.id);
  const splits = adjustments
    .map((a) => dayOf(a.effectiveDate))
    .filter((day) => day >= windowStart && day <= end);
  const starts = [...new Set([...periodStarts(contract), ...splits])].sort();
  const existingRows = ctx.store
    .all("ContractServiceUnits")
    .filter((u) => u.contractServiceID === contractService.id);
  const idByStart = new Map(existingRows.map((unit) => [dayOf(unit.startDate), unit.id]));
  for (const unit of existingRows) ctx.store.delete("ContractServiceUnits", unit.id);

  starts.forEach((start, index) => {
    const next = starts[index + 1];
    const applied = adjustments.filter((a) => dayOf(a.effectiveDate) <= start);
    const units = applied.reduce((sum, a) => sum + Number(a.unitChange ?? 0), 0);
    const price = [...applied]
      .reverse()
      .find((a) => (a.adjustedUnitPrice ?? null) !== null)?.adjustedUnitPrice;
    const cost = [...applied].reverse().find((a) => (a.adjustedUnitCost ?? null) !== null)?.adjustedUnitCost;
    const fields = {
      contractID: contract.id,
      contractServiceID: contractService.id,
      serviceID: contractService.serviceID,
      startDate: formatDateOnly(Date.parse(`${start}T00:00:00Z`)),
      endDate: formatDateOnly(Date.parse(`${next ? addDays(next, -1) : end}T00:00:00Z`)),
      units,
      price: price ?? contractService.__basePrice ?? null,
      cost: cost ?? contractService.__baseCost ?? null,
      internalCurrencyPrice: price ?? contractService.__basePrice ?? null,
      approveAndPostDate: null,
      vendorCompanyID: null,
      organizationalLevelAssociationID: contract.organizationalLevelAssociationID ?? null,
      userDefinedFields: [],
    };
    ctx.store.insert("ContractServiceUnits", fields, idByStart.get(start));
  });
}

// ---------------------------------------------------------------------------- Services docs/autotask.md §8.7

export function createService(ctx: WriteContext, body: unknown): number {
  const entity = entityDef("Services");
  const row = newRow(entity, coerce(entity, body, "create", ctx));
  row.isActive ??= true;
  validateService(ctx, entity, row, undefined);
  row.createDate = nowInstant(ctx);
  row.lastModifiedDate = row.createDate;
  row.creatorResourceID = ctx.resourceId;
  row.updateResourceID = ctx.resourceId;
  return ctx.store.insert("Services", row).id;
}

export function updateService(ctx: WriteContext, body: unknown, mode: WriteMode): number {
  const entity = entityDef("Services");
  const coerced = coerce(entity, body, mode, ctx);
  const current = existing(entity, requireId(entity, coerced), ctx.store);
  const row = merged(current, coerced);
  validateService(ctx, entity, row, current.id);
  row.lastModifiedDate = nowInstant(ctx);
  row.updateResourceID = ctx.resourceId;
  ctx.store.put("Services", row);
  return row.id;
}

function validateService(
  ctx: WriteContext,
  entity: EntityDef,
  row: Record<string, unknown>,
  selfId?: number,
): void {
  requireFields(entity, row);
  checkReferences(entity, row, ctx.store);
  const code = ctx.store.get("BillingCodes", Number(row.billingCodeID));
  if (!code || code.isActive !== true || code.useType !== BILLING_CODE_USE_TYPES.recurringContractService) {
    throw validationError("billingCodeID must reference an active Recurring Contract Service billing code.");
  }
  // The unique service-name rule surfaces as SQL Server's duplicate-key error (docs/autotask.md §8.7).
  const name = String(row.name).trim().toLowerCase();
  const clash = ctx.store
    .all("Services")
    .find((service) => service.id !== selfId && String(service.name).trim().toLowerCase() === name);
  if (clash) {
    throw validationError(
      `Violation of UNIQUE KEY constraint 'IX_service'. Cannot insert duplicate key in object 'dbo.service'. The duplicate key value is (${String(row.name)}).`,
    );
  }
  row.markupRate = markupRate(row.unitPrice, row.unitCost);
}

function markupRate(price: unknown, cost: unknown): string | null {
  if (price === null || cost === null || price === undefined || cost === undefined) return null;
  const costDec = new Dec(String(cost));
  if (costDec.isZero()) return null;
  return round4(new Dec(String(price)).minus(costDec).dividedBy(costDec).toFixed());
}

// ---------------------------------------------------------------------------- Products docs/autotask.md §8.9

export function createProduct(ctx: WriteContext, body: unknown): number {
  const entity = entityDef("Products");
  const row = newRow(entity, coerce(entity, body, "create", ctx));
  validateProduct(ctx, entity, row);
  checkProductBillingCode(ctx, row);
  return ctx.store.insert("Products", row).id;
}

export function updateProduct(ctx: WriteContext, body: unknown, mode: WriteMode): number {
  const entity = entityDef("Products");
  const coerced = coerce(entity, body, mode, ctx);
  const current = existing(entity, requireId(entity, coerced), ctx.store);
  const row = merged(current, coerced);
  validateProduct(ctx, entity, row);
  // Only a changed code is checked: a product keeps a code that was valid when it was set.
  if (Number(row.productBillingCodeID) !== Number(current.productBillingCodeID))
    checkProductBillingCode(ctx, row);
  ctx.store.put("Products", row);
  return row.id;
}

function validateProduct(ctx: WriteContext, entity: EntityDef, row: Record<string, unknown>): void {
  requireFields(entity, row);
  checkReferences(entity, row, ctx.store);
  row.markupRate = markupRate(row.unitPrice, row.unitCost);
}

function checkProductBillingCode(ctx: WriteContext, row: Record<string, unknown>): void {
  const rule = ctx.switches.productBillingCodes;
  if (rule === "any") return;
  const code = ctx.store.get("BillingCodes", Number(row.productBillingCodeID));
  const valid =
    code !== undefined &&
    code.isActive === true &&
    code.billingCodeType !== BILLING_CODE_TYPES.system &&
    (rule === "active-non-system" || code.useType === BILLING_CODE_USE_TYPES.generalBillingCode);
  if (!valid) {
    throw validationError(
      rule === "general"
        ? "productBillingCodeID must reference an active General Billing Code (material) billing code."
        : "productBillingCodeID must reference an active billing code that is not a System code.",
    );
  }
}
