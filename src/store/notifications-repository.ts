import type { Store } from "./db.ts";
import type {
  NotificationChannelsTable,
  NotificationHealthTable,
  NotificationOutboxTable,
  NotificationSettingsTable,
} from "./schema.ts";

/**
 * Notification channels, the outbox, subject health and settings (migration 0016, docs/notifications.md).
 * Instants are ISO-8601 UTC strings from Date.toISOString, so they compare as text.
 */

export type ChannelRow = NotificationChannelsTable;
export type OutboxRow = NotificationOutboxTable;
export type HealthRow = NotificationHealthTable;
export type SettingsRow = NotificationSettingsTable;

// ---------------------------------------------------------------------------------------------------------
// Channels

export async function listChannelRows(store: Store, organizationId: string): Promise<ChannelRow[]> {
  return store.db
    .selectFrom("notification_channels")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .orderBy("name")
    .execute();
}

export async function findChannelRow(
  store: Store,
  organizationId: string,
  idOrName: string,
): Promise<ChannelRow | undefined> {
  return store.db
    .selectFrom("notification_channels")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .orderBy("id")
    .executeTakeFirst();
}

export async function insertChannelRow(store: Store, row: ChannelRow): Promise<void> {
  await store.db.insertInto("notification_channels").values(row).execute();
}

export async function updateChannelRow(
  store: Store,
  organizationId: string,
  id: string,
  changes: Partial<Omit<ChannelRow, "id" | "organization_id" | "created_at">>,
): Promise<void> {
  await store.db
    .updateTable("notification_channels")
    .set(changes)
    .where("organization_id", "=", organizationId)
    .where("id", "=", id)
    .execute();
}

