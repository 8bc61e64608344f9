import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { currencyDecimals, Dec, sumDecimals, type DecimalString } from "./money.ts";

/**
 * Notifications as data (docs/notifications.md): the events cspsync tells people about, how severe each is,
 * which channel hears of which, when a subject's health changes, the daily digest's figures, and how one
 * message is written for e-mail, Microsoft Teams, Slack and a generic webhook. Pure: no I/O, no clock.
 */

export const SEVERITIES = ["info", "warning", "error"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const EVENT_KINDS = [
  /** A sync run ended with errors (items the PSA refused, a sync that could not start). */
  "run-errors",
  /** A sync run ended with warnings and no errors. */
  "run-warnings",
  /** A sync run held lines below cost for approval. */
  "lines-held",
  /** A PSA connection or data source started failing (credentials, unreachable, permission). */
  "subject-failing",
  /** A PSA connection or data source that was failing works again. */
  "subject-recovered",
  /** An expected invoice has not been imported by the configured day of the month. */
  "invoice-missing",
  /** A billing data file was rejected by the importer. */
  "import-rejected",
  /** A subscription renews, or its seat-change window closes, within the configured number of days. */
  "renewal-reminder",
  /** The daily digest. */
  "digest",
  /** "Send test" on a channel; always sent to that channel whatever its severities. */
  "test",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** The severity an event of each kind carries. */
export const KIND_SEVERITY: Record<EventKind, Severity> = {
  "run-errors": "error",
  "run-warnings": "warning",
  "lines-held": "warning",
  "subject-failing": "error",
  "subject-recovered": "info",
  "invoice-missing": "warning",
  "import-rejected": "error",
  "renewal-reminder": "info",
  digest: "info",
  test: "info",
};

export const CHANNEL_KINDS = ["email", "teams", "slack", "webhook"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** What a health subject is: a PSA connection, or a billing data source (e.g. a Partner Center fetch). */
export const SUBJECT_KINDS = ["connection", "source"] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];

export type Fact = { label: string; value: string };

/** One thing to tell people about, rendered the same way for every channel. */
export type NotificationEvent = {
  kind: EventKind;
  severity: Severity;
  /**
   * Identifies the event: the same key is the same event, told at most once per channel (a run's id and
   * kind, a health change's subject and start, the digest's date).
   */
  key: string;
  title: string;
  /** Sentences, in order. Never secrets or PSA payloads. */
  lines: string[];
  facts: Fact[];
  /** Absolute link into the web app, where one fits. */
  link?: string | undefined;
  /** ISO instant the event happened. */
  at: string;
};

/** Per-kind override: a severity threshold of its own for that kind, or "off" to never send it. */
export type KindOverride = Severity | "off";

export type ChannelRules = {
  minSeverity: Severity;
  overrides: Partial<Record<EventKind, KindOverride>>;
};

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/**
 * Whether a channel hears of an event: a test always; an event kind switched off never; otherwise its
 * severity must reach the kind's own threshold, or the channel's minimum when the kind has none. A recovery
 * without a rule of its own goes wherever its failure went.
 */
export function shouldSend(
  rules: ChannelRules,
  event: Pick<NotificationEvent, "kind" | "severity">,
): boolean {
  if (event.kind === "test") return true;
  const override = rules.overrides[event.kind];
  if (override === "off") return false;
  const threshold = override ?? rules.minSeverity;
  // A recovery reaches whoever heard of the failure: without a rule of its own it counts as severe as that.
  const severity =
    event.kind === "subject-recovered" && override === undefined
      ? KIND_SEVERITY["subject-failing"]
      : event.severity;
  return severityRank(severity) >= severityRank(threshold);
}

// ---------------------------------------------------------------------------------------------------------
// Health: failing once, recovered once.

export type HealthState = { state: "ok" | "failing"; failingSince: string | null };

/**
 * The subject's next health and what to tell: a subject that starts failing is told once ("failing", keyed
 * by the instant it started), a failing one that keeps failing is not told again, and one that works again
 * is told once ("recovered"). A subject never seen before that works is simply ok.
 */
export function healthTransition(
  previous: HealthState | null,
  outcome: "ok" | "failing",
  now: string,
): { next: HealthState; change: "failing" | "recovered" | null; failingSince: string | null } {
  const wasFailing = previous?.state === "failing";
  if (outcome === "failing") {
    if (wasFailing) return { next: previous!, change: null, failingSince: previous!.failingSince };
    return { next: { state: "failing", failingSince: now }, change: "failing", failingSince: now };
  }
  if (wasFailing) {
    return {
      next: { state: "ok", failingSince: null },
      change: "recovered",
      failingSince: previous!.failingSince,
    };
  }
  return { next: { state: "ok", failingSince: null }, change: null, failingSince: null };
}

// ---------------------------------------------------------------------------------------------------------
// Keys.

/** The outbox key of one event on one channel: the same event is queued once per channel, whoever queues it. */
export function outboxKey(eventKey: string, channelId: string): string {
  return "ntf-" + createHash("sha256").update(`${eventKey}|${channelId}`).digest("hex").slice(0, 32);
}

/** The e-mail Message-ID of an outbox row: a resend of the same notification carries the same one. */
export function messageIdFor(key: string, domain: string): string {
  return `<${key}@${domain}>`;
}

// ---------------------------------------------------------------------------------------------------------
// Events from a sync run.

export type RunOutcome = {
  runId: string;
  connectionId: string;
  connectionName: string;
  motion: string;
  status: string;
  written: number;
  warnings: number;
  errors: number;
  /** Held lines of this run: how many, and their value at the held price per currency. */
  held: { count: number; amounts: Record<string, DecimalString> };
  /** The first error messages (at most a few), already in words for people. */
  errorMessages: string[];
  warningMessages: string[];
  finishedAt: string;
  /** The sync could not start at all (PSA unreachable, credentials refused or unreadable, host not allowed). */
  couldNotStart: boolean;
};

const RUN_STATUS_WORDS: Record<string, string> = {
  error: "ended with errors",
  warning: "ended with warnings",
  success: "succeeded",
  "no-change": "had nothing to change",
};

export function runLink(baseUrl: string | undefined, runId: string): string | undefined {
  return baseUrl ? `${baseUrl.replace(/\/+$/, "")}/runs/${encodeURIComponent(runId)}` : undefined;
}

export function formatAmounts(amounts: Record<string, DecimalString>): string {
  const entries = Object.entries(amounts).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return "0";
  // In the currency's own minor units (JPY 0, BHD 3), rounded half up.
  return entries
    .map(([currency, amount]) => {
      const places = currencyDecimals(currency);
      return `${new Dec(amount).toFixed(places, Dec.ROUND_HALF_UP)} ${currency}`;
    })
    .join(", ");
}

/** The events a finished run raises (the connection's health change is told apart, by healthTransition). */
export function runEvents(run: RunOutcome, baseUrl?: string): NotificationEvent[] {
  const events: NotificationEvent[] = [];
  const link = runLink(baseUrl, run.runId);
  const facts: Fact[] = [
    { label: "Connection", value: run.connectionName },
    { label: "Motion", value: run.motion },
    { label: "Written", value: String(run.written) },
    { label: "Warnings", value: String(run.warnings) },
    { label: "Errors", value: String(run.errors) },
  ];
  const status = RUN_STATUS_WORDS[run.status] ?? run.status;
  if (run.errors > 0 || run.status === "error") {
    events.push({
      kind: "run-errors",
      severity: KIND_SEVERITY["run-errors"],
      key: `run:${run.runId}:errors`,
      title: `Sync ${status}: ${run.connectionName} (${run.motion})`,
      lines: [
        `The ${run.motion} sync of ${run.connectionName} ${status}: ${run.errors} error(s), ${run.written} written.`,
        ...run.errorMessages.map((m) => `Error: ${m}`),
      ],
      facts,
      link,
      at: run.finishedAt,
    });
  } else if (run.warnings > 0 || run.status === "warning") {
    events.push({
      kind: "run-warnings",
      severity: KIND_SEVERITY["run-warnings"],
      key: `run:${run.runId}:warnings`,
      title: `Sync ${status}: ${run.connectionName} (${run.motion})`,
      lines: [
        `The ${run.motion} sync of ${run.connectionName} ${status}: ${run.warnings} warning(s), ${run.written} written.`,
        ...run.warningMessages.map((m) => `Warning: ${m}`),
      ],
      facts,
      link,
      at: run.finishedAt,
    });
  }
  if (run.held.count > 0) {
    events.push({
      kind: "lines-held",
      severity: KIND_SEVERITY["lines-held"],
      key: `run:${run.runId}:held`,
      title: `${run.held.count} line(s) held for approval: ${run.connectionName}`,
      lines: [
        `${run.held.count} line(s) priced below cost were held and wait for approval (${formatAmounts(run.held.amounts)} at the held price).`,
      ],
      facts: [
        { label: "Connection", value: run.connectionName },
        { label: "Held lines", value: String(run.held.count) },
        { label: "Held value", value: formatAmounts(run.held.amounts) },
      ],
      link,
      at: run.finishedAt,
    });
  }
  return events;
}

export type HealthSubject = { kind: SubjectKind; id: string; name: string };

/** The event of a health change (see healthTransition). */
export function healthEvent(
  subject: HealthSubject,
  change: "failing" | "recovered",
  failingSince: string,
  now: string,
  reason: string | null,
  link?: string,
): NotificationEvent {
  const what = subject.kind === "connection" ? "PSA connection" : "data source";
  const What = what[0]!.toUpperCase() + what.slice(1);
  if (change === "failing") {
    return {
      kind: "subject-failing",
      severity: KIND_SEVERITY["subject-failing"],
      key: `health:${subject.kind}:${subject.id}:failing:${failingSince}`,
      title: `${What} failing: ${subject.name}`,
      lines: [
        `The ${what} ${subject.name} is failing since ${failingSince}.`,
        ...(reason ? [`Reason: ${reason}`] : []),
        "You will be told once when it works again.",
      ],
      facts: [
        { label: what, value: subject.name },
        { label: "Failing since", value: failingSince },
      ],
      link,
      at: now,
    };
  }
  return {
    kind: "subject-recovered",
    severity: KIND_SEVERITY["subject-recovered"],
    key: `health:${subject.kind}:${subject.id}:recovered:${failingSince}`,
    title: `${What} recovered: ${subject.name}`,
    lines: [`The ${what} ${subject.name} works again (it was failing since ${failingSince}).`],
    facts: [
      { label: what, value: subject.name },
      { label: "Failing since", value: failingSince },
      { label: "Recovered at", value: now },
    ],
    link,
    at: now,
  };
}

/** Whether the invoice of `month` (YYYY-MM) is overdue on `today` (YYYY-MM-DD) with the configured day. */
export function invoiceOverdue(month: string, today: string, dueDay: number): boolean {
  if (!/^\d{4}-\d{2}$/.test(month) || !/^\d{4}-\d{2}-\d{2}$/.test(today)) return false;
  return today.slice(0, 7) === month && Number(today.slice(8, 10)) >= dueDay;
}

export function invoiceMissingEvent(month: string, dueDay: number, now: string): NotificationEvent {
  return {
    kind: "invoice-missing",
    severity: KIND_SEVERITY["invoice-missing"],
    key: `invoice-missing:${month}`,
    title: `No billing data for ${month} yet`,
    lines: [
      `No reconciliation data with charges in ${previousMonth(month)} has been imported by day ${dueDay} of ${month}.`,
      "Import the month's reconciliation file (or check the data source) so the month can be billed.",
    ],
    facts: [
      { label: "Month", value: month },
      { label: "Due by day", value: String(dueDay) },
    ],
    at: now,
  };
}

/** "2026-03" → "2026-02". */
export function previousMonth(month: string): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

export function importRejectedEvent(
  importId: string,
  fileName: string,
  reason: string,
  now: string,
  link?: string,
): NotificationEvent {
  return {
    kind: "import-rejected",
    severity: KIND_SEVERITY["import-rejected"],
    key: `import:${importId}:rejected`,
    title: `Import rejected: ${fileName}`,
    lines: [`The file ${fileName} was rejected and nothing of it was stored.`, `Reason: ${reason}`],
    facts: [{ label: "File", value: fileName }],
    link,
    at: now,
  };
}

/** A renewal or a closing change window, as the renewals service finds it (docs/reports.md). */
export type ReminderFacts = {
  kind: "renewal" | "window-closes";
  /** The reminder's own key: one per subscription and date, however many days it is found again. */
  key: string;
  at: string;
  customerName: string;
  productName: string;
  seats: string;
  text: string;
};

export function renewalReminderEvent(reminder: ReminderFacts, now: string, link?: string): NotificationEvent {
  const renewal = reminder.kind === "renewal";
  return {
    kind: "renewal-reminder",
    severity: KIND_SEVERITY["renewal-reminder"],
    key: `reminder:${reminder.key}`,
    title: renewal
      ? `Renews ${reminder.at.slice(0, 10)}: ${reminder.customerName}, ${reminder.productName}`
      : `Change window closes ${reminder.at.slice(0, 16).replace("T", " ")} UTC: ${reminder.customerName}, ${reminder.productName}`,
    lines: [
      reminder.text,
      renewal
        ? "At renewal the seats are locked in for another term; reduce or cancel before then if the customer wants to."
        : "After the window closes, seats can no longer be reduced and the subscription cannot be cancelled until the term ends.",
    ],
    facts: [
      { label: "Customer", value: reminder.customerName },
      { label: "Product", value: reminder.productName },
      { label: "Seats", value: reminder.seats },
      { label: renewal ? "Renews on" : "Window closes", value: reminder.at },
    ],
    link,
    at: now,
  };
}

export function testEvent(channelName: string, now: string, nonce: string): NotificationEvent {
  return {
    kind: "test",
    severity: "info",
    key: `test:${nonce}`,
    title: `cspsync test notification: ${channelName}`,
    lines: [`This is a test of the notification channel ${channelName}. If you read this, it works.`],
    facts: [{ label: "Channel", value: channelName }],
    at: now,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The digest.

export type DigestRun = {
  connectionId: string;
  connectionName: string;
  status: string;
  written: number;
  warnings: number;
  errors: number;
};

export type DigestHold = {
  connectionId: string;
  connectionName: string;
  currency: string;
  amount: DecimalString;
};

/** One import: its status, its new lines, and their amounts (one entry per line or per currency). */
export type DigestImport = {
  status: string;
  lines: number;
  amounts: { currency: string; amount: DecimalString }[];
};

export type DigestConnection = {
  connectionId: string;
  name: string;
  runs: number;
  failedRuns: number;
  written: number;
  warnings: number;
  errors: number;
  held: number;
  heldAmounts: Record<string, DecimalString>;
};

export type DigestFigures = {
  date: string;
  imports: { files: number; rejected: number; lines: number; totals: Record<string, DecimalString> };
  connections: DigestConnection[];
  totals: {
    runs: number;
    failedRuns: number;
    written: number;
    held: number;
    errors: number;
    warnings: number;
  };
  heldAmounts: Record<string, DecimalString>;
  failing: { name: string; since: string }[];
};

function addAmount(into: Record<string, DecimalString>, currency: string, amount: DecimalString): void {
  into[currency] = sumDecimals([into[currency] ?? "0", amount]);
}

/** The digest's figures for one day: per connection, and totals per currency of the data. */
export function digestFigures(
  date: string,
  runs: readonly DigestRun[],
  holds: readonly DigestHold[],
  imports: readonly DigestImport[],
  failing: readonly { name: string; since: string }[],
): DigestFigures {
  const byConnection = new Map<string, DigestConnection>();
  const entry = (id: string, name: string) => {
    let found = byConnection.get(id);
    if (!found) {
      found = {
        connectionId: id,
        name,
        runs: 0,
        failedRuns: 0,
        written: 0,
        warnings: 0,
        errors: 0,
        held: 0,
        heldAmounts: {},
      };
      byConnection.set(id, found);
    }
    return found;
  };
  for (const run of runs) {
    const c = entry(run.connectionId, run.connectionName);
    c.runs += 1;
    if (run.status === "error" || run.status === "abandoned") c.failedRuns += 1;
    c.written += run.written;
    c.warnings += run.warnings;
    c.errors += run.errors;
  }
  const heldAmounts: Record<string, DecimalString> = {};
  for (const hold of holds) {
    const c = entry(hold.connectionId, hold.connectionName);
    c.held += 1;
    addAmount(c.heldAmounts, hold.currency, hold.amount);
    addAmount(heldAmounts, hold.currency, hold.amount);
  }
  const importTotals: Record<string, DecimalString> = {};
  let lines = 0;
  let rejected = 0;
  for (const i of imports) {
    if (i.status === "rejected") rejected += 1;
    lines += i.lines;
    for (const a of i.amounts) addAmount(importTotals, a.currency, a.amount);
  }
  const connections = [...byConnection.values()].sort((a, b) => a.name.localeCompare(b.name));
  const sum = (f: (c: DigestConnection) => number) => connections.reduce((n, c) => n + f(c), 0);
  return {
    date,
    imports: { files: imports.length, rejected, lines, totals: importTotals },
    connections,
    totals: {
      runs: sum((c) => c.runs),
      failedRuns: sum((c) => c.failedRuns),
      written: sum((c) => c.written),
      held: sum((c) => c.held),
      errors: sum((c) => c.errors),
      warnings: sum((c) => c.warnings),
    },
    heldAmounts,
    failing: [...failing],
  };
}

export function digestEvent(figures: DigestFigures, now: string, baseUrl?: string): NotificationEvent {
  const lines = [
    `Imported: ${figures.imports.files} file(s), ${figures.imports.lines} line(s)` +
      (figures.imports.rejected ? `, ${figures.imports.rejected} rejected` : "") +
      ` — ${formatAmounts(figures.imports.totals)}.`,
    `Synced: ${figures.totals.runs} run(s), ${figures.totals.written} written, ${figures.totals.warnings} warning(s), ${figures.totals.errors} error(s), ${figures.totals.failedRuns} failed run(s).`,
    `Held for approval: ${figures.totals.held} line(s) — ${formatAmounts(figures.heldAmounts)}.`,
    ...figures.connections.map(
      (c) =>
        `${c.name}: ${c.runs} run(s), ${c.written} written, ${c.errors} error(s), ${c.held} held (${formatAmounts(c.heldAmounts)})`,
    ),
    ...figures.failing.map((f) => `Failing: ${f.name} since ${f.since}`),
  ];
  return {
    kind: "digest",
    severity: KIND_SEVERITY.digest,
    key: `digest:${figures.date}`,
    title: `cspsync daily digest ${figures.date}`,
    lines,
    facts: [
      { label: "Runs", value: String(figures.totals.runs) },
      { label: "Written", value: String(figures.totals.written) },
      { label: "Held", value: String(figures.totals.held) },
      { label: "Errors", value: String(figures.totals.errors) },
    ],
    link: baseUrl ? `${baseUrl.replace(/\/+$/, "")}/runs` : undefined,
    at: now,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Rendering.

const SEVERITY_LABEL: Record<Severity, string> = { info: "Info", warning: "Warning", error: "Error" };

export function subjectLine(event: NotificationEvent): string {
  return event.kind === "digest" || event.kind === "test"
    ? event.title
    : `[cspsync ${SEVERITY_LABEL[event.severity]}] ${event.title}`;
}

export function renderText(event: NotificationEvent): string {
  return [
    event.title,
    "",
    ...event.lines,
    "",
    ...event.facts.map((f) => `${f.label}: ${f.value}`),
    ...(event.link ? ["", `Open in cspsync: ${event.link}`] : []),
    "",
  ].join("\n");
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

export function renderHtml(event: NotificationEvent): string {
  const rows = event.facts
    .map((f) => `<tr><th align="left">${escapeHtml(f.label)}</th><td>${escapeHtml(f.value)}</td></tr>`)
    .join("");
  return [
    "<!doctype html><html><body>",
    `<h2>${escapeHtml(event.title)}</h2>`,
    ...event.lines.map((l) => `<p>${escapeHtml(l)}</p>`),
    rows ? `<table>${rows}</table>` : "",
    event.link ? `<p><a href="${escapeHtml(event.link)}">Open in cspsync</a></p>` : "",
    "</body></html>",
  ].join("\n");
}

/** A Microsoft Teams message with an Adaptive Card (what Teams incoming webhooks and workflows accept). */
export function renderTeams(event: NotificationEvent): unknown {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            {
              type: "TextBlock",
              text: event.title,
              weight: "Bolder",
              size: "Medium",
              wrap: true,
              color:
                event.severity === "error"
                  ? "Attention"
                  : event.severity === "warning"
                    ? "Warning"
                    : "Default",
            },
            ...event.lines.map((text) => ({ type: "TextBlock", text, wrap: true })),
            { type: "FactSet", facts: event.facts.map((f) => ({ title: f.label, value: f.value })) },
          ],
          actions: event.link ? [{ type: "Action.OpenUrl", title: "Open in cspsync", url: event.link }] : [],
        },
      },
    ],
  };
}

function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A Slack incoming-webhook message with Block Kit blocks and a plain-text fallback. */
export function renderSlack(event: NotificationEvent): unknown {
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: event.title.slice(0, 150) } },
    { type: "section", text: { type: "mrkdwn", text: event.lines.map(slackEscape).join("\n") } },
  ];
  if (event.facts.length > 0) {
    blocks.push({
      type: "section",
      fields: event.facts.slice(0, 10).map((f) => ({
        type: "mrkdwn",
        text: `*${slackEscape(f.label)}*\n${slackEscape(f.value)}`,
      })),
    });
  }
  if (event.link) {
    blocks.push({
      type: "actions",
      elements: [{ type: "button", text: { type: "plain_text", text: "Open in cspsync" }, url: event.link }],
    });
  }
  return { text: subjectLine(event), blocks };
}

