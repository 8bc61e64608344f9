import type {
  CheckedNode,
  EvaluationOptions,
  FieldResolver,
  FieldType,
  ResolvedField,
} from "./conditions.ts";
import {
  ConditionError,
  compareStrings,
  compileConditions,
  evaluateConditions,
  valueAt,
} from "./conditions.ts";
import { Dec } from "../../src/core/money.ts";
import { badRequest } from "./replies.ts";
import { customFieldResolver } from "./records.ts";

/**
 * The list machinery shared by every collection (docs/connectwise.md §5): conditions, customFieldConditions,
 * orderBy, fields, page/pageSize with RFC 5988 Link headers, forward-only paging with pageId, and /count.
 */

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 1000;

export type View = Record<string, unknown>;
export type Filter = (view: View) => boolean;

export type PagingOptions = { capPageSize: boolean };

/**
 * Compiles `conditions` and `customFieldConditions`; a bad one is a 400 with the parser's message
 * (docs/connectwise.md §5.1).
 */
export function buildFilter(
  query: URLSearchParams,
  resolver: FieldResolver,
  options: EvaluationOptions,
): Filter {
  const conditions = compileOrReject(query.get("conditions"), resolver);
  const customConditions = compileOrReject(query.get("customFieldConditions"), customFieldResolver);
  return (view) => {
    if (conditions && !evaluateConditions(conditions, view, options)) return false;
    if (!customConditions) return true;
    const entries = Array.isArray(view.customFields) ? view.customFields : [];
    return entries.some((entry) => evaluateConditions(customConditions, entry, options));
  };
}

function compileOrReject(text: string | null, resolver: FieldResolver): CheckedNode | undefined {
  if (text === null || text.trim() === "") return undefined;
  try {
    return compileConditions(text, resolver);
  } catch (error) {
    if (error instanceof ConditionError) throw badRequest(error.message);
    throw error;
  }
}

type SortKey = { field: ResolvedField; descending: boolean };

/**
 * `orderBy=field asc|desc`, several keys comma-separated (docs/connectwise.md §5.2; several keys [inferred]);
 * id breaks ties.
 */
export function parseOrderBy(text: string | null, resolver: FieldResolver): SortKey[] {
  if (text === null || text.trim() === "") return [];
  return text.split(",").map((part) => {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_/]*)(?:\s+(asc|desc))?\s*$/i.exec(part);
    const field = match?.[1] === undefined ? undefined : resolver(match[1]);
    if (!match || !field) throw badRequest(`Invalid orderBy '${part.trim()}'.`);
    return { field, descending: match[2]?.toLowerCase() === "desc" };
  });
}

export function sortViews(views: View[], keys: SortKey[], options: EvaluationOptions): View[] {
  const all = [...keys, { field: { path: ["id"], type: "numeric" as const }, descending: false }];
  return [...views].sort((a, b) => {
    for (const key of all) {
      const order = compareForSort(
        valueAt(a, key.field.path),
        valueAt(b, key.field.path),
        key.field.type,
        options,
      );
      if (order !== 0) return key.descending ? -order : order;
    }
    return 0;
  });
}

/** Nulls sort first, as SQL Server does; the field's type decides numeric, date or text order. */
function compareForSort(a: unknown, b: unknown, type: FieldType, options: EvaluationOptions): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (type === "numeric") return new Dec(a as string | number).comparedTo(b as string | number);
  if (type === "boolean") return Number(a) - Number(b);
  if (type === "datetime") return Math.sign(Date.parse(String(a)) - Date.parse(String(b)));
  return compareStrings(String(a), String(b), options);
}

/**
 * `fields=id,name,status/id` keeps only those, nested picks keeping their parent (docs/connectwise.md §5.2;
 * nesting [inferred]).
 */
export function parseFields(text: string | null, resolver: FieldResolver): ResolvedField[] | undefined {
  if (text === null || text.trim() === "") return undefined;
  return text.split(",").map((part) => {
    const trimmed = part.trim();
    const resolved = resolver(trimmed) ?? resolveObjectField(trimmed, resolver);
    if (!resolved) throw badRequest(`Invalid field '${trimmed}' in fields.`);
    return resolved;
  });
}

