import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EmulatorApiError } from "../../../emulators/autotask/api-error.ts";
import { countMatches, parseQueryModel, selectPage } from "../../../emulators/autotask/query-engine.ts";
import { ENTITIES } from "../../../emulators/autotask/schema.ts";
import type { Row } from "../../../emulators/autotask/store.ts";
import { parseJson } from "../../../src/psa/shared/json.ts";

const switches = { rejectEmptyFilter: true };
const companies = ENTITIES.Companies;
const charges = ENTITIES.ContractCharges;

const companyRows: Row[] = [
  {
    id: 10,
    companyName: "Harborview Dental Group",
    companyType: 1,
    isActive: true,
    city: "Seattle",
    createDate: "2024-02-01T08:00:00Z",
    userDefinedFields: [{ name: "Number of Employees", value: "42" }],
  },
  {
    id: 11,
    companyName: "Bluewater Logistics Ltd",
    companyType: 1,
    isActive: true,
    city: null,
    createDate: "2024-05-20T08:00:00Z",
    userDefinedFields: [{ name: "Number of Employees", value: "118" }],
  },
  {
    id: 12,
    companyName: "Old Mill Bakery",
    companyType: 6,
    isActive: false,
    city: "Tacoma",
    createDate: "2023-11-30T23:59:59Z",
    userDefinedFields: [],
  },
  {
    id: 13,
    companyName: "Greenfield Solar",
    companyType: 3,
    isActive: true,
    city: "Boise",
    createDate: null,
    userDefinedFields: [{ name: "Number of Employees", value: "9" }],
  },
];

const chargeRows: Row[] = [
  {
    id: 1,
    unitPrice: "34.55",
    unitQuantity: "3",
    datePurchased: "2025-03-01T00:00:00",
    userDefinedFields: [],
  },
  {
    id: 2,
    unitPrice: "0.846202666",
    unitQuantity: "1",
    datePurchased: "2025-03-02T00:00:00",
    userDefinedFields: [],
  },
  { id: 3, unitPrice: "-10", unitQuantity: "1", datePurchased: "2025-04-01T00:00:00", userDefinedFields: [] },
];

/** Parses the body as the emulator does (JSON text, numbers kept exact) and returns the matching ids. */
function ids(entity: typeof companies, rows: Row[], body: string): number[] {
  const query = parseQueryModel(parseJson(body), entity, switches);
  return selectPage(rows, query, -1).items.map((row) => row.id);
}

function companyIds(filter: unknown[]): number[] {
  return ids(companies, companyRows, JSON.stringify({ filter }));
}

function rejects(body: unknown, pattern: RegExp, entity = companies): void {
  assert.throws(
    () => parseQueryModel(body, entity, switches),
    (error: unknown) =>
      error instanceof EmulatorApiError &&
      error.status === 500 &&
      pattern.test(((error.body as { errors: string[] }).errors ?? []).join(" ")),
  );
}

