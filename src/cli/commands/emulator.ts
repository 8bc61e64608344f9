import fs from "node:fs";
import { parseArgs } from "node:util";
import type { FaultRule } from "../../../emulators/kit.ts";
import { UsageError } from "../output.ts";

export const emulatorHelp = `cspsync emulator connectwise|autotask [--port N] [--host H] [--seed demo|empty] [--latency MS]
                                    [--data FILE] [--faults JSON|@FILE] [--fault-seed N]

Runs a local PSA emulator with the real API paths, auth, query language, paging, errors and billing rules,
for demos and tests. Its state lives in memory, or in --data FILE so it survives restarts. Faults (latency,
429, 5xx, dropped connections, lost responses) can be set with --faults or at run time via /__emulator/faults.
Stop it with Ctrl+C.

cspsync emulator partner-center [--port N] [--host H] [--recon FILE]… [--unbilled FILE] [--faults JSON|@FILE]
                                [--lines-per-blob N]

Runs a local Microsoft Partner Center: the Entra token endpoint, the invoices API, the Graph billing
reconciliation export and blob downloads, serving the invoices of the reconciliation files given (default:
the bundled sample). Faults: rate-limit, server-error, slow-operation, failed-operation, expired-sas,
truncated-blob, changed-etag, partial-data (docs/partner-center.md §8).`;

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
      recon: { type: "string", multiple: true },
      unbilled: { type: "string" },
      "lines-per-blob": { type: "string" },
    },
  });
  if (positionals[0] === "partner-center") return partnerCenter(values);
  const vendor = positionals[0];
  if (vendor !== "connectwise" && vendor !== "autotask")
    throw new UsageError("emulator needs connectwise, autotask or partner-center");
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

/** The Microsoft Partner Center emulator (docs/partner-center.md §8). */
async function partnerCenter(values: {
  port?: string;
  host?: string;
  recon?: string[];
  unbilled?: string;
  faults?: string;
  "lines-per-blob"?: string;
}): Promise<number> {
  const { startPartnerCenterEmulator } = await import("../../../emulators/partner-center/index.ts");
  const sample = new URL("../../../samples/nce-reconciliation-2024-06.csv", import.meta.url).pathname;
  const emulator = await startPartnerCenterEmulator({
    port: values.port ? Number(values.port) : 0,
    host: values.host ?? "127.0.0.1",
    files: values.recon?.length ? values.recon : [sample],
    ...(values.unbilled ? { unbilledFiles: [values.unbilled] } : {}),
    ...(values["lines-per-blob"] ? { linesPerBlob: Number(values["lines-per-blob"]) } : {}),
    ...(values.faults ? { faults: readFaults(values.faults) as never } : {}),
  });
  const host = new URL(emulator.url).host;
  console.log(`Microsoft Partner Center emulator listening on ${emulator.url}`);
  console.log(
    `  tenant ${emulator.tenantId}, app (client) id ${emulator.clientId}, client secret ${emulator.clientSecret} (demo values)`,
  );
  console.log(
    `  invoices: ${emulator
      .invoices()
      .map((i) => `${i.id} (${i.lineCount} lines)`)
      .join(", ")}`,
  );
  console.log(
    `  use it: CSPSYNC_MICROSOFT_ALLOWED_HOSTS=${host} PC_SECRET=${emulator.clientSecret} cspsync source add partner-center --name PC ` +
      `--tenant-id ${emulator.tenantId} --client-id ${emulator.clientId} --client-secret-env PC_SECRET --endpoints ${emulator.url}`,
  );
  console.log("  admin: /__emulator/requests, /__emulator/stats, /__emulator/faults");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await emulator.close();
  return 0;
}
