import { parseArgs } from "node:util";
import { createApp, type App } from "../../app.ts";
import { CHANNEL_KINDS, type ChannelKind } from "../../core/notifications.ts";
import type { ChannelInput } from "../../services/notifications.ts";
import { printJson, renderTable, UsageError } from "../output.ts";

export const notifyHelp = `cspsync notify channel add email --name N --smtp-host H --smtp-port P [--smtp-security tls|starttls|none]
    [--smtp-user U --smtp-password-env VAR] --from ADDRESS --to ADDRESS[,ADDRESS…] [--min-severity info|warning|error]
cspsync notify channel add teams|slack --name N --url-env VAR [--min-severity S]
cspsync notify channel add webhook --name N --url-env VAR --signing-secret-env VAR [--min-severity S]
cspsync notify channel list [--json] / channel remove CHANNEL
cspsync notify test CHANNEL
cspsync notify digest --now
cspsync notify settings [--digest-time HH:MM] [--digest-zone ZONE] [--invoice-due-day N|off] [--renewal-reminders DAYS|off] [--app-url URL]
cspsync notify deliveries [--json]

Notifications (docs/notifications.md). Secrets — the SMTP password, webhook URLs, the signing secret — are read
from the named environment variables (so they stay out of shell history), encrypted at rest and never printed.
Webhook hosts other than Teams' and Slack's public ones must be in CSPSYNC_NOTIFY_ALLOWED_HOSTS. "test" sends a
test through the channel now; "digest --now" records today's digest and sends it at once.`;

function secretFromEnv(name: string | undefined, what: string): string | undefined {
  if (name === undefined) return undefined;
  const value = process.env[name];
  if (!value) throw new UsageError(`${what}: the environment variable ${name} is not set`);
  return value;
}

export async function notifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: "string" },
      json: { type: "boolean" },
      now: { type: "boolean" },
      name: { type: "string" },
      "min-severity": { type: "string" },
      "smtp-host": { type: "string" },
      "smtp-port": { type: "string" },
      "smtp-security": { type: "string" },
      "smtp-user": { type: "string" },
      "smtp-password-env": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "url-env": { type: "string" },
      "signing-secret-env": { type: "string" },
      "digest-time": { type: "string" },
      "digest-zone": { type: "string" },
      "invoice-due-day": { type: "string" },
      "renewal-reminders": { type: "string" },
      "app-url": { type: "string" },
    },
  });
  const [group, action, target] = positionals;
  const app = await createApp(values.db ? { databaseUrl: values.db } : {});
  try {
    const notifications = app.notifications;
    if (group === "channel" && action === "list") return await listChannels(app, values.json === true);
    if (group === "channel" && action === "remove") {
      if (!target) throw new UsageError("name the channel to remove");
      await notifications.removeChannel(target);
      console.log(`Channel ${target} removed.`);
      return 0;
    }
    if (group === "channel" && action === "add") {
      if (!target || !CHANNEL_KINDS.includes(target as ChannelKind))
        throw new UsageError(`the channel kind must be one of ${CHANNEL_KINDS.join(", ")}`);
      const kind = target as ChannelKind;
      if (!values.name) throw new UsageError("--name is required");
      const input: ChannelInput = { kind, name: values.name };
      if (values["min-severity"]) input.minSeverity = values["min-severity"] as ChannelInput["minSeverity"];
      if (kind === "email") {
        input.config = {
          host: values["smtp-host"],
          port: values["smtp-port"] === undefined ? undefined : Number(values["smtp-port"]),
          security: values["smtp-security"] ?? "starttls",
          ...(values["smtp-user"] ? { user: values["smtp-user"] } : {}),
          from: values.from,
          to: (values.to ?? "")
            .split(",")
            .map((a) => a.trim())
            .filter(Boolean),
        };
        const password = secretFromEnv(values["smtp-password-env"], "--smtp-password-env");
        input.secrets = password ? { password } : {};
      } else {
        input.secrets = {
          url: secretFromEnv(values["url-env"], "--url-env"),
          ...(kind === "webhook"
            ? { signingSecret: secretFromEnv(values["signing-secret-env"], "--signing-secret-env") }
            : {}),
        };
      }
      const channel = await notifications.addChannel(input);
      console.log(
        `Channel ${channel.name} (${channel.kind}) added; try it with: cspsync notify test ${channel.name}`,
      );
      return 0;
    }
    if (group === "test") {
      const name = action;
      if (!name) throw new UsageError("name the channel to test");
      const result = await notifications.sendTest(name);
      if (result.outcome === "sent") {
        console.log(`Test sent through ${name}.`);
        return 0;
      }
      console.error(`Test through ${name} failed: ${result.error ?? result.outcome}`);
      return 1;
    }
    if (group === "digest") {
      if (!values.now) throw new UsageError("digest runs at its time by itself; use --now to send it now");
      const keys = await notifications.digest();
      let sent = 0;
      for (const key of keys) if ((await notifications.deliver(key)) === "sent") sent += 1;
      console.log(`Digest sent through ${sent} of ${keys.length} channel(s).`);
      return sent === keys.length ? 0 : 1;
    }
    if (group === "settings") {
      const due = values["invoice-due-day"];
      const reminders = values["renewal-reminders"];
      const settings = await notifications.setSettings({
        ...(values["digest-time"] ? { digestTime: values["digest-time"] } : {}),
        ...(values["digest-zone"] ? { digestTimeZone: values["digest-zone"] } : {}),
        ...(due ? { invoiceDueDay: due === "off" ? null : Number(due) } : {}),
        ...(reminders ? { renewalReminderDays: reminders === "off" ? null : Number(reminders) } : {}),
        ...(values["app-url"] ? { appUrl: values["app-url"] } : {}),
      });
      if (values.json) printJson(settings);
      else
        console.log(
          `Digest ${settings.digestEnabled ? "on" : "off"} at ${settings.digestTime} ${settings.digestTimeZone}; ` +
            `invoice due by day ${settings.invoiceDueDay ?? "(not watched)"}; ` +
            `renewal reminders ${settings.renewalReminderDays === null ? "off" : `${settings.renewalReminderDays} days ahead`}; ` +
            `links to ${settings.appUrl ?? "(none)"}`,
        );
      return 0;
    }
    if (group === "deliveries") {
      const deliveries = await notifications.deliveries(50);
      if (values.json) printJson(deliveries);
      else
        console.log(
          renderTable(deliveries, [
            { header: "Created", value: (d) => d.createdAt },
            { header: "Event", value: (d) => d.eventKind },
            { header: "Status", value: (d) => d.status },
            { header: "Title", value: (d) => d.title },
            { header: "Error", value: (d) => d.lastError ?? "" },
          ]),
        );
      return 0;
    }
    throw new UsageError(`unknown notify command "${positionals.join(" ")}"; see cspsync notify --help`);
  } finally {
    await app.close();
  }
}

async function listChannels(app: App, json: boolean): Promise<number> {
  const channels = await app.notifications.listChannels();
  if (json) printJson(channels);
  else
    console.log(
      renderTable(channels, [
        { header: "Name", value: (c) => c.name },
        { header: "Kind", value: (c) => c.kind },
        { header: "Min. severity", value: (c) => c.minSeverity },
        {
          header: "Sends to",
          value: (c) =>
            c.kind === "email" ? ((c.config.to as string[]) ?? []).join(", ") : (c.webhookHost ?? ""),
        },
        { header: "Status", value: (c) => (c.status === "failing" ? `failing: ${c.lastError ?? ""}` : "ok") },
      ]),
    );
  return 0;
}
