/** The Autotask PSA client cspsync's sync engine uses (see client.ts for the resource APIs). */
export {
  AutotaskClient,
  createAutotaskClient,
  DEFAULT_DISCOVERY_BASE_URL,
  MAX_CONCURRENT_PER_ENDPOINT,
} from "./client.ts";
export type {
  AutotaskClientOptions,
  AutotaskCredentials,
  ClientQueryOptions,
  ConnectionTestResult,
  EntityPermission,
  ReadApi,
} from "./client.ts";
export {
  assertValidFilter,
  countQueryLimits,
  decimal,
  filterBuilder,
  MAX_OR_CONDITIONS,
  MAX_PAGE_SIZE,
  queryModel,
  where,
} from "./filter.ts";
export type { AutotaskFilter, FilterBuilder, FilterScalar, QueryOptions } from "./filter.ts";
export {
  assertValidIdempotencyKey,
  CHARGE_IDEMPOTENCY_FIELD,
  CHARGE_IDEMPOTENCY_FIELD_MAX_LENGTH,
} from "./idempotency.ts";
export type * from "./models.ts";
export { PicklistLabelNotFoundError, PicklistResolver } from "./picklists.ts";
export type { PicklistEntry } from "./picklists.ts";
export { DEFAULT_QUOTA_POLICY } from "./quota.ts";
export type { QuotaPolicy, QuotaStatus } from "./quota.ts";
