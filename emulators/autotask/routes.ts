import { z } from "zod";
import { parseJson } from "../../src/psa/shared/json.ts";
import type { EmulatorContext, EmulatorReply, EmulatorRoute } from "../kit.ts";
import { EmulatorApiError, methodNotAllowed, validationError } from "./api-error.ts";
import { countMatches, parseQueryModel, selectPage } from "./query-engine.ts";
import type { PageCursor, ParsedQuery } from "./query-engine.ts";
import { toWire } from "./records.ts";
import type { WriteMode } from "./records.ts";
import {
  createCompany,
  createContract,
  createContractCharge,
  createContractService,
  createProduct,
  createService,
  createServiceAdjustment,
  deleteContractCharge,
  updateCompany,
  updateContract,
  updateContractCharge,
  updateContractService,
  updateProduct,
  updateService,
} from "./rules.ts";
import type { AutotaskEmulatorSwitches, WriteContext } from "./rules.ts";
import { ENTITIES, readableFields, resolveEntityName } from "./schema.ts";
import type { EntityDef, EntityName, FieldDef } from "./schema.ts";
import type { AutotaskStore, Row } from "./store.ts";

/**
 * The emulator's URL grammar (docs/autotask.md §4.1, §4.2): root entity routes, `/Contracts/{id}/{Sub}` child
 * routes, query/next/count, metadata, zone and threshold information. Paths are matched case-insensitively
 * by the kit (docs/autotask.md §3); anything that matches a shape with another verb answers ASP.NET's 405
 * (§4.1).
 */

export const API_PREFIX = "/atservicesrest/v1.0";

export type ApiUser = {
  userName: string;
  secret: string;
  integrationCode: string;
  /** The resource the API user is; writes are attributed to it. */
  resourceId: number;
  /**
   * "read-only" models a cut-down security level: metadata says None and writes are refused
   * (docs/autotask.md §3, §7.1).
   */
  access?: "full" | "read-only";
};

export type RouteEnvironment = {
  store: AutotaskStore;
  switches: AutotaskEmulatorSwitches;
  users: ApiUser[];
  now: () => Date;
  /** Wraps an API handler with auth-derived context, request accounting, thread limits and latency. */
  guard: (endpoint: (ctx: EmulatorContext) => string, handler: ApiHandler) => EmulatorRoute["handler"];
  thresholdInfo: () => unknown;
};

export type ApiCall = { ctx: EmulatorContext; user: ApiUser; write: WriteContext };
export type ApiHandler = (call: ApiCall) => EmulatorReply | Promise<EmulatorReply>;

type ChildSub = "Charges" | "Services" | "ServiceAdjustments" | "ServiceUnits";
const CHILD_ENTITIES: Record<string, { sub: ChildSub; entity: EntityName }> = {
  charges: { sub: "Charges", entity: "ContractCharges" },
  services: { sub: "Services", entity: "ContractServices" },
  serviceadjustments: { sub: "ServiceAdjustments", entity: "ContractServiceAdjustments" },
  serviceunits: { sub: "ServiceUnits", entity: "ContractServiceUnits" },
};

/** The host the client used, so URLs we hand out (zone, nextPageUrl) work whatever address we listen on. */
export function publicBaseUrl(ctx: EmulatorContext): string {
  const host = ctx.headers.host;
  return host ? `http://${host}` : ctx.baseUrl;
}

function ok(body: unknown): EmulatorReply {
  return { status: 200, body };
}

function aspNetNotFound(ctx: EmulatorContext): EmulatorApiError {
  return new EmulatorApiError(404, {
    Message: `No HTTP resource was found that matches the request URI '${publicBaseUrl(ctx)}${ctx.path}'.`,
  });
}

function entityFromParam(ctx: EmulatorContext, param = "entity"): EntityDef {
  const name = resolveEntityName(ctx.params[param] ?? "");
  if (!name) throw aspNetNotFound(ctx);
  return ENTITIES[name];
}