export async function deleteChannelRow(store: Store, organizationId: string, id: string): Promise<boolean> {
  const result = await store.db
    .deleteFrom("notification_channels")
    .where("organization_id", "=", organizationId)
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** A send succeeded: the channel is ok again and its count of failures in a row starts over. */
export async function recordChannelSuccess(store: Store, id: string, at: string): Promise<void> {
  await store.db
    .updateTable("notification_channels")
    .set({ status: "ok", consecutive_failures: 0, last_error: null, last_sent_at: at, updated_at: at })
    .where("id", "=", id)
    .execute();
}

/**
 * A send failed: counted in one statement (two workers failing together count twice); the channel is marked
 * failing once it failed `failingAfter` times in a row. Returns the channel's row after the change.
 */
export async function recordChannelFailure(
  store: Store,
  id: string,
  error: string,
  at: string,
  failingAfter: number,
): Promise<ChannelRow | undefined> {
  await store.db
    .updateTable("notification_channels")
    .set((eb) => ({
      consecutive_failures: eb("consecutive_failures", "+", 1),
      last_error: error,
    }))
    .where("id", "=", id)
    .execute();
  // updated_at of a failing channel is when it started failing (its "failing since"): set at the change only.
  await store.db
    .updateTable("notification_channels")
    .set({ status: "failing", updated_at: at })
    .where("id", "=", id)
    .where("status", "=", "ok")
    .where("consecutive_failures", ">=", failingAfter)
    .execute();
  return store.db.selectFrom("notification_channels").selectAll().where("id", "=", id).executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------------------
// Outbox

/** Queues one notification; false when its key is queued already (the same event on the same channel). */
export async function insertOutboxRow(store: Store, row: OutboxRow): Promise<boolean> {
  const result = await store.db
    .insertInto("notification_outbox")
    .values(row)
    .onConflict((oc) => oc.column("key").doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function getOutboxRow(store: Store, key: string): Promise<OutboxRow | undefined> {
  return store.db.selectFrom("notification_outbox").selectAll().where("key", "=", key).executeTakeFirst();
}

/**
 * Takes a queued notification for sending, in one conditional update: of two workers only one gets it, and
 * a row that is being sent, was sent, or was given up is never taken again. Returns the row when taken.
 */
export async function claimOutboxRow(
  store: Store,
  key: string,
  owner: string,
  leaseUntil: string,
): Promise<OutboxRow | undefined> {
  const claimed = await store.db
    .updateTable("notification_outbox")
    .set((eb) => ({ status: "sending", owner, lease_until: leaseUntil, attempts: eb("attempts", "+", 1) }))
    .where("key", "=", key)
    .where("status", "=", "queued")
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) return undefined;
  return getOutboxRow(store, key);
}

/**
 * A row left "sending" past its lease: its worker stopped mid-send, so nobody knows whether it arrived. It is
 * marked uncertain (never sent again: at most once) in one conditional update; true when this call did it.
 */
export async function markOutboxUncertain(store: Store, key: string, now: string): Promise<boolean> {
  const result = await store.db
    .updateTable("notification_outbox")
    .set({
      status: "uncertain",
      last_error:
        "the worker sending it stopped mid-send; it may or may not have arrived and is not sent again",
      owner: null,
      lease_until: null,
    })
    .where("key", "=", key)
    .where("status", "=", "sending")
    .where("lease_until", "<", now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Ends a claimed send; only the owner's claim is ended (a row taken over since is left alone). */
export async function finishOutboxRow(
  store: Store,
  key: string,
  owner: string,
  outcome: { status: "sent"; at: string } | { status: "queued" | "failed"; error: string },
): Promise<void> {
  await store.db
    .updateTable("notification_outbox")
    .set(
      outcome.status === "sent"
        ? { status: "sent", sent_at: outcome.at, owner: null, lease_until: null, last_error: null }
        : { status: outcome.status, last_error: outcome.error, owner: null, lease_until: null },
    )
    .where("key", "=", key)
    .where("status", "=", "sending")
    .where("owner", "=", owner)
    .execute();
}

/** Queued rows of a channel are given up (the channel is failing); returns how many. */
export async function failQueuedRows(store: Store, channelId: string, error: string): Promise<number> {
  const result = await store.db
    .updateTable("notification_outbox")
    .set({ status: "failed", last_error: error })
    .where("channel_id", "=", channelId)
    .where("status", "=", "queued")
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function listQueuedKeys(store: Store, organizationId: string, limit = 100): Promise<string[]> {
  const rows = await store.db
    .selectFrom("notification_outbox")
    .select("key")
    .where("organization_id", "=", organizationId)
    .where("status", "=", "queued")
    .orderBy("created_at")
    .limit(limit)
    .execute();
  return rows.map((r) => r.key);
}

/** Rows stuck in "sending" past their lease (their worker died). */
export async function listExpiredSendingKeys(
  store: Store,
  organizationId: string,
  now: string,
): Promise<string[]> {
  const rows = await store.db
    .selectFrom("notification_outbox")
    .select("key")
    .where("organization_id", "=", organizationId)
    .where("status", "=", "sending")
    .where("lease_until", "<", now)
    .execute();
  return rows.map((r) => r.key);
}

export async function listRecentOutbox(
  store: Store,
  organizationId: string,
  limit: number,
  channelId?: string,
): Promise<OutboxRow[]> {
  let query = store.db
    .selectFrom("notification_outbox")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .orderBy("created_at", "desc")
    .orderBy("key")
    .limit(limit);
  if (channelId) query = query.where("channel_id", "=", channelId);
  return query.execute();
}

// ---------------------------------------------------------------------------------------------------------
// Health

export async function getHealthRow(
  store: Store,
  organizationId: string,
  subjectKind: HealthRow["subject_kind"],
  subjectId: string,
): Promise<HealthRow | undefined> {
  return store.db
    .selectFrom("notification_health")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .where("subject_kind", "=", subjectKind)
    .where("subject_id", "=", subjectId)
    .executeTakeFirst();
}

export async function upsertHealthRow(store: Store, row: HealthRow): Promise<void> {
  const { organization_id: _o, subject_kind: _k, subject_id: _i, ...changes } = row;
  await store.db
    .insertInto("notification_health")
    .values(row)
    .onConflict((oc) => oc.columns(["organization_id", "subject_kind", "subject_id"]).doUpdateSet(changes))
    .execute();
}

export async function listHealthRows(store: Store, organizationId: string): Promise<HealthRow[]> {
  return store.db
    .selectFrom("notification_health")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .orderBy("subject_kind")
    .orderBy("subject_name")
    .execute();
}

// ---------------------------------------------------------------------------------------------------------
// Settings

export async function getSettingsRow(store: Store, organizationId: string): Promise<SettingsRow | undefined> {
  return store.db
    .selectFrom("notification_settings")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .executeTakeFirst();
}

export async function putSettingsRow(store: Store, row: SettingsRow): Promise<void> {
  const { organization_id: _o, ...changes } = row;
  await store.db
    .insertInto("notification_settings")
    .values(row)
    .onConflict((oc) => oc.column("organization_id").doUpdateSet(changes))
    .execute();
}

// ---------------------------------------------------------------------------------------------------------
// What the events and the digest are made of

export type FinishedRunFacts = {
  id: string;
  connectionId: string;
  connectionName: string;
  status: string;
  written: number;
  warnings: number;
  errors: number;
  message: string | null;
  finishedAt: string | null;
};

/** Sync runs that finished in [from, to), with their connection's name. */
export async function runsFinishedBetween(
  store: Store,
  organizationId: string,
  from: string,
  to: string,
): Promise<FinishedRunFacts[]> {
  const rows = await store.db
    .selectFrom("sync_runs as r")
    .leftJoin("connections as c", "c.id", "r.connection_id")
    .select([
      "r.id",
      "r.connection_id",
      "c.name",
      "r.status",
      "r.written",
      "r.warnings",
      "r.errors",
      "r.message",
      "r.finished_at",
    ])
    .where("r.organization_id", "=", organizationId)
    .where("r.finished_at", ">=", from)
    .where("r.finished_at", "<", to)
    .orderBy("r.finished_at")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    connectionId: r.connection_id,
    connectionName: r.name ?? r.connection_id,
    status: r.status,
    written: Number(r.written),
    warnings: Number(r.warnings),
    errors: Number(r.errors),
    message: r.message,
    finishedAt: r.finished_at,
  }));
}

/** The messages of a run's items with this outcome, first ones first. */
export async function runItemMessages(
  store: Store,
  runId: string,
  outcome: "error" | "warning",
  limit: number,
): Promise<string[]> {
  const rows = await store.db
    .selectFrom("sync_items")
    .select("message")
    .where("run_id", "=", runId)
    .where("outcome", "=", outcome)
    .orderBy("sequence")
    .limit(limit)
    .execute();
  return rows.flatMap((r) => (r.message ? [r.message] : []));
}

export type HeldLineFacts = {
  connectionId: string;
  connectionName: string;
  /** The currency of the held charge event, when known. */
  currency: string;
  /** The held unit price and the event's seat change, as decimal strings. */
  unitPrice: string;
  quantity: string;
};

/** Lines still held (waiting for approval), optionally only those held by one run. */
export async function heldLines(
  store: Store,
  organizationId: string,
  filter: { runId?: string; heldFrom?: string; heldTo?: string } = {},
): Promise<HeldLineFacts[]> {
  let query = store.db
    .selectFrom("price_holds as h")
    .leftJoin("connections as c", "c.id", "h.connection_id")
    .leftJoin("charge_events as e", (join) =>
      join.onRef("e.organization_id", "=", "h.organization_id").onRef("e.event_key", "=", "h.event_key"),
    )
    .select(["h.connection_id", "c.name", "h.unit_price", "e.seat_delta", "e.currency"])
    .where("h.organization_id", "=", organizationId)
    .where("h.status", "=", "held");
  if (filter.runId) query = query.where("h.held_run_id", "=", filter.runId);
  if (filter.heldFrom) query = query.where("h.held_at", ">=", filter.heldFrom);
  if (filter.heldTo) query = query.where("h.held_at", "<", filter.heldTo);
  const rows = await query.execute();
  return rows.map((r) => ({
    connectionId: r.connection_id,
    connectionName: r.name ?? r.connection_id,
    currency: r.currency ?? "?",
    unitPrice: String(r.unit_price),
    quantity: r.seat_delta === null || r.seat_delta === undefined ? "1" : String(r.seat_delta),
  }));
}

export type ImportFacts = {
  status: string;
  lines: number;
  /** The new lines' subtotals with their invoice's currency, one per line (summed in decimal by the caller). */
  amounts: { currency: string; amount: string }[];
};

/** Imports that finished in [from, to), with their lines' subtotals. */
export async function importsBetween(
  store: Store,
  organizationId: string,
  from: string,
  to: string,
): Promise<ImportFacts[]> {
  const imports = await store.db
    .selectFrom("imports")
    .select(["id", "status", "new_line_count"])
    .where("organization_id", "=", organizationId)
    .where("finished_at", ">=", from)
    .where("finished_at", "<", to)
    .execute();
  const facts: ImportFacts[] = [];
  for (const i of imports) {
    const lines = await store.db
      .selectFrom("charge_lines as l")
      .innerJoin("invoices as v", (join) =>
        join
          .onRef("v.organization_id", "=", "l.organization_id")
          .onRef("v.invoice_number", "=", "l.invoice_number"),
      )
      .select(["v.currency", "l.subtotal"])
      .where("l.import_id", "=", i.id)
      .execute();
    facts.push({
      status: i.status,
      lines: Number(i.new_line_count),
      amounts: lines.map((l) => ({ currency: l.currency, amount: String(l.subtotal) })),
    });
  }
  return facts;
}

/** Whether any charge line dated in this month (YYYY-MM) has been imported. */
export async function hasChargesInMonth(
  store: Store,
  organizationId: string,
  month: string,
): Promise<boolean> {
  const row = await store.db
    .selectFrom("invoices")
    .select("invoice_number")
    .where("organization_id", "=", organizationId)
    .where("last_charge_date", ">=", `${month}-01`)
    // Before the next month's first day: "<month>-31" is no date in a shorter month (PostgreSQL refuses it).
    .where("first_charge_date", "<", `${monthAfter(month)}-01`)
    .executeTakeFirst();
  return row !== undefined;
}

/** A PSA connection's name (its id when it was removed). */
export async function connectionName(store: Store, connectionId: string): Promise<string> {
  const row = await store.db
    .selectFrom("connections")
    .select("name")
    .where("id", "=", connectionId)
    .executeTakeFirst();
  return row?.name ?? connectionId;
}

/** "2026-12" → "2027-01". */
function monthAfter(month: string): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
}
