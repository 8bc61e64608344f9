import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConditionError,
  compileConditions,
  evaluateConditions,
  LITERAL_GUIDANCE,
  parseConditions,
} from "../../../emulators/connectwise/conditions.ts";
import { fieldResolver } from "../../../emulators/connectwise/records.ts";
import { RESOURCES } from "../../../emulators/connectwise/resources.ts";

const agreements = fieldResolver(RESOURCES.agreements);
const additions = fieldResolver(RESOURCES.additions);

const agreement = {
  id: 12,
  name: "Microsoft CSP - Contoso",
  company: { id: 250, identifier: "Contoso", name: "Contoso Ltd" },
  type: { id: 14, name: "CSP Licensing" },
  cancelledFlag: false,
  endDate: null,
  startDate: "2024-01-01T00:00:00Z",
  billAmount: "1250.5",
  _info: { lastUpdated: "2024-05-03T14:02:11Z", updatedBy: "admin1" },
};

function matches(text: string, record: unknown = agreement, caseInsensitive = true): boolean {
  return evaluateConditions(compileConditions(text, agreements), record, { caseInsensitive });
}

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => compileConditions(text, agreements),
    (error: unknown) => {
      assert.ok(error instanceof ConditionError, `expected a ConditionError for ${text}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("emulator conditions parser (docs/connectwise.md §5.1)", () => {
  it("docs/connectwise.md §5.1 parses comparisons into an AST with and binding tighter than or", () => {
    const node = parseConditions('a = 1 or b = "x" and c != null');
    assert.equal(node.kind, "or");
    assert.ok(node.kind === "or" && node.right.kind === "and");
    const grouped = parseConditions("(a = 1 or b = 2) and c = 3");
    assert.equal(grouped.kind, "and");
  });

  it("docs/connectwise.md §5.1 reads every literal form: quotes of both kinds with escapes, numbers, booleans, null, dates", () => {
    const node = parseConditions(
      `a = 'it\\'s' and b = "say \\"hi\\"" and c = -12.5 and d = True and e = NULL and f > [2016-08-20T18:04:26Z]`,
    );
    const values: unknown[] = [];
    const walk = (n: typeof node): void => {
      if (n.kind === "comparison") values.push(n.values[0]);
      else {
        walk(n.left);
        walk(n.right);
      }
    };
    walk(node);
    assert.deepEqual(
      values.map((value) => (value as { value?: unknown }).value ?? null),
      ["it's", 'say "hi"', "-12.5", true, null, "2016-08-20T18:04:26Z"],
    );
  });

  it("docs/connectwise.md §5.1 keywords and field names are case-insensitive", () => {
    assert.equal(matches("CancelledFlag = FALSE AND Company/Identifier = 'contoso'"), true);
    assert.equal(matches('name Not Contains "csp"'), false);
  });

  it("docs/connectwise.md §5.1 comparison operators on numbers compare exactly as decimals", () => {
    assert.equal(matches("billAmount = 1250.50"), true);
    assert.equal(matches("billAmount > 1250.49 and billAmount < 1250.51"), true);
    assert.equal(matches("billAmount >= 1250.5 and billAmount <= 1250.5 and id != 13"), true);
    assert.equal(matches("company/id = 251"), false);
  });

  it("docs/connectwise.md §5.1 like uses * and % wildcards, _ for one character and [[] for a literal bracket", () => {
    assert.equal(matches('name like "Microsoft*"'), true);
    assert.equal(matches('name like "%contoso"'), true);
    assert.equal(matches('name like "Microsoft CSP _ Contoso"'), true);
    assert.equal(matches('name like "Microsoft"'), false);
    assert.equal(matches('name not like "*Fabrikam*"'), true);
    const bracketed = { ...agreement, name: "[Legacy] plan" };
    assert.equal(matches('name like "[[]Legacy]*"', bracketed), true);
    assert.equal(matches('name like "[[]Other]*"', bracketed), false);
  });

  it("docs/connectwise.md §5.1 contains, in and not in", () => {
    assert.equal(matches('name contains "CSP"'), true);
    assert.equal(matches("company/id in (1, 250, 3)"), true);
    assert.equal(matches('type/name in ("Block Time", "csp licensing")'), true);
    assert.equal(matches("id not in (12)"), false);
  });

  it("docs/connectwise.md §5.1 null comparisons, and SQL semantics for comparisons against a null field", () => {
    assert.equal(matches("endDate = null"), true);
    assert.equal(matches("endDate != null"), false);
    assert.equal(matches("endDate > [2020-01-01T00:00:00Z]"), false);
    assert.equal(matches("endDate < [2020-01-01T00:00:00Z]"), false);
  });

  it("docs/connectwise.md §5.1 date-times in brackets compare as instants; lastUpdated reads _info", () => {
    assert.equal(matches("startDate >= [2024-01-01T00:00:00Z] and startDate < [2024-01-02]"), true);
    assert.equal(matches("lastUpdated > [2024-05-03T14:02:10Z]"), true);
    assert.equal(matches("_info/updatedBy = 'ADMIN1'"), true);
  });

  it("docs/connectwise.md §5.1 string comparisons ignore case by default and respect case when the switch is off", () => {
    assert.equal(matches('name = "microsoft csp - contoso"'), true);
    assert.equal(matches('name = "microsoft csp - contoso"', agreement, false), false);
  });

  it("docs/connectwise.md §5.1 nested fields resolve through references (company/id, product/identifier)", () => {
    const addition = {
      id: 1,
      product: { id: 55, identifier: "M365-PREM" },
      serialNumber: "cspsync:1",
      quantity: "25",
    };
    const check = (text: string): boolean =>
      evaluateConditions(compileConditions(text, additions), addition, { caseInsensitive: true });
    assert.equal(check('product/id = 55 and product/identifier = "m365-prem"'), true);
    assert.equal(check('serialNumber = "cspsync:1" and quantity = 25'), true);
  });

  describe("errors", () => {
    it("docs/connectwise.md §5.1 a wrongly typed literal gets the server's own message", () => {
      rejects(
        "cancelledFlag = 1",
        /^Expected a boolean value, not a numeric\. String values should be enclosed/,
      );
      assert.ok(LITERAL_GUIDANCE.endsWith("null values should be indicated by the keyword null."));
      rejects('id = "7"', /Expected a numeric value, not a string/);
      rejects('startDate > "2024-01-01"', /Expected a date-time value, not a string/);
      rejects("name = 5", /Expected a string value, not a numeric/);
    });

    it("docs/connectwise.md §5.1 unquoted words, bad dates and unterminated literals are rejected with the guidance text", () => {
      rejects("name = Acme", /Invalid value 'Acme'.*double or single quotes/);
      rejects("startDate > [yesterday]", /Invalid date-time value/);
      rejects('name = "open', /Unterminated string/);
      rejects("startDate > [2024-01-01", /Unterminated date-time/);
      rejects("id = 12abc", /Invalid value '12abc'/);
    });

    it("docs/connectwise.md §5.1 structural errors: unknown fields, missing operators, stray tokens, bad parentheses", () => {
      rejects("nosuchfield = 1", /Unknown field 'nosuchfield'/);
      rejects("company/nosuch = 1", /Unknown field/);
      rejects("id 1", /Unexpected|Expected an operator/);
      rejects("id = 1 and", /Unexpected end/);
      rejects("(id = 1", /Expected '\)'/);
      rejects("id = 1)", /Unexpected '\)'/);
      rejects("id ~ 1", /Unexpected character '~'/);
      rejects("id not = 1", /Expected like, contains or in after 'not'/);
      rejects("", /empty/);
    });

    it("docs/connectwise.md §5.1 operator/type mismatches: null only with = and !=, like only on strings", () => {
      rejects("endDate > null", /null can only be compared with = or !=/);
      rejects('id like "1*"', /like operator needs a string field/);
      rejects("company/id in (1, 'x')", /Expected a numeric value, not a string/);
    });
  });
});
