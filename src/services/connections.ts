import { assertSecretsFollowMove } from "./connection-moves.ts";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { MAX_ID_CHARS, MAX_SECRET_CHARS, MAX_TEXT_CHARS } from "../core/limits.ts";
import { SecretUnreadableError, type SecretBox } from "../security/secrets.ts";
import type { Store } from "../store/db.ts";
import type { ConnectionsTable } from "../store/schema.ts";
import { AppError } from "../core/errors.ts";

/**
 * PSA connections: what cspsync needs to reach a PSA and to write charges there. Credentials are sealed with
 * the SecretBox before they touch the database and are never returned: callers only learn which are set.
 */
export const VENDORS = ["connectwise", "autotask"] as const;
export type Vendor = (typeof VENDORS)[number];

const nonEmpty = z.string().trim().min(1).max(MAX_TEXT_CHARS);
const identifier = z.string().trim().min(1).max(MAX_ID_CHARS);
const secret = z.string().trim().min(1).max(MAX_SECRET_CHARS);
const connectionName = z.string().trim().min(1).max(200);
const url = (message?: string) => z.url(message ? { message } : undefined).max(MAX_TEXT_CHARS);

export const connectWiseConfigSchema = z.object({
  site: url("site must be a URL such as https://na.myconnectwise.net"),
  companyId: identifier,
  publicKey: identifier,
  clientId: identifier,
});
export const connectWiseSecretsSchema = z.object({ privateKey: secret });
export const connectWiseSettingsSchema = z.object({
  /** How a CSP product finds its catalog item: by identifier (the SKU), by vendor SKU, or either. */
  catalogMatch: z.enum(["identifier", "vendor-sku", "either"]).default("either"),
  /** Catalog item identifier used when no item matches the product. */
  fallbackCatalogItem: nonEmpty.optional(),
  /** Product catalog sync: off, every product in the billing data, or those of mapped customers. */
  productSyncMode: z.enum(["off", "all", "in-use"]).optional(),
  /**
   * Sell prices of PSA records product sync linked but did not create (the MSP's): never changed (default), or
   * changed only after the preview showed the change and a person confirmed it. Cost follows the billing data.
   */
  linkedPriceUpdates: z.enum(["never", "confirm"]).optional(),
  /** Subcategory and product type of new catalog items, by id or name; category id; taxable flag. */
  productSubcategory: z.union([z.coerce.number().int().positive(), nonEmpty]).optional(),
  productType: z.union([z.coerce.number().int().positive(), nonEmpty]).optional(),
  productCategoryId: z.coerce.number().int().positive().optional(),
  productTaxable: z.boolean().optional(),
});

export const autotaskConfigSchema = z.object({
  username: nonEmpty,
  /** Where zone discovery starts; the public default unless the operator points it elsewhere. */
  discoveryUrl: url().optional(),
});
export const autotaskSecretsSchema = z.object({ secret, integrationCode: secret });
export const autotaskSettingsSchema = z.object({
  /** Product charged on Fixed Price contracts (Products id), or else a billing code (allocation code id). */
  chargeProductId: z.coerce.number().int().positive().optional(),
  chargeBillingCodeId: z.coerce.number().int().positive().optional(),
  /** Product catalog sync: off, every product in the billing data, or those of mapped customers. */
  productSyncMode: z.enum(["off", "all", "in-use"]).optional(),
  /**
   * Sell prices of PSA records product sync linked but did not create (the MSP's): never changed (default), or
   * changed only after the preview showed the change and a person confirmed it. Cost follows the billing data.
   */
  linkedPriceUpdates: z.enum(["never", "confirm"]).optional(),
  /** Billing code (recurring contract service) and optional vendor of the services product sync creates. */
  serviceBillingCodeId: z.coerce.number().int().positive().optional(),
  serviceVendorCompanyId: z.coerce.number().int().positive().optional(),
  /** Billing code of the Products product sync creates for Seat-based Annual contract charges. */
  productBillingCodeId: z.coerce.number().int().positive().optional(),
  /** The service the Azure Plan sync puts on Recurring Service contracts, when not found by SKU or name. */
  azureServiceId: z.coerce.number().int().positive().optional(),
});

