import { canonicalDecimal, Dec } from "../../src/core/money.ts";
import { jsonNumber } from "../../src/psa/shared/json.ts";
import { validationError } from "./api-error.ts";
import { parseAutotaskDate } from "./query-engine.ts";
import { findField, findUdf, isIntegerType, readableFields } from "./schema.ts";
import type { EntityDef, FieldDef } from "./schema.ts";
import type { Row, UdfValue } from "./store.ts";

/**
 * Wire ↔ stored record conversion for the emulator (docs/autotask.md §3, §6): field names case-insensitive on
 * input, camelCase on output; read-only and unknown fields ignored; JSON types checked the way JSON.NET does.
 */

export type WriteMode = "create" | "patch" | "put";

export type CoercedBody = {
  /** Canonical field name → stored value (null allowed), only for the writable fields present. */
  fields: Record<string, unknown>;
  /** The `id` in the body, for updates. */
  id?: number;
  udfs?: UdfValue[];
};

export type LengthOverrides = Partial<Record<string, number>>;

const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** JSON.NET's wording for a value of the wrong JSON type (docs/autotask.md §9). */
function typeMismatch(field: string, value: unknown, type: string) {
  if (typeof value === "boolean") {
    return validationError(
      `Unexpected character encountered while parsing value: ${String(value)[0]}. Path '${field}'.`,
    );
  }
  return validationError(
    `Error converting value ${JSON.stringify(value)} to type '${type}'. Path '${field}'.`,
  );
}

export function coerceBody(
  entity: EntityDef,
  body: unknown,
  mode: WriteMode,
  lengths: LengthOverrides = {},
): CoercedBody {
  if (!isRecord(body)) throw validationError(`The request body must be a ${entity.typeName} object.`);
  const result: CoercedBody = { fields: {} };
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === "userdefinedfields") {
      result.udfs = coerceUdfs(entity, value);
      continue;
    }
    const field = findField(entity, key);
    if (!field) continue; // JSON.NET ignores members the model does not have.
    if (field.name === "id") {
      if (value !== null && value !== undefined) result.id = coerceId(value);
      continue;
    }
    if (field.readOnly) continue; // docs/autotask.md §6.2: read-only fields are ignored, not rejected.
    result.fields[field.name] = coerceValue(field, value, lengths);
  }
  if (mode === "put") {
    // docs/autotask.md §6.2: PUT is a full replace; writable fields left out become null.
    for (const field of entity.fields) {
      if (field.name !== "id" && !field.readOnly && !(field.name in result.fields))
        result.fields[field.name] = null;
    }
  }
  return result;
}

function coerceId(value: unknown): number {
  const id = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof id !== "number" || !Number.isSafeInteger(id)) throw typeMismatch("id", value, "System.Int64");
  return id;
}

export function coerceValue(field: FieldDef, value: unknown, lengths: LengthOverrides = {}): unknown {
  if (value === null || value === undefined) return null;
  switch (field.dataType) {
    case "boolean":
      if (typeof value !== "boolean") throw typeMismatch(field.name, value, "System.Boolean");
      return value;
    case "integer":
    case "long":
    case "short":
    case "double":
    case "decimal":
      return coerceNumber(field, value);
    case "datetime":
      return coerceDate(field, value);
    case "string": {
      if (typeof value === "object" || typeof value === "boolean")
        throw typeMismatch(field.name, value, "System.String");
      const text = String(value);
      const max = lengths[field.name] ?? field.length;
      if (max !== undefined && max > 0 && text.length > max) {
        throw validationError(
          `The value for field ${field.name} exceeds the maximum length of ${max} characters.`,
        );
      }
      return text;
    }
  }
}

function coerceNumber(field: FieldDef, value: unknown): unknown {
  const text =
    typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : undefined;
  const clrType = isIntegerType(field.dataType) ? "System.Int32" : "System.Double";
  if (text === undefined || !DECIMAL_TEXT.test(text)) throw typeMismatch(field.name, value, clrType);
  const number = new Dec(text);
  if (isIntegerType(field.dataType)) {
    if (!number.isInteger() || !Number.isSafeInteger(number.toNumber())) {
      throw typeMismatch(field.name, value, clrType);
    }
    const integer = number.toNumber();
    if (field.picklist && !field.picklist.some((entry) => entry.value === integer)) {
      throw validationError(`Value ${integer} is not a valid picklist value for field ${field.name}.`);
    }
    return integer;
  }
  return canonicalDecimal(text);
}

