import {
  messageIdFor,
  renderHtml,
  renderSlack,
  renderTeams,
  renderText,
  renderWebhook,
  SIGNATURE_HEADER,
  signWebhook,
  subjectLine,
  type NotificationEvent,
} from "../core/notifications.ts";
import { assertWebhookAllowed, originOf } from "./hosts.ts";

/**
 * The channels' senders (docs/notifications.md): e-mail over SMTP with nodemailer, and one HTTPS POST for
 * Teams, Slack and the generic webhook — to an allow-listed host, never following a redirect. A sender throws
 * NotifySendError with a sentence for people (never the webhook URL, which is a secret, nor the password).
 */
export class NotifySendError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NotifySendError";
  }
}

const WEBHOOK_LABEL = { teams: "Teams webhook", slack: "Slack webhook", webhook: "webhook" } as const;

export type EmailConfig = {
  host: string;
  port: number;
  /** tls: TLS from the first byte (usually 465); starttls: upgrade required (587); none: plain (tests, relays). */
  security: "tls" | "starttls" | "none";
  user?: string | undefined;
  from: string;
  to: string[];
};
export type EmailSecrets = { password?: string | undefined };
export type WebhookSecrets = { url: string; signingSecret?: string | undefined };

export type SendContext = {
  /** The outbox key: the e-mail's Message-ID and the webhook's delivery id. */
  deliveryKey: string;
  /** Seconds; the longest one send may take. */
  timeoutSeconds: number;
  /** CSPSYNC_NOTIFY_ALLOWED_HOSTS. */
  allowedHosts: readonly string[];
  /** The clock, for the webhook signature's timestamp. */
  now: Date;
};

export type SendResult = { detail: string };

function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  const domain = at >= 0 ? address.slice(at + 1).replace(/[>\s].*$/, "") : "";
  return /^[a-z0-9.-]+$/i.test(domain) ? domain : "cspsync.invalid";
}

export async function sendEmail(
  config: EmailConfig,
  secrets: EmailSecrets,
  event: NotificationEvent,
  context: SendContext,
): Promise<SendResult> {
  // Loaded on the first e-mail: nodemailer is ~20 MB of a server's memory that most never use (BENCHMARKS.md).
  const { default: nodemailer } = await import("nodemailer");
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.security === "tls",
    requireTLS: config.security === "starttls",
    ignoreTLS: config.security === "none",
    auth: config.user ? { user: config.user, pass: secrets.password ?? "" } : undefined,
    connectionTimeout: context.timeoutSeconds * 1000,
    greetingTimeout: context.timeoutSeconds * 1000,
    socketTimeout: context.timeoutSeconds * 1000,
  });
  const messageId = messageIdFor(context.deliveryKey, domainOf(config.from));
  try {
    const info = await transport.sendMail({
      from: config.from,
      to: config.to,
      subject: subjectLine(event),
      text: renderText(event),
      html: renderHtml(event),
      messageId,
      headers: { "X-Cspsync-Event": event.kind, "X-Cspsync-Delivery": context.deliveryKey },
    });
    const rejected = (info.rejected ?? []).map(String);
    if (rejected.length > 0 && rejected.length === config.to.length) {
      throw new NotifySendError(`the SMTP server refused every recipient (${rejected.join(", ")})`);
    }
    return { detail: `accepted by ${config.host} for ${info.accepted.length} recipient(s) as ${messageId}` };
  } catch (error) {
    if (error instanceof NotifySendError) throw error;
    const text = error instanceof Error ? error.message : String(error);
    throw new NotifySendError(`e-mail through ${config.host}:${config.port} failed: ${text}`, {
      cause: error,
    });
  } finally {
    transport.close();
  }
}

/**
 * POSTs JSON to an allow-listed webhook. A redirect is a failure naming the host it pointed to (the body,
 * with its signature, is never sent anywhere else); any other answer than 2xx is a failure with its status.
 */
export async function postWebhook(
  kind: "teams" | "slack" | "webhook",
  secrets: WebhookSecrets,
  event: NotificationEvent,
  context: SendContext,
): Promise<SendResult> {
  const url = assertWebhookAllowed(secrets.url, kind, context.allowedHosts);
  const label = WEBHOOK_LABEL[kind];
  const payload =
    kind === "teams"
      ? renderTeams(event)
      : kind === "slack"
        ? renderSlack(event)
        : renderWebhook(event, context.deliveryKey);
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "cspsync-notify",
    "x-cspsync-delivery": context.deliveryKey,
  };
  if (kind === "webhook" && secrets.signingSecret) {
    const timestamp = Math.floor(context.now.getTime() / 1000);
    headers[SIGNATURE_HEADER.toLowerCase()] = signWebhook(secrets.signingSecret, timestamp, body);
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(context.timeoutSeconds * 1000),
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
    const what =
      error instanceof Error && error.name === "TimeoutError" ? "timed out" : "could not be reached";
    throw new NotifySendError(`${label} at ${url.host} ${what}${cause}`, { cause: error });
  }
  // The answer is read and dropped: its body may echo what was sent.
  await response.arrayBuffer().catch(() => undefined);
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get("location");
    const target = location ? originOf(new URL(location, url).toString()) : "another address";
    throw new NotifySendError(
      `${label} at ${url.host} answered ${response.status}, a redirect to ${target}; redirects are not followed (nothing was sent there)`,
    );
  }
  if (response.status < 200 || response.status >= 300) {
    throw new NotifySendError(`${label} at ${url.host} answered ${response.status}`);
  }
  return { detail: `${url.host} answered ${response.status}` };
}
