import { decimalString, jsonNumber } from "../../src/psa/shared/json.ts";
import type { FieldResolver, FieldType, ResolvedField } from "./conditions.ts";
import type { FieldSpec, ResourceDef } from "./resources.ts";
import { RESOURCES } from "./resources.ts";
import type { CwEmulatorData, Row } from "./state.ts";
import { findRow } from "./state.ts";

/** One entry of `errors[]` in a 400 InvalidObject body (docs/connectwise.md §7.2). */
export type ValidationIssue = { code: string; message: string; resource: string; field: string };

/** What a view needs besides the row: where hrefs point and how to resolve references. */
export type ViewEnv = { data: CwEmulatorData; apiBase: string };

// ---------------------------------------------------------------------------------------------- output

/**
 * The record as the API shows it (docs/connectwise.md §4, §11): references expanded to
 * `{id, name|identifier, _info: {x_href}}`, `_info` with lastUpdated/updatedBy, derived fields added by the
 * caller. Money stays a decimal string here so conditions and ordering compare exactly; `toWire` turns it
 * into bare JSON numbers.
 */
export function toView(def: ResourceDef, row: Row, env: ViewEnv): Record<string, unknown> {
  const view: Record<string, unknown> = { id: row.id };
  for (const [name, spec] of Object.entries(def.fields)) {
    const value = row[name];
    if (value === undefined) {
      view[name] = spec.type === "customFields" ? [] : null;
      continue;
    }
    view[name] = spec.type === "ref" ? expandReference(name, spec, value, env) : structuredClone(value);
  }
  view._info = { ...row._info };
  return view;
}

function expandReference(field: string, spec: FieldSpec, value: unknown, env: ViewEnv): unknown {
  if (value === null || typeof value !== "object" || spec.target === undefined) return null;
  const id = (value as { id?: unknown }).id;
  if (typeof id !== "number") return null;
  const targetDef = RESOURCES[spec.target];
  const target = findRow(env.data, spec.target, id);
  const expanded: Record<string, unknown> = { id };
  for (const key of spec.refKeys ?? []) {
    if (key === "name") expanded.name = target ? targetDef.displayName(target) : null;
    else expanded.identifier = target && typeof target.identifier === "string" ? target.identifier : null;
  }
  expanded._info = { [`${field}_href`]: `${env.apiBase}${targetDef.path}/${id}` };
  return expanded;
}

/** Decimal strings of the resource's decimal fields become bare JSON numbers; everything else is JSON as is. */
export function toWire(def: ResourceDef, view: Record<string, unknown>): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(view)) {
    const spec = def.fields[name];
    wire[name] = spec?.type === "decimal" && typeof value === "string" ? jsonNumber(value) : value;
  }
  return wire;
}

// ---------------------------------------------------------------------------------------------- fields

const REFERENCE_SUBFIELDS: Record<string, FieldType> = {
  id: "numeric",
  name: "string",
  identifier: "string",
};

/**
 * Resolves a field path as written in conditions, orderBy or fields (any case, docs/connectwise.md §5.1) to
 * its canonical path and type. `lastUpdated` is accepted as a shorthand for `_info/lastUpdated`, as
 * integrations use it.
 */
export function fieldResolver(def: ResourceDef): FieldResolver {
  const byLowerName = new Map(Object.keys(def.fields).map((name) => [name.toLowerCase(), name]));
  return (written: string): ResolvedField | undefined => {
    const segments = written.split("/");
    const [first, second, ...rest] = segments.map((segment) => segment.toLowerCase());
    if (first === undefined || rest.length > 0) return undefined;
    if (first === "id" && second === undefined) return { path: ["id"], type: "numeric" };
    if (first === "lastupdated" && second === undefined)
      return { path: ["_info", "lastUpdated"], type: "datetime" };
    if (first === "_info") {
      if (second === "lastupdated") return { path: ["_info", "lastUpdated"], type: "datetime" };
      if (second === "updatedby") return { path: ["_info", "updatedBy"], type: "string" };
      return undefined;
    }
    const name = byLowerName.get(first);
    const spec = name === undefined ? undefined : def.fields[name];
    if (name === undefined || spec === undefined) return undefined;
    if (second === undefined) {
      const type = scalarType(spec);
      return type === undefined ? undefined : { path: [name], type };
    }
    if (spec.type !== "ref" && spec.type !== "literalRef") return undefined;
    const subType = Object.hasOwn(REFERENCE_SUBFIELDS, second) ? REFERENCE_SUBFIELDS[second] : undefined;
    const subName = segments[1] === undefined ? undefined : canonicalSubfield(second);
    return subType === undefined || subName === undefined
      ? undefined
      : { path: [name, subName], type: subType };
  };
}

function canonicalSubfield(lower: string): string | undefined {
  return lower === "id"
    ? "id"
    : lower === "name"
      ? "name"
      : lower === "identifier"
        ? "identifier"
        : undefined;
}

function scalarType(spec: FieldSpec): FieldType | undefined {
  switch (spec.type) {
    case "int":
    case "decimal":
      return "numeric";
    case "string":
    case "enum":
      return "string";
    case "boolean":
      return "boolean";
    case "datetime":
      return "datetime";
    default:
      return undefined;
  }
}

