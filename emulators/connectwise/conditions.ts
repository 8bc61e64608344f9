import { Dec } from "../../src/core/money.ts";

/**
 * Server side of the ConnectWise `conditions` language (docs/connectwise.md §5.1): a tokenizer, a
 * recursive-descent parser producing an AST, a type check against the resource's field types, and an
 * evaluator over records.
 *
 * Grammar (keywords case-insensitive):
 *   expression := conjunction ("or" conjunction)*
 *   conjunction := primary ("and" primary)*
 *   primary    := "(" expression ")" | comparison
 *   comparison := field ( ("=" | "!=" | "<" | "<=" | ">" | ">=") literal
 *                       | ["not"] ("like" | "contains") string
 *                       | ["not"] "in" "(" literal ("," literal)* ")" )
 *   field      := name ("/" name)*
 *   literal    := "string" | 'string' | number | true | false | null | [date-time]
 */

/** The server's own guidance text, appended to every literal error (quoted in docs/connectwise.md §5.1). */
export const LITERAL_GUIDANCE =
  "String values should be enclosed with double or single quotes; DateTime values should be enclosed in square brackets; numbers should consist of only digits, and optionally a decimal point and a negation sign; boolean values should be indicated with the keywords true or false; null values should be indicated by the keyword null.";

export class ConditionError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = "ConditionError";
    this.position = position;
  }
}

export type Literal =
  | { type: "string"; value: string }
  | { type: "numeric"; value: string }
  | { type: "boolean"; value: boolean }
  | { type: "datetime"; value: string; epochMs: number }
  | { type: "null" };

export type ComparisonOp = "=" | "!=" | "<" | "<=" | ">" | ">=" | "like" | "contains" | "in";

export type ConditionNode =
  | { kind: "and" | "or"; left: ConditionNode; right: ConditionNode }
  | {
      kind: "comparison";
      field: string;
      fieldPosition: number;
      op: ComparisonOp;
      negated: boolean;
      values: Literal[];
    };

// ---------------------------------------------------------------------------------------------- tokenizer

type Token =
  | { kind: "word"; text: string; position: number }
  | { kind: "literal"; literal: Literal; position: number }
  | { kind: "punct"; text: "(" | ")" | ","; position: number }
  | { kind: "op"; text: "=" | "!=" | "<" | "<=" | ">" | ">="; position: number }
  | { kind: "end"; position: number };

const WORD = /[A-Za-z_][A-Za-z0-9_]*(?:\/[A-Za-z_][A-Za-z0-9_]*)*/y;
const NUMBER = /-?(?:\d+(?:\.\d*)?|\.\d+)/y;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const char = text.charAt(index);
    if (/\s/.test(char)) {
      index += 1;
    } else if (char === "(" || char === ")" || char === ",") {
      tokens.push({ kind: "punct", text: char, position: index });
      index += 1;
    } else if (char === '"' || char === "'") {
      const { value, end } = readString(text, index);
      tokens.push({ kind: "literal", literal: { type: "string", value }, position: index });
      index = end;
    } else if (char === "[") {
      const close = text.indexOf("]", index);
      if (close < 0) throw new ConditionError(`Unterminated date-time value. ${LITERAL_GUIDANCE}`, index);
      tokens.push({
        kind: "literal",
        literal: parseDateTime(text.slice(index + 1, close), index),
        position: index,
      });
      index = close + 1;
    } else if ("=!<>".includes(char)) {
      const two = text.slice(index, index + 2);
      const op = two === "!=" || two === "<=" || two === ">=" ? two : char;
      if (op === "!") throw new ConditionError(`Unexpected character '!' at position ${index}.`, index);
      tokens.push({ kind: "op", text: op as "=" | "<" | ">" | "!=" | "<=" | ">=", position: index });
      index += op.length;
    } else if (matchAt(NUMBER, text, index) !== undefined && !/[A-Za-z_]/.test(text.charAt(index))) {
      const number = matchAt(NUMBER, text, index) ?? "";
      if (/[A-Za-z_]/.test(text.charAt(index + number.length))) {
        throw new ConditionError(`Invalid value '${readBareWord(text, index)}'. ${LITERAL_GUIDANCE}`, index);
      }
      tokens.push({ kind: "literal", literal: { type: "numeric", value: number }, position: index });
      index += number.length;
    } else {
      const word = matchAt(WORD, text, index);
      if (word === undefined)
        throw new ConditionError(`Unexpected character '${char}' at position ${index}.`, index);
      tokens.push(wordToken(word, index));
      index += word.length;
    }
  }
  tokens.push({ kind: "end", position: text.length });
  return tokens;
}

