import { AutotaskClient } from "../../../src/psa/autotask/client.ts";
import type { AutotaskClientOptions } from "../../../src/psa/autotask/client.ts";
import { DEMO_API_USER, startAutotaskEmulator } from "../../../emulators/autotask/index.ts";
import type { AutotaskEmulator, AutotaskEmulatorOptions } from "../../../emulators/autotask/index.ts";

/** The emulator's clock in tests: contracts seeded for 2024-01-01..2026-12-31 are current. */
export const TEST_NOW = new Date("2025-06-15T12:00:00Z");

export type SentRequest = {
  method: string;
  url: string;
  body: string | undefined;
  headers: Record<string, string>;
};

export type Harness = {
  emulator: AutotaskEmulator;
  client: AutotaskClient;
  /** Every delay the client asked for (retry backoff, Retry-After, quota slow-down); none really waits. */
  sleeps: number[];
  /** Every HTTP request the client sent, in order. */
  sent: SentRequest[];
  close(): Promise<void>;
};

export function recordingFetch(sent: SentRequest[]): typeof fetch {
  return async (input, init) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, key) => {
      headers[key] = value;
    });
    sent.push({
      method: init?.method ?? "GET",
      url: String(input),
      body: typeof init?.body === "string" ? init.body : undefined,
      headers,
    });
    return fetch(input, init);
  };
}

export async function startHarness(
  emulatorOptions: AutotaskEmulatorOptions = {},
  clientOptions: Partial<AutotaskClientOptions> = {},
): Promise<Harness> {
  const emulator = await startAutotaskEmulator({
    now: () => TEST_NOW,
    ...emulatorOptions,
    // The usage latency tiers would really wait; tests assert behaviour, not time.
    limits: { usageLatencyScale: 0, ...emulatorOptions.limits },
  });
  const sleeps: number[] = [];
  const sent: SentRequest[] = [];
  const client = new AutotaskClient({
    credentials: {
      userName: DEMO_API_USER.userName,
      secret: DEMO_API_USER.secret,
      integrationCode: DEMO_API_USER.integrationCode,
    },
    discoveryBaseUrl: emulator.apiBaseUrl,
    quota: false,
    ...clientOptions,
    transport: {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      fetchImpl: recordingFetch(sent),
      timeoutMs: 5_000,
      ...clientOptions.transport,
    },
  });
  return { emulator, client, sleeps, sent, close: () => emulator.close() };
}

/** Raw authenticated request to the emulator, bypassing the client. */
export async function rawRequest(
  emulator: AutotaskEmulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${emulator.url}${path}`, {
    method,
    headers: {
      UserName: DEMO_API_USER.userName,
      Secret: DEMO_API_USER.secret,
      ApiIntegrationCode: DEMO_API_USER.integrationCode,
      "content-type": "application/json",
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === "" ? null : (JSON.parse(text) as unknown),
    headers: response.headers,
  };
}
