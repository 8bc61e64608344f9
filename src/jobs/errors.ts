/** Whether a database error is a unique-constraint violation (PostgreSQL 23505 or SQLite UNIQUE). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, errcode, message } = error as { code?: unknown; errcode?: unknown; message?: unknown };
  if (code === "23505") return true;
  // SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555)
  if (errcode === 2067 || errcode === 1555) return true;
  return typeof message === "string" && /UNIQUE constraint failed/.test(message);
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Background failures (polling, heartbeats) have no caller to throw to; report them on stderr. */
export function defaultErrorReporter(error: unknown, context: string): void {
  console.error(`cspsync job queue: ${context}: ${errorMessage(error)}`);
}

/** A job whose process stopped holding it (its lease ran out): made runnable again, or failed when out of retries. */
export type ExpiredLease = {
  id: string;
  name: string;
  /** The run that was lost (1 = the first). */
  attempt: number;
  /** True when the job will run again, false when that was its last allowed run. */
  retried: boolean;
};

export function defaultLeaseReporter(job: ExpiredLease): void {
  console.error(
    `cspsync job queue: "${job.name}" job ${job.id} lost its worker during run ${job.attempt} (lease expired); ` +
      (job.retried ? "it is queued to run again now" : "it has no retries left and failed"),
  );
}
