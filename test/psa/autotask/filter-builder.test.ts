import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  assertValidFilter,
  countQueryLimits,
  decimal,
  filterBuilder,
  queryModel,
  where,
} from "../../../src/psa/autotask/filter.ts";
import type { AutotaskFilter } from "../../../src/psa/autotask/filter.ts";
import { stringifyJson } from "../../../src/psa/shared/json.ts";

describe("Autotask filter builder (docs/autotask.md §5.1, §5.2)", () => {
  it("docs/autotask.md §5.2 builds every comparison operator with the documented wire names", () => {
    const cases: Array<[AutotaskFilter, string]> = [
      [where.eq("companyID", 174), '{"op":"eq","field":"companyID","value":174}'],
      [where.noteq("status", 0), '{"op":"noteq","field":"status","value":0}'],
      [where.gt("id", 5), '{"op":"gt","field":"id","value":5}'],
      [where.gte("id", 0), '{"op":"gte","field":"id","value":0}'],
      [where.lt("endDate", "2025-01-01"), '{"op":"lt","field":"endDate","value":"2025-01-01"}'],
      [where.lte("startDate", "2025-01-01"), '{"op":"lte","field":"startDate","value":"2025-01-01"}'],
      [
        where.beginsWith("contractNumber", "CSP-"),
        '{"op":"beginsWith","field":"contractNumber","value":"CSP-"}',
      ],
      [where.endsWith("name", "(Annual)"), '{"op":"endsWith","field":"name","value":"(Annual)"}'],
      [where.contains("companyName", "dental"), '{"op":"contains","field":"companyName","value":"dental"}'],
      [where.exist("contractNumber"), '{"op":"exist","field":"contractNumber"}'],
      [where.notExist("contractNumber"), '{"op":"notExist","field":"contractNumber"}'],
      [where.in("contractType", [3, 7]), '{"op":"in","field":"contractType","value":[3,7]}'],
      [where.notIn("status", [0]), '{"op":"notIn","field":"status","value":[0]}'],
      [where.eq("isActive", true), '{"op":"eq","field":"isActive","value":true}'],
    ];
    for (const [filter, wire] of cases) assert.equal(stringifyJson(filter), wire);
  });

  it("docs/autotask.md §5.2 nests and/or groups with items", () => {
    const filter = where.and(
      where.eq("companyID", 174),
      where.or(
        where.beginsWith("contractNumber", "CSP-"),
        where.beginsWith("contractName", "CSP Microsoft "),
      ),
    );
    assert.deepEqual(JSON.parse(stringifyJson(filter)), {
      op: "and",
      items: [
        { op: "eq", field: "companyID", value: 174 },
        {
          op: "or",
          items: [
            { op: "beginsWith", field: "contractNumber", value: "CSP-" },
            { op: "beginsWith", field: "contractName", value: "CSP Microsoft " },
          ],
        },
      ],
    });
  });

  it("docs/autotask.md §5.2 sets udf: true and addresses a UDF by name", () => {
    assert.deepEqual(where.udf.gt("Number of Employees", 0), {
      op: "gt",
      field: "Number of Employees",
      value: 0,
      udf: true,
    });
    assert.deepEqual(where.udf.exist("Microsoft Tenant ID"), {
      op: "exist",
      field: "Microsoft Tenant ID",
      udf: true,
    });
    assert.deepEqual(where.udf.in("Tier", ["Gold"]), { op: "in", field: "Tier", value: ["Gold"], udf: true });
  });

  it("writes decimal values as bare JSON numbers without a float round trip", () => {
    assert.equal(
      stringifyJson(where.eq("unitPrice", decimal("0.846202666000000001"))),
      '{"op":"eq","field":"unitPrice","value":0.846202666000000001}',
    );
  });

  it("narrows field names to an entity's fields at compile time", () => {
    const contracts = filterBuilder<"id" | "companyID">();
    assert.deepEqual(contracts.eq("companyID", 1), { op: "eq", field: "companyID", value: 1 });
    // @ts-expect-error: not a field of this entity
    contracts.eq("unknownField", 1);
  });

  it("docs/autotask.md §5.1 all() is the conventional every-row filter", () => {
    assert.deepEqual(where.all(), { op: "gte", field: "id", value: 0 });
  });
});

describe("Autotask filter validation before sending (docs/autotask.md §5.1, §5.2)", () => {
  it("docs/autotask.md §5.1 rejects an empty filter", () => {
    assert.throws(() => assertValidFilter([]), /empty filter/);
  });

  it("rejects empty groups and empty in-lists", () => {
    assert.throws(() => assertValidFilter([where.or()]), /at least one item/);
    assert.throws(() => assertValidFilter([where.in("id", [])]), /at least one value/);
  });

  it("docs/autotask.md §5.2 allows only one UDF condition per query", () => {
    assertValidFilter([where.udf.eq("A", "1"), where.eq("id", 1)]);
    assert.throws(() => assertValidFilter([where.udf.eq("A", "1"), where.or(where.udf.eq("B", "2"))]), /UDF/);
  });

  it("docs/autotask.md §5.2 counts or-items and in-values against the 500 OR limit", () => {
    const ids = Array.from({ length: 498 }, (_, index) => index);
    const filters = [where.in("id", ids), where.or(where.eq("id", 1), where.eq("id", 2))];
    assert.deepEqual(countQueryLimits(filters), { orConditions: 500, udfConditions: 0 });
    assertValidFilter(filters);
    assert.throws(() => assertValidFilter([...filters, where.notIn("id", [9])]), /500 OR/);
  });

  it("docs/autotask.md §5.1 queryModel adds id to IncludeFields and checks MaxRecords 1..500", () => {
    assert.deepEqual(queryModel([where.all()], { includeFields: ["contractName"], maxRecords: 50 }), {
      filter: [{ op: "gte", field: "id", value: 0 }],
      IncludeFields: ["contractName", "id"],
      MaxRecords: 50,
    });
    assert.throws(() => queryModel([where.all()], { maxRecords: 501 }), /maxRecords/);
    assert.throws(() => queryModel([where.all()], { maxRecords: 0 }), /maxRecords/);
  });
});