function matchAt(pattern: RegExp, text: string, index: number): string | undefined {
  pattern.lastIndex = index;
  return pattern.exec(text)?.[0];
}

function readBareWord(text: string, index: number): string {
  return /^[^\s()]+/.exec(text.slice(index))?.[0] ?? text.charAt(index);
}

/** Keywords that are values become literals here; `and`, `or`, `not`, `like`, `contains`, `in` stay words. */
function wordToken(word: string, position: number): Token {
  const lower = word.toLowerCase();
  if (lower === "true" || lower === "false") {
    return { kind: "literal", literal: { type: "boolean", value: lower === "true" }, position };
  }
  if (lower === "null") return { kind: "literal", literal: { type: "null" }, position };
  return { kind: "word", text: word, position };
}

/** A quoted string; a backslash escapes a quote or a backslash, any other backslash is kept as written. */
function readString(text: string, start: number): { value: string; end: number } {
  const quote = text.charAt(start);
  let value = "";
  for (let index = start + 1; index < text.length; index += 1) {
    const char = text.charAt(index);
    if (char === "\\" && index + 1 < text.length && `"'\\`.includes(text.charAt(index + 1))) {
      value += text.charAt(index + 1);
      index += 1;
    } else if (char === quote) {
      return { value, end: index + 1 };
    } else {
      value += char;
    }
  }
  throw new ConditionError(`Unterminated string value. ${LITERAL_GUIDANCE}`, start);
}