function parseId(ctx: EmulatorContext, text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text)) throw aspNetNotFound(ctx);
  return Number(text);
}

function childFromParams(ctx: EmulatorContext): { contractId: number; entity: EntityDef; sub: ChildSub } {
  if ((ctx.params.parent ?? "").toLowerCase() !== "contracts") throw aspNetNotFound(ctx);
  const child = CHILD_ENTITIES[(ctx.params.sub ?? "").toLowerCase()];
  if (!child) throw aspNetNotFound(ctx);
  return { contractId: parseId(ctx, ctx.params.pid), entity: ENTITIES[child.entity], sub: child.sub };
}

function requestBody(ctx: EmulatorContext): unknown {
  if (ctx.bodyError !== undefined) {
    throw validationError(`Unexpected character encountered while parsing value: ${ctx.bodyError}`);
  }
  return ctx.body;
}

function requireWriteAccess(user: ApiUser, action: "create" | "update" | "delete"): void {
  if (user.access === "read-only") {
    throw validationError(
      `The logged in Resource does not have the adequate permissions to ${action} this entity type.`,
    );
  }
}

// ------------------------------------------------------------------------------ metadata docs/autotask.md §7

function entityInformation(entity: EntityDef, user: ApiUser): unknown {
  const access = (allowed: boolean) => (allowed && user.access !== "read-only" ? "All" : "None");
  return {
    info: {
      name: entity.typeName,
      canCreate: entity.canCreate,
      canDelete: entity.canDelete,
      canQuery: entity.canQuery,
      canUpdate: entity.canUpdate,
      userAccessForCreate: access(entity.canCreate),
      userAccessForDelete: access(entity.canDelete),
      userAccessForQuery: entity.canQuery ? "All" : "None",
      userAccessForUpdate: access(entity.canUpdate),
      hasUserDefinedFields: entity.udfs.length > 0,
      supportsWebhookCallouts: false,
    },
  };
}

/** `picklistValues[].value` is a string although the entity field is an integer (docs/autotask.md §7.1). */
function fieldInformation(field: FieldDef): unknown {
  const picklist = field.picklist ?? [];
  return {
    name: field.name,
    dataType: field.dataType,
    length: field.length ?? 0,
    isRequired: field.required ?? false,
    isReadOnly: field.readOnly ?? false,
    isQueryable: field.queryable ?? true,
    isReference: field.reference !== undefined,
    referenceEntityType: field.reference ? ENTITIES[field.reference].typeName : "",
    isPickList: field.picklist !== undefined,
    picklistValues: field.picklist
      ? picklist.map((entry, index) => ({
          value: String(entry.value),
          label: entry.label,
          isDefaultValue: entry.isDefault ?? false,
          sortOrder: index + 1,
          parentValue: "",
          isActive: entry.isActive ?? true,
          isSystem: true,
        }))
      : null,
    picklistParentValueField: "",
    isSupportedWebhookField: false,
  };
}

function udfInformation(entity: EntityDef): unknown {
  return {
    fields: entity.udfs.map((udf) => ({
      name: udf.name,
      label: udf.name,
      type: udf.type,
      length: udf.length,
      description: "",
      isRequired: false,
      isReadOnly: false,
      isQueryable: true,
      isReference: false,
      referenceEntityType: "",
      isPickList: false,
      picklistValues: null,
      picklistParentValueField: "",
      defaultValue: "",
      isSupportedWebhookField: false,
    })),
  };
}

function metadataReply(entity: EntityDef, kind: "info" | "fields" | "udfs", user: ApiUser): EmulatorReply {
  if (kind === "info") return ok(entityInformation(entity, user));
  if (kind === "fields") return ok({ fields: readableFields(entity).map(fieldInformation) });
  return ok(udfInformation(entity));
}

// ----------------------------------------------------------------------------- queries docs/autotask.md §5.3

