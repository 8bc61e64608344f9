import { Dec } from "../../src/core/money.ts";
import { validationError } from "./api-error.ts";
import { findField, findUdf, isIntegerType, isNumericType } from "./schema.ts";
import type { DataType, EntityDef } from "./schema.ts";
import type { Row } from "./store.ts";

/**
 * Server-side parser and evaluator of the Autotask query language (docs/autotask.md §5). It is written
 * independently of the client's builder (../filter.ts) so contract tests catch a disagreement.
 */

type ComparisonOp = "eq" | "noteq" | "gt" | "gte" | "lt" | "lte" | "beginsWith" | "endsWith" | "contains";
type Target = { field: string; udf: boolean; type: DataType };
/** A value in comparable form: Dec for numbers, epoch ms for dates, lower-cased text for strings. */
type Comparable = Dec | number | string | boolean;

export type FilterNode =
  | { kind: "group"; op: "and" | "or"; items: FilterNode[] }
  | { kind: "compare"; op: ComparisonOp; target: Target; value: Comparable }
  | { kind: "exist"; op: "exist" | "notExist"; target: Target }
  | { kind: "list"; op: "in" | "notIn"; target: Target; values: Comparable[] };

export type ParsedQuery = {
  /** The top-level `filter[]` entries are ANDed (docs/autotask.md §5.1). */
  filter: FilterNode;
  includeFields?: string[];
  pageSize: number;
};

export type QueryEngineSwitches = {
  /** docs/autotask.md §5.1: an empty or missing filter is refused; default true (a switch, §12). */
  rejectEmptyFilter: boolean;
};

export const MAX_PAGE_SIZE = 500;
const MAX_OR_CONDITIONS = 500;
const OPERATORS: Record<string, string> = Object.fromEntries(
  [
    "eq",
    "noteq",
    "gt",
    "gte",
    "lt",
    "lte",
    "beginsWith",
    "endsWith",
    "contains",
    "exist",
    "notExist",
    "in",
    "notIn",
    "and",
    "or",
  ].map((op) => [op.toLowerCase(), op]),
);
const STRING_ONLY_OPS = new Set(["beginsWith", "endsWith", "contains"]);
const ORDERING_OPS = new Set(["gt", "gte", "lt", "lte"]);

/**
 * Body keys are matched case-insensitively: `filter`/`Filter`, `MaxRecords`/`maxRecords`
 * (docs/autotask.md §3).
 */
function getKey(record: Record<string, unknown>, key: string): unknown {
  const lower = key.toLowerCase();
  for (const [name, value] of Object.entries(record)) if (name.toLowerCase() === lower) return value;
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function parseQueryModel(
  body: unknown,
  entity: EntityDef,
  switches: QueryEngineSwitches,
): ParsedQuery {
  if (!isRecord(body)) throw validationError("Invalid query: the request body must be a QueryModel object.");
  const rawFilter = getKey(body, "filter");
  if (rawFilter !== undefined && rawFilter !== null && !Array.isArray(rawFilter)) {
    throw validationError("Invalid query syntax: 'filter' must be an array.");
  }
  const entries = (rawFilter ?? []) as unknown[];
  if (entries.length === 0 && switches.rejectEmptyFilter) {
    throw validationError("Invalid query syntax: a query requires at least one filter condition.");
  }
  const counters = { or: 0, udf: 0 };
  const items = entries.map((entry) => parseNode(entry, entity, counters));
  if (counters.or > MAX_OR_CONDITIONS) {
    throw validationError("Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions.");
  }
  if (counters.udf > 1) {
    throw validationError(
      "Invalid query syntax. Only one user-defined field condition is allowed per query.",
    );
  }
  const parsed: ParsedQuery = { filter: { kind: "group", op: "and", items }, pageSize: parsePageSize(body) };
  const includeFields = parseIncludeFields(getKey(body, "includeFields"), entity);
  if (includeFields) parsed.includeFields = includeFields;
  return parsed;
}

/** docs/autotask.md §12: MaxRecords is clamped to 1..500; without it a page holds 500. */
function parsePageSize(body: Record<string, unknown>): number {
  const raw = getKey(body, "maxRecords");
  if (raw === undefined || raw === null) return MAX_PAGE_SIZE;
  const value = typeof raw === "string" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw validationError(`Invalid query: MaxRecords must be an integer, got ${JSON.stringify(raw)}.`);
  }
  return Math.min(MAX_PAGE_SIZE, Math.max(1, value));
}

