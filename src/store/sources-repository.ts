import type { Store } from "./db.ts";
import type {
  FetchRunStatus,
  SourceConnectionsTable,
  SourceFetchRunsTable,
  SourceInvoicesTable,
  SourceUnbilledSnapshotsTable,
} from "./schema.ts";

/**
 * Billing-data sources and what was fetched from them (migration 0015, docs/partner-center.md §6). The invoice
 * row doubles as the claim: a worker fetches an invoice only after it turned the row to "fetching" with its own
 * token, which one worker at a time can do (unless the claim went stale: its worker died).
 */
export class SourcesRepository {
  private readonly store: Store;
  private readonly organizationId: string;

  constructor(store: Store, organizationId: string) {
    this.store = store;
    this.organizationId = organizationId;
  }

  private get db() {
    return this.store.db;
  }

  async insertSource(row: Omit<SourceConnectionsTable, "organization_id">): Promise<void> {
    await this.db
      .insertInto("source_connections")
      .values({ ...row, organization_id: this.organizationId })
      .execute();
  }

  async updateSource(
    id: string,
    fields: Partial<Pick<SourceConnectionsTable, "name" | "config" | "secrets" | "enabled" | "last_test">>,
  ): Promise<void> {
    await this.db
      .updateTable("source_connections")
      .set({ ...fields, updated_at: new Date().toISOString() })
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .execute();
  }

  async listSources(): Promise<SourceConnectionsTable[]> {
    return this.db
      .selectFrom("source_connections")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .orderBy("name")
      .execute();
  }

  /** By id, or else by name. */
  async findSource(idOrName: string): Promise<SourceConnectionsTable | undefined> {
    const rows = await this.db
      .selectFrom("source_connections")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .execute();
    return rows.find((r) => r.id === idOrName) ?? rows[0];
  }

  async deleteSource(id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("source_connections")
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async invoice(invoiceId: string): Promise<SourceInvoicesTable | undefined> {
    return this.db
      .selectFrom("source_invoices")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .executeTakeFirst();
  }

  async listInvoices(sourceId?: string): Promise<SourceInvoicesTable[]> {
    let query = this.db
      .selectFrom("source_invoices")
      .selectAll()
      .where("organization_id", "=", this.organizationId);
    if (sourceId) query = query.where("source_id", "=", sourceId);
    return query.orderBy("invoice_id", "desc").execute();
  }

  /**
   * Claims the invoice for one fetch: true when this caller holds it now. A claim older than `staleBefore`
   * (its worker stopped) may be taken over; a live one may not.
   */
  async claimInvoice(
    invoiceId: string,
    sourceId: string,
    token: string,
    staleBefore: string,
    facts: Pick<SourceInvoicesTable, "currency" | "invoice_total" | "period_start">,
  ): Promise<boolean> {
    const now = new Date().toISOString();
    const inserted = await this.db
      .insertInto("source_invoices")
      .values({
        organization_id: this.organizationId,
        invoice_id: invoiceId,
        source_id: sourceId,
        status: "fetching",
        ...facts,
        etag: null,
        import_id: null,
        line_count: null,
        line_total: null,
        error_kind: null,
        message: null,
        claim_token: token,
        claimed_at: now,
        fetched_at: null,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["organization_id", "invoice_id"]).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    const updated = await this.db
      .updateTable("source_invoices")
      .set({
        status: "fetching",
        source_id: sourceId,
        claim_token: token,
        claimed_at: now,
        updated_at: now,
        ...facts,
      })
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .where((eb) => eb.or([eb("status", "!=", "fetching"), eb("claimed_at", "<", staleBefore)]))
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  }

  /** Ends this caller's claim with the outcome (only while it still holds the claim). */
  async settleInvoice(
    invoiceId: string,
    token: string,
    outcome: Partial<
      Pick<
        SourceInvoicesTable,
        | "status"
        | "etag"
        | "import_id"
        | "line_count"
        | "line_total"
        | "error_kind"
        | "message"
        | "fetched_at"
      >
    > & { status: SourceInvoicesTable["status"] },
  ): Promise<void> {
    await this.db
      .updateTable("source_invoices")
      .set({ ...outcome, claim_token: null, updated_at: new Date().toISOString() })
      .where("organization_id", "=", this.organizationId)
      .where("invoice_id", "=", invoiceId)
      .where("claim_token", "=", token)
      .execute();
  }

  async insertFetchRun(row: Omit<SourceFetchRunsTable, "organization_id">): Promise<void> {
    await this.db
      .insertInto("source_fetch_runs")
      .values({ ...row, organization_id: this.organizationId })
      .execute();
  }

  async updateFetchRun(
    id: string,
    fields: Partial<
      Pick<
        SourceFetchRunsTable,
        "status" | "error_kind" | "message" | "steps" | "summary" | "sync_jobs" | "finished_at"
      >
    >,
  ): Promise<void> {
    await this.db
      .updateTable("source_fetch_runs")
      .set(fields)
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .execute();
  }

  async fetchRun(id: string): Promise<SourceFetchRunsTable | undefined> {
    return this.db
      .selectFrom("source_fetch_runs")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  async listFetchRuns(options: { sourceId?: string; status?: FetchRunStatus; limit?: number } = {}) {
    let query = this.db
      .selectFrom("source_fetch_runs")
      .selectAll()
      .where("organization_id", "=", this.organizationId);
    if (options.sourceId) query = query.where("source_id", "=", options.sourceId);
    if (options.status) query = query.where("status", "=", options.status);
    return query
      .orderBy("started_at", "desc")
      .orderBy("id", "desc")
      .limit(options.limit ?? 50)
      .execute();
  }

  async insertUnbilled(row: Omit<SourceUnbilledSnapshotsTable, "organization_id">): Promise<void> {
    await this.db
      .insertInto("source_unbilled_snapshots")
      .values({ ...row, organization_id: this.organizationId })
      .execute();
  }

  /** The latest snapshots of a currency, newest first (the latest and the one before, for "since yesterday"). */
  async latestUnbilled(
    sourceId: string,
    currency: string,
    limit = 2,
  ): Promise<SourceUnbilledSnapshotsTable[]> {
    return this.db
      .selectFrom("source_unbilled_snapshots")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("source_id", "=", sourceId)
      .where("currency", "=", currency)
      .orderBy("fetched_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  }

  async unbilledCurrencies(sourceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("source_unbilled_snapshots")
      .select("currency")
      .distinct()
      .where("organization_id", "=", this.organizationId)
      .where("source_id", "=", sourceId)
      .orderBy("currency")
      .execute();
    return rows.map((r) => r.currency);
  }
}
