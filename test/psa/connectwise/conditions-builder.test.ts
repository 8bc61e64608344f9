import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as where from "../../../src/psa/connectwise/conditions.ts";
import { compileConditions, evaluateConditions } from "../../../emulators/connectwise/conditions.ts";
import type { FieldResolver } from "../../../emulators/connectwise/conditions.ts";

describe("conditions builder (docs/connectwise.md §5.1)", () => {
  it("docs/connectwise.md §5.1 writes strings double-quoted with backslash escapes for quotes and backslashes", () => {
    assert.equal(where.eq("name", "Acme").text, 'name = "Acme"');
    assert.equal(where.eq("name", 'Fred "The Fixer" & Sons').text, 'name = "Fred \\"The Fixer\\" & Sons"');
    assert.equal(where.eq("name", "C:\\temp").text, 'name = "C:\\\\temp"');
  });

  it("docs/connectwise.md §5.1 writes numbers, decimals, booleans, null and date-times in their literal forms", () => {
    assert.equal(where.eq("company/id", 250).text, "company/id = 250");
    assert.equal(where.gt("unitPrice", where.decimal("22.50")).text, "unitPrice > 22.50");
    assert.equal(where.eq("cancelledFlag", false).text, "cancelledFlag = false");
    assert.equal(where.isNull("cancelledDate").text, "cancelledDate = null");
    assert.equal(where.isNotNull("cancelledDate").text, "cancelledDate != null");
    assert.equal(
      where.gt("lastUpdated", new Date("2024-01-01T00:00:00.123Z")).text,
      "lastUpdated > [2024-01-01T00:00:00Z]",
    );
    assert.equal(
      where.le("startDate", where.dateTime("2024-06-01")).text,
      "startDate <= [2024-06-01T00:00:00Z]",
    );
  });

  it("docs/connectwise.md §5.1 refuses values the grammar cannot carry", () => {
    assert.throws(() => where.eq("quantity", 1.5), /decimal/);
    assert.throws(() => where.eq("quantity", Number.NaN), /finite/);
    assert.throws(() => where.decimal("1e5"), /plain decimal/);
    assert.throws(() => where.eq("name", "two\nlines"), /line breaks/);
    assert.throws(() => where.eq("name; drop", "x"), /field path/);
    assert.throws(() => where.isIn("id", []), /at least one/);
    assert.throws(() => where.and(), /at least one/);
  });

  it("docs/connectwise.md §5.1 writes in-lists, like, contains and their negations", () => {
    assert.equal(where.isIn("board/id", [3, 2, 4]).text, "board/id in (3, 2, 4)");
    assert.equal(where.isIn("name", ["John", "Ben"]).text, 'name in ("John", "Ben")');
    assert.equal(where.notIn("id", [1]).text, "id not in (1)");
    assert.equal(where.like("summary", "*test*").text, 'summary like "*test*"');
    assert.equal(where.notLike("summary", "a*").text, 'summary not like "a*"');
    assert.equal(where.contains("name", "Dental").text, 'name contains "Dental"');
    assert.equal(where.notContains("summary", "Low Priority").text, 'summary not contains "Low Priority"');
  });

  it("docs/connectwise.md §5.1 startsWith neutralises wildcard characters in user text with bracket escapes", () => {
    assert.equal(where.likeLiteral("50%_off*[x]"), "50[%][_]off[*][[]x]");
    assert.equal(where.startsWith("name", "A*B").text, 'name like "A[*]B*"');
  });

  it("docs/connectwise.md §5.1 groups AND/OR with parentheses around compound children only", () => {
    const condition = where.and(
      where.eq("company/id", 7),
      where.or(where.isNull("endDate"), where.ge("endDate", where.dateTime("2025-01-01"))),
    );
    assert.equal(condition.text, "company/id = 7 and (endDate = null or endDate >= [2025-01-01T00:00:00Z])");
    assert.equal(where.and(where.eq("id", 1)).text, "id = 1");
    assert.equal(where.conditionsText("raw = 1"), "raw = 1");
  });

  describe("round trip through the emulator's parser", () => {
    const types: Record<string, "string" | "numeric" | "boolean" | "datetime"> = {
      name: "string",
      id: "numeric",
      price: "numeric",
      flag: "boolean",
      when: "datetime",
    };
    const resolve: FieldResolver = (field) => {
      const type = types[field];
      return type === undefined ? undefined : { path: [field], type };
    };
    const record = {
      name: 'Fred "The Fixer" & [Sons] 50%',
      id: 7,
      price: "22.5",
      flag: true,
      when: "2024-05-01T00:00:00Z",
    };
    const matches = (condition: where.Condition): boolean =>
      evaluateConditions(compileConditions(condition.text, resolve), record, { caseInsensitive: true });

    it("docs/connectwise.md §5.1 what the builder writes, the server reads back to the same value", () => {
      assert.equal(matches(where.eq("name", record.name)), true);
      assert.equal(matches(where.startsWith("name", 'Fred "The Fixer" & [Sons] 50')), true);
      assert.equal(matches(where.startsWith("name", "Fred_")), false, "an escaped _ is literal");
      assert.equal(matches(where.contains("name", "[sons]")), true);
      assert.equal(matches(where.eq("price", where.decimal("22.50"))), true);
      assert.equal(
        matches(where.and(where.eq("flag", true), where.gt("when", where.dateTime("2024-04-30")))),
        true,
      );
      assert.equal(matches(where.or(where.isIn("id", [1, 2]), where.isNull("name"))), false);
    });
  });
});
