import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mappedConnectWise } from "../support/connectwise-setup.ts";
import { runCli } from "../support/cli.ts";
import { CONTOSO } from "../support/recon-builder.ts";

const EXO = "Exchange Online (Plan 1): 3 seats, annual term 2024-06-10 to 2025-06-09";

describe("cspsync price-rules and holds (ConnectWise emulator)", () => {
  it("validates options by name, prices by rule, holds a below-cost line, and writes it once approved", async () => {
    const s = await mappedConnectWise("sqlite");
    try {
      const cli = (...args: string[]) => runCli([...args, "--db", s.databaseUrl], { env: s.env });

      const noFrom = await cli("price-rules", "add", "CW", "--product", "CFQ7TTC0LH16", "--price", "10");
      assert.equal(noFrom.code, 2);
      assert.match(noFrom.stderr, /--from DATE is required/);
      const both = await cli(
        "price-rules",
        "add",
        "CW",
        "--product",
        "X",
        "--price",
        "1",
        "--markup",
        "2",
        "--from",
        "2024-06-01",
      );
      assert.match(both.stderr, /exactly one of --markup PCT or --price AMOUNT/);
      const badDate = await cli(
        "price-rules",
        "add",
        "CW",
        "--product",
        "X",
        "--price",
        "1",
        "--from",
        "06/01/2024",
      );
      assert.equal(badDate.code, 2);
      assert.match(badDate.stderr, /--from: effectiveFrom must be a date as YYYY-MM-DD/);
      const badPrice = await cli(
        "price-rules",
        "add",
        "CW",
        "--customer",
        CONTOSO.id,
        "--price",
        "ten",
        "--from",
        "2024-06-01",
      );
      assert.match(badPrice.stderr, /--markup\/--price: value must be a number/);
      const nobody = await cli(
        "price-rules",
        "add",
        "CW",
        "--customer",
        "Nobody Inc",
        "--markup",
        "5",
        "--from",
        "2024-06-01",
      );
      assert.match(nobody.stderr, /--customer: no customer "Nobody Inc"/);
      const noScope = await cli("price-rules", "add", "CW", "--markup", "5", "--from", "2024-06-01");
      assert.match(noScope.stderr, /give --product SKU, --customer TENANT, or both/);

      const added = await cli(
        "price-rules",
        "add",
        "CW",
        "--product",
        "CFQ7TTC0LH16",
        "--customer",
        CONTOSO.name,
        "--price",
        "10",
        "--from",
        "2024-06-01",
        "--name",
        "EXO promo",
        "--json",
      );
      assert.equal(added.code, 0, added.stderr);
      const { rule } = JSON.parse(added.stdout) as {
        rule: { id: string; customerTenantId: string; value: string };
      };
      assert.deepEqual([rule.customerTenantId, rule.value], [CONTOSO.id, "10"]);
      const listed = await cli("price-rules", "list", "CW");
      assert.match(
        listed.stdout,
        /EXO promo\s+CFQ7TTC0LH16\s+196e2273-9651-43a3-ba7e-7cbcd918fc40\s+fixed price 10\s+2024-06-01/,
      );

      const mode = await cli("price-rules", "below-cost", "CW", "hold");
      assert.match(mode.stdout, /held for approval/);
      const badMode = await cli("price-rules", "below-cost", "CW", "block");
      assert.match(badMode.stderr, /belowCost must be warn or hold/);

      const dry = await cli("sync", "CW", "--dry-run");
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /priced by rule EXO promo \(fixed price 10\)/);
      const key = /HOLD (cspsync-[0-9a-f]{24}): sells below cost; would be held for approval/.exec(
        dry.stdout,
      )?.[1];
      assert.ok(key, dry.stdout);

      const first = await cli("sync", "CW");
      assert.match(first.stdout, /warning — 7 written/);
      assert.match(first.stdout, /held .*Held for approval: sell price 10 is below cost 48/);
      // The command line names its own way to approve; the message stored for the web (which shows Approve) does not.
      assert.ok(
        first.stdout.includes(`Held for approval: approve with cspsync holds approve CW ${key}\n`),
        first.stdout,
      );
      const stored = await s.app.store.db
        .selectFrom("sync_items")
        .select(["write_key", "message"])
        .where("outcome", "=", "held")
        .execute();
      assert.deepEqual(
        stored.map((i) => i.write_key),
        [key],
      );
      assert.match(stored[0]!.message ?? "", /^Held for approval: sell price 10 is below cost 48/);
      assert.doesNotMatch(stored[0]!.message ?? "", /cspsync|holds approve/);
      const holds = await cli("holds", "CW");
      assert.match(
        holds.stdout,
        new RegExp(
          `${key}\\s+Contoso Dental, LLC\\s+${EXO.replace(/[()]/g, "\\$&")}\\s+48\\s+10\\s+rule EXO promo\\s+held`,
        ),
      );

      const noKey = await cli("holds", "approve", "CW");
      assert.match(noKey.stderr, /WRITE-KEYs to approve, or --all/);
      const wrongKey = await cli("holds", "approve", "CW", "cspsync-000000000000000000000000");
      assert.equal(wrongKey.code, 2);
      assert.match(wrongKey.stderr, /no held line with key cspsync-000000000000000000000000/);
      const approve = await cli("holds", "approve", "CW", key, "--by", "dana");
      assert.match(approve.stdout, /Approved 1 line as dana/);
      assert.match((await cli("holds", "CW")).stdout, /approved by dana/);

      const second = await cli("sync", "CW");
      assert.match(second.stdout, /warning — 1 written/);
      assert.match(second.stdout, /approved by dana/);
      assert.match((await cli("holds", "CW")).stdout, /No lines held for approval/);
      const additions = await s.client.listAdditions(Number(s.agreementId));
      assert.deepEqual(
        additions.filter((a) => a.description === EXO).map((a) => [a.unitCost, a.unitPrice]),
        [["48", "10"]],
      );

      const removed = await cli("price-rules", "remove", "CW", rule.id);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match((await cli("price-rules", "list", "CW")).stdout, /No price rules/);
      const again = await cli("price-rules", "remove", "CW", rule.id);
      assert.match(again.stderr, /no price rule/);
    } finally {
      await s.cleanup();
    }
  });
});
