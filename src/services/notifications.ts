import { randomUUID } from "node:crypto";
import { z } from "zod";
import { AppError } from "../core/errors.ts";
import { Dec, sumDecimals, type DecimalString } from "../core/money.ts";
import {
  CHANNEL_KINDS,
  connectionProblem,
  digestEvent,
  digestFigures,
  EVENT_KINDS,
  healthEvent,
  healthTransition,
  importRejectedEvent,
  invoiceMissingEvent,
  invoiceOverdue,
  outboxKey,
  renewalReminderEvent,
  runEvents,
  SEVERITIES,
  shouldSend,
  testEvent,
  type ChannelKind,
  type ChannelRules,
  type EventKind,
  type HealthSubject,
  type KindOverride,
  type NotificationEvent,
  type ReminderFacts,
  type Severity,
} from "../core/notifications.ts";
import { assertTimeZone, dailyCron, DailyTimeError, TimeZoneError } from "../core/schedule.ts";
import type { Logger } from "../log.ts";
import { postWebhook, sendEmail, type EmailConfig, type SendContext } from "../notify/senders.ts";
import { assertWebhookAllowed } from "../notify/hosts.ts";
import type { SecretBox } from "../security/secrets.ts";
import type { Store } from "../store/db.ts";
import { RenewalsService } from "./renewals.ts";
import {
  claimOutboxRow,
  connectionName,
  deleteChannelRow,
  failQueuedRows,
  findChannelRow,
  finishOutboxRow,
  getHealthRow,
  getOutboxRow,
  getSettingsRow,
  hasChargesInMonth,
  heldLines,
  importsBetween,
  insertChannelRow,
  insertOutboxRow,
  listChannelRows,
  listExpiredSendingKeys,
  listHealthRows,
  listQueuedKeys,
  listRecentOutbox,
  markOutboxUncertain,
  putSettingsRow,
  recordChannelFailure,
  recordChannelSuccess,
  runItemMessages,
  runsFinishedBetween,
  updateChannelRow,
  upsertHealthRow,
  type ChannelRow,
  type OutboxRow,
} from "../store/notifications-repository.ts";

/**
 * Notifications (docs/notifications.md): channels and their rules, the events cspsync raises, the outbox each
 * notification passes through (keyed per event and channel, claimed before sending, so it goes out at most
 * once), subject health, and the daily digest. Delivery runs in the job queue (src/jobs/notify-worker.ts);
 * `sendTest` delivers at once, through the same outbox.
 */

/** A send that failed this many times in a row marks its channel failing; its queued sends are given up. */
export const FAILING_AFTER = 5;
/** A notification is tried at most this many times. */
export const MAX_ATTEMPTS = 5;
/** How long a claimed send is held; a row still "sending" after it belonged to a worker that stopped. */
export const SEND_LEASE_MS = 120_000;

export class NotificationInputError extends AppError {
  constructor(message: string, field?: string) {
    super("validation", message, { field });
  }
}

export class NotificationNotFoundError extends AppError {
  constructor(what: string) {
    super("not_found", `no notification channel ${what}`, { field: "channel" });
  }
}

const severity = z.enum(SEVERITIES);
const overridesSchema = z.partialRecord(z.enum(EVENT_KINDS), z.enum([...SEVERITIES, "off"]));
const email = z
  .string()
  .trim()
  .min(3)
  .max(320)
  .regex(/^[^\s@]+@[^\s@]+$/, { error: "is not an e-mail address" });

const emailConfig = z.object({
  host: z.string().trim().min(1).max(255),
  port: z.number().int().min(1).max(65_535),
  security: z.enum(["tls", "starttls", "none"]),
  user: z.string().trim().min(1).max(320).optional(),
  from: email,
  to: z.array(email).min(1).max(50),
});
const emailSecrets = z.object({ password: z.string().min(1).max(1000).optional() });
const webhookSecrets = z.object({
  url: z.url({ protocol: /^https?$/ }).max(2000),
  signingSecret: z.string().min(16).max(500).optional(),
});

export const channelInput = z.object({
  kind: z.enum(CHANNEL_KINDS),
  name: z.string().trim().min(1).max(100),
  minSeverity: severity.default("warning"),
  overrides: overridesSchema.default({}),
  enabled: z.boolean().default(true),
  /** email: EmailConfig; others: none. */
  config: z.record(z.string(), z.unknown()).default({}),
  /** email: { password? }; teams/slack: { url }; webhook: { url, signingSecret }. */
  secrets: z.record(z.string(), z.unknown()).default({}),
});
export type ChannelInput = z.input<typeof channelInput>;

