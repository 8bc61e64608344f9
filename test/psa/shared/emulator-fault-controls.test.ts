import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startAutotaskEmulator } from "../../../emulators/autotask/server.ts";
import { startConnectWiseEmulator } from "../../../emulators/connectwise/server.ts";
import { runCli } from "../../support/cli.ts";

/**
 * Fault schedules must be reproducible: a probability given at run time is a number like any other, and the
 * seed of the probability faults can be chosen on both emulators and from the command line.
 */
type Started = { url: string; close(): Promise<void> };
const VENDORS: Array<[string, (faultSeed: number) => Promise<Started>]> = [
  ["ConnectWise", (faultSeed) => startConnectWiseEmulator({ seed: "empty", faultSeed })],
  ["Autotask", (faultSeed) => startAutotaskEmulator({ seed: "empty", faultSeed })],
];

/** Which of 24 requests the emulator failed with its injected 503, after a 50% fault was posted. */
async function schedule(start: () => Promise<Started>): Promise<string> {
  const emulator = await start();
  try {
    const posted = await fetch(`${emulator.url}/__emulator/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "server-error", status: 503, probability: 0.5 }),
    });
    assert.equal(posted.status, 201, await posted.clone().text());
    const [fault] = (await posted.json()) as Array<{ probability: unknown }>;
    assert.equal(fault?.probability, 0.5, "kept as the number it was");
    let pattern = "";
    for (let i = 0; i < 24; i++) {
      const reply = await fetch(`${emulator.url}/any/path/${i}`);
      await reply.arrayBuffer();
      pattern += reply.status === 503 ? "x" : ".";
    }
    return pattern;
  } finally {
    await emulator.close();
  }
}

for (const [vendor, start] of VENDORS) {
  describe(`${vendor} emulator fault controls`, () => {
    it("accepts a fractional probability at run time, and the same seed gives the same schedule", async () => {
      const first = await schedule(() => start(7));
      const again = await schedule(() => start(7));
      const other = await schedule(() => start(8));
      assert.equal(first, again);
      assert.match(first, /x/);
      assert.match(first, /\./);
      assert.notEqual(first, other, "another seed, another schedule");
    });

    it("answers 400 to a control body that is not JSON", async () => {
      const emulator = await start(1);
      after(() => emulator.close());
      const reply = await fetch(`${emulator.url}/__emulator/faults`, { method: "POST", body: "{not json" });
      assert.equal(reply.status, 400);
      assert.match(((await reply.json()) as { message: string }).message, /not JSON/);
    });
  });
}

describe("cspsync emulator --fault-seed", () => {
  it("refuses a seed that is not a whole number", async () => {
    const result = await runCli(["emulator", "autotask", "--fault-seed", "0.5"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--fault-seed must be a whole number/);
  });
});