/** The generic webhook's JSON body (docs/notifications.md §Generic webhook). */
export function renderWebhook(event: NotificationEvent, deliveryKey: string): unknown {
  return {
    id: deliveryKey,
    event: event.kind,
    severity: event.severity,
    eventKey: event.key,
    title: event.title,
    lines: event.lines,
    facts: event.facts,
    link: event.link ?? null,
    at: event.at,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Webhook signatures.

export const SIGNATURE_HEADER = "X-Cspsync-Signature";

/** The signed string: the Unix timestamp in seconds, a dot, and the exact body bytes. */
export function signingString(timestamp: number, body: string): string {
  return `${timestamp}.${body}`;
}

/** The header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of signingString with the channel's secret>`. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secret).update(signingString(timestamp, body)).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/**
 * What a receiver does (docs/notifications.md): recompute the HMAC over `t.body`, compare in constant time,
 * and refuse a timestamp further than `toleranceSeconds` from its own clock.
 */
export function verifyWebhook(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(
    header.split(",").map((p) => {
      const i = p.indexOf("=");
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    }),
  );
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, t, body).split("v1=")[1]!, "hex");
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ---------------------------------------------------------------------------------------------------------
// Connection problems.

/**
 * The run messages that mean the connection itself is failing rather than one line: the sync could not start,
 * the PSA refused the credentials or a permission, could not be reached, or redirected elsewhere. These are the
 * sentences src/psa/shared/error-sentences.ts writes (test/notify/core.test.ts pins them). Returns the first.
 */
const CONNECTION_PROBLEM_PATTERNS: readonly RegExp[] = [
  /^the sync could not start/,
  /refused the credentials/,
  /lacks a permission/,
  /could not be reached at/,
  /answered with a redirect cspsync does not follow/,
];

export function connectionProblem(messages: readonly string[]): string | null {
  return messages.find((m) => CONNECTION_PROBLEM_PATTERNS.some((p) => p.test(m))) ?? null;
}
