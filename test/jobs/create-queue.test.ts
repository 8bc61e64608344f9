import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createJobQueue } from "../../src/jobs/index.ts";
import { createTestStore } from "../support/stores.ts";

describe("createJobQueue", () => {
  it("uses the local driver on SQLite", async () => {
    const { store, database, cleanup } = await createTestStore("sqlite");
    try {
      const queue = createJobQueue(store, database.url);
      assert.equal("boss" in queue, false);
      assert.ok(await queue.send("hello", {}));
      await queue.stop();
    } finally {
      await cleanup();
    }
  });

  it("uses pg-boss on PostgreSQL", async () => {
    const { store, database, cleanup } = await createTestStore("postgres");
    try {
      const queue = createJobQueue(store, database.url);
      assert.equal("boss" in queue, true);
      assert.ok(await queue.send("hello", {}));
      await queue.stop();
    } finally {
      await cleanup();
    }
  });

  it("refuses a database URL of another dialect than the store", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      assert.throws(() => createJobQueue(store, "postgres://localhost/cspsync"), /does not match the store/);
    } finally {
      await cleanup();
    }
  });
});
