import { ConnectWiseClient } from "../../../src/psa/connectwise/client.ts";
import type { ConnectWiseClientOptions } from "../../../src/psa/connectwise/client.ts";
import { startConnectWiseEmulator } from "../../../emulators/connectwise/server.ts";
import type {
  ConnectWiseEmulator,
  ConnectWiseEmulatorOptions,
} from "../../../emulators/connectwise/server.ts";

/** The emulator's clock in tests: derived statuses and _info.lastUpdated depend on it. */
export const NOW = new Date("2025-03-15T12:00:00Z");
export const CLIENT_ID = "0b5e3e2c-2d3f-4a51-9d7e-3f7a5f1c2b10";

export type Harness = {
  emulator: ConnectWiseEmulator;
  client: ConnectWiseClient;
  /** Every delay the transport asked for, in order; nothing actually waits. */
  sleeps: number[];
  newClient(overrides?: Partial<ConnectWiseClientOptions>): ConnectWiseClient;
  close(): Promise<void>;
};

export async function startHarness(
  emulatorOptions: ConnectWiseEmulatorOptions = {},
  clientOverrides: Partial<ConnectWiseClientOptions> = {},
): Promise<Harness> {
  const emulator = await startConnectWiseEmulator({ now: () => NOW, ...emulatorOptions });
  const sleeps: number[] = [];
  const newClient = (overrides: Partial<ConnectWiseClientOptions> = {}): ConnectWiseClient =>
    new ConnectWiseClient({
      siteUrl: emulator.url,
      companyId: emulator.credentials.companyId,
      publicKey: emulator.credentials.publicKey,
      privateKey: emulator.credentials.privateKey,
      clientId: CLIENT_ID,
      ...clientOverrides,
      ...overrides,
      transport: {
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        random: () => 0.5,
        timeoutMs: 10_000,
        ...clientOverrides.transport,
        ...overrides.transport,
      },
    });
  return { emulator, client: newClient(), sleeps, newClient, close: () => emulator.close() };
}

/** Raw HTTP against the emulator with valid credentials, for checking wire shapes the client hides. */
export async function rawRequest(
  emulator: ConnectWiseEmulator,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; auth?: boolean } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const { companyId, publicKey, privateKey } = emulator.credentials;
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== false) {
    headers.authorization = `Basic ${Buffer.from(`${companyId}+${publicKey}:${privateKey}`).toString("base64")}`;
    headers.clientid = CLIENT_ID;
  }
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) {
    init.body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  const response = await fetch(`${emulator.url}${path}`, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: text === "" ? undefined : JSON.parse(text),
  };
}

export const API = "/v4_6_release/apis/3.0";