describe("emulator query engine: operators (docs/autotask.md §5.2)", () => {
  it("eq / noteq, text compared case-insensitively", () => {
    assert.deepEqual(companyIds([{ op: "eq", field: "companyName", value: "old mill bakery" }]), [12]);
    assert.deepEqual(companyIds([{ op: "eq", field: "companyType", value: 1 }]), [10, 11]);
    assert.deepEqual(companyIds([{ op: "noteq", field: "companyType", value: 1 }]), [12, 13]);
  });

  it("noteq on a null field does not match (SQL semantics)", () => {
    assert.deepEqual(companyIds([{ op: "noteq", field: "city", value: "Seattle" }]), [12, 13]);
  });

  it("gt / gte / lt / lte on numbers", () => {
    assert.deepEqual(companyIds([{ op: "gt", field: "id", value: 11 }]), [12, 13]);
    assert.deepEqual(companyIds([{ op: "gte", field: "id", value: 11 }]), [11, 12, 13]);
    assert.deepEqual(companyIds([{ op: "lt", field: "id", value: 11 }]), [10]);
    assert.deepEqual(companyIds([{ op: "lte", field: "id", value: 11 }]), [10, 11]);
  });

  it("gt / lt on datetimes, accepting a date-only value", () => {
    assert.deepEqual(companyIds([{ op: "gte", field: "createDate", value: "2024-01-01" }]), [10, 11]);
    assert.deepEqual(companyIds([{ op: "lt", field: "createDate", value: "2024-02-01T08:00:00Z" }]), [12]);
  });

  it("comparisons on decimals are exact (no float rounding)", () => {
    const body = '{"filter":[{"op":"eq","field":"unitPrice","value":0.846202666}]}';
    assert.deepEqual(ids(charges, chargeRows, body), [2]);
    const negative = '{"filter":[{"op":"lt","field":"unitPrice","value":0}]}';
    assert.deepEqual(ids(charges, chargeRows, negative), [3]);
    const range = '{"filter":[{"op":"gte","field":"datePurchased","value":"2025-03-02"}]}';
    assert.deepEqual(ids(charges, chargeRows, range), [2, 3]);
  });

  it("beginsWith / endsWith / contains, case-insensitive", () => {
    assert.deepEqual(companyIds([{ op: "beginsWith", field: "companyName", value: "harbor" }]), [10]);
    assert.deepEqual(companyIds([{ op: "endsWith", field: "companyName", value: "LTD" }]), [11]);
    assert.deepEqual(companyIds([{ op: "contains", field: "companyName", value: "mill" }]), [12]);
  });

  it("exist / notExist", () => {
    assert.deepEqual(companyIds([{ op: "exist", field: "city" }]), [10, 12, 13]);
    assert.deepEqual(companyIds([{ op: "notExist", field: "city" }]), [11]);
  });

  it("in / notIn", () => {
    assert.deepEqual(companyIds([{ op: "in", field: "companyType", value: [3, 6] }]), [12, 13]);
    assert.deepEqual(companyIds([{ op: "notIn", field: "city", value: ["seattle", "tacoma"] }]), [13]);
  });

  it("booleans match real true/false", () => {
    assert.deepEqual(companyIds([{ op: "eq", field: "isActive", value: false }]), [12]);
  });

  it("top-level entries are ANDed; and/or groups nest", () => {
    assert.deepEqual(
      companyIds([
        { op: "eq", field: "isActive", value: true },
        {
          op: "or",
          items: [
            { op: "eq", field: "companyType", value: 3 },
            {
              op: "and",
              items: [
                { op: "contains", field: "companyName", value: "dental" },
                { op: "exist", field: "city" },
              ],
            },
          ],
        },
      ]),
      [10, 13],
    );
  });

  it("docs/autotask.md §5.2 UDF conditions address userDefinedFields by name with udf: true", () => {
    assert.deepEqual(
      companyIds([{ op: "gt", field: "Number of Employees", value: 40, udf: true }]),
      [10, 11],
    );
    assert.deepEqual(companyIds([{ op: "notExist", field: "number of employees", udf: true }]), [12]);
  });

  it("docs/autotask.md §3 accepts key names, field names and operators case-insensitively", () => {
    const body = '{"Filter":[{"Op":"BEGINSWITH","Field":"COMPANYNAME","Value":"green"}],"maxrecords":1}';
    assert.deepEqual(ids(companies, companyRows, body), [13]);
  });
});

describe("emulator query engine: paging, projection and limits (docs/autotask.md §5.1, §5.3)", () => {
  it("docs/autotask.md §5.3 returns pageSize rows after the id cursor, ascending, and says whether more remain", () => {
    const query = parseQueryModel(
      { filter: [{ op: "gte", field: "id", value: 0 }], MaxRecords: 2 },
      companies,
      switches,
    );
    const shuffled = [companyRows[3], companyRows[0], companyRows[2], companyRows[1]] as Row[];
    const first = selectPage(shuffled, query, -1);
    assert.deepEqual(
      first.items.map((row) => row.id),
      [10, 11],
    );
    assert.equal(first.hasMore, true);
    const second = selectPage(shuffled, query, first.lastId ?? 0);
    assert.deepEqual(
      second.items.map((row) => row.id),
      [12, 13],
    );
    assert.equal(second.hasMore, false);
    assert.equal(countMatches(shuffled, query), 4);
  });

  it("docs/autotask.md §12 clamps MaxRecords to 1..500 and defaults to 500", () => {
    const all = { filter: [{ op: "exist", field: "id" }] };
    assert.equal(parseQueryModel({ ...all, MaxRecords: 9000 }, companies, switches).pageSize, 500);
    assert.equal(parseQueryModel({ ...all, MaxRecords: 0 }, companies, switches).pageSize, 1);
    assert.equal(parseQueryModel(all, companies, switches).pageSize, 500);
  });

  it("docs/autotask.md §5.1 IncludeFields resolves names case-insensitively", () => {
    const query = parseQueryModel(
      { filter: [{ op: "exist", field: "id" }], includeFields: ["COMPANYNAME"] },
      companies,
      switches,
    );
    assert.deepEqual(query.includeFields, ["companyName"]);
  });
});