function parseDateTime(body: string, position: number): Literal {
  const match = DATE_TIME.exec(body.trim());
  const epochMs = match ? Date.parse(normaliseDateTime(match)) : Number.NaN;
  if (!match || Number.isNaN(epochMs)) {
    throw new ConditionError(`Invalid date-time value [${body}]. ${LITERAL_GUIDANCE}`, position);
  }
  return { type: "datetime", value: new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z"), epochMs };
}

/** A date without a zone is read as UTC, like every other date the API handles (docs/connectwise.md §4). */
function normaliseDateTime(match: RegExpExecArray): string {
  const [, year, month, day, hours = "00", minutes = "00", seconds = "00", zone = "Z"] = match;
  const offset = zone === "Z" || zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return `${year}-${month}-${day}T${hours}:${minutes}:${seconds}${offset}`;
}

// ---------------------------------------------------------------------------------------------- parser

export function parseConditions(text: string): ConditionNode {
  const parser = new Parser(tokenize(text));
  if (parser.peek().kind === "end") throw new ConditionError("The conditions are empty.", 0);
  const node = parser.expression();
  const rest = parser.peek();
  if (rest.kind !== "end") throw new ConditionError(unexpected(rest), rest.position);
  return node;
}

class Parser {
  readonly #tokens: Token[];
  #index = 0;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  peek(): Token {
    return this.#tokens[this.#index] ?? this.#tokens[this.#tokens.length - 1]!;
  }

  #next(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.#index += 1;
    return token;
  }

  #isKeyword(keyword: string): boolean {
    const token = this.peek();
    return token.kind === "word" && token.text.toLowerCase() === keyword;
  }

  expression(): ConditionNode {
    let left = this.#conjunction();
    while (this.#isKeyword("or")) {
      this.#next();
      left = { kind: "or", left, right: this.#conjunction() };
    }
    return left;
  }

  #conjunction(): ConditionNode {
    let left = this.#primary();
    while (this.#isKeyword("and")) {
      this.#next();
      left = { kind: "and", left, right: this.#primary() };
    }
    return left;
  }

  #primary(): ConditionNode {
    const token = this.#next();
    if (token.kind === "punct" && token.text === "(") {
      const inner = this.expression();
      this.#expectPunct(")");
      return inner;
    }
    if (token.kind !== "word" || isReserved(token.text))
      throw new ConditionError(unexpected(token), token.position);
    return this.#comparison(token.text, token.position);
  }

  #comparison(field: string, fieldPosition: number): ConditionNode {
    const base = { kind: "comparison" as const, field, fieldPosition };
    const token = this.#next();
    if (token.kind === "op") return { ...base, op: token.text, negated: false, values: [this.#literal()] };
    if (token.kind !== "word")
      throw new ConditionError(`Expected an operator after ${field}.`, token.position);
    let keyword = token.text.toLowerCase();
    const negated = keyword === "not";
    if (negated) {
      const after = this.#next();
      keyword = after.kind === "word" ? after.text.toLowerCase() : "";
      if (!["like", "contains", "in"].includes(keyword)) {
        throw new ConditionError(`Expected like, contains or in after 'not'.`, after.position);
      }
    }
    if (keyword === "like" || keyword === "contains") {
      return { ...base, op: keyword, negated, values: [this.#literal()] };
    }
    if (keyword === "in") return { ...base, op: "in", negated, values: this.#list() };
    throw new ConditionError(`Unknown operator '${token.text}' after ${field}.`, token.position);
  }

  #list(): Literal[] {
    this.#expectPunct("(");
    const values = [this.#literal()];
    while (this.peek().kind === "punct" && (this.peek() as { text: string }).text === ",") {
      this.#next();
      values.push(this.#literal());
    }
    this.#expectPunct(")");
    return values;
  }

  #literal(): Literal {
    const token = this.#next();
    if (token.kind === "literal") return token.literal;
    if (token.kind === "word") {
      throw new ConditionError(`Invalid value '${token.text}'. ${LITERAL_GUIDANCE}`, token.position);
    }
    throw new ConditionError(`Expected a value. ${LITERAL_GUIDANCE}`, token.position);
  }

  #expectPunct(text: "(" | ")"): void {
    const token = this.#next();
    if (token.kind !== "punct" || token.text !== text) {
      throw new ConditionError(`Expected '${text}' at position ${token.position}.`, token.position);
    }
  }
}

const RESERVED = new Set(["and", "or", "not", "like", "contains", "in"]);

function isReserved(word: string): boolean {
  return RESERVED.has(word.toLowerCase());
}

function unexpected(token: Token): string {
  if (token.kind === "end") return "Unexpected end of conditions.";
  const text = token.kind === "literal" ? describeLiteral(token.literal) : token.text;
  return `Unexpected '${text}' at position ${token.position}.`;
}

function describeLiteral(literal: Literal): string {
  if (literal.type === "null") return "null";
  if (literal.type === "datetime") return `[${literal.value}]`;
  return String(literal.value);
}

// ---------------------------------------------------------------------------------------------- type check

/** Types a resource exposes to conditions; "any" is for custom field values, whose type varies per field. */
export type FieldType = "string" | "numeric" | "boolean" | "datetime" | "any";
export type ResolvedField = { path: string[]; type: FieldType };
/** Maps a field path as written (any case) to its canonical path and type, or undefined when unknown. */
export type FieldResolver = (field: string) => ResolvedField | undefined;

export type CheckedComparison = Extract<ConditionNode, { kind: "comparison" }> & { resolved: ResolvedField };
export type CheckedNode = { kind: "and" | "or"; left: CheckedNode; right: CheckedNode } | CheckedComparison;

/** Parses and type-checks; throws ConditionError with the server's wording on any problem. */
export function compileConditions(text: string, resolve: FieldResolver): CheckedNode {
  return check(parseConditions(text), resolve);
}

function check(node: ConditionNode, resolve: FieldResolver): CheckedNode {
  if (node.kind !== "comparison") {
    return { kind: node.kind, left: check(node.left, resolve), right: check(node.right, resolve) };
  }
  const resolved = resolve(node.field);
  if (!resolved) throw new ConditionError(`Unknown field '${node.field}' in conditions.`, node.fieldPosition);
  for (const value of node.values) checkLiteral(node, resolved.type, value);
  return { ...node, resolved };
}

function checkLiteral(node: ConditionNode & { kind: "comparison" }, type: FieldType, value: Literal): void {
  const textual = node.op === "like" || node.op === "contains";
  if (value.type === "null") {
    if (node.op === "=" || node.op === "!=") return;
    throw new ConditionError(
      `null can only be compared with = or !=. ${LITERAL_GUIDANCE}`,
      node.fieldPosition,
    );
  }
  if (textual && type !== "string" && type !== "any") {
    throw new ConditionError(
      `The ${node.op} operator needs a string field; ${node.field} is not one.`,
      node.fieldPosition,
    );
  }
  if (type === "any" || value.type === expectedLiteral(type, textual)) return;
  throw new ConditionError(
    `Expected a ${literalNoun(expectedLiteral(type, textual))} value, not a ${literalNoun(value.type)}. ${LITERAL_GUIDANCE}`,
    node.fieldPosition,
  );
}

function expectedLiteral(type: Exclude<FieldType, "any">, textual: boolean): Literal["type"] {
  return textual ? "string" : type;
}

function literalNoun(type: Literal["type"]): string {
  return type === "datetime" ? "date-time" : type;
}

// ---------------------------------------------------------------------------------------------- evaluation

export type EvaluationOptions = {
  /**
   * SQL Server collation: string comparisons ignore case (docs/connectwise.md §5.1 [inferred]); a switch can
   * turn it off.
   */
  caseInsensitive: boolean;
};

export function evaluateConditions(node: CheckedNode, record: unknown, options: EvaluationOptions): boolean {
  if (node.kind !== "comparison") {
    const left = evaluateConditions(node.left, record, options);
    if (node.kind === "and" ? !left : left) return left;
    return evaluateConditions(node.right, record, options);
  }
  return evaluateComparison(node, valueAt(record, node.resolved.path), options);
}

/** Walks a canonical path; a missing or null step yields null, as a SQL join on a missing reference would. */
export function valueAt(record: unknown, path: readonly string[]): unknown {
  let current: unknown = record;
  for (const segment of path) {
    if (current === null || typeof current !== "object") return null;
    current = (current as Record<string, unknown>)[segment];
  }
  return current ?? null;
}

function evaluateComparison(node: CheckedComparison, actual: unknown, options: EvaluationOptions): boolean {
  const [first] = node.values;
  if (first?.type === "null") return node.op === "=" ? actual === null : actual !== null;
  // SQL semantics: a null field satisfies no comparison against a value, negated or not.
  if (actual === null || first === undefined) return false;
  switch (node.op) {
    case "like":
      return likeMatches(String(actual), stringOf(first), options) !== node.negated;
    case "contains":
      return containsText(String(actual), stringOf(first), options) !== node.negated;
    case "in":
      return node.values.some((value) => compareValues(actual, value, options) === 0) !== node.negated;
    default:
      return orderingHolds(node.op, compareValues(actual, first, options));
  }
}

function stringOf(literal: Literal): string {
  return literal.type === "string" ? literal.value : "";
}

function orderingHolds(op: "=" | "!=" | "<" | "<=" | ">" | ">=", order: number | undefined): boolean {
  if (order === undefined) return op === "!=";
  if (op === "=") return order === 0;
  if (op === "!=") return order !== 0;
  if (op === "<") return order < 0;
  if (op === "<=") return order <= 0;
  if (op === ">") return order > 0;
  return order >= 0;
}

/** Orders a stored value against a literal; undefined when they cannot be compared (never equal). */
export function compareValues(
  actual: unknown,
  literal: Literal,
  options: EvaluationOptions,
): number | undefined {
  switch (literal.type) {
    case "numeric": {
      const number = toDecimal(actual);
      return number === undefined ? undefined : number.comparedTo(literal.value);
    }
    case "boolean":
      return typeof actual === "boolean" ? Number(actual) - Number(literal.value) : undefined;
    case "datetime": {
      const epoch = typeof actual === "string" ? Date.parse(actual) : Number.NaN;
      return Number.isNaN(epoch) ? undefined : Math.sign(epoch - literal.epochMs);
    }
    case "string":
      return compareStrings(scalarText(actual), literal.value, options);
    default:
      return undefined;
  }
}

function scalarText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value !== null && typeof value === "object" && "text" in value)
    return String((value as { text: unknown }).text);
  return JSON.stringify(value);
}

