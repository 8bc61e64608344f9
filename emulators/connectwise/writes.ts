import { z } from "zod";
import type { ValidationIssue } from "./records.ts";
import { coerceField, missingField } from "./records.ts";
import type { ResourceDef } from "./resources.ts";
import { badRequest, invalidObject } from "./replies.ts";
import type { RuleEnv } from "./rules.ts";
import { applyCreateDefaults, businessRuleIssues, computeAddition, isoSeconds } from "./rules.ts";
import type { Row } from "./state.ts";

/**
 * POST, PUT and PATCH (docs/connectwise.md §6): each builds a candidate row from the request, runs field
 * checks, required fields, server defaults and business rules, and only then replaces the stored row, so a
 * rejected write changes nothing.
 */

type Fields = Record<string, unknown>;
export type WriteEnv = RuleEnv & { memberIdentifier: string };

export function createRow(
  def: ResourceDef,
  body: unknown,
  env: WriteEnv,
  id: number,
  parentId?: number,
): Row {
  const input = requireObject(body);
  const { values, issues } = coerceFields(def, input, env);
  rejectIf(def, issues);
  rejectIf(def, requiredIssues(def, values));
  applyCreateDefaults(def.table, values, env, parentId);
  return finish(def, { ...values, id }, undefined, env);
}

/**
 * PUT replaces: unsent fields are reset, and "Required On Updates" fields must be present
 * (docs/connectwise.md §6, §9.2).
 */
export function replaceRow(def: ResourceDef, body: unknown, previous: Row, env: WriteEnv): Row {
  const input = requireObject(body);
  const { values, issues } = coerceFields(def, input, env);
  rejectIf(def, issues);
  const updateRequired = Object.entries(def.fields)
    .filter(([name, spec]) => spec.requiredOnUpdate && (input[name] === undefined || input[name] === null))
    .map(([name]) => missingField(def, name));
  rejectIf(def, [...requiredIssues(def, values), ...updateRequired]);
  if (previous.agreementId !== undefined) values.agreementId = previous.agreementId;
  return finish(def, { ...values, id: previous.id }, previous, env);
}

const patchOperationSchema = z.object({
  op: z.string(),
  path: z.string(),
  value: z.unknown().optional(),
});

/**
 * PATCH takes `[{op, path, value}]` on top-level fields (docs/connectwise.md §6). A nested path such as
 * `company/identifier` is accepted and ignored, reproducing the guide's warning that it "may still return a
 * misleading 200".
 */
export function patchRow(def: ResourceDef, body: unknown, previous: Row, env: WriteEnv): Row {
  const parsed = z.array(patchOperationSchema).safeParse(body);
  if (!parsed.success)
    throw badRequest("The request body must be an array of patch operations {op, path, value}.");
  const values: Fields = structuredClone(previous);
  const issues: ValidationIssue[] = [];
  for (const operation of parsed.data) {
    const issue = applyOperation(def, values, operation, env);
    if (issue) issues.push(issue);
  }
  rejectIf(def, issues);
  rejectIf(def, requiredIssues(def, values));
  return finish(def, values, previous, env);
}

function applyOperation(
  def: ResourceDef,
  values: Fields,
  operation: z.infer<typeof patchOperationSchema>,
  env: WriteEnv,
): ValidationIssue | undefined {
  const invalid = (message: string, field = operation.path): ValidationIssue => ({
    code: "InvalidField",
    message,
    resource: def.objectName,
    field,
  });
  const op = operation.op.toLowerCase();
  if (op !== "add" && op !== "replace" && op !== "remove")
    return invalid(`Unsupported patch op '${operation.op}'.`, "op");
  const leadingSlash = operation.path.startsWith("/");
  if (leadingSlash && !env.switches.patchPathLeadingSlash)
    return invalid(`Invalid patch path '${operation.path}'.`);
  const path = leadingSlash ? operation.path.slice(1) : operation.path;
  const [field, ...nested] = path.split("/");
  // Paths are case-sensitive (docs/connectwise.md §6).
  const spec = field !== undefined && Object.hasOwn(def.fields, field) ? def.fields[field] : undefined;
  if (field === undefined || spec === undefined) {
    return field === "id" || field === "_info" ? undefined : invalid(`Unknown field '${path}'.`);
  }
  if (nested.length > 0 || spec.readOnly) return undefined;
  if (op === "remove") {
    values[field] = null;
    return undefined;
  }
  const coerced = coerceField(
    def,
    field,
    spec,
    operation.value ?? null,
    env.data,
    productIdentifierAllowed(def, field, env),
  );
  if (!coerced.ok) return coerced.issue;
  values[field] = coerced.value;
  return undefined;
}

function coerceFields(
  def: ResourceDef,
  input: Fields,
  env: WriteEnv,
): { values: Fields; issues: ValidationIssue[] } {
  const values: Fields = {};
  const issues: ValidationIssue[] = [];
  for (const [name, spec] of Object.entries(def.fields)) {
    if (spec.readOnly || input[name] === undefined) continue;
    const coerced = coerceField(
      def,
      name,
      spec,
      input[name],
      env.data,
      productIdentifierAllowed(def, name, env),
    );
    if (coerced.ok) values[name] = coerced.value;
    else issues.push(coerced.issue);
  }
  return { values, issues };
}

/**
 * Whether `{identifier}` alone may name the addition's product (docs/connectwise.md §4 [inferred], a switch).
 */
function productIdentifierAllowed(def: ResourceDef, field: string, env: WriteEnv): boolean {
  return !(def.table === "additions" && field === "product" && !env.switches.resolveProductByIdentifier);
}

function requiredIssues(def: ResourceDef, values: Fields): ValidationIssue[] {
  return Object.entries(def.fields)
    .filter(
      ([name, spec]) =>
        spec.required && (values[name] === undefined || values[name] === null || values[name] === ""),
    )
    .map(([name]) => missingField(def, name));
}

function finish(def: ResourceDef, values: Fields, previous: Row | undefined, env: WriteEnv): Row {
  rejectIf(def, businessRuleIssues(def.table, values, previous, env));
  if (def.table === "additions") computeAddition(values);
  for (const [name, spec] of Object.entries(def.fields)) {
    if (spec.readOnly && def.table !== "additions" && name !== "dateEntered") delete values[name];
  }
  // _info is kept up to date on every write (docs/connectwise.md §11).
  return { ...values, _info: { lastUpdated: isoSeconds(env.now), updatedBy: env.memberIdentifier } } as Row;
}

function rejectIf(def: ResourceDef, issues: ValidationIssue[]): void {
  if (issues.length > 0) throw invalidObject(def.objectName, issues);
}

function requireObject(body: unknown): Fields {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw badRequest("The request body must be a JSON object.");
  }
  return body as Fields;
}
