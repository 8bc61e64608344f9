/** An error the emulator answers with, in one of the body shapes Autotask uses (docs/autotask.md §9). */
export class EmulatorApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;

  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(describeBody(body));
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

function describeBody(body: unknown): string {
  if (body && typeof body === "object") return JSON.stringify(body);
  return String(body);
}

/** Business-rule and validation failures are HTTP 500 with an array of strings (docs/autotask.md §9). */
export function validationError(...messages: string[]): EmulatorApiError {
  return new EmulatorApiError(500, { errors: messages });
}

/**
 * ASP.NET's routing answer for a wrong verb: capital `Message`, not the errors array (docs/autotask.md §4.1,
 * §9).
 */
export function methodNotAllowed(method: string): EmulatorApiError {
  return new EmulatorApiError(405, {
    Message: `The requested resource does not support http method '${method}'.`,
  });
}

export function notFoundError(message: string): EmulatorApiError {
  return new EmulatorApiError(404, { errors: [message] });
}