/** Whole references and arrays (e.g. `company`, `customFields`) can be picked too, though not compared. */
function resolveObjectField(written: string, resolver: FieldResolver): ResolvedField | undefined {
  if (written.includes("/")) return undefined;
  const probe = resolver(`${written}/id`);
  if (probe?.path[0] !== undefined) return { path: [probe.path[0]], type: "any" };
  if (written.toLowerCase() === "customfields") return { path: ["customFields"], type: "any" };
  if (written.toLowerCase() === "_info") return { path: ["_info"], type: "any" };
  return undefined;
}

export function project(view: View, fields: ResolvedField[] | undefined): View {
  if (!fields) return view;
  const projected: View = {};
  for (const { path } of fields) {
    let source: unknown = view;
    let target: Record<string, unknown> = projected;
    path.forEach((segment, index) => {
      const value =
        source !== null && typeof source === "object"
          ? (source as Record<string, unknown>)[segment]
          : undefined;
      if (index === path.length - 1) {
        target[segment] = value ?? null;
      } else if (value !== null && value !== undefined) {
        const existing = target[segment];
        target[segment] = existing !== null && typeof existing === "object" ? existing : {};
        target = target[segment] as Record<string, unknown>;
      }
      source = value;
    });
  }
  return projected;
}

export type Page = { items: View[]; link: string };

/**
 * Navigable paging (docs/connectwise.md §5.3): `page` is 1-based, `pageSize` defaults to 25 and is capped at
 * 1000; the Link header has first/prev (past page 1), next (before the last page) and last (always); past the
 * end the body is `[]`.
 */
export function navigablePage(
  views: View[],
  query: URLSearchParams,
  requestUrl: URL,
  options: PagingOptions,
): Page {
  const pageSize = readPageSize(query, options);
  const page = readPositiveInt(query.get("page"), "page") ?? 1;
  const lastPage = Math.max(1, Math.ceil(views.length / pageSize));
  const items = views.slice((page - 1) * pageSize, page * pageSize);
  const links: string[] = [];
  const linkTo = (target: number, rel: string): void => {
    const url = new URL(requestUrl);
    url.searchParams.set("pageSize", String(pageSize));
    url.searchParams.set("page", String(target));
    links.push(`<${url.toString()}>; rel="${rel}"`);
  };
  if (page > 1) {
    linkTo(1, "first");
    linkTo(Math.min(page - 1, lastPage), "prev");
  }
  if (page < lastPage) linkTo(page + 1, "next");
  linkTo(lastPage, "last");
  return { items, link: links.join(", ") };
}

/**
 * Forward-only paging (docs/connectwise.md §5.3): results ordered by id, `pageId=N` acts as `id > N`, `page`
 * is ignored, and the Link header's `next` carries `pageId=<last id returned>`; when nothing follows, the
 * Link header is empty.
 */
export function forwardOnlyPage(
  views: View[],
  query: URLSearchParams,
  requestUrl: URL,
  options: PagingOptions,
): Page {
  if (query.get("orderBy")) throw badRequest("orderBy is not supported with forward-only pagination.");
  const pageSize = readPageSize(query, options);
  const after = readInt(query.get("pageId"), "pageId") ?? 0;
  const remaining = views
    .filter((view) => typeof view.id === "number" && view.id > after)
    .sort((a, b) => Number(a.id) - Number(b.id));
  const items = remaining.slice(0, pageSize);
  const last = items[items.length - 1];
  if (!last || remaining.length <= pageSize) return { items, link: "" };
  const url = new URL(requestUrl);
  url.searchParams.delete("page");
  url.searchParams.set("pageSize", String(pageSize));
  url.searchParams.set("pageId", String(last.id));
  return { items, link: `<${url.toString()}>; rel="next"` };
}

function readPageSize(query: URLSearchParams, options: PagingOptions): number {
  const requested = readPositiveInt(query.get("pageSize"), "pageSize") ?? DEFAULT_PAGE_SIZE;
  if (requested <= MAX_PAGE_SIZE) return requested;
  if (options.capPageSize) return MAX_PAGE_SIZE;
  throw badRequest(`pageSize cannot be greater than ${MAX_PAGE_SIZE}.`);
}

function readPositiveInt(text: string | null, name: string): number | undefined {
  const value = readInt(text, name);
  if (value !== undefined && value < 1) throw badRequest(`${name} must be at least 1.`);
  return value;
}

function readInt(text: string | null, name: string): number | undefined {
  if (text === null || text === "") return undefined;
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw badRequest(`${name} must be a whole number.`);
  return Number(text);
}