const pagingSchema = z.object({
  pageSize: z.number().int().min(1).max(500),
  previousIds: z.array(z.number().int()),
  nextIds: z.array(z.number().int()).min(1),
});

function pageUrl(
  ctx: EmulatorContext,
  entity: EntityDef,
  cursor: PageCursor,
  search: string | undefined,
): string {
  const params = new URLSearchParams({ paging: JSON.stringify(cursor) });
  if (search !== undefined) params.set("search", search);
  return `${publicBaseUrl(ctx)}/ATServicesRest/V1.0/${entity.name}/query/next?${params.toString()}`;
}

type QuerySource = { query: ParsedQuery; search: string | undefined; viaPost: boolean };

function parseSearchParam(ctx: EmulatorContext): unknown {
  const search = ctx.query.get("search");
  if (search === null || search.trim() === "") {
    throw validationError("Invalid query: the search parameter is required for a GET query.");
  }
  try {
    return parseJson(search);
  } catch (error) {
    throw validationError(`Unexpected character encountered while parsing value: ${String(error)}`);
  }
}

function querySource(
  ctx: EmulatorContext,
  entity: EntityDef,
  switches: AutotaskEmulatorSwitches,
): QuerySource {
  const viaPost = ctx.method === "POST";
  const raw = viaPost ? requestBody(ctx) : parseSearchParam(ctx);
  const query = parseQueryModel(raw, entity, switches);
  // The real nextPageUrl carries `search=` for GET queries; POST queries are repeated with their body
  // (docs/autotask.md §5.3).
  const carrySearch = !viaPost || switches.nextPageGetAfterPostQuery === "allow";
  return { query, search: carrySearch ? JSON.stringify(raw) : undefined, viaPost };
}

function pageReply(
  ctx: EmulatorContext,
  entity: EntityDef,
  store: AutotaskStore,
  source: QuerySource,
  cursorId: number,
  previousIds: number[],
): EmulatorReply {
  const { query } = source;
  const page = selectPage(store.all(entity.name), query, cursorId);
  const nextPageUrl =
    page.hasMore && page.lastId !== undefined
      ? pageUrl(
          ctx,
          entity,
          { pageSize: query.pageSize, previousIds: [...previousIds, cursorId], nextIds: [page.lastId] },
          source.search,
        )
      : null;
  const previousCursor = previousIds.at(-1);
  const prevPageUrl =
    previousCursor === undefined
      ? null
      : pageUrl(
          ctx,
          entity,
          { pageSize: query.pageSize, previousIds: previousIds.slice(0, -1), nextIds: [previousCursor] },
          source.search,
        );
  return ok({
    items: page.items.map((row) => toWire(entity, row, query.includeFields)),
    pageDetails: { count: page.items.length, requestCount: query.pageSize, prevPageUrl, nextPageUrl },
  });
}

function requireQueryable(entity: EntityDef, ctx: EmulatorContext): void {
  // docs/autotask.md §4.2: ContractServiceAdjustments cannot be queried.
  if (!entity.canQuery) throw methodNotAllowed(ctx.method);
}

function queryHandler(env: RouteEnvironment): ApiHandler {
  return ({ ctx }) => {
    const entity = entityFromParam(ctx);
    requireQueryable(entity, ctx);
    return pageReply(ctx, entity, env.store, querySource(ctx, entity, env.switches), -1, []);
  };
}