export const channelChanges = channelInput.partial().omit({ kind: true });
export type ChannelChanges = z.input<typeof channelChanges>;

export type ChannelView = {
  id: string;
  kind: ChannelKind;
  name: string;
  enabled: boolean;
  minSeverity: Severity;
  overrides: Partial<Record<EventKind, KindOverride>>;
  /** E-mail settings that are not secret; empty for the others. */
  config: Record<string, unknown>;
  /** Which secrets are stored (never their values). */
  secretsSet: { password: boolean; url: boolean; signingSecret: boolean };
  /** The host a webhook posts to (not the URL, which is secret). */
  webhookHost: string | null;
  status: "ok" | "failing";
  /** When a failing channel started failing; null while it is ok. */
  failingSince: string | null;
  consecutiveFailures: number;
  lastError: string | null;
  lastSentAt: string | null;
};

export type DeliveryView = {
  key: string;
  channelId: string;
  eventKind: string;
  severity: string;
  title: string;
  status: OutboxRow["status"];
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
};

export type NotificationSettings = {
  digestEnabled: boolean;
  digestTime: string;
  digestTimeZone: string;
  invoiceDueDay: number | null;
  appUrl: string | null;
  /** Renewals and closing change windows are told this many days ahead; null: not told. */
  renewalReminderDays: number | null;
};

export const settingsInput = z.object({
  digestEnabled: z.boolean().optional(),
  digestTime: z.string().optional(),
  digestTimeZone: z.string().optional(),
  invoiceDueDay: z.number().int().min(1).max(28).nullable().optional(),
  renewalReminderDays: z.number().int().min(1).max(90).nullable().optional(),
  appUrl: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .nullable()
    .optional(),
});
export type SettingsInput = z.input<typeof settingsInput>;

export const DEFAULT_NOTIFICATION_SETTINGS: NotificationSettings = {
  digestEnabled: true,
  digestTime: "07:00",
  digestTimeZone: "UTC",
  invoiceDueDay: null,
  appUrl: null,
  renewalReminderDays: null,
};

export type HealthView = {
  subjectKind: "connection" | "source";
  subjectId: string;
  name: string;
  state: "ok" | "failing";
  failingSince: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
};

export type DeliveryOutcome = "sent" | "retry" | "failed" | "uncertain" | "skipped";

export type NotificationDeps = {
  store: Store;
  box: SecretBox;
  organizationId: string;
  /** CSPSYNC_NOTIFY_ALLOWED_HOSTS. */
  allowedHosts: readonly string[];
  log?: Logger | undefined;
  now?: () => Date;
  /** Seconds one send may take. Default 30. */
  sendTimeoutSeconds?: number;
  /** Shared by the service and its withClock copies: who hands new notifications to the job queue. */
  dispatcher?: Dispatcher;
};

/**
 * Hands newly queued notifications to the job queue at once, so an event does not wait for the minute's
 * sweep (which stays as the safety net). Set by the notify worker (src/jobs/notify-worker.ts); without a
 * worker in the process (the CLI), the sweep of the running server sends them.
 */
export type Dispatcher = { dispatch: ((keys: readonly string[]) => Promise<unknown>) | null };

