import { PsaError, PsaNetworkError, PsaOutcomeUnknownError, PsaTimedOutError } from "./errors.ts";

/**
 * How every create whose answer can be lost is sent (the billing syncs' additions and charges, the product
 * sync's catalog items, services and products): once, and after an unknown outcome never again before the
 * record has been looked up by its identity.
 */

/** How long after an interrupted attempt its request may still land in the PSA (well above request timeouts). */
export const IN_DOUBT_MS = 2 * 60_000;
// Each resend follows a lookup that proved the previous attempt did not land, so it is safe; the cap only stops
// a PSA that keeps failing from holding the run forever.
export const MAX_WRITE_ATTEMPTS = 5;

/** A timed-out write that was not found (yet): it may still land, so it waits for a run after `retryAfter`. */
export class WriteInDoubtError extends Error {
  readonly retryAfter: Date;

  constructor(noun: string, retryAfter: Date, cause: unknown) {
    super(
      `the write of this ${noun} timed out and may still reach the PSA; it is left for a run after ${retryAfter.toISOString()}`,
      { cause },
    );
    this.name = "WriteInDoubtError";
    this.retryAfter = retryAfter;
  }
}

export type LookedUpWrite<R> = {
  /** What the in-doubt message calls the write: "line", "catalog item". */
  noun: string;
  send: () => Promise<R>;
  /** The record by its identity (sync key, identifier, name, SKU); undefined when there is none. */
  find: () => Promise<R | undefined>;
  /** Runs before each send, e.g. to count the attempt in a ledger. */
  beforeAttempt?: () => Promise<void>;
  /**
   * Runs when a send failed in a way that has certainly ended (see `psaAnswered`), so nothing of that attempt
   * is still on its way; a success is recorded by the caller.
   */
  afterAnswer?: () => Promise<void>;
  now?: () => Date;
};

/**
 * Sends the write; after an unknown outcome looks the record up, and sends again only when it is not there and
 * the request did not time out: a request that timed out may still be at work in the PSA, so not finding it
 * proves nothing yet (WriteInDoubtError). Any other failure is the PSA's clear answer and is rethrown.
 */
export async function sendLookingBeforeRetrying<R>(write: LookedUpWrite<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    await write.beforeAttempt?.();
    try {
      return await write.send();
    } catch (error) {
      if (psaAnswered(error)) await write.afterAnswer?.();
      if (!(error instanceof PsaOutcomeUnknownError)) throw error;
      const existing = await write.find();
      if (existing !== undefined) return existing;
      if (error instanceof PsaTimedOutError) {
        const now = (write.now ?? (() => new Date()))();
        throw new WriteInDoubtError(write.noun, new Date(now.getTime() + IN_DOUBT_MS), error);
      }
      if (attempt >= MAX_WRITE_ATTEMPTS) throw error;
    }
  }
}

/**
 * Whether a failed send has certainly ended at the PSA, or may land without harm: a create that cannot reach
 * the PSA fails as PsaNetworkError only when nothing left this machine (after sending it is an unknown
 * outcome), and an idempotent update (Autotask's absolute PATCH) may land twice without changing anything;
 * or an HTTP status came back that is not a gateway timeout (504: the PSA behind the gateway may still be
 * at work). A create that timed out or whose connection dropped after sending may still land.
 */
export function psaAnswered(error: unknown): boolean {
  if (error instanceof PsaNetworkError) return true;
  return (
    error instanceof PsaError &&
    error.status !== undefined &&
    error.status !== 504 &&
    !(error instanceof PsaTimedOutError)
  );
}
