import { DEFAULT_DISCOVERY_BASE_URL } from "../psa/autotask/client.ts";
import { resolveApiOrigin } from "../psa/connectwise/client.ts";
import type { Vendor } from "./connections.ts";
import { AppError } from "../core/errors.ts";

/**
 * A connection's stored secrets were entered for one host. When an update points the connection at another
 * host, the secrets must be entered again in the same update: otherwise whoever can edit the URL (or trick
 * an admin into it) would have cspsync send the stored credentials to a host of their choosing.
 */
export class ConnectionMoveError extends AppError {
  /** The missing secrets, e.g. ["secrets.privateKey"]. */
  readonly fields: string[];
  declare readonly field: string;
  constructor(message: string, fields: string[]) {
    // The update as a whole is incomplete (the secrets must come with the move): a bad request.
    super("bad_request", message, { field: fields[0] ?? "secrets" });
    this.fields = fields;
  }
}

type Move = { what: string; from: string; to: string; secrets: Array<{ field: string; label: string }> };

const SECRETS: Record<Vendor, Move["secrets"]> = {
  connectwise: [{ field: "privateKey", label: "the private key" }],
  autotask: [
    { field: "secret", label: "the secret" },
    { field: "integrationCode", label: "the integration code" },
  ],
};

/**
 * Throws ConnectionMoveError when `changes.config` moves the connection to another host and `changes.secrets`
 * does not carry every secret again. A URL that does not parse is left for the schema to reject.
 */
export function assertSecretsFollowMove(
  vendor: Vendor,
  current: Record<string, unknown>,
  changes: { config?: Record<string, unknown> | undefined; secrets?: Record<string, unknown> | undefined },
): void {
  const move = hostMove(vendor, current, changes.config ?? {});
  if (!move) return;
  const given = changes.secrets ?? {};
  const missing = move.secrets.filter(({ field }) => {
    const value = given[field];
    return typeof value !== "string" || value.trim() === "";
  });
  if (missing.length === 0) return;
  const labels = missing.map((secret) => secret.label).join(" and ");
  throw new ConnectionMoveError(
    `the ${move.what} moves to another host (${move.from} → ${move.to}): enter ${labels} again; ` +
      "cspsync does not send stored credentials to a new host",
    missing.map(({ field }) => `secrets.${field}`),
  );
}

function hostMove(
  vendor: Vendor,
  current: Record<string, unknown>,
  config: Record<string, unknown>,
): Move | undefined {
  if (vendor === "connectwise") {
    if (!("site" in config) || config.site === undefined) return undefined;
    // Credentials go to the API host the site maps to, so na.myconnectwise.net → api-na… is no move.
    const from = origin(current.site, resolveApiOrigin);
    const to = origin(config.site, resolveApiOrigin);
    if (from === undefined || to === undefined || from === to) return undefined;
    return { what: "site URL", from, to, secrets: SECRETS.connectwise };
  }
  if (!("discoveryUrl" in config) || config.discoveryUrl === undefined) return undefined;
  // Removing the discovery URL (null) returns to the public default, which is a move too.
  const from = origin(current.discoveryUrl ?? DEFAULT_DISCOVERY_BASE_URL);
  const to = origin(config.discoveryUrl ?? DEFAULT_DISCOVERY_BASE_URL);
  if (from === undefined || to === undefined || from === to) return undefined;
  return { what: "discovery URL", from, to, secrets: SECRETS.autotask };
}

/** The origin of an absolute URL; undefined for anything else, which the config schema then rejects. */
function origin(value: unknown, resolve: (url: string) => string = (url) => new URL(url).origin) {
  if (typeof value !== "string" || !URL.canParse(value)) return undefined;
  try {
    return resolve(value);
  } catch {
    return undefined;
  }
}
