import { jsonNumber } from "../shared/json.ts";
import type { JsonNumberText } from "../shared/json.ts";
import type { DecimalString } from "../../core/money.ts";

/**
 * The Autotask query language (docs/autotask.md §5.1, §5.2): a `filter` array of conditions that are ANDed,
 * each `{op, field, value, udf}` or an `and`/`or` group with `items`. This module builds and checks it on the
 * client side; the emulator has its own parser/evaluator (emulator/query-engine.ts) so the two can disagree
 * in tests instead of sharing a bug.
 */

/** A scalar filter value. Money and quantities go as `decimal("12.34")` so they never pass through a float. */
export type FilterScalar = string | number | boolean | JsonNumberText;

export type ComparisonOperator =
  "eq" | "noteq" | "gt" | "gte" | "lt" | "lte" | "beginsWith" | "endsWith" | "contains";
export type ExistenceOperator = "exist" | "notExist";
export type ListOperator = "in" | "notIn";
export type GroupOperator = "and" | "or";
export type FilterOperator = ComparisonOperator | ExistenceOperator | ListOperator | GroupOperator;

export const COMPARISON_OPERATORS: readonly ComparisonOperator[] = [
  "eq",
  "noteq",
  "gt",
  "gte",
  "lt",
  "lte",
  "beginsWith",
  "endsWith",
  "contains",
];
export const EXISTENCE_OPERATORS: readonly ExistenceOperator[] = ["exist", "notExist"];
export const LIST_OPERATORS: readonly ListOperator[] = ["in", "notIn"];
export const GROUP_OPERATORS: readonly GroupOperator[] = ["and", "or"];

export type ComparisonCondition = { op: ComparisonOperator; field: string; value: FilterScalar; udf?: true };
export type ExistenceCondition = { op: ExistenceOperator; field: string; udf?: true };
export type ListCondition = { op: ListOperator; field: string; value: FilterScalar[]; udf?: true };
export type GroupCondition = { op: GroupOperator; items: AutotaskFilter[] };
export type AutotaskFilter = ComparisonCondition | ExistenceCondition | ListCondition | GroupCondition;

export function isGroup(condition: AutotaskFilter): condition is GroupCondition {
  return condition.op === "and" || condition.op === "or";
}

/** The documented limits (docs/autotask.md §5.2, §10). */
export const MAX_OR_CONDITIONS = 500;
export const MAX_UDF_CONDITIONS = 1;
export const MAX_PAGE_SIZE = 500;

/** Marks a decimal string as a JSON number in a filter or body (e.g. `eq("unitPrice", decimal("34.55"))`). */
export function decimal(value: DecimalString): JsonNumberText {
  return jsonNumber(value);
}

/** Builds conditions for one entity; `Field` narrows field names to that entity's (see models.ts). */
export type FilterBuilder<Field extends string> = {
  eq(field: Field, value: FilterScalar): ComparisonCondition;
  noteq(field: Field, value: FilterScalar): ComparisonCondition;
  gt(field: Field, value: FilterScalar): ComparisonCondition;
  gte(field: Field, value: FilterScalar): ComparisonCondition;
  lt(field: Field, value: FilterScalar): ComparisonCondition;
  lte(field: Field, value: FilterScalar): ComparisonCondition;
  beginsWith(field: Field, value: string): ComparisonCondition;
  endsWith(field: Field, value: string): ComparisonCondition;
  contains(field: Field, value: string): ComparisonCondition;
  exist(field: Field): ExistenceCondition;
  notExist(field: Field): ExistenceCondition;
  in(field: Field, values: readonly FilterScalar[]): ListCondition;
  notIn(field: Field, values: readonly FilterScalar[]): ListCondition;
  and(...items: AutotaskFilter[]): GroupCondition;
  or(...items: AutotaskFilter[]): GroupCondition;
  /**
   * "Every row": the API rejects an empty filter (docs/autotask.md §5.1), so this is the conventional
   * stand-in.
   */
  all(): ComparisonCondition;
  /**
   * The same operators on user-defined fields, addressed by UDF name with `udf: true`
   * (docs/autotask.md §5.2).
   */
  udf: UdfFilterBuilder;
};

export type UdfFilterBuilder = {
  eq(name: string, value: FilterScalar): ComparisonCondition;
  noteq(name: string, value: FilterScalar): ComparisonCondition;
  gt(name: string, value: FilterScalar): ComparisonCondition;
  gte(name: string, value: FilterScalar): ComparisonCondition;
  lt(name: string, value: FilterScalar): ComparisonCondition;
  lte(name: string, value: FilterScalar): ComparisonCondition;
  beginsWith(name: string, value: string): ComparisonCondition;
  endsWith(name: string, value: string): ComparisonCondition;
  contains(name: string, value: string): ComparisonCondition;
  exist(name: string): ExistenceCondition;
  notExist(name: string): ExistenceCondition;
  in(name: string, values: readonly FilterScalar[]): ListCondition;
  notIn(name: string, values: readonly FilterScalar[]): ListCondition;
};

