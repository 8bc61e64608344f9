/**
 * Table shapes as Kysely sees them. The same types hold on SQLite and PostgreSQL because the migrations
 * pick storage that reads back identically on both: money as decimal strings (TEXT / NUMERIC), dates as
 * `YYYY-MM-DD` strings (TEXT / DATE read as text), instants as ISO-8601 UTC strings, flags as 0/1 integers.
 */
export type Flag = 0 | 1;

export interface OrganizationsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ImportsTable {
  id: string;
  organization_id: string;
  file_name: string;
  file_sha256: string;
  file_format: string;
  status: "imported" | "rejected" | "empty";
  started_at: string;
  finished_at: string;
  line_count: number;
  new_line_count: number;
  known_line_count: number;
  error: string | null;
  summary: string;
  /** JSON array: the names of the fields in its lines' `source` arrays (null before migration 0010). */
  source_fields: string | null;
}

export interface InvoicesTable {
  organization_id: string;
  invoice_number: string;
  currency: string;
  first_charge_date: string | null;
  last_charge_date: string | null;
  line_count: number;
  subtotal: string;
  total: string;
  source_file: string;
  first_import_id: string;
  created_at: string;
  updated_at: string;
}

export interface CustomersTable {
  organization_id: string;
  tenant_id: string;
  name: string;
  domain: string | null;
  country: string | null;
  created_at: string;
  updated_at: string;
}

export interface SubscriptionsTable {
  organization_id: string;
  subscription_id: string;
  customer_tenant_id: string;
  product_id: string;
  sku_id: string;
  availability_id: string | null;
  product_name: string;
  sku_name: string | null;
  subscription_description: string | null;
  term_start: string | null;
  term_end: string | null;
  billing_frequency: string | null;
  term_and_billing_cycle: string | null;
  created_at: string;
  updated_at: string;
}

/** The rows of an import as read, a compressed block per batch (src/sources/reconciliation/source-blocks.ts). */
export interface ChargeLineSourcesTable {
  import_id: string;
  first_row: number;
  last_row: number;
  data: Uint8Array;
}

/** The packed keys of one batch's new lines of one invoice (migration 0022). */
export interface ChargeLineKeyBlocksTable {
  organization_id: string;
  invoice_number: string;
  import_id: string;
  key_count: number;
  data: Uint8Array;
}

export interface ChargeLinesTable {
  organization_id: string;
  line_key: string;
  import_id: string;
  source_row: number;
  invoice_number: string;
  customer_tenant_id: string;
  subscription_id: string;
  event_key: string;
  motion: string;
  is_billable: Flag;
  classification: string;
  charge_type: string;
  order_date: string | null;
  charge_start: string;
  charge_end: string | null;
  subscription_start: string | null;
  subscription_end: string | null;
  product_id: string;
  sku_id: string;
  availability_id: string | null;
  product_name: string;
  sku_name: string | null;
  billing_frequency: string | null;
  unit_price: string;
  effective_unit_price: string;
  quantity: string | null;
  billable_quantity: string;
  subtotal: string;
  tax_total: string;
  total: string;
  currency: string;
  reference_id: string | null;
  /**
   * Empty: the row's fields as read are in its import's charge_line_sources block (migration 0021). Lines
   * stored before that hold them here: a JSON array named by the import's `source_fields`, or, before
   * migration 0010, a JSON object. Read it with lineSourceRecord.
   */
  source: string;
  /** The line's event fields when it is an event on its own (see charge_events); null for halves of a pair. */
  kind: string | null;
  seat_delta: string | null;
  seats_after: string | null;
}

export interface ChargeEventsTable {
  organization_id: string;
  event_key: string;
  invoice_number: string;
  customer_tenant_id: string;
  subscription_id: string;
  motion: string;
  is_billable: Flag;
  kind: string;
  charge_type: string;
  order_date: string | null;
  charge_start: string;
  charge_end: string | null;
  term_start: string | null;
  term_end: string | null;
  product_id: string;
  sku_id: string;
  availability_id: string | null;
  product_name: string;
  sku_name: string | null;
  billing_frequency: string | null;
  seat_delta: string;
  seats_after: string;
  effective_unit_price: string;
  list_unit_price: string;
  amount: string;
  total: string;
  currency: string;
  line_count: number;
}

/** A scratch table of migration 0010 no code uses since the import appends (migration 0018); it stays empty. */
export interface ImportLineOccurrencesTable {
  import_id: string;
  content_hash: string;
  seen: number;
}

