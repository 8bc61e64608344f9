import { z } from "zod";
import { ENTITY_NAMES } from "./schema.ts";
import type { EntityName } from "./schema.ts";

/** A user-defined field value; UDF values are strings on the wire (docs/autotask.md §6.2). */
export type UdfValue = { name: string; value: string | null };

/**
 * One stored record: canonical (camelCase) field names; integers as numbers, money as canonical decimal
 * strings, dates as Autotask date strings. Keys starting with "__" are emulator bookkeeping, never sent.
 */
export type Row = { id: number; userDefinedFields: UdfValue[]; [field: string]: unknown };
/** A record before it has an id. */
export type NewRow = { userDefinedFields: UdfValue[]; [field: string]: unknown };

export type Resource = { id: number; name: string; isActive: boolean };

/** Ids look like a real tenant's (large, per-entity sequences) and are deterministic for a given history. */
const FIRST_IDS: Record<EntityName, number> = {
  Companies: 1000,
  Contracts: 29684000,
  ContractCharges: 29700000,
  ContractServices: 29710000,
  ContractServiceAdjustments: 29720000,
  ContractServiceUnits: 29730000,
  Services: 29690000,
  Products: 29692000,
  BillingCodes: 29682800,
};

const rowSchema = z.looseObject({
  id: z.number().int(),
  userDefinedFields: z.array(z.object({ name: z.string(), value: z.string().nullable() })),
});

const storedStateSchema = z.object({
  format: z.literal("cspsync-autotask-emulator/1"),
  nextIds: z.record(z.string(), z.number().int()),
  tables: z.record(z.string(), z.array(rowSchema)),
  resources: z.array(z.object({ id: z.number().int(), name: z.string(), isActive: z.boolean() })),
});
export type StoredState = z.infer<typeof storedStateSchema>;

export class AutotaskStore {
  readonly #tables = new Map<EntityName, Map<number, Row>>();
  #nextIds: Record<EntityName, number> = { ...FIRST_IDS };
  resources: Resource[] = [];

  constructor() {
    for (const name of ENTITY_NAMES) this.#tables.set(name, new Map());
  }

  #table(entity: EntityName): Map<number, Row> {
    const table = this.#tables.get(entity);
    if (!table) throw new Error(`unknown entity ${entity}`);
    return table;
  }

  nextId(entity: EntityName): number {
    const id = this.#nextIds[entity];
    this.#nextIds[entity] = id + 1;
    return id;
  }

  insert(entity: EntityName, fields: NewRow, id = this.nextId(entity)): Row {
    const row: Row = { ...fields, id };
    this.#table(entity).set(id, row);
    return row;
  }

  get(entity: EntityName, id: number): Row | undefined {
    return this.#table(entity).get(id);
  }

  put(entity: EntityName, row: Row): void {
    this.#table(entity).set(row.id, row);
  }

  delete(entity: EntityName, id: number): boolean {
    return this.#table(entity).delete(id);
  }

  all(entity: EntityName): Row[] {
    return [...this.#table(entity).values()];
  }

  clear(): void {
    for (const table of this.#tables.values()) table.clear();
    this.#nextIds = { ...FIRST_IDS };
    this.resources = [];
  }

  toJSON(): StoredState {
    const tables: Record<string, Row[]> = {};
    for (const [name, table] of this.#tables) tables[name] = [...table.values()];
    return {
      format: "cspsync-autotask-emulator/1",
      nextIds: { ...this.#nextIds },
      tables,
      resources: this.resources,
    };
  }

  /** Replaces the whole state with a saved one (see `dataFile`). */
  load(saved: unknown): void {
    const state = storedStateSchema.parse(saved);
    this.clear();
    for (const name of ENTITY_NAMES) {
      for (const row of state.tables[name] ?? []) this.#table(name).set(row.id, row as Row);
      this.#nextIds[name] = state.nextIds[name] ?? FIRST_IDS[name];
    }
    this.resources = state.resources;
  }
}