describe("emulator query engine: rejected queries answer HTTP 500 errors[] (docs/autotask.md §5, §9)", () => {
  it("docs/autotask.md §5.1 an empty or missing filter (switchable)", () => {
    rejects({ filter: [] }, /at least one filter/);
    rejects({}, /at least one filter/);
    assert.equal(
      parseQueryModel({ filter: [] }, companies, { rejectEmptyFilter: false }).filter.kind,
      "group",
    );
  });

  it("docs/autotask.md §5.2 an unknown field: 'Unable to find <field> in the <Entity> Entity'", () => {
    rejects(
      { filter: [{ op: "eq", field: "isActive", value: true }] },
      /Unable to find isActive in the ContractCharge Entity/,
      charges,
    );
    rejects({ filter: [{ op: "eq", field: "Shoe Size", value: 1, udf: true }] }, /Unable to find Shoe Size/);
    rejects({ filter: [{ op: "exist", field: "id" }], IncludeFields: ["nope"] }, /Unable to find nope/);
  });

  it("an unknown operator, a missing field, a group without items", () => {
    rejects({ filter: [{ op: "like", field: "companyName", value: "x" }] }, /unknown operator/);
    rejects({ filter: [{ op: "eq", value: "x" }] }, /requires a 'field'/);
    rejects({ filter: [{ op: "or", items: [] }] }, /non-empty 'items'/);
    rejects({ filter: [{ op: "in", field: "id", value: [] }] }, /non-empty array/);
    rejects({ filter: "id > 0" }, /must be an array/);
  });

  it("docs/autotask.md §5.2 more than 500 OR conditions (in-values count one each)", () => {
    const values = Array.from({ length: 501 }, (_, index) => index);
    rejects(
      { filter: [{ op: "in", field: "id", value: values }] },
      /limited to 500 or fewer 'OR' conditions/,
    );
    const items = Array.from({ length: 501 }, (_, index) => ({ op: "eq", field: "id", value: index }));
    rejects({ filter: [{ op: "or", items }] }, /limited to 500 or fewer 'OR' conditions/);
  });

  it("docs/autotask.md §5.2 more than one UDF condition", () => {
    rejects(
      {
        filter: [
          { op: "exist", field: "Number of Employees", udf: true },
          { op: "exist", field: "Microsoft Tenant ID", udf: true },
        ],
      },
      /one user-defined field/,
    );
  });

  it("docs/autotask.md §3 values of the wrong type: booleans must be true/false, numbers numeric, dates dates", () => {
    rejects({ filter: [{ op: "eq", field: "isActive", value: "true" }] }, /Invalid value "true"/);
    rejects({ filter: [{ op: "eq", field: "isActive", value: null }] }, /Invalid value null/);
    rejects({ filter: [{ op: "eq", field: "companyType", value: "customer" }] }, /Invalid value/);
    rejects({ filter: [{ op: "eq", field: "companyType", value: 1.5 }] }, /Invalid value/);
    rejects({ filter: [{ op: "gt", field: "createDate", value: "yesterday" }] }, /Invalid value/);
    rejects({ filter: [{ op: "eq", field: "companyName" }] }, /no value/);
  });

  it("text operators only on text fields; ordering not on booleans", () => {
    rejects({ filter: [{ op: "contains", field: "companyType", value: "1" }] }, /only to text fields/);
    rejects({ filter: [{ op: "gt", field: "isActive", value: true }] }, /boolean field/);
  });
});