export interface ConnectionsTable {
  id: string;
  organization_id: string;
  vendor: "connectwise" | "autotask";
  name: string;
  /** Non-secret settings needed to reach the PSA (JSON). */
  config: string;
  /** AES-256-GCM ciphertext of the credential JSON; never leaves the server. */
  secrets: string;
  seat_annual_enabled: Flag;
  /** Vendor settings for writing charges (JSON). */
  settings: string;
  last_test_at: string | null;
  last_test_ok: Flag | null;
  last_test_message: string | null;
  created_at: string;
  updated_at: string;
}

export interface MappingsTable {
  organization_id: string;
  connection_id: string;
  customer_tenant_id: string;
  motion: string;
  psa_company_id: string | null;
  psa_company_name: string | null;
  agreement_id: string | null;
  agreement_name: string | null;
  sync_date: string | null;
  pricing_strategy: string;
  markup_percent: string | null;
  enabled: Flag;
  /** Seat-based Monthly: "most-recent" or "next" (migration 0008). */
  start_point: string;
  /** Seat-based Monthly: the most recent invoice when the mapping was enabled. */
  start_invoice: string | null;
  created_at: string;
  updated_at: string;
}

export type RunStatus = "running" | "no-change" | "success" | "warning" | "error" | "abandoned";

export interface SyncRunsTable {
  id: string;
  organization_id: string;
  connection_id: string;
  trigger: string;
  scope: string;
  status: RunStatus;
  started_at: string;
  heartbeat_at: string;
  /**
   * `node:pid:bootId` of the process running it (node: CSPSYNC_NODE_NAME or the host name), so a crashed
   * run on this host is taken over at once and a live one never; older rows hold `host:pid`.
   */
  owner: string;
  finished_at: string | null;
  written: number;
  unchanged: number;
  warnings: number;
  errors: number;
  psa_requests: number;
  message: string | null;
}

export interface SyncItemsTable {
  id: string;
  run_id: string;
  sequence: number;
  organization_id: string;
  customer_tenant_id: string | null;
  motion: string | null;
  subscription_id: string | null;
  event_key: string | null;
  write_key: string | null;
  /** held: below cost and waiting for approval (see price_holds); not written. */
  outcome: "written" | "found-existing" | "planned" | "skipped" | "warning" | "error" | "held";
  psa_record_id: string | null;
  message: string | null;
  details: string;
  created_at: string;
}