function toDecimal(value: unknown): Dec | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return new Dec(value);
  if (typeof value === "string" && /^-?\d*\.?\d+$/.test(value)) return new Dec(value);
  if (value !== null && typeof value === "object" && "text" in value)
    return toDecimal((value as { text: unknown }).text);
  return undefined;
}

export function compareStrings(left: string, right: string, options: EvaluationOptions): number {
  const a = options.caseInsensitive ? left.toLowerCase() : left;
  const b = options.caseInsensitive ? right.toLowerCase() : right;
  return a < b ? -1 : a > b ? 1 : 0;
}

function containsText(actual: string, text: string, options: EvaluationOptions): boolean {
  return options.caseInsensitive ? actual.toLowerCase().includes(text.toLowerCase()) : actual.includes(text);
}

/**
 * `*` (guide) and `%` (seen in the wild) match any run, `_` one character, `[...]` a character class, so `[[]`
 * is a literal `[` as the guide prescribes (docs/connectwise.md §5.1).
 */
export function likeMatches(actual: string, pattern: string, options: EvaluationOptions): boolean {
  return likePatternToRegExp(pattern, options.caseInsensitive).test(actual);
}

export function likePatternToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = "";
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern.charAt(index);
    if (char === "*" || char === "%") source += "[\\s\\S]*";
    else if (char === "_") source += "[\\s\\S]";
    else if (char === "[") {
      const close = pattern.indexOf("]", index + 2);
      if (close < 0) {
        source += "\\[";
        continue;
      }
      source += characterClass(pattern.slice(index + 1, close));
      index = close;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? "iu" : "u");
}

function characterClass(body: string): string {
  const negated = body.startsWith("^");
  const members = (negated ? body.slice(1) : body).replace(/[\\\]^[]/g, (char) => `\\${char}`);
  return `[${negated ? "^" : ""}${members}]`;
}

function escapeRegExp(char: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(char) ? `\\${char}` : char;
}
