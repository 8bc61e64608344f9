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
  source: string;
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

export interface ImportLineOccurrencesTable {
  import_id: string;
  content_hash: string;
  seen: number;
}

export interface Database {
  organizations: OrganizationsTable;
  imports: ImportsTable;
  invoices: InvoicesTable;
  customers: CustomersTable;
  subscriptions: SubscriptionsTable;
  charge_lines: ChargeLinesTable;
  charge_events: ChargeEventsTable;
  import_line_occurrences: ImportLineOccurrencesTable;
}