function nextPageHandler(env: RouteEnvironment): ApiHandler {
  return ({ ctx }) => {
    const entity = entityFromParam(ctx);
    requireQueryable(entity, ctx);
    const paging = parsePaging(ctx);
    const hasBody = ctx.method === "POST" && ctx.rawBody.trim() !== "";
    if (!hasBody && ctx.query.get("search") === null) {
      // A nextPageUrl from a POST query carries no search; a GET to it is refused as one client saw
      // (docs/autotask.md §5.3).
      if (ctx.method === "GET") throw methodNotAllowed("GET");
      throw validationError("Invalid query: repeat the original query body when following nextPageUrl.");
    }
    const raw = hasBody ? requestBody(ctx) : parseSearchParam(ctx);
    const query = { ...parseQueryModel(raw, entity, env.switches), pageSize: paging.pageSize };
    const search = ctx.query.get("search") ?? undefined;
    const source: QuerySource = { query, search, viaPost: ctx.method === "POST" };
    return pageReply(ctx, entity, env.store, source, paging.nextIds[0] ?? -1, paging.previousIds);
  };
}

function parsePaging(ctx: EmulatorContext): PageCursor {
  const text = ctx.query.get("paging");
  try {
    return pagingSchema.parse(parseJson(text ?? ""));
  } catch {
    throw validationError("Invalid paging parameter.");
  }
}

function countHandler(env: RouteEnvironment): ApiHandler {
  return ({ ctx }) => {
    const entity = entityFromParam(ctx);
    requireQueryable(entity, ctx);
    const { query } = querySource(ctx, entity, env.switches);
    return ok({ queryCount: countMatches(env.store.all(entity.name), query) });
  };
}

/** docs/autotask.md §9, §13: a missing id answers `{"item": null}` by default, 404 when switched. */
function itemReply(
  entity: EntityDef,
  row: Row | undefined,
  switches: AutotaskEmulatorSwitches,
): EmulatorReply {
  if (row) return ok({ item: toWire(entity, row) });
  if (switches.missingItem === "404") {
    throw new EmulatorApiError(404, { errors: [`${entity.typeName} not found.`] });
  }
  return ok({ item: null });
}

function getByIdHandler(env: RouteEnvironment): ApiHandler {
  return ({ ctx }) => {
    const entity = entityFromParam(ctx);
    requireQueryable(entity, ctx);
    return itemReply(entity, env.store.get(entity.name, parseId(ctx, ctx.params.id)), env.switches);
  };
}

// -------------------------------------------------------------------------------- writes docs/autotask.md §6

type RootWriter = {
  create?: (write: WriteContext, body: unknown) => number;
  update?: (write: WriteContext, body: unknown, mode: WriteMode) => number;
};

/**
 * docs/autotask.md §4.2 verb matrix: charges and contract services are written only through their contract.
 */
const ROOT_WRITERS: Partial<Record<EntityName, RootWriter>> = {
  Companies: { create: createCompany, update: updateCompany },
  Contracts: { create: createContract, update: updateContract },
  Services: { create: createService, update: updateService },
  Products: { create: createProduct, update: updateProduct },
  ContractServiceAdjustments: { create: (write, body) => createServiceAdjustment(write, undefined, body) },
};

function rootCreateHandler(): ApiHandler {
  return ({ ctx, user, write }) => {
    const entity = entityFromParam(ctx);
    const create = ROOT_WRITERS[entity.name]?.create;
    if (!create) throw methodNotAllowed(ctx.method);
    requireWriteAccess(user, "create");
    return ok({ itemId: create(write, requestBody(ctx)) });
  };
}

function rootUpdateHandler(mode: WriteMode): ApiHandler {
  return ({ ctx, user, write }) => {
    const entity = entityFromParam(ctx);
    const update = ROOT_WRITERS[entity.name]?.update;
    if (!update) throw methodNotAllowed(ctx.method);
    requireWriteAccess(user, "update");
    return ok({ itemId: update(write, requestBody(ctx), mode) });
  };
}

function childListHandler(env: RouteEnvironment): ApiHandler {
  return ({ ctx }) => {
    const { contractId, entity } = childFromParams(ctx);
    if (!entity.canQuery) throw methodNotAllowed(ctx.method);
    const items = env.store
      .all(entity.name)
      .filter((row) => row.contractID === contractId)
      .sort((a, b) => a.id - b.id)
      .map((row) => toWire(entity, row));
    return ok({
      items,
      pageDetails: { count: items.length, requestCount: 500, prevPageUrl: null, nextPageUrl: null },
    });
  };
}