function coerceDate(field: FieldDef, value: unknown): string {
  const millis = typeof value === "string" ? parseAutotaskDate(value) : undefined;
  if (millis === undefined) {
    throw validationError(`Could not convert string to DateTime: ${String(value)}. Path '${field.name}'.`);
  }
  return field.dateOnly ? formatDateOnly(millis) : formatInstant(millis);
}

/** Date-like fields: "2025-08-31T00:00:00", no zone (docs/autotask.md §3). */
export function formatDateOnly(millis: number): string {
  return `${new Date(millis).toISOString().slice(0, 10)}T00:00:00`;
}

/** Datetimes: UTC ISO-8601 without milliseconds, e.g. "2020-02-23T13:00:00Z" (docs/autotask.md §3). */
export function formatInstant(millis: number): string {
  return new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `YYYY-MM-DD` of a stored date value. */
export function dayOf(stored: unknown): string {
  return String(stored).slice(0, 10);
}

function coerceUdfs(entity: EntityDef, value: unknown): UdfValue[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw typeMismatch("userDefinedFields", value, "UserDefinedField[]");
  return value.map((entry) => {
    if (!isRecord(entry)) throw typeMismatch("userDefinedFields", entry, "UserDefinedField");
    const name = Object.entries(entry).find(([key]) => key.toLowerCase() === "name")?.[1];
    const raw = Object.entries(entry).find(([key]) => key.toLowerCase() === "value")?.[1];
    const udf = typeof name === "string" ? findUdf(entity, name) : undefined;
    if (!udf) throw validationError(`Unable to find ${String(name)} in the ${entity.typeName} Entity`);
    if (raw !== null && raw !== undefined && typeof raw === "object") {
      throw typeMismatch(`userDefinedFields.${udf.name}`, raw, "System.String");
    }
    const text = raw === null || raw === undefined ? null : String(raw);
    if (text !== null && udf.length > 0 && text.length > udf.length) {
      throw validationError(
        `The value for field ${udf.name} exceeds the maximum length of ${udf.length} characters.`,
      );
    }
    return { name: udf.name, value: text };
  });
}

/** docs/autotask.md §6.2: only the UDFs listed are changed. */
export function mergeUdfs(
  current: readonly UdfValue[],
  changes: readonly UdfValue[] | undefined,
): UdfValue[] {
  if (!changes) return [...current];
  const merged = new Map(current.map((udf) => [udf.name, udf]));
  for (const change of changes) merged.set(change.name, change);
  return [...merged.values()];
}

/**
 * A stored row as the API returns it: readable fields in table order, money as bare JSON numbers,
 * `userDefinedFields` always present (docs/autotask.md §5.1, §5.3). `includeFields` projects but always keeps
 * `id`.
 */
export function toWire(
  entity: EntityDef,
  row: Row,
  includeFields?: readonly string[],
): Record<string, unknown> {
  const wanted = includeFields ? new Set(["id", ...includeFields]) : undefined;
  const wire: Record<string, unknown> = {};
  for (const field of readableFields(entity)) {
    if (wanted && !wanted.has(field.name)) continue;
    wire[field.name] = wireValue(field, row[field.name]);
  }
  wire.userDefinedFields = allUdfs(entity, row);
  return wire;
}

function wireValue(field: FieldDef, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if ((field.dataType === "double" || field.dataType === "decimal") && typeof value === "string") {
    return jsonNumber(value);
  }
  return value;
}

/** Every defined UDF appears, null when unset, as the API lists them. */
function allUdfs(entity: EntityDef, row: Row): UdfValue[] {
  return entity.udfs.map((udf) => ({
    name: udf.name,
    value: row.userDefinedFields.find((value) => value.name === udf.name)?.value ?? null,
  }));
}
