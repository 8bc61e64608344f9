import { z } from "zod";
import { canonicalDecimal, isDecimalText } from "../../core/money.ts";
import type { DecimalString } from "../../core/money.ts";

/**
 * Both PSAs send money and quantities as JSON numbers. Going through a JS float would silently change
 * values such as 0.846202666 or large ids, so numbers are read and written from their exact source text.
 */

/** JSON.parse's third reviver argument (Node 24): the exact source text of a primitive value. */
type ReviverContext = { source?: string };

/** JSON.rawJSON (Node 24) is not in TypeScript's lib yet. */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** A decimal string that `stringifyJson` writes as a bare JSON number. Create it with `jsonNumber`. */
export class JsonNumberText {
  readonly text: string;
  constructor(text: string) {
    assertJsonNumberText(text);
    this.text = text;
    Object.freeze(this);
  }
  /**
   * JSON.stringify calls toJSON before any replacer, so this is where the bare number is produced; plain
   * JSON.stringify therefore also writes it, and a stray call cannot turn money into a string.
   */
  toJSON(): unknown {
    assertJsonNumberText(this.text);
    return rawJson(this.text);
  }
}

function assertJsonNumberText(text: string): void {
  if (typeof text !== "string" || !JSON_NUMBER.test(text)) {
    throw new TypeError(`not a JSON number: ${JSON.stringify(text)}`);
  }
}

/** Marks a decimal string (e.g. "120.96", "-3", "1e-7") to be written as a bare JSON number. */
export function jsonNumber(decimal: DecimalString): JsonNumberText {
  return new JsonNumberText(decimal);
}

export function isJsonNumberText(value: unknown): value is JsonNumberText {
  return value instanceof JsonNumberText;
}

/**
 * JSON.parse keeping exact numbers: safe integers stay numbers, any other number (fraction, exponent,
 * beyond 2^53) becomes its source text. A leading UTF-8 BOM is stripped (some servers send one).
 */
export function parseJson(text: string): unknown {
  return JSON.parse(stripBom(text), exactNumber);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Reviver: a number that is not a plain safe integer is replaced by its source text. */
function exactNumber(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value !== "number") return value;
  const source = context?.source ?? String(value);
  const isPlainSafeInteger = Number.isSafeInteger(value) && /^-?\d+$/.test(source);
  return isPlainSafeInteger ? value : source;
}

/**
 * Like `parseJson`, but non-safe-integer numbers become `JsonNumberText`, so `stringifyJson` writes them back
 * as the same bare numbers. Emulators use it to store and echo what a client sent, byte for byte.
 */
export function parseJsonKeepingNumbers(text: string): unknown {
  return JSON.parse(stripBom(text), (key: string, value: unknown, context?: ReviverContext) => {
    if (typeof value !== "number") return value;
    const exact = exactNumber(key, value, context);
    return typeof exact === "string" ? new JsonNumberText(exact) : exact;
  });
}

/** JSON.stringify writing `JsonNumberText` values as bare numbers (each is re-validated, see toJSON). */
export function stringifyJson(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError(`cannot serialize ${typeof value} as JSON`);
  return text;
}

/**
 * zod schema for an incoming decimal: a JSON number (possibly already kept as text by `parseJson`) or a
 * numeric string; outputs the canonical decimal string (no exponent, no trailing zeros).
 */
export const decimalString = z.union([z.number(), z.string()]).transform((input, ctx): DecimalString => {
  const text = typeof input === "number" ? String(input) : input.trim();
  if (typeof input === "number" && !Number.isFinite(input)) {
    ctx.addIssue({ code: "custom", message: "expected a finite number" });
    return z.NEVER;
  }
  if (!isDecimalText(text)) {
    ctx.addIssue({ code: "custom", message: `expected a decimal number, got ${JSON.stringify(input)}` });
    return z.NEVER;
  }
  return canonicalDecimal(text);
});
