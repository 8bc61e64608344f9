import { useMemo, useState, type FormEvent } from "react";
import {
  api,
  type ApiError,
  type ChannelKind,
  type DeliveryStatus,
  type KindOverrides,
  type NotificationChannel,
  type NotificationChannelChanges,
  type NotificationChannelInput,
  type NotificationDelivery,
  type NotificationSettings,
  type SendTestResult,
  type Severity,
  type SubjectHealth,
} from "../api.ts";
import { Badge, EmptyState, ErrorMessage, Field, Loading, Notice, PageHeader } from "../components.tsx";
import { formatInstant } from "../format.ts";
import { useAction, useApiQuery, useDocumentTitle, useSession } from "../hooks.ts";
import { Link } from "../router.tsx";

/**
 * Settings → Notifications (docs/notifications.md): the channels people are told through (e-mail over SMTP,
 * Teams, Slack, a signed generic webhook), each with a minimum severity and per-event rules; "Send test"; the
 * digest's time and zone; the latest deliveries. Secrets are written, never shown: the API only says which are
 * set. Viewers see all of it without the buttons.
 */

const CHANNELS = "/api/notifications/channels";
const DELIVERIES = "/api/notifications/deliveries?limit=25";
const SETTINGS = "/api/notifications/settings";
const HEALTH = "/api/health/subjects";

export const KIND_LABELS: Record<ChannelKind, string> = {
  email: "E-mail (SMTP)",
  teams: "Microsoft Teams",
  slack: "Slack",
  webhook: "Generic webhook",
};

const SEVERITY_LABELS: Record<Severity, string> = { info: "Info", warning: "Warning", error: "Error" };
const SEVERITIES: readonly Severity[] = ["info", "warning", "error"];

/** The events a channel's rules can name ("test" always goes to its channel). */
const EVENT_LABELS: Record<string, string> = {
  "run-errors": "Sync ended with errors",
  "run-warnings": "Sync ended with warnings",
  "lines-held": "Lines held for approval",
  "subject-failing": "Connection failing",
  "subject-recovered": "Connection recovered",
  "invoice-missing": "Invoice not arrived",
  "import-rejected": "Import rejected",
  digest: "Daily digest",
};
const EVENT_KINDS = Object.keys(EVENT_LABELS) as (keyof KindOverrides)[];

const DELIVERY_TONES: Record<DeliveryStatus, "ok" | "warn" | "bad" | "info"> = {
  queued: "info",
  sending: "info",
  sent: "ok",
  failed: "bad",
  uncertain: "warn",
};
const DELIVERY_LABELS: Record<DeliveryStatus, string> = {
  queued: "Queued",
  sending: "Sending",
  sent: "Sent",
  failed: "Failed",
  uncertain: "Uncertain",
};

const CHANNELS_CHANGE = { invalidates: [CHANNELS, "/api/notifications/deliveries"] };

/** General settings and Notifications, as tabs of Settings. */
export function SettingsTabs({ current }: { current: "general" | "notifications" }) {
  const tabs = [
    { key: "general", label: "General", to: "/settings" },
    { key: "notifications", label: "Notifications", to: "/settings/notifications" },
  ] as const;
  return (
    <nav className="tabs" aria-label="Settings">
      {tabs.map((tab) => (
        <Link
          key={tab.key}
          to={tab.to}
          className={tab.key === current ? "tab active" : "tab"}
          aria-current={tab.key === current ? "page" : undefined}
        >
          {tab.label}
        </Link>
      ))}
    </nav>
  );
}

/** Where a channel sends to, without its secrets. */
function destination(channel: NotificationChannel): string {
  if (channel.kind === "email") {
    const config = channel.config as { host?: string; port?: number; to?: string[] };
    return `${(config.to ?? []).join(", ")} via ${config.host ?? "?"}:${config.port ?? "?"}`;
  }
  return channel.webhookHost ?? (channel.secretsSet.url ? "set" : "not set");
}

function rulesText(overrides: KindOverrides): string {
  const entries = Object.entries(overrides).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "—";
  return entries
    .map(([kind, value]) => `${EVENT_LABELS[kind] ?? kind}: ${value === "off" ? "off" : value}`)
    .join("; ");
}