function comparison(udf: boolean) {
  return (op: ComparisonOperator) =>
    (field: string, value: FilterScalar): ComparisonCondition =>
      udf ? { op, field, value, udf: true } : { op, field, value };
}

function existence(udf: boolean) {
  return (op: ExistenceOperator) =>
    (field: string): ExistenceCondition =>
      udf ? { op, field, udf: true } : { op, field };
}

function list(udf: boolean) {
  return (op: ListOperator) =>
    (field: string, values: readonly FilterScalar[]): ListCondition =>
      udf ? { op, field, value: [...values], udf: true } : { op, field, value: [...values] };
}

function conditionBuilders(udf: boolean): UdfFilterBuilder {
  const compare = comparison(udf);
  const exists = existence(udf);
  const inList = list(udf);
  return {
    eq: compare("eq"),
    noteq: compare("noteq"),
    gt: compare("gt"),
    gte: compare("gte"),
    lt: compare("lt"),
    lte: compare("lte"),
    beginsWith: compare("beginsWith"),
    endsWith: compare("endsWith"),
    contains: compare("contains"),
    exist: exists("exist"),
    notExist: exists("notExist"),
    in: inList("in"),
    notIn: inList("notIn"),
  };
}

export function filterBuilder<Field extends string = string>(): FilterBuilder<Field> {
  return {
    ...conditionBuilders(false),
    and: (...items) => ({ op: "and", items }),
    or: (...items) => ({ op: "or", items }),
    all: () => ({ op: "gte", field: "id", value: 0 }),
    udf: conditionBuilders(true),
  };
}

/** Untyped builder for any entity. */
export const where: FilterBuilder<string> = filterBuilder<string>();

export type QueryLimits = { orConditions: number; udfConditions: number };

/**
 * Counts what the API limits: each `or` item and each `in`/`notIn` value is one OR condition
 * (docs/autotask.md §5.2).
 */
export function countQueryLimits(filters: readonly AutotaskFilter[]): QueryLimits {
  const limits: QueryLimits = { orConditions: 0, udfConditions: 0 };
  const visit = (condition: AutotaskFilter): void => {
    if (isGroup(condition)) {
      if (condition.op === "or") limits.orConditions += condition.items.length;
      condition.items.forEach(visit);
      return;
    }
    if (condition.udf) limits.udfConditions += 1;
    if (condition.op === "in" || condition.op === "notIn") limits.orConditions += condition.value.length;
  };
  filters.forEach(visit);
  return limits;
}

/**
 * Rejects, before anything is sent, the queries the API is documented to reject (docs/autotask.md §5.1,
 * §5.2): an empty filter, empty groups or lists, more than one UDF condition, more than 500 OR conditions.
 */
export function assertValidFilter(filters: readonly AutotaskFilter[]): void {
  if (filters.length === 0) throw new RangeError("Autotask rejects an empty filter; use where.all()");
  const visit = (condition: AutotaskFilter): void => {
    if (isGroup(condition)) {
      if (condition.items.length === 0)
        throw new RangeError(`an '${condition.op}' group needs at least one item`);
      condition.items.forEach(visit);
      return;
    }
    if (condition.field.trim() === "") throw new RangeError(`'${condition.op}' needs a field name`);
    if ((condition.op === "in" || condition.op === "notIn") && condition.value.length === 0) {
      throw new RangeError(`'${condition.op}' on ${condition.field} needs at least one value`);
    }
  };
  filters.forEach(visit);
  const limits = countQueryLimits(filters);
  if (limits.udfConditions > MAX_UDF_CONDITIONS) {
    throw new RangeError(`Autotask allows only ${MAX_UDF_CONDITIONS} UDF condition per query`);
  }
  if (limits.orConditions > MAX_OR_CONDITIONS) {
    throw new RangeError(`Autotask allows at most ${MAX_OR_CONDITIONS} OR conditions per query`);
  }
}

export type QueryOptions = {
  /** Fields to return; `id` is added because paging keys on it (docs/autotask.md §5.1). */
  includeFields?: readonly string[];
  /** Page size, 1..500 (docs/autotask.md §5.1). */
  maxRecords?: number;
};

/** The QueryModel wire body (docs/autotask.md §5.1), in the key spelling Autotask's own docs use. */
export type QueryModelBody = { filter: AutotaskFilter[]; IncludeFields?: string[]; MaxRecords?: number };

export function queryModel(filters: readonly AutotaskFilter[], options: QueryOptions = {}): QueryModelBody {
  assertValidFilter(filters);
  const body: QueryModelBody = { filter: [...filters] };
  if (options.maxRecords !== undefined) {
    if (
      !Number.isInteger(options.maxRecords) ||
      options.maxRecords < 1 ||
      options.maxRecords > MAX_PAGE_SIZE
    ) {
      throw new RangeError(`maxRecords must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
    body.MaxRecords = options.maxRecords;
  }
  if (options.includeFields !== undefined && options.includeFields.length > 0) {
    const fields = new Set(options.includeFields);
    fields.add("id");
    body.IncludeFields = [...fields];
  }
  return body;
}
