import { AppError } from "../core/errors.ts";

/**
 * Where chat and webhook notifications may be posted (docs/notifications.md §Hosts). The chat vendors' public
 * webhook hosts are allowed over HTTPS by default — Teams (incoming webhooks on *.webhook.office.com, workflows
 * on *.logic.azure.com and *.powerplatform.com) and Slack (hooks.slack.com). Any other host, and every generic
 * webhook host, must be allow-listed by the operator in CSPSYNC_NOTIFY_ALLOWED_HOSTS (`host` or `host:port`;
 * plain HTTP only for these).
 */
export const DEFAULT_WEBHOOK_HOSTS: Record<"teams" | "slack" | "webhook", readonly string[]> = {
  teams: [".webhook.office.com", ".logic.azure.com", ".powerplatform.com"],
  slack: ["hooks.slack.com"],
  webhook: [],
};

export class NotifyHostNotAllowedError extends AppError {
  constructor(url: string, kind: string) {
    super(
      "validation",
      `${originOf(url)} is not ${kind === "webhook" ? "an allow-listed webhook host" : `a public ${kind === "teams" ? "Teams" : "Slack"} webhook host`}; add it to CSPSYNC_NOTIFY_ALLOWED_HOSTS to allow it (nothing was sent)`,
      { field: "url" },
    );
  }
}

export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "the address";
  }
}

function matches(host: string, pattern: string): boolean {
  return pattern.startsWith(".") ? host.endsWith(pattern) && host.length > pattern.length : host === pattern;
}

/** Throws NotifyHostNotAllowedError unless the URL may receive this kind of notification. */
export function assertWebhookAllowed(
  url: string,
  kind: "teams" | "slack" | "webhook",
  allowed: readonly string[],
): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new NotifyHostNotAllowedError(url, kind);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    throw new NotifyHostNotAllowedError(url, kind);
  if (parsed.username || parsed.password) throw new NotifyHostNotAllowedError(url, kind);
  const host = parsed.hostname.toLowerCase();
  const hostWithPort = parsed.port ? `${host}:${parsed.port}` : host;
  if (allowed.includes(host) || allowed.includes(hostWithPort)) return parsed;
  const isPublic =
    parsed.protocol === "https:" && !parsed.port && DEFAULT_WEBHOOK_HOSTS[kind].some((p) => matches(host, p));
  if (!isPublic) throw new NotifyHostNotAllowedError(url, kind);
  return parsed;
}
