import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { openStore } from "../src/store/db.ts";
import { appliedMigrations, SchemaTooNewError } from "../src/store/migrate.ts";
import { migrations } from "../src/store/migrations/index.ts";
import { DIALECTS, createTestDatabase } from "./support/stores.ts";

for (const dialect of DIALECTS) {
  describe(`store on ${dialect}`, () => {
    it("migrates a new database to the latest schema and creates the default organization", async () => {
      const database = await createTestDatabase(dialect);
      try {
        const store = await openStore(database.url);
        assert.deepEqual(
          await appliedMigrations(store),
          migrations.map((m) => m.name),
        );
        const orgs = await store.db.selectFrom("organizations").select("id").execute();
        assert.deepEqual(orgs, [{ id: "default" }]);
        await store.close();
        // Opening again is a no-op: nothing re-applied, nothing duplicated.
        const again = await openStore(database.url);
        const count = await again.db
          .selectFrom("organizations")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
        assert.equal(Number(count.n), 1);
        await again.close();
      } finally {
        await database.drop();
      }
    });

    it("refuses a database whose schema is newer than the code and leaves it untouched", async () => {
      const database = await createTestDatabase(dialect);
      try {
        const store = await openStore(database.url);
        await sql`insert into cspsync_migration (name, timestamp) values ('9999_from_the_future', '2099-01-01T00:00:00.000Z')`.execute(
          store.db,
        );
        await store.close();
        await assert.rejects(openStore(database.url), (error: unknown) => {
          assert.ok(error instanceof SchemaTooNewError);
          assert.match(error.message, /9999_from_the_future/);
          return true;
        });
      } finally {
        await database.drop();
      }
    });

    it("keeps money exact: decimal strings round-trip without float loss", async () => {
      const database = await createTestDatabase(dialect);
      try {
        const store = await openStore(database.url);
        const now = new Date().toISOString();
        await store.db
          .insertInto("imports")
          .values({
            id: "imp",
            organization_id: "default",
            file_name: "f.csv",
            file_sha256: "x",
            file_format: "csv",
            status: "imported",
            started_at: now,
            finished_at: now,
            line_count: 0,
            new_line_count: 0,
            known_line_count: 0,
            error: null,
            summary: "{}",
          })
          .execute();
        await store.db
          .insertInto("invoices")
          .values({
            organization_id: "default",
            invoice_number: "G000000001",
            currency: "USD",
            first_charge_date: "2024-02-29",
            last_charge_date: null,
            line_count: 0,
            subtotal: "1209.600000000000000001",
            total: "-0.1",
            source_file: "f.csv",
            first_import_id: "imp",
            created_at: now,
            updated_at: now,
          })
          .execute();
        const row = await store.db.selectFrom("invoices").selectAll().executeTakeFirstOrThrow();
        assert.equal(row.first_charge_date, "2024-02-29");
        assert.equal(row.subtotal, "1209.600000000000000001");
        assert.equal(row.total, "-0.1");
        await store.close();
      } finally {
        await database.drop();
      }
    });
  });
}