function parseIncludeFields(raw: unknown, entity: EntityDef): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw))
    throw validationError("Invalid query: IncludeFields must be an array of field names.");
  if (raw.length === 0) return undefined;
  return raw.map((name) => {
    const field = typeof name === "string" ? findField(entity, name) : undefined;
    if (!field || field.writeOnly) throw unknownField(String(name), entity);
    return field.name;
  });
}

function unknownField(name: string, entity: EntityDef) {
  return validationError(`Unable to find ${name} in the ${entity.typeName} Entity`);
}

function parseNode(raw: unknown, entity: EntityDef, counters: { or: number; udf: number }): FilterNode {
  if (!isRecord(raw)) throw validationError("Invalid query syntax: each filter entry must be an object.");
  const opText = getKey(raw, "op");
  const op = typeof opText === "string" ? OPERATORS[opText.toLowerCase()] : undefined;
  if (op === undefined)
    throw validationError(`Invalid query syntax: unknown operator ${JSON.stringify(opText)}.`);

  if (op === "and" || op === "or") {
    const items = getKey(raw, "items");
    if (!Array.isArray(items) || items.length === 0) {
      throw validationError(`Invalid query syntax: '${op}' requires a non-empty 'items' array.`);
    }
    if (op === "or") counters.or += items.length;
    return { kind: "group", op, items: items.map((item) => parseNode(item, entity, counters)) };
  }

  const target = parseTarget(raw, entity, counters);
  const value = getKey(raw, "value");
  if (op === "exist" || op === "notExist") return { kind: "exist", op, target };
  if (op === "in" || op === "notIn") {
    if (!Array.isArray(value) || value.length === 0) {
      throw validationError(
        `Invalid query syntax: '${op}' on ${target.field} requires a non-empty array value.`,
      );
    }
    counters.or += value.length;
    return { kind: "list", op, target, values: value.map((item) => filterValue(item, target, op)) };
  }
  const comparison = op as ComparisonOp;
  if (STRING_ONLY_OPS.has(comparison) && target.type !== "string") {
    throw validationError(`Invalid query syntax: '${op}' applies only to text fields, not ${target.field}.`);
  }
  if (ORDERING_OPS.has(comparison) && target.type === "boolean") {
    throw validationError(
      `Invalid query syntax: '${op}' cannot be used on the boolean field ${target.field}.`,
    );
  }
  return { kind: "compare", op: comparison, target, value: filterValue(value, target, op) };
}

function parseTarget(raw: Record<string, unknown>, entity: EntityDef, counters: { udf: number }): Target {
  const fieldName = getKey(raw, "field");
  if (typeof fieldName !== "string" || fieldName === "") {
    throw validationError("Invalid query syntax: a condition requires a 'field'.");
  }
  const udfFlag = getKey(raw, "udf");
  if (udfFlag !== undefined && udfFlag !== null && typeof udfFlag !== "boolean") {
    throw validationError("Unexpected character encountered while parsing value: udf must be true or false.");
  }
  if (udfFlag === true) {
    // docs/autotask.md §5.2: a UDF is addressed by its name, with `udf: true`.
    counters.udf += 1;
    const udf = findUdf(entity, fieldName);
    if (!udf) throw unknownField(fieldName, entity);
    return { field: udf.name, udf: true, type: udf.type };
  }
  const field = findField(entity, fieldName);
  if (!field || field.writeOnly) throw unknownField(fieldName, entity);
  if (field.queryable === false) throw validationError(`The field ${field.name} cannot be used in a query.`);
  return { field: field.name, udf: false, type: field.dataType };
}

/**
 * A filter value, checked against the field's type: booleans must be real true/false (docs/autotask.md §3).
 */
function filterValue(value: unknown, target: Target, op: string): Comparable {
  const converted = value === null || value === undefined ? undefined : toComparable(value, target.type);
  if (converted === undefined) {
    const shown = value === undefined ? "no value" : JSON.stringify(value);
    throw validationError(`Invalid value ${shown} for '${op}' on field ${target.field} (${target.type}).`);
  }
  return converted;
}

