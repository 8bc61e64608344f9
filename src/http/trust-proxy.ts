import net from "node:net";

/**
 * Which reverse proxies cspsync believes about the client's address (X-Forwarded-For) and scheme
 * (X-Forwarded-Proto). The client address keys the login lockout, so believing too much lets a client pick
 * its own address by sending the header itself, and believing nothing behind a proxy makes every user one
 * address that an attacker can lock out. Given as Fastify's `trustProxy` takes it:
 * - addresses (preferred): the proxies' IPs or CIDR ranges (or `loopback`, `linklocal`, `uniquelocal`),
 *   comma-separated; a forwarded address is believed only from these peers;
 * - a number of hops: the proxies directly in front of cspsync (1 for one reverse proxy); the client is the
 *   address that many entries from the right of X-Forwarded-For, so what a client wrote itself is ignored.
 *   It cannot tell a proxy from a client that reaches cspsync directly, so use it only where cspsync can be
 *   reached through the proxy alone (Fastify itself refuses numeric hop counts for that reason; cspsync
 *   passes it as a function, deliberately).
 * "Trust every hop" is refused: it is exactly the setting that lets a client choose its address.
 */
export type TrustProxy = false | number | string[];

const KEYWORDS = new Set(["loopback", "linklocal", "uniquelocal"]);

export class TrustProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrustProxyError";
  }
}

export function parseTrustProxy(value: string | undefined): TrustProxy {
  const text = (value ?? "").trim().toLowerCase();
  if (text === "" || text === "0" || text === "false" || text === "off") return false;
  if (text === "true" || text === "all" || text === "*")
    throw new TrustProxyError(
      `"${value}" would believe any X-Forwarded-For a client sends, letting it pick its own address; ` +
        "give the number of proxies in front of cspsync (usually 1) or their addresses",
    );
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 10) throw new TrustProxyError(`${hops} proxy hops is not plausible; give at most 10`);
    return hops;
  }
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    if (!isAddressOrRange(entry))
      throw new TrustProxyError(
        `"${entry}" is neither a number of proxy hops nor an IP address, CIDR range, loopback, linklocal or uniquelocal`,
      );
  }
  return entries;
}

function isAddressOrRange(entry: string): boolean {
  if (KEYWORDS.has(entry)) return true;
  const [address, bits, extra] = entry.split("/");
  if (extra !== undefined || address === undefined) return false;
  const family = net.isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** The setting as Fastify's `trustProxy` option takes it. */
export function fastifyTrustProxy(
  setting: TrustProxy,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== "number") return setting;
  const hops = setting;
  // proxy-addr asks about each address from the socket outwards (hop 0 is the peer): the first `hops` are
  // proxies, and the next one is the client.
  return (_address, hop) => hop < hops;
}

/** For messages and logs: what the setting means in words. */
export function describeTrustProxy(setting: TrustProxy): string {
  if (setting === false) return "off (X-Forwarded-* ignored)";
  if (typeof setting === "number") return `${setting} proxy hop${setting === 1 ? "" : "s"}`;
  return `proxies at ${setting.join(", ")}`;
}