function childGetHandler(env: RouteEnvironment): ApiHandler {
  return ({ ctx }) => {
    const { contractId, entity } = childFromParams(ctx);
    if (!entity.canQuery) throw methodNotAllowed(ctx.method);
    const row = env.store.get(entity.name, parseId(ctx, ctx.params.id));
    return itemReply(entity, row?.contractID === contractId ? row : undefined, env.switches);
  };
}

function childCreateHandler(): ApiHandler {
  return ({ ctx, user, write }) => {
    const { contractId, sub } = childFromParams(ctx);
    const body = requestBody(ctx);
    const creators: Partial<Record<ChildSub, (w: WriteContext, id: number, b: unknown) => number>> = {
      Charges: createContractCharge,
      Services: createContractService,
      ServiceAdjustments: createServiceAdjustment,
    };
    const create = creators[sub];
    if (!create) throw methodNotAllowed(ctx.method);
    requireWriteAccess(user, "create");
    return ok({ itemId: create(write, contractId, body) });
  };
}

function childUpdateHandler(mode: WriteMode): ApiHandler {
  return ({ ctx, user, write }) => {
    const { contractId, sub } = childFromParams(ctx);
    const updaters: Partial<
      Record<ChildSub, (w: WriteContext, id: number, b: unknown, m: WriteMode) => number>
    > = {
      Charges: updateContractCharge,
      Services: updateContractService,
    };
    const update = updaters[sub];
    if (!update) throw methodNotAllowed(ctx.method);
    requireWriteAccess(user, "update");
    return ok({ itemId: update(write, contractId, requestBody(ctx), mode) });
  };
}

function childDeleteHandler(): ApiHandler {
  return ({ ctx, user, write }) => {
    const { contractId, sub } = childFromParams(ctx);
    // docs/autotask.md §4.2: only charges can be deleted.
    if (sub !== "Charges") throw methodNotAllowed(ctx.method);
    requireWriteAccess(user, "delete");
    return ok({ itemId: deleteContractCharge(write, contractId, parseId(ctx, ctx.params.id)) });
  };
}

// ---------------------------------------------------------------------------------- zone docs/autotask.md §2

function zoneInformation(env: RouteEnvironment, ctx: EmulatorContext): EmulatorReply {
  const user = (ctx.query.get("user") ?? "").toLowerCase();
  if (!env.users.some((candidate) => candidate.userName.toLowerCase() === user)) {
    return {
      status: env.switches.unknownZoneUserStatus,
      body: { errors: ["Zone information could not be determined"] },
    };
  }
  const base = publicBaseUrl(ctx);
  return ok({
    zoneName: "cspsync Emulator",
    url: `${base}/ATServicesRest/`,
    webUrl: `${base}/`,
    ci: 8675309,
  });
}

// ---------------------------------------------------------------------------------------------- table

const entityEndpoint = (ctx: EmulatorContext): string =>
  resolveEntityName(ctx.params.entity ?? "") ?? ctx.params.entity ?? "unknown";
const childEndpoint = (ctx: EmulatorContext): string =>
  CHILD_ENTITIES[(ctx.params.sub ?? "").toLowerCase()]?.entity ?? ctx.params.sub ?? "unknown";