/** A finished sync run, as the sync code has it (RunTotals plus which motion and connection). */
export type FinishedRun = {
  runId: string;
  status: string;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psaRequests?: number;
};

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = [field, ...(issue?.path ?? []).map(String)].join(".");
    throw new NotificationInputError(`${path}: ${issue?.message ?? "invalid"}`, path);
  }
  return parsed.data;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class NotificationService {
  private readonly deps: NotificationDeps;
  private readonly dispatcher: Dispatcher;

  constructor(deps: NotificationDeps) {
    this.deps = deps;
    this.dispatcher = deps.dispatcher ?? { dispatch: null };
  }

  /** The same service on another clock (tests, and jobs that are told the time they run for). */
  withClock(now: () => Date): NotificationService {
    return new NotificationService({ ...this.deps, now, dispatcher: this.dispatcher });
  }

  /** Sets (or, with null, removes) who hands new notifications to the queue at once; see Dispatcher. */
  dispatchWith(dispatch: Dispatcher["dispatch"]): void {
    this.dispatcher.dispatch = dispatch;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  get store(): Store {
    return this.deps.store;
  }

  private get org(): string {
    return this.deps.organizationId;
  }

  // -------------------------------------------------------------------------------------------------------
  // Channels

  async listChannels(): Promise<ChannelView[]> {
    return (await listChannelRows(this.store, this.org)).map((row) => this.view(row));
  }

  async channel(idOrName: string): Promise<ChannelView> {
    return this.view(await this.row(idOrName));
  }

  private async row(idOrName: string): Promise<ChannelRow> {
    const row = await findChannelRow(this.store, this.org, idOrName);
    if (!row) throw new NotificationNotFoundError(`"${idOrName}"`);
    return row;
  }

  private validate(
    kind: ChannelKind,
    config: Record<string, unknown>,
    secrets: Record<string, unknown>,
  ): { config: Record<string, unknown>; secrets: Record<string, unknown> } {
    if (kind === "email") {
      return {
        config: parseOrThrow(emailConfig, config, "config"),
        secrets: parseOrThrow(emailSecrets, secrets, "secrets"),
      };
    }
    const parsed = parseOrThrow(webhookSecrets, secrets, "secrets");
    if (kind === "webhook" && !parsed.signingSecret) {
      throw new NotificationInputError(
        "secrets.signingSecret: a generic webhook needs a signing secret (16 characters or more)",
        "secrets.signingSecret",
      );
    }
    // Checked when it is entered, not only when it is used: an address that would be refused is said at once.
    assertWebhookAllowed(parsed.url, kind, this.deps.allowedHosts);
    return { config: {}, secrets: parsed };
  }

  async addChannel(input: ChannelInput): Promise<ChannelView> {
    const parsed = parseOrThrow(channelInput, input, "channel");
    const { config, secrets } = this.validate(parsed.kind, parsed.config, parsed.secrets);
    if (await findChannelRow(this.store, this.org, parsed.name)) {
      throw new NotificationInputError(`a channel named "${parsed.name}" exists already`, "name");
    }
    const id = randomUUID();
    const at = this.now().toISOString();
    await insertChannelRow(this.store, {
      id,
      organization_id: this.org,
      kind: parsed.kind,
      name: parsed.name,
      config: JSON.stringify(config),
      secrets: this.deps.box.seal(JSON.stringify(secrets), id),
      min_severity: parsed.minSeverity,
      overrides: JSON.stringify(parsed.overrides),
      enabled: parsed.enabled ? 1 : 0,
      status: "ok",
      consecutive_failures: 0,
      last_error: null,
      last_sent_at: null,
      created_at: at,
      updated_at: at,
    });
    return this.channel(id);
  }

  /** Changes a channel; secrets not given are kept. Saving a failing channel puts it back to ok. */
  async updateChannel(idOrName: string, input: ChannelChanges): Promise<ChannelView> {
    const row = await this.row(idOrName);
    const parsed = parseOrThrow(channelChanges, input, "channel");
    const stored = this.secretsOf(row);
    const config = { ...(JSON.parse(row.config) as Record<string, unknown>), ...(input.config ?? {}) };
    const secrets = { ...stored, ...(input.secrets ?? {}) };
    const checked = this.validate(row.kind, config, secrets);
    if (parsed.name !== undefined && parsed.name !== row.name) {
      if (await findChannelRow(this.store, this.org, parsed.name)) {
        throw new NotificationInputError(`a channel named "${parsed.name}" exists already`, "name");
      }
    }
    await updateChannelRow(this.store, this.org, row.id, {
      name: parsed.name ?? row.name,
      config: JSON.stringify(checked.config),
      secrets: this.deps.box.seal(JSON.stringify(checked.secrets), row.id),
      min_severity: input.minSeverity !== undefined ? parsed.minSeverity! : row.min_severity,
      overrides: input.overrides !== undefined ? JSON.stringify(parsed.overrides) : row.overrides,
      enabled: input.enabled !== undefined ? (parsed.enabled ? 1 : 0) : row.enabled,
      status: "ok",
      consecutive_failures: 0,
      updated_at: this.now().toISOString(),
    });
    return this.channel(row.id);
  }

  async removeChannel(idOrName: string): Promise<void> {
    const row = await this.row(idOrName);
    await deleteChannelRow(this.store, this.org, row.id);
  }

  private secretsOf(row: ChannelRow): Record<string, unknown> {
    return JSON.parse(this.deps.box.open(row.secrets, row.id)) as Record<string, unknown>;
  }

  private view(row: ChannelRow): ChannelView {
    let secrets: Record<string, unknown> = {};
    try {
      secrets = this.secretsOf(row);
    } catch {
      // Unreadable with this key: shown as not set, so the admin enters them again.
    }
    let webhookHost: string | null = null;
    if (typeof secrets.url === "string") {
      try {
        webhookHost = new URL(secrets.url).host;
      } catch {
        webhookHost = null;
      }
    }
    return {
      id: row.id,
      kind: row.kind,
      name: row.name,
      enabled: row.enabled === 1,
      minSeverity: row.min_severity,
      overrides: JSON.parse(row.overrides) as ChannelView["overrides"],
      config: JSON.parse(row.config) as Record<string, unknown>,
      secretsSet: {
        password: typeof secrets.password === "string",
        url: typeof secrets.url === "string",
        signingSecret: typeof secrets.signingSecret === "string",
      },
      webhookHost,
      status: row.status,
      failingSince: row.status === "failing" ? row.updated_at : null,
      consecutiveFailures: Number(row.consecutive_failures),
      lastError: row.last_error,
      lastSentAt: row.last_sent_at,
    };
  }

  // -------------------------------------------------------------------------------------------------------
  // Settings and health

  async settings(): Promise<NotificationSettings> {
    const row = await getSettingsRow(this.store, this.org);
    if (!row) return { ...DEFAULT_NOTIFICATION_SETTINGS };
    return {
      digestEnabled: row.digest_enabled === 1,
      digestTime: row.digest_time,
      digestTimeZone: row.digest_time_zone,
      invoiceDueDay: row.invoice_due_day === null ? null : Number(row.invoice_due_day),
      appUrl: row.app_url,
      renewalReminderDays: row.renewal_reminder_days === null ? null : Number(row.renewal_reminder_days),
    };
  }

  async setSettings(input: SettingsInput): Promise<NotificationSettings> {
    const parsed = parseOrThrow(settingsInput, input, "settings");
    const next = { ...(await this.settings()), ...stripUndefined(parsed) };
    try {
      dailyCron(next.digestTime);
    } catch (error) {
      if (error instanceof DailyTimeError) throw new NotificationInputError(error.message, "digestTime");
      throw error;
    }
    try {
      assertTimeZone(next.digestTimeZone);
    } catch (error) {
      if (error instanceof TimeZoneError) throw new NotificationInputError(error.message, "digestTimeZone");
      throw error;
    }
    await putSettingsRow(this.store, {
      organization_id: this.org,
      digest_enabled: next.digestEnabled ? 1 : 0,
      digest_time: next.digestTime,
      digest_time_zone: next.digestTimeZone,
      invoice_due_day: next.invoiceDueDay,
      app_url: next.appUrl,
      renewal_reminder_days: next.renewalReminderDays,
      updated_at: this.now().toISOString(),
    });
    return this.settings();
  }

  async health(): Promise<HealthView[]> {
    return (await listHealthRows(this.store, this.org)).map((r) => ({
      subjectKind: r.subject_kind,
      subjectId: r.subject_id,
      name: r.subject_name,
      state: r.state,
      failingSince: r.failing_since,
      lastSuccessAt: r.last_success_at,
      lastFailureAt: r.last_failure_at,
      lastError: r.last_error,
    }));
  }

  async deliveries(limit = 50, channel?: string): Promise<DeliveryView[]> {
    const channelId = channel ? (await this.row(channel)).id : undefined;
    return (await listRecentOutbox(this.store, this.org, limit, channelId)).map((r) => ({
      key: r.key,
      channelId: r.channel_id,
      eventKind: r.event_kind,
      severity: r.severity,
      title: r.title,
      status: r.status,
      attempts: Number(r.attempts),
      lastError: r.last_error,
      createdAt: r.created_at,
      sentAt: r.sent_at,
    }));
  }

  // -------------------------------------------------------------------------------------------------------
  // Events

  /**
   * Queues an event for every enabled channel whose rules take it (a failing channel gets nothing until it
   * is saved again or a test succeeds). The same event queued twice is queued once. Returns the new keys.
   */
  async record(event: NotificationEvent, onlyChannelId?: string): Promise<string[]> {
    const rows = await listChannelRows(this.store, this.org);
    const keys: string[] = [];
    const at = this.now().toISOString();
    for (const row of rows) {
      if (onlyChannelId ? row.id !== onlyChannelId : row.enabled !== 1 || row.status === "failing") continue;
      const rules: ChannelRules = {
        minSeverity: row.min_severity,
        overrides: JSON.parse(row.overrides) as ChannelRules["overrides"],
      };
      if (!shouldSend(rules, event)) continue;
      const key = outboxKey(event.key, row.id);
      const inserted = await insertOutboxRow(this.store, {
        key,
        organization_id: this.org,
        channel_id: row.id,
        event_key: event.key,
        event_kind: event.kind,
        severity: event.severity,
        title: event.title,
        payload: JSON.stringify(event),
        status: "queued",
        attempts: 0,
        owner: null,
        lease_until: null,
        last_error: null,
        created_at: at,
        sent_at: null,
      });
      if (inserted) keys.push(key);
    }
    // Sent now rather than at the next sweep. A test is delivered by sendTest itself, not by a job. The row's
    // claim keeps it at most once whoever sends it; a failed hand-over is left to the sweep.
    const dispatch = this.dispatcher.dispatch;
    if (dispatch && keys.length > 0 && !onlyChannelId) {
      try {
        await dispatch(keys);
      } catch (error) {
        this.deps.log?.warn({ err: error, keys }, `notifications left to the sweep: ${errorText(error)}`);
      }
    }
    return keys;
  }

  /**
   * A subject's outcome (a PSA connection after a run; a data source after a fetch): its health is updated
   * and a change is told once — failing when it starts, recovered when it ends. Returns the queued keys.
   */
  async subjectOutcome(
    subject: HealthSubject,
    outcome: "ok" | "failing",
    reason: string | null = null,
  ): Promise<string[]> {
    const now = this.now().toISOString();
    const previous = await getHealthRow(this.store, this.org, subject.kind, subject.id);
    const { next, change, failingSince } = healthTransition(
      previous ? { state: previous.state, failingSince: previous.failing_since } : null,
      outcome,
      now,
    );
    await upsertHealthRow(this.store, {
      organization_id: this.org,
      subject_kind: subject.kind,
      subject_id: subject.id,
      subject_name: subject.name,
      state: next.state,
      failing_since: next.failingSince,
      last_success_at: outcome === "ok" ? now : (previous?.last_success_at ?? null),
      last_failure_at: outcome === "failing" ? now : (previous?.last_failure_at ?? null),
      last_error: outcome === "failing" ? reason : (previous?.last_error ?? null),
      updated_at: now,
    });
    if (!change || !failingSince) return [];
    const { appUrl } = await this.settings();
    const page = subject.kind === "connection" ? "connections" : "sources";
    const link = appUrl ? `${appUrl.replace(/\/+$/, "")}/${page}` : undefined;
    return this.record(healthEvent(subject, change, failingSince, now, reason, link));
  }

  /**
   * After a sync run: its errors, warnings and held lines, and its connection's health. Returns the queued
   * keys. Callers use notifyRunFinished, which never throws.
   */
  async runFinished(
    run: FinishedRun,
    context: { connectionId: string; connectionName: string; motion: string },
  ): Promise<string[]> {
    const [errorMessages, warningMessages, held] = await Promise.all([
      runItemMessages(this.store, run.runId, "error", 5),
      runItemMessages(this.store, run.runId, "warning", 5),
      heldLines(this.store, this.org, { runId: run.runId }),
    ]);
    const amounts: Record<string, DecimalString> = {};
    for (const line of held) {
      const value = new Dec(line.unitPrice).times(new Dec(line.quantity).abs()).toString();
      amounts[line.currency] = sumDecimals([amounts[line.currency] ?? "0", value]);
    }
    const { appUrl } = await this.settings();
    const events = runEvents(
      {
        runId: run.runId,
        connectionId: context.connectionId,
        connectionName: context.connectionName,
        motion: context.motion,
        status: run.status,
        written: run.written,
        warnings: run.warnings,
        errors: run.errors,
        held: { count: held.length, amounts },
        errorMessages,
        warningMessages,
        finishedAt: this.now().toISOString(),
        couldNotStart: errorMessages.some((m) => m.startsWith("the sync could not start")),
      },
      appUrl ?? undefined,
    );
    return this.tellRun(events, errorMessages, run.written, context);
  }

  /** A run's events, except errors that are the connection failing (told once, as its health), then its health. */
  private async tellRun(
    events: readonly NotificationEvent[],
    errorMessages: readonly string[],
    written: number,
    context: { connectionId: string; connectionName: string },
  ): Promise<string[]> {
    const problem = connectionProblem([...errorMessages]);
    const keys: string[] = [];
    for (const event of events) {
      // A failing connection is told once, when it starts failing (below), not as every run's errors.
      if (problem && event.kind === "run-errors") continue;
      keys.push(...(await this.record(event)));
    }
    const subject: HealthSubject = {
      kind: "connection",
      id: context.connectionId,
      name: context.connectionName,
    };
    if (problem && written === 0) keys.push(...(await this.subjectOutcome(subject, "failing", problem)));
    else if (!problem) keys.push(...(await this.subjectOutcome(subject, "ok")));
    return keys;
  }

  /**
   * After a product catalog run: the same events as a sync run (motion "product catalog"; conflicts are its
   * warnings, failed products and a run that failed as a whole its errors) and the connection's health.
   */
  async productRunFinished(
    run: FinishedProductRun,
    context: { connectionId: string; connectionName: string },
  ): Promise<string[]> {
    const messages = (status: string) =>
      run.items
        .filter((i) => i.status === status)
        .slice(0, 5)
        .map((i) => `${i.name}: ${i.message}`);
    const errorMessages = [...(run.message ? [run.message] : []), ...messages("failed")].slice(0, 5);
    const { appUrl } = await this.settings();
    const link = appUrl
      ? `${appUrl.replace(/\/+$/, "")}/psa/${encodeURIComponent(context.connectionId)}/products`
      : undefined;
    const events = runEvents({
      runId: run.id,
      connectionId: context.connectionId,
      connectionName: context.connectionName,
      motion: "product catalog",
      status: run.status,
      written: run.written,
      warnings: run.conflicts,
      errors: run.failed + (run.message ? 1 : 0),
      held: { count: 0, amounts: {} },
      errorMessages,
      warningMessages: messages("conflict"),
      finishedAt: this.now().toISOString(),
      couldNotStart: false,
    }).map((event) => ({ ...event, ...(link ? { link } : {}) }));
    return this.tellRun(events, errorMessages, run.written, context);
  }

  async importRejected(importId: string, fileName: string, reason: string): Promise<string[]> {
    const { appUrl } = await this.settings();
    const link = appUrl ? `${appUrl.replace(/\/+$/, "")}/imports` : undefined;
    return this.record(importRejectedEvent(importId, fileName, reason, this.now().toISOString(), link));
  }

  /**
   * Renewals and closing change windows within the configured days (the renewals service's term ledger), each
   * told once: its key is the subscription and the date, however many days it is found again. Nothing when
   * reminders are off.
   */
  async renewalReminders(): Promise<string[]> {
    const { renewalReminderDays, appUrl } = await this.settings();
    if (renewalReminderDays === null) return [];
    const renewals = new RenewalsService(this.store, this.org, () => this.now());
    const find = (days: number): Promise<readonly ReminderFacts[]> => renewals.upcomingRenewalReminders(days);
    const link = appUrl ? `${appUrl.replace(/\/+$/, "")}/renewals` : undefined;
    const now = this.now().toISOString();
    const keys: string[] = [];
    for (const reminder of await find(renewalReminderDays))
      keys.push(...(await this.record(renewalReminderEvent(reminder, now, link))));
    return keys;
  }

  /** On or after the configured day, a month without billing data is told once. `today` is YYYY-MM-DD. */
  async checkInvoices(today: string): Promise<string[]> {
    const { invoiceDueDay } = await this.settings();
    if (invoiceDueDay === null) return [];
    const month = today.slice(0, 7);
    if (!invoiceOverdue(month, today, invoiceDueDay)) return [];
    // The invoice issued in a month bills the month before it: charges dated in that month are expected.
    const [y, m] = month.split("-").map(Number) as [number, number];
    const billed = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
    if (await hasChargesInMonth(this.store, this.org, billed)) return [];
    return this.record(invoiceMissingEvent(month, invoiceDueDay, this.now().toISOString()));
  }

  /**
   * The digest of the day before `now` (the 24 hours up to it): imports, runs per connection, lines held,
   * failing subjects. Keyed by the local date in the digest's zone, so it goes out once per day.
   */
  async digest(): Promise<string[]> {
    const settings = await this.settings();
    const now = this.now();
    const to = now.toISOString();
    const from = new Date(now.getTime() - 86_400_000).toISOString();
    const date = localDate(now, settings.digestTimeZone);
    const [runs, holds, imports, health] = await Promise.all([
      runsFinishedBetween(this.store, this.org, from, to),
      heldLines(this.store, this.org, { heldFrom: from, heldTo: to }),
      importsBetween(this.store, this.org, from, to),
      listHealthRows(this.store, this.org),
    ]);
    const figures = digestFigures(
      date,
      runs,
      holds.map((h) => ({
        connectionId: h.connectionId,
        connectionName: h.connectionName,
        currency: h.currency,
        amount: new Dec(h.unitPrice).times(new Dec(h.quantity).abs()).toString(),
      })),
      imports,
      health
        .filter((h) => h.state === "failing")
        .map((h) => ({ name: h.subject_name, since: h.failing_since ?? "" })),
    );
    return this.record(digestEvent(figures, to, settings.appUrl ?? undefined));
  }

  // -------------------------------------------------------------------------------------------------------
  // Delivery

  /** Keys to hand to the queue: queued rows, and rows whose worker stopped mid-send (marked uncertain). */
  async pending(): Promise<string[]> {
    const now = this.now().toISOString();
    for (const key of await listExpiredSendingKeys(this.store, this.org, now)) {
      if (await markOutboxUncertain(this.store, key, now)) {
        this.deps.log?.warn({ key }, "a notification's worker stopped mid-send; it is not sent again");
      }
    }
    return listQueuedKeys(this.store, this.org);
  }

  /**
   * Sends one queued notification, at most once: the row is claimed (queued → sending, with owner and lease)
   * in one conditional update before anything is sent, and marked sent after. A row another worker holds, or
   * one already sent, is left alone; one left "sending" past its lease (its worker died mid-send) becomes
   * uncertain and is not sent again. A failure puts it back in the queue ("retry") until MAX_ATTEMPTS or
   * until its channel has failed FAILING_AFTER times in a row, when it is given up ("failed").
   */
  async deliver(key: string, owner: string = `${process.pid}:${randomUUID()}`): Promise<DeliveryOutcome> {
    const now = this.now();
    const row = await getOutboxRow(this.store, key);
    if (!row) return "skipped";
    if (row.status === "sending" && row.lease_until !== null && row.lease_until < now.toISOString()) {
      return (await markOutboxUncertain(this.store, key, now.toISOString())) ? "uncertain" : "skipped";
    }
    if (row.status !== "queued") return "skipped";
    const claimed = await claimOutboxRow(
      this.store,
      key,
      owner,
      new Date(now.getTime() + SEND_LEASE_MS).toISOString(),
    );
    if (!claimed) return "skipped";
    const channel = await findChannelRow(this.store, this.org, claimed.channel_id);
    if (!channel || channel.id !== claimed.channel_id) {
      await finishOutboxRow(this.store, key, owner, { status: "failed", error: "the channel was removed" });
      return "failed";
    }
    const event = JSON.parse(claimed.payload) as NotificationEvent;
    try {
      const result = await this.send(channel, event, key, now);
      const at = this.now().toISOString();
      await finishOutboxRow(this.store, key, owner, { status: "sent", at });
      await recordChannelSuccess(this.store, channel.id, at);
      this.deps.log?.info(
        { key, channelId: channel.id, kind: event.kind },
        `notification sent: ${result.detail}`,
      );
      return "sent";
    } catch (error) {
      const message = errorText(error);
      const after = await recordChannelFailure(
        this.store,
        channel.id,
        message,
        this.now().toISOString(),
        FAILING_AFTER,
      );
      const giveUp = after?.status === "failing" || Number(claimed.attempts) >= MAX_ATTEMPTS;
      await finishOutboxRow(this.store, key, owner, { status: giveUp ? "failed" : "queued", error: message });
      if (after?.status === "failing") {
        await failQueuedRows(this.store, channel.id, `channel ${channel.name} is failing: ${message}`);
      }
      this.deps.log?.warn(
        { key, channelId: channel.id, attempt: Number(claimed.attempts), giveUp },
        `notification not sent: ${message}`,
      );
      return giveUp ? "failed" : "retry";
    }
  }

  private async send(channel: ChannelRow, event: NotificationEvent, key: string, now: Date) {
    const secrets = this.secretsOf(channel);
    const context: SendContext = {
      deliveryKey: key,
      timeoutSeconds: this.deps.sendTimeoutSeconds ?? 30,
      allowedHosts: this.deps.allowedHosts,
      now,
    };
    if (channel.kind === "email") {
      const config = JSON.parse(channel.config) as EmailConfig;
      return sendEmail(config, { password: secrets.password as string | undefined }, event, context);
    }
    return postWebhook(
      channel.kind,
      { url: String(secrets.url), signingSecret: secrets.signingSecret as string | undefined },
      event,
      context,
    );
  }

  /** "Send test": a test notification through this channel now, through the outbox like any other. */
  async sendTest(idOrName: string): Promise<{ key: string; outcome: DeliveryOutcome; error: string | null }> {
    const row = await this.row(idOrName);
    const event = testEvent(row.name, this.now().toISOString(), randomUUID());
    const [key] = await this.record(event, row.id);
    if (!key) throw new NotificationInputError("the test could not be queued", "channel");
    // A test on a failing channel is its way back: a success marks it ok.
    const outcome = await this.deliver(key);
    const after = await getOutboxRow(this.store, key);
    if (outcome === "retry") {
      // A test is not retried: the person pressing the button sees the failure now.
      await failQueuedRows(this.store, row.id, after?.last_error ?? "failed").catch(() => 0);
    }
    return { key, outcome: outcome === "retry" ? "failed" : outcome, error: after?.last_error ?? null };
  }
}

function stripUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** YYYY-MM-DD of an instant in a time zone. */
export function localDate(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** A finished product catalog run, as runProductSync answers it (src/services/product-runs.ts). */
export type FinishedProductRun = {
  id: string;
  status: string;
  written: number;
  conflicts: number;
  failed: number;
  message: string | null;
  items: readonly { name: string; status: string; message: string }[];
};

/** What callers of the sync need: the notifications, when the app has them. */
export type NotifyingApp = { notifications?: NotificationService; log?: Logger };

/**
 * After a sync run: tells what there is to tell, and never fails the sync — a notification problem is
 * logged and dropped here. One call per run, from the sync worker and from Sync now.
 */
export async function notifyRunFinished(
  app: NotifyingApp,
  connection: { id: string; name?: string | undefined },
  motion: string,
  run: FinishedRun,
): Promise<void> {
  if (!app.notifications) return;
  try {
    await app.notifications.runFinished(run, {
      connectionId: connection.id,
      connectionName: connection.name ?? (await connectionName(app.notifications.store, connection.id)),
      motion,
    });
  } catch (error) {
    app.log?.warn(
      { err: error, runId: run.runId },
      `notifications after the run failed: ${errorText(error)}`,
    );
  }
}

/**
 * After a product catalog run (the worker's, the web app's, the CLI's): tells what there is to tell, and never
 * fails the run — a notification problem is logged and dropped here.
 */
export async function notifyProductRunFinished(
  app: NotifyingApp,
  connection: { id: string; name?: string | undefined },
  synced: { run: Omit<FinishedProductRun, "items">; items: FinishedProductRun["items"] },
): Promise<void> {
  if (!app.notifications) return;
  try {
    await app.notifications.productRunFinished(
      { ...synced.run, items: synced.items },
      {
        connectionId: connection.id,
        connectionName: connection.name ?? (await connectionName(app.notifications.store, connection.id)),
      },
    );
  } catch (error) {
    app.log?.warn(
      { err: error, runId: synced.run.id },
      `notifications after the product run failed: ${errorText(error)}`,
    );
  }
}

/** After imports (web upload or CLI): each rejected file is told; never fails the import's answer. */
export async function notifyImportsRejected(
  app: NotifyingApp,
  summaries: readonly {
    importId: string;
    file: string;
    status: string;
    problem?: { message: string } | undefined;
  }[],
): Promise<void> {
  if (!app.notifications) return;
  for (const summary of summaries) {
    if (summary.status !== "rejected") continue;
    try {
      await app.notifications.importRejected(
        summary.importId,
        summary.file.split(/[\\/]/).pop() ?? summary.file,
        summary.problem?.message ?? "the file was rejected",
      );
    } catch (error) {
      app.log?.warn({ err: error }, `notification of a rejected import failed: ${errorText(error)}`);
    }
  }
}

/** What a data-source fetch says about the source itself, for its health (docs/notifications.md). */
export type FinishedFetch = {
  sourceId: string;
  sourceName: string;
  status: string;
  errorKind: string | null;
  message: string;
  invoices: readonly { invoiceId: string; outcome: string; importId?: string; message?: string }[];
};

/**
 * The fetch failures that mean the source itself is failing (its credentials, consent, permission, or
 * Microsoft unreachable), as opposed to a failure of one invoice's data (throttling, a cut blob, a total that
 * does not match), which is retried or told as a rejected import.
 */
const SOURCE_FAILURES: ReadonlySet<string> = new Set([
  "host-not-allowed",
  "wrong-tenant",
  "bad-credentials",
  "secret-expired",
  "consent-missing",
  "permission-missing",
  "unavailable",
  "timeout",
]);

/**
 * After a data-source fetch: the source's health (failing once when it starts, recovered once) and each
 * invoice the fetch rejected as an import rejected. Never fails the fetch.
 */
export async function notifyFetchFinished(app: NotifyingApp, fetch: FinishedFetch): Promise<void> {
  if (!app.notifications) return;
  try {
    const subject = { kind: "source" as const, id: fetch.sourceId, name: fetch.sourceName };
    if (fetch.errorKind !== null && SOURCE_FAILURES.has(fetch.errorKind))
      await app.notifications.subjectOutcome(subject, "failing", fetch.message);
    else if (fetch.status === "imported" || fetch.status === "nothing-new")
      await app.notifications.subjectOutcome(subject, "ok");
    for (const invoice of fetch.invoices)
      if (invoice.outcome === "rejected")
        await app.notifications.importRejected(
          invoice.importId ?? `${fetch.sourceId}:${invoice.invoiceId}`,
          `${fetch.sourceName}: invoice ${invoice.invoiceId}`,
          invoice.message ?? "the invoice's data was refused",
        );
  } catch (error) {
    app.log?.warn(
      { err: error, sourceId: fetch.sourceId },
      `notifications after the fetch failed: ${errorText(error)}`,
    );
  }
}