function ChannelStatus({ channel }: { channel: NotificationChannel }) {
  if (channel.status === "failing") {
    return (
      <>
        <Badge tone="bad">
          Failing since {channel.failingSince ? formatInstant(channel.failingSince) : "recently"}
        </Badge>
        {channel.lastError && <p className="small text-bad">{channel.lastError}</p>}
      </>
    );
  }
  return (
    <>
      {channel.enabled ? <Badge tone="ok">OK</Badge> : <Badge tone="neutral">Off</Badge>}
      {channel.lastSentAt && <p className="small muted">Last sent {formatInstant(channel.lastSentAt)}</p>}
      {channel.consecutiveFailures > 0 && channel.lastError && (
        <p className="small text-bad">
          {channel.consecutiveFailures} failed in a row: {channel.lastError}
        </p>
      )}
    </>
  );
}

type Editing = { mode: "add" } | { mode: "edit"; channel: NotificationChannel } | null;

function Channels() {
  const { isAdmin } = useSession();
  const list = useApiQuery<{ channels: NotificationChannel[] }>(CHANNELS);
  const [editing, setEditing] = useState<Editing>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [tested, setTested] = useState<{ name: string; result: SendTestResult } | null>(null);
  const test = useAction(async (channel: NotificationChannel) => {
    setTested(null);
    const result = await api.post<SendTestResult>(`${CHANNELS}/${channel.id}/test`);
    setTested({ name: channel.name, result });
  }, CHANNELS_CHANGE);
  const remove = useAction(async (channel: NotificationChannel) => {
    if (!window.confirm(`Remove the channel “${channel.name}”? It is told nothing more.`)) return;
    await api.delete(`${CHANNELS}/${channel.id}`);
    setSaved(`Removed ${channel.name}.`);
  }, CHANNELS_CHANGE);
  const channels = list.data?.channels;

  return (
    <section className="panel" aria-labelledby="channels-title">
      <h2 id="channels-title">Channels</h2>
      <p className="hint">
        Each channel gets the events at or above its minimum severity; a rule per event raises, lowers or
        switches off one kind. A channel that fails 5 times in a row is marked failing until it is saved again
        or a test gets through.
      </p>
      {list.error && <ErrorMessage error={list.error} retry={list.refetch} />}
      {!channels && list.loading && <Loading label="Loading channels…" />}
      {channels && channels.length === 0 && (
        <EmptyState title="No notification channels yet.">
          {!isAdmin && <p>An admin adds e-mail, Teams, Slack or webhook channels.</p>}
        </EmptyState>
      )}
      {channels && channels.length > 0 && (
        <table className="table responsive">
          <caption className="visually-hidden">Notification channels</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Sends to</th>
              <th scope="col">Minimum severity</th>
              <th scope="col">Per-event rules</th>
              <th scope="col">Status</th>
              {isAdmin && (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {channels.map((c) => (
              <tr key={c.id}>
                <th scope="row" data-label="Name">
                  {c.name}
                </th>
                <td data-label="Kind">{KIND_LABELS[c.kind]}</td>
                <td data-label="Sends to" className="break">
                  {destination(c)}
                </td>
                <td data-label="Minimum severity">{SEVERITY_LABELS[c.minSeverity]}</td>
                <td data-label="Per-event rules">{rulesText(c.overrides)}</td>
                <td data-label="Status">
                  <ChannelStatus channel={c} />
                </td>
                {isAdmin && (
                  <td data-label="">
                    <span className="button-group">
                      <button
                        type="button"
                        className="button secondary small"
                        aria-label={`Send test — ${c.name}`}
                        disabled={test.busy}
                        onClick={() => void test.run(c)}
                      >
                        Send test
                      </button>
                      <button
                        type="button"
                        className="button secondary small"
                        aria-label={`Edit ${c.name}`}
                        onClick={() => {
                          setSaved(null);
                          setEditing({ mode: "edit", channel: c });
                        }}
                      >
                        Edit
                      </button>
                      <button
                        type="button"
                        className="button danger small"
                        aria-label={`Remove ${c.name}`}
                        onClick={() => void remove.run(c)}
                      >
                        Remove
                      </button>
                    </span>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {test.busy && <Loading label="Sending a test…" />}
      {test.error && <ErrorMessage error={test.error} />}
      {tested &&
        (tested.result.outcome === "sent" ? (
          <Notice kind="success">Test sent through {tested.name}.</Notice>
        ) : (
          <ErrorMessage
            error={`The test through ${tested.name} was not sent${tested.result.error ? `: ${tested.result.error}` : "."}`}
          />
        ))}
      {remove.error && <ErrorMessage error={remove.error} />}
      {saved && <Notice kind="success">{saved}</Notice>}
      {isAdmin && editing === null && (
        <div className="form-actions">
          <button
            type="button"
            className="button primary"
            onClick={() => {
              setSaved(null);
              setEditing({ mode: "add" });
            }}
          >
            Add a channel
          </button>
        </div>
      )}
      {isAdmin && editing && (
        <ChannelForm
          key={editing.mode === "edit" ? editing.channel.id : "new"}
          channel={editing.mode === "edit" ? editing.channel : null}
          onDone={(message) => {
            setEditing(null);
            setSaved(message);
          }}
        />
      )}
    </section>
  );
}

type ChannelDraft = {
  kind: ChannelKind;
  name: string;
  minSeverity: Severity;
  enabled: boolean;
  overrides: Record<string, string>;
  host: string;
  port: string;
  security: "tls" | "starttls" | "none";
  user: string;
  password: string;
  from: string;
  to: string;
  url: string;
  signingSecret: string;
};

function draftOf(channel: NotificationChannel | null): ChannelDraft {
  const config = (channel?.config ?? {}) as {
    host?: string;
    port?: number;
    security?: ChannelDraft["security"];
    user?: string;
    from?: string;
    to?: string[];
  };
  return {
    kind: channel?.kind ?? "email",
    name: channel?.name ?? "",
    minSeverity: channel?.minSeverity ?? "warning",
    enabled: channel?.enabled ?? true,
    overrides: Object.fromEntries(
      Object.entries(channel?.overrides ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, v]])),
    ),
    host: config.host ?? "",
    port: config.port !== undefined ? String(config.port) : "587",
    security: config.security ?? "starttls",
    user: config.user ?? "",
    password: "",
    from: config.from ?? "",
    to: (config.to ?? []).join(", "),
    url: "",
    signingSecret: "",
  };
}

/** The body of an add or a change: secrets only when typed (an empty box keeps the stored one). */
function bodyOf(draft: ChannelDraft): NotificationChannelInput {
  const overrides = Object.fromEntries(
    Object.entries(draft.overrides).filter(([, v]) => v !== ""),
  ) as NotificationChannelInput["overrides"];
  const secrets: Record<string, string> = {};
  let config: Record<string, unknown> = {};
  if (draft.kind === "email") {
    config = {
      host: draft.host.trim(),
      port: /^\d+$/.test(draft.port.trim()) ? Number(draft.port.trim()) : draft.port.trim(),
      security: draft.security,
      from: draft.from.trim(),
      to: draft.to
        .split(/[,;\s]+/)
        .map((address) => address.trim())
        .filter(Boolean),
      ...(draft.user.trim() ? { user: draft.user.trim() } : {}),
    };
    if (draft.password) secrets.password = draft.password;
  } else {
    if (draft.url.trim()) secrets.url = draft.url.trim();
    if (draft.kind === "webhook" && draft.signingSecret) secrets.signingSecret = draft.signingSecret;
  }
  return {
    kind: draft.kind,
    name: draft.name.trim(),
    minSeverity: draft.minSeverity,
    enabled: draft.enabled,
    overrides,
    config,
    secrets,
  };
}

/** The API names fields by their path in the body ("config.host", "secrets.url", "config.to.1"). */
function fieldError(error: ApiError | null, ...fields: string[]): string | null {
  const field = error?.field;
  if (!error || !field) return null;
  return fields.some((f) => field === f || field.startsWith(`${f}.`)) ? error.message : null;
}

const FORM_FIELDS = [
  "name",
  "minSeverity",
  "overrides",
  "config.host",
  "config.port",
  "config.security",
  "config.user",
  "config.from",
  "config.to",
  "secrets.password",
  "secrets.url",
  "url",
  "secrets.signingSecret",
];

function ChannelForm({
  channel,
  onDone,
}: {
  channel: NotificationChannel | null;
  onDone: (message: string) => void;
}) {
  const adding = channel === null;
  const [draft, setDraft] = useState<ChannelDraft>(() => draftOf(channel));
  const set = <K extends keyof ChannelDraft>(key: K, value: ChannelDraft[K]) =>
    setDraft((d) => ({ ...d, [key]: value }));
  const save = useAction(async () => {
    const body = bodyOf(draft);
    if (adding) {
      await api.post<NotificationChannel>(CHANNELS, body);
      onDone(`Added ${body.name}.`);
    } else {
      const { kind: _kind, ...changes } = body;
      await api.patch<NotificationChannel>(
        `${CHANNELS}/${channel.id}`,
        changes as NotificationChannelChanges,
      );
      onDone(`Saved ${body.name}.`);
    }
  }, CHANNELS_CHANGE);
  const err = (...fields: string[]) => fieldError(save.error, ...fields);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save.run();
  };
  const otherError =
    save.error && !FORM_FIELDS.some((f) => fieldError(save.error, f) !== null) ? save.error : null;
  const secretHint = (stored: boolean) => (stored ? "Set. Leave empty to keep it." : undefined);

  return (
    <form
      className="form inline-form"
      aria-label={adding ? "New channel" : `Edit ${channel.name}`}
      onSubmit={submit}
    >
      <h3>{adding ? "New channel" : `Edit ${channel.name}`}</h3>
      <div className="row">
        {adding && (
          <Field id="channel-kind" label="Kind">
            <select
              id="channel-kind"
              value={draft.kind}
              onChange={(e) => set("kind", e.target.value as ChannelKind)}
            >
              {(Object.keys(KIND_LABELS) as ChannelKind[]).map((k) => (
                <option key={k} value={k}>
                  {KIND_LABELS[k]}
                </option>
              ))}
            </select>
          </Field>
        )}
        <Field id="channel-name" label="Name" error={err("name")}>
          <input
            id="channel-name"
            type="text"
            required
            value={draft.name}
            onChange={(e) => set("name", e.target.value)}
          />
        </Field>
        <Field id="channel-severity" label="Minimum severity" error={err("minSeverity")}>
          <select
            id="channel-severity"
            value={draft.minSeverity}
            onChange={(e) => set("minSeverity", e.target.value as Severity)}
          >
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {SEVERITY_LABELS[s]}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <div className="checkbox">
        <input
          id="channel-enabled"
          type="checkbox"
          checked={draft.enabled}
          onChange={(e) => set("enabled", e.target.checked)}
        />
        <label htmlFor="channel-enabled">Send notifications through this channel</label>
      </div>

      {draft.kind === "email" ? (
        <fieldset>
          <legend>SMTP server</legend>
          <div className="row">
            <Field id="smtp-host" label="SMTP host" error={err("config.host")}>
              <input
                id="smtp-host"
                type="text"
                required
                autoComplete="off"
                value={draft.host}
                onChange={(e) => set("host", e.target.value)}
              />
            </Field>
            <Field id="smtp-port" label="Port" error={err("config.port")}>
              <input
                id="smtp-port"
                type="text"
                inputMode="numeric"
                required
                value={draft.port}
                onChange={(e) => set("port", e.target.value)}
              />
            </Field>
            <Field id="smtp-security" label="TLS" error={err("config.security")}>
              <select
                id="smtp-security"
                value={draft.security}
                onChange={(e) => set("security", e.target.value as ChannelDraft["security"])}
              >
                <option value="starttls">STARTTLS (usually 587)</option>
                <option value="tls">TLS from the start (usually 465)</option>
                <option value="none">None (a local relay)</option>
              </select>
            </Field>
          </div>
          <div className="row">
            <Field id="smtp-user" label="User" hint="Empty: no sign-in." error={err("config.user")}>
              <input
                id="smtp-user"
                type="text"
                autoComplete="off"
                value={draft.user}
                onChange={(e) => set("user", e.target.value)}
              />
            </Field>
            <Field
              id="smtp-password"
              label="Password"
              hint={secretHint(channel?.secretsSet.password ?? false)}
              error={err("secrets.password")}
            >
              <input
                id="smtp-password"
                type="password"
                autoComplete="new-password"
                value={draft.password}
                onChange={(e) => set("password", e.target.value)}
              />
            </Field>
          </div>
          <div className="row">
            <Field id="smtp-from" label="From" error={err("config.from")}>
              <input
                id="smtp-from"
                type="email"
                required
                value={draft.from}
                onChange={(e) => set("from", e.target.value)}
              />
            </Field>
            <Field
              id="smtp-to"
              label="Recipients"
              hint="E-mail addresses, separated by commas."
              error={err("config.to")}
            >
              <input
                id="smtp-to"
                type="text"
                required
                value={draft.to}
                onChange={(e) => set("to", e.target.value)}
              />
            </Field>
          </div>
        </fieldset>
      ) : (
        <fieldset>
          <legend>{KIND_LABELS[draft.kind]}</legend>
          <Field
            id="webhook-url"
            label="Webhook URL"
            hint={
              channel?.secretsSet.url
                ? `Set (${channel.webhookHost ?? "host unknown"}). Leave empty to keep it.`
                : draft.kind === "webhook"
                  ? "Its host must be listed in CSPSYNC_NOTIFY_ALLOWED_HOSTS."
                  : undefined
            }
            error={err("secrets.url", "url")}
          >
            <input
              id="webhook-url"
              type="url"
              autoComplete="off"
              required={!channel?.secretsSet.url}
              value={draft.url}
              onChange={(e) => set("url", e.target.value)}
            />
          </Field>
          {draft.kind === "webhook" && (
            <Field
              id="webhook-secret"
              label="Signing secret"
              hint={
                channel?.secretsSet.signingSecret
                  ? "Set. Leave empty to keep it."
                  : "16 characters or more; receivers verify X-Cspsync-Signature with it."
              }
              error={err("secrets.signingSecret")}
            >
              <input
                id="webhook-secret"
                type="password"
                autoComplete="new-password"
                required={!channel?.secretsSet.signingSecret}
                value={draft.signingSecret}
                onChange={(e) => set("signingSecret", e.target.value)}
              />
            </Field>
          )}
        </fieldset>
      )}

      <fieldset>
        <legend>Per-event rules</legend>
        {err("overrides") && <p className="field-error">{err("overrides")}</p>}
        <div className="row">
          {EVENT_KINDS.map((kind) => (
            <Field key={kind} id={`rule-${kind}`} label={EVENT_LABELS[kind]}>
              <select
                id={`rule-${kind}`}
                value={draft.overrides[kind] ?? ""}
                onChange={(e) => set("overrides", { ...draft.overrides, [kind]: e.target.value })}
              >
                <option value="">Channel minimum</option>
                {SEVERITIES.map((s) => (
                  <option key={s} value={s}>
                    {SEVERITY_LABELS[s]} and above
                  </option>
                ))}
                <option value="off">Off</option>
              </select>
            </Field>
          ))}
        </div>
      </fieldset>
      {otherError && <ErrorMessage error={otherError} />}
      <div className="form-actions">
        <button type="button" className="button secondary" onClick={() => onDone("")}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={save.busy}>
          {save.busy ? "Saving…" : adding ? "Add channel" : "Save channel"}
        </button>
      </div>
    </form>
  );
}

function timeZones(current: string): string[] {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  return [...new Set([...zones, "UTC", current])].filter(Boolean).sort();
}

function Digest() {
  const { isAdmin } = useSession();
  const settings = useApiQuery<NotificationSettings>(SETTINGS);
  return (
    <section className="panel" aria-labelledby="digest-title">
      <h2 id="digest-title">Daily digest and invoice check</h2>
      {settings.error && <ErrorMessage error={settings.error} retry={settings.refetch} />}
      {!settings.data && settings.loading && <Loading label="Loading settings…" />}
      {settings.data && <DigestForm initial={settings.data} readOnly={!isAdmin} />}
    </section>
  );
}

function DigestForm({ initial, readOnly }: { initial: NotificationSettings; readOnly: boolean }) {
  const [values, setValues] = useState({
    digestEnabled: initial.digestEnabled,
    digestTime: initial.digestTime,
    digestTimeZone: initial.digestTimeZone,
    invoiceDueDay: initial.invoiceDueDay === null ? "" : String(initial.invoiceDueDay),
    renewalReminderDays: initial.renewalReminderDays === null ? "" : String(initial.renewalReminderDays),
    appUrl: initial.appUrl ?? "",
  });
  const [saved, setSaved] = useState(false);
  const zones = useMemo(() => timeZones(initial.digestTimeZone), [initial.digestTimeZone]);
  const set = <K extends keyof typeof values>(key: K, value: (typeof values)[K]) => {
    setSaved(false);
    setValues((v) => ({ ...v, [key]: value }));
  };
  const save = useAction(
    async () => {
      const day = values.invoiceDueDay.trim();
      const ahead = values.renewalReminderDays.trim();
      await api.put<NotificationSettings>(SETTINGS, {
        digestEnabled: values.digestEnabled,
        digestTime: values.digestTime,
        digestTimeZone: values.digestTimeZone,
        invoiceDueDay: day === "" ? null : /^\d+$/.test(day) ? Number(day) : day,
        renewalReminderDays: ahead === "" ? null : /^\d+$/.test(ahead) ? Number(ahead) : ahead,
        appUrl: values.appUrl.trim() === "" ? null : values.appUrl.trim(),
      });
      setSaved(true);
    },
    { invalidates: [SETTINGS] },
  );
  const err = (field: string) => fieldError(save.error, field);
  const fields = [
    "digestTime",
    "digestTimeZone",
    "invoiceDueDay",
    "renewalReminderDays",
    "appUrl",
    "digestEnabled",
  ];
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save.run();
  };
  return (
    <form className="form" onSubmit={submit}>
      <p className="hint">
        Once a day cspsync sends a digest of the 24 hours before: what was imported, synced, written, held and
        what failed, per connection. The same check tells when no billing data for the month before has
        arrived by the day of the month set here.
      </p>
      <fieldset disabled={readOnly} className="plain">
        <div className="checkbox">
          <input
            id="digest-enabled"
            type="checkbox"
            checked={values.digestEnabled}
            onChange={(e) => set("digestEnabled", e.target.checked)}
          />
          <label htmlFor="digest-enabled">Send the daily digest</label>
        </div>
        <div className="row">
          <Field id="digest-time" label="Digest time" error={err("digestTime")}>
            <input
              id="digest-time"
              type="time"
              required
              value={values.digestTime}
              onChange={(e) => set("digestTime", e.target.value)}
            />
          </Field>
          <Field id="digest-zone" label="Digest time zone" error={err("digestTimeZone")}>
            <select
              id="digest-zone"
              value={values.digestTimeZone}
              onChange={(e) => set("digestTimeZone", e.target.value)}
            >
              {zones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          </Field>
          <Field
            id="invoice-due-day"
            label="Invoice expected by day"
            hint="1–28; empty: no check."
            error={err("invoiceDueDay")}
          >
            <input
              id="invoice-due-day"
              type="text"
              inputMode="numeric"
              value={values.invoiceDueDay}
              onChange={(e) => set("invoiceDueDay", e.target.value)}
            />
          </Field>
          <Field
            id="renewal-reminders"
            label="Renewal reminders, days ahead"
            hint="1–90; empty: none. Renewals and closing change windows are told once each."
            error={err("renewalReminderDays")}
          >
            <input
              id="renewal-reminders"
              type="text"
              inputMode="numeric"
              value={values.renewalReminderDays}
              onChange={(e) => set("renewalReminderDays", e.target.value)}
            />
          </Field>
          <Field
            id="app-url"
            label="Web app address"
            hint="For the links in notifications."
            error={err("appUrl")}
          >
            <input
              id="app-url"
              type="url"
              value={values.appUrl}
              onChange={(e) => set("appUrl", e.target.value)}
            />
          </Field>
        </div>
      </fieldset>
      {save.error && !fields.some((f) => err(f) !== null) && <ErrorMessage error={save.error} />}
      {saved && !save.error && <Notice kind="success">Digest settings saved.</Notice>}
      {!readOnly && (
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={save.busy}>
            {save.busy ? "Saving…" : "Save digest settings"}
          </button>
        </div>
      )}
    </form>
  );
}

function Deliveries() {
  const deliveries = useApiQuery<{ deliveries: NotificationDelivery[] }>(DELIVERIES);
  const channels = useApiQuery<{ channels: NotificationChannel[] }>(CHANNELS);
  const names = new Map((channels.data?.channels ?? []).map((c) => [c.id, c.name]));
  const list = deliveries.data?.deliveries;
  return (
    <section className="panel" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Last deliveries</h2>
      <p className="hint">
        Uncertain: the sending worker stopped mid-send, so nobody knows whether it arrived; it is not sent
        again.
      </p>
      {deliveries.error && <ErrorMessage error={deliveries.error} retry={deliveries.refetch} />}
      {!list && deliveries.loading && <Loading label="Loading deliveries…" />}
      {list && list.length === 0 && <EmptyState title="Nothing has been sent yet." />}
      {list && list.length > 0 && (
        <table className="table responsive">
          <caption className="visually-hidden">Last deliveries</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Channel</th>
              <th scope="col">Event</th>
              <th scope="col">Title</th>
              <th scope="col">Status</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {list.map((d) => (
              <tr key={d.key}>
                <td data-label="When">{formatInstant(d.sentAt ?? d.createdAt)}</td>
                <td data-label="Channel">{names.get(d.channelId) ?? "(removed)"}</td>
                <td data-label="Event">
                  {EVENT_LABELS[d.eventKind] ?? (d.eventKind === "test" ? "Test" : d.eventKind)}
                </td>
                <td data-label="Title" className="break">
                  {d.title}
                </td>
                <td data-label="Status">
                  <Badge tone={DELIVERY_TONES[d.status]}>{DELIVERY_LABELS[d.status]}</Badge>
                  {d.attempts > 1 && <span className="small muted"> ({d.attempts} tries)</span>}
                </td>
                <td data-label="Error" className="break small">
                  {d.lastError ?? ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function NotificationsPage() {
  useDocumentTitle("Notifications");
  return (
    <>
      <PageHeader title="Notifications" />
      <SettingsTabs current="notifications" />
      <Channels />
      <Digest />
      <Deliveries />
    </>
  );
}

/**
 * The dashboard's health card: per PSA connection and billing data source, its last success and, while it
 * fails, since when and why (GET /api/health/subjects).
 */
export function SubjectHealthCard() {
  const health = useApiQuery<{ subjects: SubjectHealth[] }>(HEALTH);
  const subjects = health.data?.subjects;
  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">Connection health</h2>
      {health.error && <ErrorMessage error={health.error} retry={health.refetch} />}
      {!subjects && health.loading && <Loading label="Loading connection health…" />}
      {subjects && subjects.length === 0 && <EmptyState title="No connection or data source has run yet." />}
      {subjects && subjects.length > 0 && (
        <table className="table responsive">
          <caption className="visually-hidden">Connection health</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col">Last success</th>
              <th scope="col">Failing since</th>
            </tr>
          </thead>
          <tbody>
            {subjects.map((s) => (
              <tr key={`${s.subjectKind}:${s.subjectId}`}>
                <th scope="row" data-label="Name">
                  {s.name}
                </th>
                <td data-label="Kind">
                  {s.subjectKind === "connection" ? "PSA connection" : "Billing source"}
                </td>
                <td data-label="State">
                  {s.state === "ok" ? <Badge tone="ok">OK</Badge> : <Badge tone="bad">Failing</Badge>}
                  {s.state === "failing" && s.lastError && <p className="small text-bad">{s.lastError}</p>}
                </td>
                <td data-label="Last success">
                  {s.lastSuccessAt ? formatInstant(s.lastSuccessAt) : "Never"}
                </td>
                <td data-label="Failing since">{s.failingSince ? formatInstant(s.failingSince) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