/** customFieldConditions run against each entry of `customFields` (docs/connectwise.md §5.2). */
export const customFieldResolver: FieldResolver = (written) => {
  const lower = written.toLowerCase();
  if (lower === "id" || lower === "numberofdecimals")
    return { path: [lower === "id" ? "id" : "numberOfDecimals"], type: "numeric" };
  if (lower === "caption" || lower === "type" || lower === "entrymethod") {
    const name = lower === "entrymethod" ? "entryMethod" : lower;
    return { path: [name], type: "string" };
  }
  if (lower === "value") return { path: ["value"], type: "any" };
  return undefined;
};

// ---------------------------------------------------------------------------------------------- input

export type CoerceResult = { ok: true; value: unknown } | { ok: false; issue: ValidationIssue };

/** Checks one incoming field value against its spec and converts it to the stored form. */
export function coerceField(
  def: ResourceDef,
  name: string,
  spec: FieldSpec,
  value: unknown,
  data: CwEmulatorData,
  allowIdentifier = true,
): CoerceResult {
  const fail = (message: string): CoerceResult => ({
    ok: false,
    issue: { code: "InvalidField", message, resource: def.objectName, field: name },
  });
  if (value === null) return { ok: true, value: null };
  switch (spec.type) {
    case "int":
      return Number.isSafeInteger(value) ? { ok: true, value } : fail(`${name} must be a whole number.`);
    case "decimal": {
      const parsed = decimalString.safeParse(value);
      return parsed.success ? { ok: true, value: parsed.data } : fail(`${name} must be a number.`);
    }
    case "string":
      if (typeof value !== "string") return fail(`${name} must be a string.`);
      if (spec.maxLength !== undefined && value.length > spec.maxLength) {
        return fail(`${name} cannot be longer than ${spec.maxLength} characters.`);
      }
      // Newlines and carriage returns come back as a single space (docs/connectwise.md §4).
      return { ok: true, value: value.replace(/\r\n|\r|\n/g, " ") };
    case "boolean":
      return typeof value === "boolean" ? { ok: true, value } : fail(`${name} must be true or false.`);
    case "datetime":
      return coerceDateTime(value, fail);
    case "enum":
      return typeof value === "string" && spec.values?.includes(value)
        ? { ok: true, value }
        : fail(`${name} must be one of ${spec.values?.join(", ")}.`);
    case "ref":
      return coerceReference(name, spec, value, data, fail, allowIdentifier);
    case "literalRef":
      return coerceLiteralReference(value, fail, name);
    case "customFields":
      return Array.isArray(value)
        ? { ok: true, value: structuredClone(value) }
        : fail(`${name} must be an array.`);
    case "stringArray":
      return Array.isArray(value) && value.every((entry) => typeof entry === "string")
        ? { ok: true, value: [...value] }
        : fail(`${name} must be an array of strings.`);
  }
}

function coerceDateTime(value: unknown, fail: (message: string) => CoerceResult): CoerceResult {
  const pattern = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
  if (typeof value !== "string" || !pattern.test(value))
    return fail("Dates must be ISO-8601, e.g. 2024-01-01T00:00:00Z.");
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(value) && value.includes("T");
  const epoch = Date.parse(value.includes("T") ? (hasZone ? value : `${value}Z`) : `${value}T00:00:00Z`);
  if (Number.isNaN(epoch)) return fail(`${value} is not a valid date.`);
  return { ok: true, value: `${new Date(epoch).toISOString().slice(0, 19)}Z` };
}

/**
 * On writes a reference may carry only `id`, or `identifier` where the target has one
 * (docs/connectwise.md §4).
 */
function coerceReference(
  name: string,
  spec: FieldSpec,
  value: unknown,
  data: CwEmulatorData,
  fail: (message: string) => CoerceResult,
  allowIdentifier: boolean,
): CoerceResult {
  if (typeof value !== "object" || Array.isArray(value) || spec.target === undefined) {
    return fail(`${name} must be a reference object such as {"id": 1}.`);
  }
  const { id, identifier } = value as { id?: unknown; identifier?: unknown };
  const rows = data.tables[spec.target];
  if (typeof id === "number") {
    return rows.some((row) => row.id === id)
      ? { ok: true, value: { id } }
      : fail(`${name} id ${id} was not found.`);
  }
  if (typeof identifier === "string" && allowIdentifier && spec.refKeys?.includes("identifier")) {
    const match = rows.find(
      (row) =>
        typeof row.identifier === "string" && row.identifier.toLowerCase() === identifier.toLowerCase(),
    );
    return match
      ? { ok: true, value: { id: match.id } }
      : fail(`${name} identifier ${identifier} was not found.`);
  }
  return fail(`${name} must have an id.`);
}

function coerceLiteralReference(
  value: unknown,
  fail: (message: string) => CoerceResult,
  name: string,
): CoerceResult {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail(`${name} must be a reference object.`);
  const { id, name: refName, identifier } = value as Record<string, unknown>;
  if (typeof id !== "number") return fail(`${name} must have an id.`);
  const stored: Record<string, unknown> = { id };
  if (typeof identifier === "string") stored.identifier = identifier;
  if (typeof refName === "string") stored.name = refName;
  return { ok: true, value: stored };
}

export function missingField(def: ResourceDef, field: string): ValidationIssue {
  return { code: "MissingRequiredField", message: `${field} is required.`, resource: def.objectName, field };
}
