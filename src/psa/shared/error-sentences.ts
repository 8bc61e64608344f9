import {
  PsaAuthError,
  PsaError,
  PsaNetworkError,
  PsaNotFoundError,
  PsaOutcomeUnknownError,
  PsaRateLimitedError,
  PsaRedirectError,
  PsaValidationError,
} from "./errors.ts";

/**
 * PSA failures in sentences for the people who act on them, told in one place for every surface: the API's
 * error answers, the connection test, and the messages of runs and run items.
 */
const VENDOR_NAMES = { connectwise: "ConnectWise", autotask: "Autotask" } as const;

/** Where to fix credentials, in the words of each vendor's settings. */
const CREDENTIALS_HINT = {
  connectwise: "check the company id, public key and private key in the connection's PSA settings",
  autotask: "check the API user's username, secret and integration code in the connection's PSA settings",
} as const;

/** What a socket error code means, for people. */
const NETWORK_CODES: Record<string, string> = {
  ENOTFOUND: "the host name was not found (check the address)",
  EAI_AGAIN: "the host name could not be looked up just now (DNS)",
  ECONNREFUSED: "the connection was refused (nothing is listening at that address)",
  ECONNRESET: "the connection was closed before it answered",
  EHOSTUNREACH: "the host cannot be reached from this server",
  ENETUNREACH: "the network cannot be reached from this server",
  ETIMEDOUT: "the connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
  UND_ERR_SOCKET: "the connection was closed before it answered",
  CERT_HAS_EXPIRED: "its TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its TLS certificate is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its TLS certificate could not be verified",
};

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.split("/")[2] ?? url;
  }
}

/** "timed out after 30 s" from the transport's "timed out after 30000 ms". */
function timeoutText(reason: string | undefined): string | null {
  const match = /timed out after (\d+) ms/.exec(reason ?? "");
  if (!match) return null;
  const ms = Number(match[1]);
  return `timed out after ${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;
}

function networkText(reason: string | undefined): string {
  const timedOut = timeoutText(reason);
  if (timedOut) return timedOut;
  const code = /\b([A-Z][A-Z_]{3,})\b/.exec(reason ?? "")?.[1];
  if (code && NETWORK_CODES[code]) return NETWORK_CODES[code];
  return "no answer came back";
}

/**
 * A PSA failure told once, as a sentence for the person who has to act on it (what happened, with the status,
 * and what to check); the request, URL and the PSA's raw text go to `detail`.
 */
export function psaSentence(error: PsaError): { message: string; detail: string } {
  const vendor = VENDOR_NAMES[error.vendor];
  const status = error.status;
  const host = hostOf(error.url);
  const said = error.details.length > 0 ? `: ${error.details.join("; ")}` : "";
  let message: string;
  if (error instanceof PsaAuthError)
    message =
      status === 403
        ? `${vendor} refused the request (403): the API member lacks a permission for it; check its security role`
        : `${vendor} refused the credentials (${status ?? 401}): ${CREDENTIALS_HINT[error.vendor]}`;
  else if (error instanceof PsaNetworkError)
    message = `${vendor} could not be reached at ${host}: ${networkText(error.reason)}`;
  else if (error instanceof PsaRateLimitedError)
    message = `${vendor} is limiting requests (429): try again in a few minutes`;
  else if (error instanceof PsaOutcomeUnknownError)
    message =
      `${vendor} did not confirm the change${timeoutText(error.reason) ? ` (${timeoutText(error.reason)})` : ""}: ` +
      "it may or may not have been made; the next sync looks for it before writing again";
  else if (error instanceof PsaNotFoundError)
    message = `${vendor} did not find the record (404): it may have been deleted or merged in ${vendor}`;
  else if (error instanceof PsaValidationError)
    message = `${vendor} rejected the data (${status ?? 400})${said || ": it gave no reason"}`;
  else if (error instanceof PsaRedirectError)
    // The transport's reason names where the redirect pointed and why it was not followed: people need both.
    message =
      `${vendor} answered with a redirect cspsync does not follow (${status ?? "3xx"})` +
      `${error.reason ? `: ${error.reason.replace(/^the PSA answered with a /, "")}` : ""}; check the address in PSA settings`;
  else if (status !== undefined && status >= 500)
    message = `${vendor} had an internal error (${status}): try again later; if it persists, check ${vendor}'s status`;
  else message = `${vendor} answered with an error${status !== undefined ? ` (${status})` : ""}${said}`;
  return { message, detail: error.message };
}

/** Any failure as a run or run-item message: a PSA failure as its sentence, anything else as its own text. */
export function failureSentence(error: unknown): string {
  if (error instanceof PsaError) return psaSentence(error).message;
  return error instanceof Error ? error.message : String(error);
}
