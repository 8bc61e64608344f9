import type { EmulatorReply } from "../kit.ts";
import type { ValidationIssue } from "./records.ts";

/** Error bodies in ConnectWise's `ErrorResponseMessage` shape (docs/connectwise.md §7.2). */
export class CwReplyError extends Error {
  readonly reply: EmulatorReply;
  constructor(reply: EmulatorReply) {
    super(`ConnectWise emulator reply ${reply.status}`);
    this.reply = reply;
  }
}

/** 400 `InvalidObject` with `errors[]` of `{code, message, resource, field}`; message "<resource> object is invalid". */
export function invalidObject(resource: string, issues: ValidationIssue[]): CwReplyError {
  return new CwReplyError({
    status: 400,
    body: { code: "InvalidObject", message: `${resource} object is invalid`, errors: issues },
  });
}

/** 400 for a malformed request (bad conditions, bad paging); the body shape is [inferred]. */
export function badRequest(message: string): CwReplyError {
  return new CwReplyError({ status: 400, body: { code: "InvalidObject", message, errors: null } });
}

/**
 * docs/connectwise.md §7.2 [inferred]:
 * `{"code":"NotFound","message":"<Entity> recordId <id> not found.","errors":null}`.
 */
export function notFound(entityName: string, id: string | number): CwReplyError {
  return new CwReplyError({
    status: 404,
    body: { code: "NotFound", message: `${entityName} recordId ${id} not found.`, errors: null },
  });
}

export function unknownPath(path: string): EmulatorReply {
  return {
    status: 404,
    body: { code: "NotFound", message: `The requested resource ${path} was not found.`, errors: null },
  };
}

/** docs/connectwise.md §7.1: 409 when the record is in use. */
export function conflict(message: string): CwReplyError {
  return new CwReplyError({ status: 409, body: { code: "Conflict", message, errors: null } });
}

export function methodNotAllowed(): CwReplyError {
  return new CwReplyError({
    status: 405,
    body: {
      code: "MethodNotAllowed",
      message: "The requested method is not supported on this resource.",
      errors: null,
    },
  });
}

/**
 * docs/connectwise.md §3 [observed]: bad credentials give `Unauthorized`, or
 * `ConnectWiseApi`/`UserNotAuthenticated` on some servers.
 */
export function unauthorized(style: "Unauthorized" | "UserNotAuthenticated", message: string): EmulatorReply {
  const body =
    style === "Unauthorized"
      ? { code: "Unauthorized", message, errors: null }
      : { code: "ConnectWiseApi", message: "UserNotAuthenticated", errors: null };
  return { status: 401, body };
}

/** docs/connectwise.md §7.1: the API member's security role lacks the permission; the body is [inferred]. */
export function forbidden(method: string, path: string): EmulatorReply {
  return {
    status: 403,
    body: {
      code: "Forbidden",
      message: `The API member's security role does not allow ${method} ${path}.`,
      errors: null,
    },
  };
}

/** docs/connectwise.md §7.3: the throttling body has a different shape from every other error. */
export const RATE_LIMIT_BODY = {
  error: "ConnectWiseAPI",
  message: "Too many requests. Please try again in 30 seconds.",
};