export type ConnectWiseConfig = z.infer<typeof connectWiseConfigSchema>;
export type ConnectWiseSecrets = z.infer<typeof connectWiseSecretsSchema>;
export type ConnectWiseSettings = z.infer<typeof connectWiseSettingsSchema>;
export type AutotaskConfig = z.infer<typeof autotaskConfigSchema>;
export type AutotaskSecrets = z.infer<typeof autotaskSecretsSchema>;
export type AutotaskSettings = z.infer<typeof autotaskSettingsSchema>;

export type ConnectionDetails =
  | {
      vendor: "connectwise";
      config: ConnectWiseConfig;
      secrets: ConnectWiseSecrets;
      settings: ConnectWiseSettings;
    }
  | { vendor: "autotask"; config: AutotaskConfig; secrets: AutotaskSecrets; settings: AutotaskSettings };

/** A connection as shown to people and API clients: no secret values, only whether each one is set. */
export type ConnectionView = {
  id: string;
  vendor: Vendor;
  name: string;
  config: Record<string, unknown>;
  secretsSet: Record<string, boolean>;
  /** False when the stored credentials cannot be decrypted with this process's secret key. */
  credentialsReadable: boolean;
  settings: Record<string, unknown>;
  seatAnnualEnabled: boolean;
  lastTest: { at: string; ok: boolean; message: string } | null;
  createdAt: string;
  updatedAt: string;
};

export class ConnectionInputError extends AppError {
  constructor(message: string, field?: string) {
    // An unknown connection id is a connection that does not exist, not a bad value.
    super(field === "id" ? "not_found" : "validation", message, { field });
  }
}

/** What to tell people when a connection's stored credentials cannot be decrypted with the current key. */
export function credentialsUnreadableMessage(connection: { id: string; name: string }): string {
  return (
    `stored credentials of connection "${connection.name}" (${connection.id}) cannot be decrypted with this ` +
    "key: re-enter them or restore the key (CSPSYNC_SECRET_KEY / data/secret.key)"
  );
}

/** A connection's credentials were sealed with another secret key than this process has. */
export class CredentialsUnreadableError extends AppError {
  readonly connectionId: string;
  readonly connectionName: string;
  constructor(connection: { id: string; name: string }) {
    // The connection needs its secrets again (or the old key).
    super("credentials_unreadable", credentialsUnreadableMessage(connection), { field: "secrets" });
    this.connectionId = connection.id;
    this.connectionName = connection.name;
  }
}

function schemasFor(vendor: Vendor) {
  return vendor === "connectwise"
    ? {
        config: connectWiseConfigSchema,
        secrets: connectWiseSecretsSchema,
        settings: connectWiseSettingsSchema,
      }
    : { config: autotaskConfigSchema, secrets: autotaskSecretsSchema, settings: autotaskSettingsSchema };
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, part: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? `${part}.${issue.path.join(".")}` : part;
  throw new ConnectionInputError(`${field}: ${issue.message}`, field);
}

/** Applies a partial update: given keys replace, `null` removes an optional value, others stay. */
function merge(base: object, patch: unknown): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  if (typeof patch !== "object" || patch === null) return merged;
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else if (value !== undefined) merged[key] = value;
  }
  return merged;
}

/** What an update may change; secrets not given keep their stored value. */
export type ConnectionChanges = {
  name?: string;
  config?: unknown;
  secrets?: unknown;
  settings?: unknown;
  seatAnnualEnabled?: boolean;
};

export class ConnectionService {
  private readonly store: Store;
  private readonly box: SecretBox;
  private readonly organizationId: string;

  constructor(store: Store, box: SecretBox, organizationId: string) {
    this.store = store;
    this.box = box;
    this.organizationId = organizationId;
  }

