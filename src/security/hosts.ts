import { AppError } from "../core/errors.ts";

/**
 * cspsync sends PSA credentials only to the vendors' public API hosts, over HTTPS. Anything else — an
 * on-premise ConnectWise server, a local emulator — must be allow-listed by the operator in
 * CSPSYNC_PSA_ALLOWED_HOSTS (comma-separated `host` or `host:port`; plain HTTP is allowed only for these).
 */
const PUBLIC_HOST_SUFFIXES: Record<"connectwise" | "autotask", readonly string[]> = {
  connectwise: [".myconnectwise.net", ".connectwisedev.com"],
  autotask: [".autotask.net"],
};

export class HostNotAllowedError extends AppError {
  constructor(url: string, vendor: string) {
    super(
      "validation",
      `${safeOrigin(url)} is not a public ${vendor} API host; add it to CSPSYNC_PSA_ALLOWED_HOSTS to allow it (nothing was sent)`,
    );
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "the address";
  }
}

export function parseAllowedHosts(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

export function assertHostAllowed(
  url: string,
  vendor: "connectwise" | "autotask",
  allowed: readonly string[],
): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HostNotAllowedError(url, vendor);
  }
  const host = parsed.hostname.toLowerCase();
  const hostWithPort = parsed.port ? `${host}:${parsed.port}` : host;
  if (allowed.includes(host) || allowed.includes(hostWithPort)) return;
  const isPublic =
    parsed.protocol === "https:" && PUBLIC_HOST_SUFFIXES[vendor].some((suffix) => host.endsWith(suffix));
  if (!isPublic) throw new HostNotAllowedError(url, vendor);
}