/** Converts a wire or stored value into comparable form; undefined when it does not fit the type. */
export function toComparable(value: unknown, type: DataType): Comparable | undefined {
  if (type === "boolean") return typeof value === "boolean" ? value : undefined;
  if (isNumericType(type)) {
    const text =
      typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : undefined;
    if (text === undefined || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
    const number = new Dec(text);
    return isIntegerType(type) && !number.isInteger() ? undefined : number;
  }
  if (type === "datetime") {
    if (typeof value !== "string") return undefined;
    const millis = parseAutotaskDate(value);
    return millis === undefined ? undefined : millis;
  }
  if (typeof value === "string") return value.toLowerCase();
  if (typeof value === "number" || typeof value === "boolean") return String(value).toLowerCase();
  return undefined;
}

/**
 * Dates arrive as "YYYY-MM-DD", "YYYY-MM-DDTHH:mm:ss" (zone-less, read as UTC) or ISO with Z/offset
 * (docs/autotask.md §3).
 */
export function parseAutotaskDate(text: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(
      text.trim(),
    );
  if (!match) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", fraction = "", zone = "Z"] = match;
  const millis = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${fraction.slice(0, 4)}${zone}`);
  if (Number.isNaN(millis)) return undefined;
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  return millis;
}

export function matchesFilter(node: FilterNode, row: Row): boolean {
  switch (node.kind) {
    case "group":
      return node.op === "and"
        ? node.items.every((item) => matchesFilter(item, row))
        : node.items.some((item) => matchesFilter(item, row));
    case "exist": {
      const present = readTarget(row, node.target) !== undefined;
      return node.op === "exist" ? present : !present;
    }
    case "list": {
      // SQL semantics: a null field is neither IN nor NOT IN a list.
      const actual = readTarget(row, node.target);
      if (actual === undefined) return false;
      const found = node.values.some((value) => compare(actual, value) === 0);
      return node.op === "in" ? found : !found;
    }
    case "compare":
      return matchesComparison(node.op, readTarget(row, node.target), node.value);
  }
}

/** SQL semantics: comparisons with a null field are false, including `noteq`. */
function matchesComparison(op: ComparisonOp, actual: Comparable | undefined, expected: Comparable): boolean {
  if (actual === undefined) return false;
  if (op === "beginsWith") return String(actual).startsWith(String(expected));
  if (op === "endsWith") return String(actual).endsWith(String(expected));
  if (op === "contains") return String(actual).includes(String(expected));
  const order = compare(actual, expected);
  switch (op) {
    case "eq":
      return order === 0;
    case "noteq":
      return order !== 0;
    case "gt":
      return order > 0;
    case "gte":
      return order >= 0;
    case "lt":
      return order < 0;
    case "lte":
      return order <= 0;
  }
}

function compare(left: Comparable, right: Comparable): number {
  if (left instanceof Dec && right instanceof Dec) return left.comparedTo(right);
  if (typeof left === "number" && typeof right === "number") return Math.sign(left - right);
  if (typeof left === "boolean" && typeof right === "boolean") return left === right ? 0 : left ? 1 : -1;
  const a = String(left);
  const b = String(right);
  return a === b ? 0 : a < b ? -1 : 1;
}

function readTarget(row: Row, target: Target): Comparable | undefined {
  const raw = target.udf ? udfValue(row, target.field) : row[target.field];
  if (raw === null || raw === undefined) return undefined;
  if (target.udf && target.type !== "string" && raw === "") return undefined;
  return toComparable(raw, target.type);
}

function udfValue(row: Row, name: string): unknown {
  const lower = name.toLowerCase();
  return row.userDefinedFields.find((udf) => udf.name.toLowerCase() === lower)?.value;
}

export type PageCursor = { pageSize: number; previousIds: number[]; nextIds: number[] };

/**
 * Id-cursor paging (docs/autotask.md §5.3): matches sorted by ascending id, `pageSize` rows after the cursor
 * id.
 */
export function selectPage(
  rows: Iterable<Row>,
  query: ParsedQuery,
  afterId: number,
): { items: Row[]; hasMore: boolean; lastId: number | undefined } {
  const matches = [...rows]
    .filter((row) => row.id > afterId && matchesFilter(query.filter, row))
    .sort((a, b) => a.id - b.id);
  const items = matches.slice(0, query.pageSize);
  return { items, hasMore: matches.length > items.length, lastId: items.at(-1)?.id };
}

export function countMatches(rows: Iterable<Row>, query: ParsedQuery): number {
  let count = 0;
  for (const row of rows) if (matchesFilter(query.filter, row)) count += 1;
  return count;
}
