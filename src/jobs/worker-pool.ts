import type { JobHandler } from "./queue.ts";

/** A job this process has claimed and holds the lease on. */
export type ClaimedJob = {
  id: string;
  name: string;
  data: unknown;
  attempt: number;
  /** Identifies this claim, so a late completion after a lost lease cannot overwrite a newer run. */
  token: string;
};

/** What a driver's storage must provide for the shared polling loop. */
export interface JobStorage {
  /** Atomically claims the next runnable job of `name`, or returns null when none is runnable. */
  claim(name: string): Promise<ClaimedJob | null>;
  complete(job: ClaimedJob): Promise<void>;
  fail(job: ClaimedJob, error: unknown): Promise<void>;
  /** Keeps the leases of jobs this process is still running from expiring. */
  extendLeases(jobs: readonly ClaimedJob[]): Promise<void>;
  /** Runs before each poll: lease recovery, schedules, retention (whatever the driver needs). */
  maintain?(): Promise<void>;
}

export type WorkerPoolOptions = {
  pollIntervalMs: number;
  heartbeatIntervalMs: number;
  onError: (error: unknown, context: string) => void;
};

type Registration = { handler: JobHandler<unknown>; concurrency: number; running: number };

/**
 * The in-process polling loop shared by both drivers: claims jobs for registered names up to each name's
 * concurrency, runs handlers, records the outcome and heartbeats the leases of running jobs. It polls on a
 * short interval and at once after a send or a finished handler.
 */
export class WorkerPool {
  readonly #storage: JobStorage;
  readonly #options: WorkerPoolOptions;
  readonly #registrations = new Map<string, Registration>();
  readonly #running = new Map<string, { job: ClaimedJob; done: Promise<void> }>();
  #started = false;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #pollAgain = false;

  constructor(storage: JobStorage, options: WorkerPoolOptions) {
    this.#storage = storage;
    this.#options = options;
  }

  get started(): boolean {
    return this.#started && !this.#stopping;
  }

  register(name: string, handler: JobHandler<unknown>, concurrency: number): void {
    if (this.#registrations.has(name)) throw new Error(`A handler for job "${name}" is already registered`);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a whole number ≥ 1, got ${concurrency}`);
    }
    this.#registrations.set(name, { handler, concurrency, running: 0 });
    this.wake();
  }

  has(name: string): boolean {
    return this.#registrations.has(name);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    this.#heartbeat = setInterval(() => this.#beat(), this.#options.heartbeatIntervalMs);
    this.wake();
  }

  /** Polls as soon as possible (coalesced with a poll already under way). */
  wake(): void {
    if (!this.started) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.poll(), 0);
  }

  /** One poll cycle; resolves once claimed jobs have been started (not finished). */
  async poll(): Promise<void> {
    if (this.#polling) {
      this.#pollAgain = true;
      return this.#polling;
    }
    clearTimeout(this.#timer);
    this.#polling = this.#pollOnce().finally(() => {
      this.#polling = undefined;
      if (!this.started) return;
      const delay = this.#pollAgain ? 0 : this.#options.pollIntervalMs;
      this.#pollAgain = false;
      this.#timer = setTimeout(() => void this.poll(), delay);
    });
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    if (!this.started) return;
    try {
      await this.#storage.maintain?.();
    } catch (error) {
      this.#options.onError(error, "job queue maintenance");
    }
    for (const [name, registration] of this.#registrations) {
      while (this.started && registration.running < registration.concurrency) {
        let job: ClaimedJob | null;
        try {
          job = await this.#storage.claim(name);
        } catch (error) {
          this.#options.onError(error, `claiming a "${name}" job`);
          break;
        }
        if (!job) break;
        this.#run(job, registration);
      }
    }
  }

  #run(job: ClaimedJob, registration: Registration): void {
    registration.running += 1;
    const done = this.#execute(job, registration).finally(() => {
      registration.running -= 1;
      this.#running.delete(job.token);
      this.wake();
    });
    this.#running.set(job.token, { job, done });
  }

  async #execute(job: ClaimedJob, registration: Registration): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      await registration.handler({ id: job.id, name: job.name, data: job.data, attempt: job.attempt });
    } catch (error) {
      failure = { error };
    }
    try {
      if (failure) await this.#storage.fail(job, failure.error);
      else await this.#storage.complete(job);
    } catch (error) {
      // The lease expires and the job is retried; nothing else to do from here.
      this.#options.onError(error, `recording the outcome of "${job.name}" job ${job.id}`);
    }
  }

  #beat(): void {
    const jobs = [...this.#running.values()].map((entry) => entry.job);
    if (jobs.length === 0) return;
    this.#storage
      .extendLeases(jobs)
      .catch((error: unknown) => this.#options.onError(error, "extending job leases"));
  }

  /**
   * Graceful: stop claiming and wait for running handlers and their outcomes to be recorded.
   * Otherwise stop at once; running jobs keep their rows and are recovered when their leases expire.
   */
  async stop(graceful: boolean): Promise<void> {
    if (!this.#started) return;
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!graceful) clearInterval(this.#heartbeat);
    await this.#polling;
    if (graceful) {
      while (this.#running.size > 0)
        await Promise.all([...this.#running.values()].map((entry) => entry.done));
      clearInterval(this.#heartbeat);
    }
    clearTimeout(this.#timer);
    this.#started = false;
    this.#stopping = false;
  }
}