  async create(input: {
    vendor: Vendor;
    name: string;
    config: unknown;
    secrets: unknown;
    settings?: unknown;
  }): Promise<ConnectionView> {
    const schemas = schemasFor(input.vendor);
    const config = parseOrThrow(schemas.config as z.ZodType<unknown>, input.config, "config");
    const secrets = parseOrThrow(schemas.secrets as z.ZodType<unknown>, input.secrets, "secrets");
    const settings = parseOrThrow(schemas.settings as z.ZodType<unknown>, input.settings ?? {}, "settings");
    const name = parseOrThrow(connectionName, input.name, "name");
    const id = randomUUID();
    const now = new Date().toISOString();
    await this.store.db
      .insertInto("connections")
      .values({
        id,
        organization_id: this.organizationId,
        vendor: input.vendor,
        name,
        config: JSON.stringify(config),
        secrets: this.box.seal(JSON.stringify(secrets), id),
        seat_annual_enabled: 0,
        settings: JSON.stringify(settings),
        last_test_at: null,
        last_test_ok: null,
        last_test_message: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return this.view(id);
  }

  /** What `update` would store: checked and merged with what is stored, nothing written yet. */
  private async plannedUpdate(
    id: string,
    input: ConnectionChanges,
  ): Promise<{ row: ConnectionsTable; changes: Partial<ConnectionsTable> }> {
    const row = await this.row(id);
    const current = this.decodeSettings(row);
    // Before anything is stored: a connection moved to another host gets no stored secret, only ones
    // entered with the move (connection-moves.ts).
    assertSecretsFollowMove(row.vendor, current.config, {
      config: asRecord(input.config),
      secrets: asRecord(input.secrets),
    });
    const schemas = schemasFor(row.vendor);
    const changes: Partial<ConnectionsTable> = { updated_at: new Date().toISOString() };
    if (input.name !== undefined) changes.name = parseOrThrow(connectionName, input.name, "name");
    if (input.config !== undefined)
      changes.config = JSON.stringify(
        parseOrThrow(schemas.config as z.ZodType<unknown>, merge(current.config, input.config), "config"),
      );
    if (input.secrets !== undefined) {
      // Credentials this key cannot read are replaced whole: every secret has to be given again.
      const stored = this.readable(row) ? this.decodeSecrets(row) : {};
      const secrets = parseOrThrow(
        schemas.secrets as z.ZodType<unknown>,
        merge(stored, input.secrets),
        "secrets",
      );
      changes.secrets = this.box.seal(JSON.stringify(secrets), id);
    }
    if (input.settings !== undefined)
      changes.settings = JSON.stringify(
        parseOrThrow(
          schemas.settings as z.ZodType<unknown>,
          merge(current.settings, input.settings),
          "settings",
        ),
      );
    if (input.seatAnnualEnabled !== undefined) changes.seat_annual_enabled = input.seatAnnualEnabled ? 1 : 0;
    return { row, changes };
  }

  /**
   * The connection's details as they would be after `input`, for testing new values before they replace
   * working ones. Nothing is stored.
   */
  async detailsAfter(id: string, input: ConnectionChanges) {
    const { row, changes } = await this.plannedUpdate(id, input);
    return this.details({ ...row, ...changes });
  }

  /** Changes what is given; secrets not given keep their stored value (they are write-only). */
  async update(id: string, input: ConnectionChanges): Promise<ConnectionView> {
    const { changes } = await this.plannedUpdate(id, input);
    await this.store.db
      .updateTable("connections")
      .set(changes)
      .where("id", "=", id)
      .where("organization_id", "=", this.organizationId)
      .execute();
    return this.view(id);
  }

  async list(): Promise<ConnectionView[]> {
    return (await this.rows()).map((row) => this.toView(row));
  }

  /** Every connection of the organization, oldest first. */
  private async rows(): Promise<ConnectionsTable[]> {
    return this.store.db
      .selectFrom("connections")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .orderBy("created_at")
      .execute();
  }

  async view(id: string): Promise<ConnectionView> {
    return this.toView(await this.row(id));
  }

  async remove(id: string): Promise<void> {
    await this.row(id);
    await this.store.db.deleteFrom("connections").where("id", "=", id).execute();
  }

  /** The connections whose stored credentials this key cannot decrypt (checked at start-up). */
  async unreadableCredentials(): Promise<{ id: string; name: string; message: string }[]> {
    return (await this.rows())
      .filter((row) => !this.readable(row))
      .map((row) => ({ id: row.id, name: row.name, message: credentialsUnreadableMessage(row) }));
  }

  /** Full details including decrypted credentials — for building a PSA client, never for output. */
  async details(
    idOrRow: string | ConnectionsTable,
  ): Promise<ConnectionDetails & { id: string; name: string; seatAnnualEnabled: boolean }>;
  async details(idOrRow: string | ConnectionsTable) {
    const row = typeof idOrRow === "string" ? await this.row(idOrRow) : idOrRow;
    return {
      id: row.id,
      name: row.name,
      seatAnnualEnabled: Number(row.seat_annual_enabled) === 1,
      ...this.decode(row),
    };
  }

  async recordTest(id: string, ok: boolean, message: string): Promise<void> {
    await this.store.db
      .updateTable("connections")
      .set({ last_test_at: new Date().toISOString(), last_test_ok: ok ? 1 : 0, last_test_message: message })
      .where("id", "=", id)
      .execute();
  }

  async row(id: string): Promise<ConnectionsTable> {
    const row = await this.store.db
      .selectFrom("connections")
      .selectAll()
      .where("id", "=", id)
      .where("organization_id", "=", this.organizationId)
      .executeTakeFirst();
    if (!row) throw new ConnectionInputError(`no connection with id ${id}`, "id");
    return row;
  }

  private decode(row: ConnectionsTable): ConnectionDetails {
    return { ...this.decodeSettings(row), secrets: this.decodeSecrets(row) } as ConnectionDetails;
  }

  /** Everything but the credentials: needs no key. */
  private decodeSettings(row: ConnectionsTable) {
    const schemas = schemasFor(row.vendor);
    return {
      vendor: row.vendor,
      config: schemas.config.parse(JSON.parse(row.config)),
      settings: schemas.settings.parse(JSON.parse(row.settings)),
    };
  }

  private decodeSecrets(row: ConnectionsTable): Record<string, unknown> {
    let plaintext: string;
    try {
      plaintext = this.box.open(row.secrets, row.id);
    } catch (error) {
      if (error instanceof SecretUnreadableError) throw new CredentialsUnreadableError(row);
      throw error;
    }
    return schemasFor(row.vendor).secrets.parse(JSON.parse(plaintext));
  }

  /** Whether this process's key opens the row's credentials. */
  private readable(row: ConnectionsTable): boolean {
    try {
      this.box.open(row.secrets, row.id);
      return true;
    } catch (error) {
      if (error instanceof SecretUnreadableError) return false;
      throw error;
    }
  }

  private toView(row: ConnectionsTable): ConnectionView {
    const secretFields = Object.keys(schemasFor(row.vendor).secrets.shape);
    const credentialsReadable = this.readable(row);
    return {
      id: row.id,
      vendor: row.vendor,
      name: row.name,
      config: JSON.parse(row.config) as Record<string, unknown>,
      // The ciphertext always holds every required secret; listing them tells the UI which are set. Secrets
      // this key cannot read count as not set: they have to be entered again.
      secretsSet: Object.fromEntries(secretFields.map((f) => [f, credentialsReadable])),
      credentialsReadable,
      settings: JSON.parse(row.settings) as Record<string, unknown>,
      seatAnnualEnabled: Number(row.seat_annual_enabled) === 1,
      lastTest: row.last_test_at
        ? { at: row.last_test_at, ok: Number(row.last_test_ok) === 1, message: row.last_test_message ?? "" }
        : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}

/** An update's object part, or undefined when absent or not an object (the schema then names the problem). */
function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