export function buildRoutes(env: RouteEnvironment): EmulatorRoute[] {
  const { guard } = env;
  const p = API_PREFIX;
  const meta = (kind: "info" | "fields" | "udfs", child: boolean): ApiHandler => {
    return ({ ctx, user }) =>
      metadataReply(child ? childFromParams(ctx).entity : entityFromParam(ctx), kind, user);
  };
  const route = (
    method: string,
    pattern: string,
    endpoint: (ctx: EmulatorContext) => string,
    handler: ApiHandler,
    write = false,
  ): EmulatorRoute => ({ method, pattern, handler: guard(endpoint, handler), write });

  return [
    { method: "GET", pattern: `${p}/zoneInformation`, handler: (ctx) => zoneInformation(env, ctx) },
    {
      method: "GET",
      pattern: "/atservicesrest/versionInformation",
      handler: () => ok({ apiVersions: ["1.0"] }),
    },
    route(
      "GET",
      `${p}/thresholdInformation`,
      () => "ThresholdInformation",
      () => ok(env.thresholdInfo()),
    ),
    // Metadata: child paths count against the child entity's endpoint (docs/autotask.md §4.1, §10).
    route("GET", `${p}/:entity/entityInformation`, entityEndpoint, meta("info", false)),
    route("GET", `${p}/:entity/entityInformation/fields`, entityEndpoint, meta("fields", false)),
    route("GET", `${p}/:entity/entityInformation/userDefinedFields`, entityEndpoint, meta("udfs", false)),
    route("GET", `${p}/:parent/:pid/:sub/entityInformation`, childEndpoint, meta("info", true)),
    route("GET", `${p}/:parent/:pid/:sub/entityInformation/fields`, childEndpoint, meta("fields", true)),
    route(
      "GET",
      `${p}/:parent/:pid/:sub/entityInformation/userDefinedFields`,
      childEndpoint,
      meta("udfs", true),
    ),
    // Queries (docs/autotask.md §4.1, §5.3).
    route("GET", `${p}/:entity/query/count`, entityEndpoint, countHandler(env)),
    route("POST", `${p}/:entity/query/count`, entityEndpoint, countHandler(env)),
    route("GET", `${p}/:entity/query/next`, entityEndpoint, nextPageHandler(env)),
    route("POST", `${p}/:entity/query/next`, entityEndpoint, nextPageHandler(env)),
    route("GET", `${p}/:entity/query`, entityEndpoint, queryHandler(env)),
    route("POST", `${p}/:entity/query`, entityEndpoint, queryHandler(env)),
    // Children under a contract (docs/autotask.md §4.1, §4.2).
    route("GET", `${p}/:parent/:pid/:sub`, childEndpoint, childListHandler(env)),
    route("POST", `${p}/:parent/:pid/:sub`, childEndpoint, childCreateHandler(), true),
    route("PATCH", `${p}/:parent/:pid/:sub`, childEndpoint, childUpdateHandler("patch"), true),
    route("PUT", `${p}/:parent/:pid/:sub`, childEndpoint, childUpdateHandler("put"), true),
    route("GET", `${p}/:parent/:pid/:sub/:id`, childEndpoint, childGetHandler(env)),
    route("DELETE", `${p}/:parent/:pid/:sub/:id`, childEndpoint, childDeleteHandler(), true),
    // Root entity (docs/autotask.md §4.1): get by id; create and update on the collection URL (§4.1).
    route("GET", `${p}/:entity/:id`, entityEndpoint, getByIdHandler(env)),
    route("POST", `${p}/:entity`, entityEndpoint, rootCreateHandler(), true),
    route("PATCH", `${p}/:entity`, entityEndpoint, rootUpdateHandler("patch"), true),
    route("PUT", `${p}/:entity`, entityEndpoint, rootUpdateHandler("put"), true),
  ];
}

/**
 * A path that some route serves with another verb gets ASP.NET's 405; anything else its 404
 * (docs/autotask.md §4.1, §9).
 */
export function notFoundReply(routes: EmulatorRoute[], ctx: EmulatorContext): EmulatorReply {
  const servedWithOtherVerb = routes.some((route) => patternRegex(route.pattern).test(ctx.path));
  const error = servedWithOtherVerb ? methodNotAllowed(ctx.method) : aspNetNotFound(ctx);
  return { status: error.status, body: error.body };
}

function patternRegex(pattern: string): RegExp {
  const source = pattern
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}/?$`, "i");
}
