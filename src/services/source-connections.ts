import { randomUUID } from "node:crypto";
import { z } from "zod";
import { AppError } from "../core/errors.ts";
import { MAX_ID_CHARS, MAX_SECRET_CHARS, MAX_TEXT_CHARS } from "../core/limits.ts";
import { SecretUnreadableError, type SecretBox } from "../security/secrets.ts";
import type { Store } from "../store/db.ts";
import type { SourceConnectionsTable } from "../store/schema.ts";
import { SourcesRepository } from "../store/sources-repository.ts";

/**
 * Billing-data sources (docs/partner-center.md §6): a Microsoft Partner Center connection is the partner
 * tenant, the Entra app (client) id and its client secret or certificate. Credentials are sealed with the
 * SecretBox like PSA credentials and never returned: callers only learn which are set.
 */
export const SOURCE_KINDS = ["partner-center"] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

const guid = z
  .string()
  .trim()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    "must be a GUID (00000000-0000-…)",
  );
const endpoint = z.url().max(MAX_TEXT_CHARS);

export const partnerCenterConfigSchema = z.object({
  tenantId: guid,
  clientId: guid,
  credential: z.enum(["secret", "certificate"]).default("secret"),
  /** SHA-256 thumbprint (hex) of the certificate, with a certificate credential. */
  thumbprintSha256: z
    .string()
    .trim()
    .regex(/^[0-9a-f]{64}$/i, "must be the certificate's SHA-256 thumbprint as 64 hex digits")
    .optional(),
  /** Other endpoint bases than Microsoft's (the emulator); their hosts must be allow-listed. */
  endpoints: z.object({ login: endpoint, partnerCenter: endpoint, graph: endpoint }).optional(),
  /** Currencies of the unbilled data to fetch when no invoice says which (default USD). */
  unbilledCurrencies: z.array(z.string().trim().length(3).toUpperCase()).max(20).optional(),
});
export type PartnerCenterConfig = z.infer<typeof partnerCenterConfigSchema>;
export const partnerCenterSecretsSchema = z.union([
  z.object({ clientSecret: z.string().trim().min(1).max(MAX_SECRET_CHARS) }),
  z.object({ privateKeyPem: z.string().trim().min(1).max(MAX_SECRET_CHARS).includes("PRIVATE KEY") }),
]);
export type PartnerCenterSecrets = { clientSecret?: string; privateKeyPem?: string };

export type SourceTest = { at: string; ok: boolean; kind: string | null; message: string };

/** A source as shown to people and API clients: no secret values. */
export type SourceView = {
  id: string;
  kind: SourceKind;
  name: string;
  enabled: boolean;
  config: PartnerCenterConfig;
  secretsSet: { clientSecret: boolean; privateKeyPem: boolean };
  credentialsReadable: boolean;
  lastTest: SourceTest | null;
  createdAt: string;
  updatedAt: string;
};

const SOURCE_NAME = z.string().trim().min(1).max(200);

/** The credential the config names must be among the secrets given (and a certificate needs its thumbprint). */
function assertCredentialFits(
  config: z.infer<typeof partnerCenterConfigSchema>,
  secrets: PartnerCenterSecrets,
): void {
  if (config.credential === "certificate" && (!secrets.privateKeyPem || !config.thumbprintSha256))
    throw new SourceInputError(
      "a certificate credential needs the private key (PEM) and the certificate's SHA-256 thumbprint",
      "secrets.privateKeyPem",
    );
  if (config.credential === "secret" && !secrets.clientSecret)
    throw new SourceInputError("a secret credential needs the client secret", "secrets.clientSecret");
}

export class SourceInputError extends AppError {
  constructor(message: string, field?: string) {
    super(field === "id" ? "not_found" : "validation", message, { field });
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, part: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? `${part}.${issue.path.join(".")}` : part;
  throw new SourceInputError(`${field}: ${issue.message}`, field);
}

export class SourceConnectionService {
  readonly repository: SourcesRepository;
  private readonly box: SecretBox;

  constructor(store: Store, box: SecretBox, organizationId: string) {
    this.repository = new SourcesRepository(store, organizationId);
    this.box = box;
  }

  async create(input: { name: string; config: unknown; secrets: unknown }): Promise<SourceView> {
    const name = parse(SOURCE_NAME, input.name, "name");
    const config = parse(partnerCenterConfigSchema, input.config, "config");
    const secrets = parse(partnerCenterSecretsSchema, input.secrets, "secrets") as PartnerCenterSecrets;
    assertCredentialFits(config, secrets);
    if (await this.repository.findSource(name))
      throw new AppError("conflict", `a source named "${name}" exists already`, { field: "name" });
    const id = randomUUID();
    const now = new Date().toISOString();
    await this.repository.insertSource({
      id,
      kind: "partner-center",
      name,
      config: JSON.stringify(config),
      secrets: this.box.seal(JSON.stringify(secrets), id),
      enabled: 1,
      last_test: null,
      created_at: now,
      updated_at: now,
    });
    return this.view(id);
  }