export interface PsaWritesTable {
  connection_id: string;
  write_key: string;
  organization_id: string;
  customer_tenant_id: string;
  motion: string;
  event_key: string;
  target_id: string;
  status: "pending" | "confirmed" | "failed";
  psa_record_id: string | null;
  payload: string;
  attempts: number;
  /** 1 from counting an attempt until the PSA answers it: a request that may still land (migration 0012). */
  in_flight: number;
  last_run_id: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface AppSettingsTable {
  organization_id: string;
  key: string;
  value: string;
  updated_at: string;
}

/** Product catalog sync: the PSA record cspsync created or linked for each product key. */
export interface SyncedProductsTable {
  organization_id: string;
  connection_id: string;
  product_key: string;
  product_name: string;
  psa_record_id: string | null;
  owned: Flag;
  status: "pending" | "synced";
  price: string | null;
  cost: string | null;
  created_at: string;
  updated_at: string;
}

/** A connection's price rule (see core/pricing.ts PriceRule). */
export interface PriceRulesTable {
  id: string;
  organization_id: string;
  connection_id: string;
  name: string;
  product_key: string | null;
  customer_tenant_id: string | null;
  kind: "markup" | "fixed";
  value: string;
  effective_from: string;
  effective_to: string | null;
  created_at: string;
  updated_at: string;
}

/** One import of a Microsoft price list file (migration 0013, docs/price-lists.md). */
export interface PriceListImportsTable {
  id: string;
  organization_id: string;
  file_name: string;
  sha256: string;
  market: string;
  currency: string;
  row_count: number;
  entry_count: number;
  first_effective: string;
  last_effective: string;
  imported_at: string;
  imported_by: string | null;
}

/** A price list row, kept across imports under its deterministic key. */
export interface PriceListEntriesTable {
  organization_id: string;
  entry_key: string;
  import_id: string;
  product_id: string;
  sku_id: string;
  term_duration: string;
  billing_plan: string;
  market: string;
  currency: string;
  unit_price: string;
  erp_price: string;
  tier_min: string | null;
  tier_max: string | null;
  effective_start: string;
  effective_end: string | null;
  product_title: string;
  sku_title: string;
}

export interface PricingSettingsTable {
  connection_id: string;
  organization_id: string;
  /** What a sell price below cost does: warn (write it, with a warning) or hold it for approval. */
  below_cost: "warn" | "hold";
  updated_at: string;
}

/** A line held because it sells below cost; written by the next sync once approved at this price. */
export interface PriceHoldsTable {
  connection_id: string;
  write_key: string;
  organization_id: string;
  customer_tenant_id: string;
  motion: string;
  event_key: string;
  description: string;
  unit_cost: string;
  unit_price: string;
  /** JSON of the rule that priced it (PricedBy), or null for the mapping's strategy. */
  priced_by: string | null;
  status: "held" | "approved";
  held_at: string;
  held_run_id: string | null;
  approved_by: string | null;
  approved_at: string | null;
}

export type ProductRunStatus = "running" | "no-change" | "success" | "warning" | "error" | "abandoned";

/** Product catalog sync history (migration 0009): one row per run. */
export interface ProductSyncRunsTable {
  id: string;
  organization_id: string;
  connection_id: string;
  trigger: string;
  mode: string;
  status: ProductRunStatus;
  started_at: string;
  /** The run lock, as on sync_runs (migration 0014; older rows: "" and their start). */
  heartbeat_at: string;
  owner: string;
  finished_at: string | null;
  written: number;
  unchanged: number;
  conflicts: number;
  failed: number;
  psa_requests: number;
  message: string | null;
}

/** One product's result in a product sync run. */
export interface ProductSyncItemsTable {
  run_id: string;
  sequence: number;
  product_key: string;
  name: string;
  action: string;
  status: string;
  psa_record_id: string | null;
  message: string;
  /** JSON array of strings. */
  notes: string;
}

/** The calendar feed token of an organization (migration 0017, docs/reports.md §4): only its SHA-256. */
export interface ReportFeedTokensTable {
  organization_id: string;
  token_hash: string;
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
}

/** A billing-data source (migration 0015, docs/partner-center.md §6): Microsoft Partner Center. */
export interface SourceConnectionsTable {
  id: string;
  organization_id: string;
  kind: "partner-center";
  name: string;
  /** JSON: tenant id, app id, credential type, endpoint overrides (never a secret). */
  config: string;
  /** The credentials, sealed with the SecretBox (bound to the source's id). */
  secrets: string;
  enabled: Flag;
  /** JSON { at, ok, kind, message } of the last connection test. */
  last_test: string | null;
  created_at: string;
  updated_at: string;
}

export type SourceInvoiceStatus = "fetching" | "imported" | "no-data" | "failed" | "rejected";

/** One invoice fetched (or being fetched: the claim) per organization (migration 0015). */
export interface SourceInvoicesTable {
  organization_id: string;
  invoice_id: string;
  source_id: string;
  status: SourceInvoiceStatus;
  currency: string | null;
  invoice_total: string | null;
  period_start: string | null;
  /** The export manifest's eTag ("data version") of the imported data. */
  etag: string | null;
  import_id: string | null;
  line_count: number | null;
  line_total: string | null;
  error_kind: string | null;
  message: string | null;
  claim_token: string | null;
  claimed_at: string | null;
  fetched_at: string | null;
  updated_at: string;
}

export type FetchRunStatus = "queued" | "running" | "imported" | "nothing-new" | "failed";

/** One fetch from a source (migration 0015): steps and summary as JSON, the sync jobs queued after it. */
export interface SourceFetchRunsTable {
  id: string;
  organization_id: string;
  source_id: string;
  trigger: string;
  status: FetchRunStatus;
  error_kind: string | null;
  message: string | null;
  steps: string;
  summary: string;
  sync_jobs: string;
  started_at: string;
  finished_at: string | null;
}

/** A sync run a fetch led to (migration 0019): Sync history's "fetch → syncs" link. */
export interface SourceFetchLinksTable {
  organization_id: string;
  fetch_run_id: string;
  sync_run_id: string;
  connection_id: string;
  created_at: string;
}

/** The open period's unbilled data, per currency and fetch (migration 0015): provisional, never synced. */
export interface SourceUnbilledSnapshotsTable {
  id: string;
  organization_id: string;
  source_id: string;
  currency: string;
  billing_period: string;
  line_count: number;
  total: string;
  /** JSON [{ customerTenantId, customerName, motion, lines, total }]. */
  by_customer: string;
  fetched_at: string;
}

export interface Database {
  source_connections: SourceConnectionsTable;
  source_invoices: SourceInvoicesTable;
  source_fetch_runs: SourceFetchRunsTable;
  source_unbilled_snapshots: SourceUnbilledSnapshotsTable;
  source_fetch_links: SourceFetchLinksTable;
  notification_channels: NotificationChannelsTable;
  notification_outbox: NotificationOutboxTable;
  notification_health: NotificationHealthTable;
  notification_settings: NotificationSettingsTable;
  report_feed_tokens: ReportFeedTokensTable;
  price_list_imports: PriceListImportsTable;
  price_list_entries: PriceListEntriesTable;
  price_rules: PriceRulesTable;
  pricing_settings: PricingSettingsTable;
  price_holds: PriceHoldsTable;
  synced_products: SyncedProductsTable;
  product_sync_runs: ProductSyncRunsTable;
  product_sync_items: ProductSyncItemsTable;
  connections: ConnectionsTable;
  mappings: MappingsTable;
  sync_runs: SyncRunsTable;
  sync_items: SyncItemsTable;
  psa_writes: PsaWritesTable;
  app_settings: AppSettingsTable;
  organizations: OrganizationsTable;
  imports: ImportsTable;
  invoices: InvoicesTable;
  customers: CustomersTable;
  subscriptions: SubscriptionsTable;
  charge_lines: ChargeLinesTable;
  charge_line_sources: ChargeLineSourcesTable;
  charge_line_key_blocks: ChargeLineKeyBlocksTable;
  /** A view (migration 0010): lines that are events on their own, plus charge_pair_events. Read only. */
  charge_events: ChargeEventsTable;
  charge_pair_events: ChargeEventsTable;
  import_line_occurrences: ImportLineOccurrencesTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  login_attempts: LoginAttemptsTable;
}

export type UserRole = "admin" | "viewer";

export interface UsersTable {
  id: string;
  organization_id: string;
  /** Stored lower-cased; login compares lower-cased input. */
  email: string;
  /** `scrypt$N$r$p$salt$hash` (base64url); never leaves the server. */
  password_hash: string;
  role: UserRole;
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
}

export interface SessionsTable {
  /** SHA-256 of the session id in the cookie: a database leak does not yield usable sessions. */
  id_hash: string;
  organization_id: string;
  user_id: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  /** Absolute end of the session, whatever the activity. */
  expires_at: string;
}

export interface ApiTokensTable {
  id: string;
  organization_id: string;
  name: string;
  role: UserRole;
  /** SHA-256 of the token; the token itself is shown once, at creation. */
  token_hash: string;
  /** The owner: the token works only while this user exists, and never with more than their role. */
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  /** The token stops working at this instant; null: it never expires (chosen explicitly). */
  expires_at: string | null;
}

export interface LoginAttemptsTable {
  organization_id: string;
  /** SHA-256 of the lower-cased e-mail and the client address. */
  attempt_key: string;
  failures: number;
  last_failure_at: string;
  locked_until: string | null;
}

/** Notification channels (migration 0016, docs/notifications.md): where people are told. */
export interface NotificationChannelsTable {
  id: string;
  organization_id: string;
  kind: "email" | "teams" | "slack" | "webhook";
  name: string;
  /** JSON of the settings that are not secret (SMTP host, port, security, user, from, recipients). */
  config: string;
  /** Sealed JSON (secret box, bound to the channel id): SMTP password, webhook URL, signing secret. */
  secrets: string;
  min_severity: "info" | "warning" | "error";
  /** JSON: per event kind, a severity threshold of its own or "off". */
  overrides: string;
  enabled: Flag;
  /** failing: it failed this many times in a row; shown in the web app, queued sends are given up. */
  status: "ok" | "failing";
  consecutive_failures: number;
  last_error: string | null;
  last_sent_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One notification on one channel (migration 0016): claimed before sending, so it goes out at most once. */
export interface NotificationOutboxTable {
  key: string;
  organization_id: string;
  channel_id: string;
  event_key: string;
  event_kind: string;
  severity: string;
  title: string;
  /** JSON of the rendered event (no secrets). */
  payload: string;
  /** uncertain: a worker stopped while sending it; it may or may not have arrived, and is not sent again. */
  status: "queued" | "sending" | "sent" | "failed" | "uncertain";
  attempts: number;
  owner: string | null;
  lease_until: string | null;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}

/** Health of a PSA connection or data source (migration 0016). */
export interface NotificationHealthTable {
  organization_id: string;
  subject_kind: "connection" | "source";
  subject_id: string;
  subject_name: string;
  state: "ok" | "failing";
  failing_since: string | null;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
  updated_at: string;
}

export interface NotificationSettingsTable {
  organization_id: string;
  digest_enabled: Flag;
  /** "HH:MM" in digest_time_zone. */
  digest_time: string;
  digest_time_zone: string;
  /** Day of the month by which the month's billing data is expected; null: not watched. */
  invoice_due_day: number | null;
  /** The web app's public address, for links in messages; null: messages carry no links. */
  app_url: string | null;
  /** Renewals and closing change windows are told this many days ahead (migration 0020); null: not told. */
  renewal_reminder_days: number | null;
  updated_at: string;
}
