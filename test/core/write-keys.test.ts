import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { annualWriteKey } from "../../src/core/annual-plan.ts";
import { azureWriteKey } from "../../src/core/azure-plan.ts";
import { monthlyWriteKey } from "../../src/core/monthly-plan.ts";
import { isWriteKey, WRITE_KEY_PREFIX, writeKey } from "../../src/core/write-keys.ts";

// Records already in users' PSAs carry these keys: a key whose value changed would make the next sync write the
// record again. The values below were taken from the key functions before they were folded into writeKey.
const CONNECTION = "5b0f6c1e-0000-4000-8000-000000000001";
const TENANT = "a1b2c3d4-0000-4000-8000-00000000000a";

describe("write keys: one format, values that never change", () => {
  it("an annual charge's key", () => {
    assert.equal(
      annualWriteKey(CONNECTION, TENANT, "sub-123|2025-06-01|new|12"),
      "cspsync-260297777c1965d22cb768d4",
    );
  });

  it("the monthly motion's keys: a segment, an update, a unit adjustment and a contract service", () => {
    assert.equal(
      monthlyWriteKey(CONNECTION, TENANT, "sub-123", "segment", "2025-06-01", "CFQ7TTC0LDPB:0001"),
      "cspsync-a50ae77ad24c6cbe5058a736",
    );
    assert.equal(
      monthlyWriteKey(
        CONNECTION,
        TENANT,
        "sub-123",
        "update",
        "4711",
        "2025-06-10T08:00:00Z",
        "12",
        "ongoing",
      ),
      "cspsync-fc367bf3af9aa85ad37b7ef2",
    );
    assert.equal(
      monthlyWriteKey(CONNECTION, TENANT, "sub-123", "units", "2025-06-15"),
      "cspsync-e476e5e57fc51adb0ece2629",
    );
    assert.equal(
      monthlyWriteKey(CONNECTION, TENANT, "sub-123", "contract-service"),
      "cspsync-54292b0c44174821c444c998",
    );
  });

  it("an Azure month's key", () => {
    assert.equal(azureWriteKey(CONNECTION, TENANT, "2025-06"), "cspsync-f8e7493e2505daac0a08175b");
  });

  it("each motion's key is writeKey over its parts, in order", () => {
    assert.equal(annualWriteKey("c", "t", "e"), writeKey(["c", "t", "e"]));
    assert.equal(
      monthlyWriteKey("c", "t", "s", "x", "y"),
      writeKey(["c", "t", "seat-monthly", "s", "x", "y"]),
    );
    assert.equal(azureWriteKey("c", "t", "2025-06"), writeKey(["c", "t", "azure", "2025-06"]));
    assert.notEqual(writeKey(["c", "t", "e"]), writeKey(["c", "t", "f"]));
  });

  it("isWriteKey takes exactly the keys writeKey makes", () => {
    const key = writeKey(["c", "t", "e"]);
    assert.ok(key.startsWith(WRITE_KEY_PREFIX));
    assert.equal(key.length, 32);
    assert.equal(isWriteKey(key), true);
    assert.equal(isWriteKey(`${key}0`), false);
    assert.equal(isWriteKey("cspsync-typed-by-hand"), false);
    assert.equal(isWriteKey(key.toUpperCase()), false);
    assert.equal(isWriteKey(null), false);
  });
});