  /**
   * Edits a source in place: rotate the client secret, switch to (or change) the certificate, rename it, or
   * change its app id or endpoints. New credentials replace the old ones sealed; the last test is cleared when
   * the credentials or the app change, since it no longer speaks for them.
   */
  async update(
    idOrName: string,
    input: { name?: unknown; config?: unknown; secrets?: unknown },
  ): Promise<SourceView> {
    const row = await this.row(idOrName);
    const current = partnerCenterConfigSchema.parse(JSON.parse(row.config));
    const changes = parse(
      partnerCenterConfigSchema.partial().omit({ tenantId: true }),
      input.config ?? {},
      "config",
    );
    // Only the keys given change (the schema's defaults would otherwise reset the others).
    const given = Object.keys((input.config ?? {}) as object);
    const picked = Object.fromEntries(Object.entries(changes).filter(([key]) => given.includes(key)));
    const config = parse(partnerCenterConfigSchema, { ...current, ...picked }, "config");
    const name = input.name === undefined ? row.name : parse(SOURCE_NAME, input.name, "name");
    if (name !== row.name) {
      const other = await this.repository.findSource(name);
      if (other && other.id !== row.id)
        throw new AppError("conflict", `a source named "${name}" exists already`, { field: "name" });
    }
    let sealed = row.secrets;
    let secrets: PartnerCenterSecrets | null = null;
    if (input.secrets !== undefined)
      secrets = parse(partnerCenterSecretsSchema, input.secrets, "secrets") as PartnerCenterSecrets;
    else if (config.credential !== current.credential)
      throw new SourceInputError(
        `switching to a ${config.credential} credential needs the new ${config.credential === "certificate" ? "private key" : "client secret"}`,
        config.credential === "certificate" ? "secrets.privateKeyPem" : "secrets.clientSecret",
      );
    if (secrets) {
      assertCredentialFits(config, secrets);
      sealed = this.box.seal(JSON.stringify(secrets), row.id);
    }
    const credentialsChanged =
      secrets !== null ||
      config.clientId !== current.clientId ||
      config.thumbprintSha256 !== current.thumbprintSha256 ||
      JSON.stringify(config.endpoints) !== JSON.stringify(current.endpoints);
    await this.repository.updateSource(row.id, {
      name,
      config: JSON.stringify(config),
      secrets: sealed,
      ...(credentialsChanged ? { last_test: null } : {}),
    });
    return this.view(row.id);
  }

  async list(): Promise<SourceView[]> {
    return (await this.repository.listSources()).map((row) => this.toView(row));
  }

  async view(idOrName: string): Promise<SourceView> {
    return this.toView(await this.row(idOrName));
  }

  async remove(idOrName: string): Promise<void> {
    const row = await this.row(idOrName);
    await this.repository.deleteSource(row.id);
  }

  async setEnabled(idOrName: string, enabled: boolean): Promise<SourceView> {
    const row = await this.row(idOrName);
    await this.repository.updateSource(row.id, { enabled: enabled ? 1 : 0 });
    return this.view(row.id);
  }

  async recordTest(id: string, test: SourceTest): Promise<void> {
    await this.repository.updateSource(id, { last_test: JSON.stringify(test) });
  }

  /** Config and decrypted credentials, for the clients only. */
  async details(idOrName: string): Promise<{ view: SourceView; secrets: PartnerCenterSecrets }> {
    const row = await this.row(idOrName);
    let secrets: PartnerCenterSecrets;
    try {
      secrets = JSON.parse(this.box.open(row.secrets, row.id)) as PartnerCenterSecrets;
    } catch (error) {
      if (!(error instanceof SecretUnreadableError)) throw error;
      throw new AppError(
        "credentials_unreadable",
        `stored credentials of source "${row.name}" cannot be decrypted with this key: re-enter them or restore the key`,
        { field: "secrets" },
      );
    }
    return { view: this.toView(row), secrets };
  }

  private async row(idOrName: string): Promise<SourceConnectionsTable> {
    const key = parse(z.string().trim().min(1).max(MAX_ID_CHARS), idOrName, "id");
    const row = await this.repository.findSource(key);
    if (!row) throw new SourceInputError(`no source "${key}"`, "id");
    return row;
  }

  private toView(row: SourceConnectionsTable): SourceView {
    let secretsSet = { clientSecret: false, privateKeyPem: false };
    let credentialsReadable = true;
    try {
      const secrets = JSON.parse(this.box.open(row.secrets, row.id)) as PartnerCenterSecrets;
      secretsSet = {
        clientSecret: Boolean(secrets.clientSecret),
        privateKeyPem: Boolean(secrets.privateKeyPem),
      };
    } catch {
      credentialsReadable = false;
    }
    return {
      id: row.id,
      kind: row.kind,
      name: row.name,
      enabled: row.enabled === 1,
      config: partnerCenterConfigSchema.parse(JSON.parse(row.config)),
      secretsSet,
      credentialsReadable,
      lastTest: row.last_test ? (JSON.parse(row.last_test) as SourceTest) : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
