import fs from "node:fs";
import { parseArgs } from "node:util";
import type { FaultRule } from "../../../emulators/kit.ts";
import { UsageError } from "../output.ts";

export const emulatorHelp = `cspsync emulator connectwise|autotask [--port N] [--host H] [--seed demo|empty] [--latency MS]
                                    [--data FILE] [--faults JSON|@FILE] [--fault-seed N]

Runs a local PSA emulator with the real API paths, auth, query language, paging, errors and billing rules,
for demos and tests. Its state lives in memory, or in --data FILE so it survives restarts. Faults (latency,
429, 5xx, dropped connections, lost responses) can be set with --faults or at run time via /__emulator/faults.
Stop it with Ctrl+C.`;

function readFaults(value: string | undefined): FaultRule[] | undefined {
  if (!value) return undefined;
  const text = value.startsWith("@") ? fs.readFileSync(value.slice(1), "utf8") : value;
  const parsed: unknown = JSON.parse(text);
  return (Array.isArray(parsed) ? parsed : [parsed]) as FaultRule[];
}

/** The seed of probability faults: the same seed gives the same schedule for the same requests. */
function parseFaultSeed(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 0xffffffff)
    throw new UsageError(`--fault-seed must be a whole number from 0 to 4294967295, not "${value}"`);
  return Number(value);
}

export async function emulatorCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      seed: { type: "string" },
      latency: { type: "string" },
      data: { type: "string" },
      faults: { type: "string" },
      "fault-seed": { type: "string" },
    },
  });
  const vendor = positionals[0];
  if (vendor !== "connectwise" && vendor !== "autotask")
    throw new UsageError("emulator needs connectwise or autotask");
  if (values.seed !== undefined && values.seed !== "demo" && values.seed !== "empty")
    throw new UsageError("--seed must be demo or empty");
  const options = {
    port: values.port ? Number(values.port) : 0,
    host: values.host ?? "127.0.0.1",
    seed: (values.seed ?? "demo") as "demo" | "empty",
    latencyMs: values.latency ? Number(values.latency) : 0,
    ...(values.data ? { dataFile: values.data } : {}),
    ...(values.faults ? { faults: readFaults(values.faults) } : {}),
    ...(values["fault-seed"] === undefined ? {} : { faultSeed: parseFaultSeed(values["fault-seed"]) }),
  };
  let close: () => Promise<void>;
  if (vendor === "connectwise") {
    const { startConnectWiseEmulator } = await import("../../../emulators/connectwise/index.ts");
    const emulator = await startConnectWiseEmulator(options);
    close = () => emulator.close();
    console.log(`ConnectWise emulator listening on ${emulator.url}`);
    console.log(
      `  company id ${emulator.credentials.companyId}, public key ${emulator.credentials.publicKey}, private key ${emulator.credentials.privateKey} (demo values), any clientId`,
    );
  } else {
    const { startAutotaskEmulator } = await import("../../../emulators/autotask/index.ts");
    const emulator = await startAutotaskEmulator(options);
    close = () => emulator.close();
    const user = emulator.users[0]!;
    console.log(
      `Autotask emulator listening on ${emulator.url} (API and zone discovery at ${emulator.apiBaseUrl})`,
    );
    console.log(
      `  user ${user.userName}, secret ${user.secret}, integration code ${user.integrationCode} (demo values)`,
    );
  }
  console.log("  admin: /__emulator/requests, /__emulator/stats, /__emulator/faults");
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await close();
  return 0;
}
