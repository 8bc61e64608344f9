import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  PsaOutcomeUnknownError,
  PsaTimedOutError,
  PsaValidationError,
} from "../../../src/psa/shared/errors.ts";
import {
  IN_DOUBT_MS,
  MAX_WRITE_ATTEMPTS,
  sendLookingBeforeRetrying,
  WriteInDoubtError,
} from "../../../src/psa/shared/write-once.ts";

const init = { vendor: "connectwise" as const, method: "POST", url: "https://psa.test/catalog" };
const lost = () => new PsaOutcomeUnknownError({ ...init, reason: "socket closed" });
const timedOut = () => new PsaTimedOutError({ ...init, reason: "timed out after 300 ms" });

/** A write whose sends fail in the given ways (then succeed), recording every call in order. */
function scripted(failures: Error[], found: Array<string | undefined>) {
  const calls: string[] = [];
  let sends = 0;
  let finds = 0;
  return {
    calls,
    write: {
      noun: "catalog item",
      now: () => new Date("2024-07-01T10:00:00.000Z"),
      beforeAttempt: async () => void calls.push("count"),
      send: async () => {
        calls.push("send");
        const failure = failures[sends++];
        if (failure) throw failure;
        return "created";
      },
      find: async () => {
        calls.push("find");
        return found[finds++];
      },
    },
  };
}

describe("sendLookingBeforeRetrying: a create is never sent again before it is looked up", () => {
  it("returns the record a lost answer hid, without sending again", async () => {
    const { write, calls } = scripted([lost()], ["7"]);
    assert.equal(await sendLookingBeforeRetrying(write), "7");
    assert.deepEqual(calls, ["count", "send", "find"]);
  });

  it("sends again only after the lookup proved the first send did not land", async () => {
    const { write, calls } = scripted([lost(), lost()], [undefined, undefined]);
    assert.equal(await sendLookingBeforeRetrying(write), "created");
    assert.deepEqual(calls, ["count", "send", "find", "count", "send", "find", "count", "send"]);
  });

  it("a timed-out send that is not found yet is left for a later run, never resent", async () => {
    const { write, calls } = scripted([timedOut()], [undefined]);
    await assert.rejects(sendLookingBeforeRetrying(write), (error: Error) => {
      assert.ok(error instanceof WriteInDoubtError);
      assert.equal(error.retryAfter.getTime(), Date.parse("2024-07-01T10:00:00.000Z") + IN_DOUBT_MS);
      assert.equal(
        error.message,
        "the write of this catalog item timed out and may still reach the PSA; it is left for a run after 2024-07-01T10:02:00.000Z",
      );
      return true;
    });
    assert.deepEqual(calls, ["count", "send", "find"]);
  });

  it("a refusal is the PSA's answer: rethrown without a lookup", async () => {
    const refused = new PsaValidationError({ ...init, status: 400, reason: "ObjectExists" });
    const { write, calls } = scripted([refused], []);
    await assert.rejects(sendLookingBeforeRetrying(write), refused);
    assert.deepEqual(calls, ["count", "send"]);
  });

  it("stops after MAX_WRITE_ATTEMPTS sends that each went unanswered and unfound", async () => {
    const failures = Array.from({ length: MAX_WRITE_ATTEMPTS }, lost);
    const { write, calls } = scripted(failures, []);
    await assert.rejects(sendLookingBeforeRetrying(write), PsaOutcomeUnknownError);
    assert.equal(calls.filter((c) => c === "send").length, MAX_WRITE_ATTEMPTS);
  });
});
