import type { DecimalString } from "../../core/money.ts";
import { isDecimalText } from "../../core/money.ts";
import { toCwDateTime } from "./dates.ts";

/**
 * Typed builder for the ConnectWise `conditions` query language (docs/connectwise.md §5.1).
 *
 * Every value goes through one literal writer, so a company name such as `Fred "The Fixer" & Sons` can never
 * break out of its string literal, and money is written from its decimal string without passing through a float.
 */

/** A compiled condition: build it with the functions below; `text` is what goes into `?conditions=`. */
export type Condition = { readonly kind: "condition"; readonly text: string; readonly compound: boolean };

/** A date-time literal, written `[2024-01-01T00:00:00Z]`. */
export type DateTimeLiteral = { readonly kind: "datetime"; readonly iso: string };
/** A decimal literal written exactly as given (money, quantities). */
export type DecimalLiteral = { readonly kind: "decimal"; readonly value: DecimalString };

export type ConditionValue = string | number | boolean | DateTimeLiteral | DecimalLiteral | Date;
export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";

const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * `[2024-01-01T00:00:00Z]`: accepts a Date or any ISO-8601 text; fractional seconds are dropped
 * (docs/connectwise.md §4).
 */
export function dateTime(value: Date | string): DateTimeLiteral {
  return { kind: "datetime", iso: toCwDateTime(value) };
}

export function decimal(value: DecimalString): DecimalLiteral {
  if (!isDecimalText(value) || /[eE]/.test(value)) throw new TypeError(`not a plain decimal: ${value}`);
  return { kind: "decimal", value };
}

export function compare(field: string, operator: ComparisonOperator, value: ConditionValue): Condition {
  return leaf(`${fieldPath(field)} ${operator} ${literal(value)}`);
}

export const eq = (field: string, value: ConditionValue): Condition => compare(field, "=", value);
export const ne = (field: string, value: ConditionValue): Condition => compare(field, "!=", value);
export const lt = (field: string, value: ConditionValue): Condition => compare(field, "<", value);
export const le = (field: string, value: ConditionValue): Condition => compare(field, "<=", value);
export const gt = (field: string, value: ConditionValue): Condition => compare(field, ">", value);
export const ge = (field: string, value: ConditionValue): Condition => compare(field, ">=", value);

export function isNull(field: string): Condition {
  return leaf(`${fieldPath(field)} = null`);
}

export function isNotNull(field: string): Condition {
  return leaf(`${fieldPath(field)} != null`);
}

/**
 * `field like "pattern"` where `*` (and `%`) match any run of characters. Build the pattern from user text with
 * `likeLiteral`, which neutralises wildcard characters in it.
 */
export function like(field: string, pattern: string): Condition {
  return leaf(`${fieldPath(field)} like ${stringLiteral(pattern)}`);
}

export function notLike(field: string, pattern: string): Condition {
  return leaf(`${fieldPath(field)} not like ${stringLiteral(pattern)}`);
}

/** Substring match; the text is taken literally. */
export function contains(field: string, text: string): Condition {
  return leaf(`${fieldPath(field)} contains ${stringLiteral(text)}`);
}

export function notContains(field: string, text: string): Condition {
  return leaf(`${fieldPath(field)} not contains ${stringLiteral(text)}`);
}

export function startsWith(field: string, text: string): Condition {
  return like(field, `${likeLiteral(text)}*`);
}

/** `field in (a, b, c)`; an empty list matches nothing, which the grammar cannot express, so it is refused. */
export function isIn(field: string, values: readonly ConditionValue[]): Condition {
  if (values.length === 0) throw new RangeError(`isIn(${field}) needs at least one value`);
  return leaf(`${fieldPath(field)} in (${values.map(literal).join(", ")})`);
}

export function notIn(field: string, values: readonly ConditionValue[]): Condition {
  if (values.length === 0) throw new RangeError(`notIn(${field}) needs at least one value`);
  return leaf(`${fieldPath(field)} not in (${values.map(literal).join(", ")})`);
}

export function and(...conditions: Condition[]): Condition {
  return join("and", conditions);
}

export function or(...conditions: Condition[]): Condition {
  return join("or", conditions);
}

/**
 * Makes user text safe inside a `like` pattern. The guide says a literal `[` is written `[[]` (SQL Server LIKE
 * bracket escaping, docs/connectwise.md §5.1); the same bracket form neutralises the wildcard characters `*`,
 * `%` and `_`.
 */
export function likeLiteral(text: string): string {
  return text.replace(/[[*%_]/g, (char) => `[${char}]`);
}

/** The text for `?conditions=`; accepts a built Condition or an already written string. */
export function conditionsText(condition: Condition | string): string {
  return typeof condition === "string" ? condition : condition.text;
}

function leaf(text: string): Condition {
  return { kind: "condition", text, compound: false };
}

function join(operator: "and" | "or", conditions: Condition[]): Condition {
  if (conditions.length === 0) throw new RangeError(`${operator}() needs at least one condition`);
  const [only] = conditions;
  if (conditions.length === 1 && only) return only;
  // Children are always parenthesised when compound, so precedence never depends on the server's rules.
  const parts = conditions.map((condition) => (condition.compound ? `(${condition.text})` : condition.text));
  return { kind: "condition", text: parts.join(` ${operator} `), compound: true };
}

function fieldPath(field: string): string {
  if (!FIELD_PATH.test(field)) throw new TypeError(`not a ConnectWise field path: ${JSON.stringify(field)}`);
  return field;
}

function literal(value: ConditionValue): string {
  if (typeof value === "string") return stringLiteral(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
    // Numbers must be "only digits, optionally a decimal point and a negation sign"
    // (docs/connectwise.md §5.1): no exponent.
    if (!Number.isSafeInteger(value))
      throw new TypeError(`use decimal("…") for non-integer values: ${value}`);
    return String(value);
  }
  if (value instanceof Date) return `[${toCwDateTime(value)}]`;
  if (value.kind === "datetime") return `[${value.iso}]`;
  return value.value;
}

/**
 * Double-quoted string. Inside it a backslash escapes `"` and `\` (the JSON convention the guide documents for
 * bodies, docs/connectwise.md §4; for conditions this is [inferred]). Newlines cannot be represented
 * (docs/connectwise.md §4), so they are refused.
 */
function stringLiteral(text: string): string {
  if (/[\r\n]/.test(text)) throw new TypeError("condition strings cannot contain line breaks");
  return `"${text.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}
