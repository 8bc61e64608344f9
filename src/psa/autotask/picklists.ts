import type { FieldInformation } from "./models.ts";

/**
 * Picklists resolved from `/{Entity}/entityInformation/fields` at run time, never hard-coded: tenants add and
 * rename values (docs/autotask.md §7.2). Cached per entity for a TTL (default 24 h).
 */

export type PicklistEntry = { value: number; label: string; isActive: boolean; isDefault: boolean };

export class PicklistLabelNotFoundError extends Error {
  constructor(entity: string, field: string, label: string, available: readonly string[]) {
    super(
      `Autotask ${entity}.${field} has no active picklist value labelled "${label}"` +
        ` (available: ${available.length > 0 ? available.join(", ") : "none"})`,
    );
    this.name = "PicklistLabelNotFoundError";
  }
}

type CacheEntry = { loadedAt: number; fields: Promise<Map<string, PicklistEntry[]>> };

export type PicklistResolverOptions = {
  loadFields: (entity: string) => Promise<FieldInformation[]>;
  ttlMs?: number;
  now?: () => number;
};

const DAY_MS = 24 * 60 * 60 * 1000;

export class PicklistResolver {
  readonly #options: PicklistResolverOptions;
  readonly #cache = new Map<string, CacheEntry>();

  constructor(options: PicklistResolverOptions) {
    this.#options = options;
  }

  /** The integer value for a label (case-insensitive, active values only). */
  async value(entity: string, field: string, label: string): Promise<number> {
    const entries = await this.entries(entity, field);
    const wanted = label.trim().toLowerCase();
    const match = entries.find((entry) => entry.isActive && entry.label.trim().toLowerCase() === wanted);
    if (!match) {
      const available = entries.filter((entry) => entry.isActive).map((entry) => entry.label);
      throw new PicklistLabelNotFoundError(entity, field, label, available);
    }
    return match.value;
  }

  /** The label for a value, including inactive values (old records keep them), or undefined. */
  async label(entity: string, field: string, value: number): Promise<string | undefined> {
    return (await this.entries(entity, field)).find((entry) => entry.value === value)?.label;
  }

  async entries(entity: string, field: string): Promise<PicklistEntry[]> {
    const fields = await this.#load(entity);
    const entries = fields.get(field.toLowerCase());
    if (!entries) throw new Error(`Autotask ${entity}.${field} is not a picklist field`);
    return entries;
  }

  /** Drops cached metadata, e.g. after a tenant admin changed a picklist. */
  invalidate(entity?: string): void {
    if (entity === undefined) this.#cache.clear();
    else this.#cache.delete(entity.toLowerCase());
  }

  #load(entity: string): Promise<Map<string, PicklistEntry[]>> {
    const now = (this.#options.now ?? Date.now)();
    const key = entity.toLowerCase();
    const cached = this.#cache.get(key);
    if (cached && now - cached.loadedAt < (this.#options.ttlMs ?? DAY_MS)) return cached.fields;
    const fields = this.#options.loadFields(entity).then(toPicklists);
    const entry: CacheEntry = { loadedAt: now, fields };
    // A failed load must not stay cached, or one network blip would poison the cache for a day.
    fields.catch(() => {
      if (this.#cache.get(key) === entry) this.#cache.delete(key);
    });
    this.#cache.set(key, entry);
    return fields;
  }
}

function toPicklists(fields: readonly FieldInformation[]): Map<string, PicklistEntry[]> {
  const picklists = new Map<string, PicklistEntry[]>();
  for (const field of fields) {
    if (!field.isPickList || !field.picklistValues) continue;
    const entries = field.picklistValues
      .map((entry) => ({
        value: Number(entry.value),
        label: entry.label,
        isActive: entry.isActive ?? true,
        isDefault: entry.isDefaultValue ?? false,
      }))
      .filter((entry) => Number.isInteger(entry.value));
    picklists.set(field.name.toLowerCase(), entries);
  }
  return picklists;
}
