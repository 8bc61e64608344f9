/**
 * The organization every install starts with (one per install today). Live code takes it from here; migration
 * 0001, which created its row, keeps its own copy of the literal so the migration stays frozen.
 */
export const DEFAULT_ORGANIZATION_ID = "default";
