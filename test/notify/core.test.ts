import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  connectionProblem,
  digestFigures,
  formatAmounts,
  healthTransition,
  outboxKey,
  shouldSend,
  signWebhook,
  verifyWebhook,
} from "../../src/core/notifications.ts";
import { failureSentence } from "../../src/psa/shared/error-sentences.ts";
import { PsaAuthError, PsaNetworkError, PsaValidationError } from "../../src/psa/shared/errors.ts";

const at = (vendor: "connectwise" | "autotask") => ({ vendor, method: "GET", url: "https://x.example/api" });

describe("notification rules (pure)", () => {
  it("a channel hears an event at or above its minimum, a kind's own rule wins, off is off, a test always", () => {
    const rules = {
      minSeverity: "warning" as const,
      overrides: { "lines-held": "off" as const, "run-warnings": "error" as const },
    };
    assert.equal(shouldSend(rules, { kind: "run-errors", severity: "error" }), true);
    assert.equal(shouldSend(rules, { kind: "invoice-missing", severity: "warning" }), true);
    assert.equal(shouldSend(rules, { kind: "digest", severity: "info" }), false);
    assert.equal(shouldSend(rules, { kind: "lines-held", severity: "warning" }), false);
    assert.equal(shouldSend(rules, { kind: "run-warnings", severity: "warning" }), false);
    assert.equal(shouldSend(rules, { kind: "test", severity: "info" }), true);
    // A recovery goes where its failure went.
    assert.equal(
      shouldSend({ minSeverity: "error", overrides: {} }, { kind: "subject-recovered", severity: "info" }),
      true,
    );
  });

  it("health: failing is told when it starts, not while it lasts; recovery once", () => {
    const first = healthTransition(null, "failing", "2026-01-01T06:00:00.000Z");
    assert.deepEqual(
      [first.change, first.next],
      ["failing", { state: "failing", failingSince: "2026-01-01T06:00:00.000Z" }],
    );
    const again = healthTransition(first.next, "failing", "2026-01-02T06:00:00.000Z");
    assert.deepEqual([again.change, again.next.failingSince], [null, "2026-01-01T06:00:00.000Z"]);
    const back = healthTransition(again.next, "ok", "2026-01-03T06:00:00.000Z");
    assert.deepEqual(
      [back.change, back.failingSince, back.next.state],
      ["recovered", "2026-01-01T06:00:00.000Z", "ok"],
    );
    assert.equal(healthTransition(back.next, "ok", "2026-01-04T06:00:00.000Z").change, null);
    assert.equal(healthTransition(null, "ok", "2026-01-04T06:00:00.000Z").change, null);
  });

  it("the PSA's credential, permission and network sentences are connection problems; a rejected line is not", () => {
    const auth = failureSentence(new PsaAuthError({ ...at("connectwise"), status: 401 }));
    const permission = failureSentence(new PsaAuthError({ ...at("autotask"), status: 403 }));
    const network = failureSentence(new PsaNetworkError({ ...at("autotask"), reason: "ECONNREFUSED" }));
    const rejected = failureSentence(
      new PsaValidationError({ ...at("connectwise"), status: 400, details: ["bad"] }),
    );
    assert.equal(connectionProblem([auth]), auth);
    assert.equal(connectionProblem([permission]), permission);
    assert.equal(connectionProblem([network]), network);
    assert.equal(connectionProblem([rejected]), null);
    assert.equal(connectionProblem(["the sync could not start: no key"]), "the sync could not start: no key");
  });

  it("keys are per event and channel; signatures are HMAC-SHA256 over timestamp.body", () => {
    assert.equal(outboxKey("run:1:errors", "c1"), outboxKey("run:1:errors", "c1"));
    assert.notEqual(outboxKey("run:1:errors", "c1"), outboxKey("run:1:errors", "c2"));
    // Pinned: receivers compute the same with any HMAC library (docs/notifications.md).
    assert.equal(
      signWebhook("secret", 1700000000, '{"a":1}'),
      "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686",
    );
    assert.equal(verifyWebhook("secret", signWebhook("secret", 1700000000, "{}"), "{}", 1700000100), true);
  });

  it("amounts are written in each currency's own minor units, rounded half up", () => {
    assert.equal(
      formatAmounts({ USD: "12.345", JPY: "1234.5", BHD: "1.2345", EUR: "-0.005" }),
      "1.235 BHD, -0.01 EUR, 1235 JPY, 12.35 USD",
    );
    assert.equal(formatAmounts({}), "0");
  });

  it("digest figures: per connection, totals per currency in decimal", () => {
    const figures = digestFigures(
      "2026-03-02",
      [
        { connectionId: "a", connectionName: "CW", status: "success", written: 3, warnings: 0, errors: 0 },
        { connectionId: "a", connectionName: "CW", status: "error", written: 0, warnings: 0, errors: 2 },
        { connectionId: "b", connectionName: "AT", status: "warning", written: 1, warnings: 1, errors: 0 },
      ],
      [
        { connectionId: "a", connectionName: "CW", currency: "EUR", amount: "0.1" },
        { connectionId: "a", connectionName: "CW", currency: "EUR", amount: "0.2" },
        { connectionId: "b", connectionName: "AT", currency: "USD", amount: "10" },
      ],
      [
        {
          status: "imported",
          lines: 2,
          amounts: [
            { currency: "EUR", amount: "1.10" },
            { currency: "EUR", amount: "2.20" },
          ],
        },
      ],
      [],
    );
    assert.deepEqual(figures.totals, { runs: 3, failedRuns: 1, written: 4, held: 3, errors: 2, warnings: 1 });
    assert.deepEqual(figures.heldAmounts, { EUR: "0.3", USD: "10" });
    assert.deepEqual(figures.imports, { files: 1, rejected: 0, lines: 2, totals: { EUR: "3.3" } });
    assert.deepEqual(
      figures.connections.map((c) => [c.name, c.runs, c.held]),
      [
        ["AT", 1, 1],
        ["CW", 2, 2],
      ],
    );
  });
});
