import type { ThresholdInformation } from "./models.ts";

/**
 * Awareness of the tenant-wide hourly request threshold (docs/autotask.md §10): 10,000 requests per rolling
 * 60 minutes, shared with every other integration on the tenant, after which the API refuses everyone.
 * cspsync reads ThresholdInformation now and then (it counts as a request itself, so at most every few
 * minutes and one at a time), adds its own requests since, and backs off before the tenant runs dry so it
 * never starves the MSP's other integrations.
 */

export type QuotaPolicy = {
  /** Re-read ThresholdInformation when the last reading is older than this. Default 5 minutes. */
  refreshIntervalMs: number;
  /** While refusing, re-read sooner so work resumes when the window slides. Default 1 minute. */
  refusingRefreshIntervalMs: number;
  /** From this share of the threshold, wait `slowDownDelayMs` before each request. Default 0.75. */
  slowDownAt: number;
  slowDownDelayMs: number;
  /** From this share, refuse to send (PsaRateLimitedError) and leave the rest to others. Default 0.95. */
  refuseAt: number;
  /**
   * A reading older than the refresh interval that showed less than this share in use still serves, without
   * asking again, for `staleAllowance` more requests: a daily check of a few requests then costs no reading
   * (docs/autotask.md §10). Default 0.5 and 50 requests; 0 requests turns it off.
   */
  staleTrustBelow: number;
  staleAllowance: number;
};

export const DEFAULT_QUOTA_POLICY: QuotaPolicy = {
  refreshIntervalMs: 5 * 60_000,
  refusingRefreshIntervalMs: 60_000,
  slowDownAt: 0.75,
  slowDownDelayMs: 1000,
  refuseAt: 0.95,
  staleTrustBelow: 0.5,
  staleAllowance: 50,
};

export type QuotaStatus = {
  threshold: number;
  timeframeMinutes: number;
  /** Server count at the last reading plus cspsync's requests since (an upper bound). */
  estimatedUsed: number;
  remaining: number;
  usedShare: number;
  /** Epoch ms of the last ThresholdInformation reading. */
  readAt: number;
  mode: "normal" | "slow" | "refuse";
};

export type QuotaDecision =
  { action: "send" } | { action: "delay"; ms: number } | { action: "refuse"; status: QuotaStatus };

export class QuotaTracker {
  readonly #policy: QuotaPolicy;
  readonly #now: () => number;
  readonly #read: () => Promise<ThresholdInformation>;
  #reading: { info: ThresholdInformation; at: number; sentSince: number } | undefined;
  #refresh: Promise<void> | undefined;
  #lastAttemptAt: number | undefined;
  /** Requests let through on a stale reading (see QuotaPolicy.staleAllowance). */
  #staleSends = 0;

  constructor(read: () => Promise<ThresholdInformation>, policy: Partial<QuotaPolicy> = {}, now = Date.now) {
    this.#read = read;
    this.#policy = { ...DEFAULT_QUOTA_POLICY, ...policy };
    this.#now = now;
  }

  /** Records a ThresholdInformation reading (also when the caller fetched it for other reasons). */
  observe(info: ThresholdInformation): void {
    this.#reading = { info, at: this.#now(), sentSince: 0 };
    this.#staleSends = 0;
  }

  /** Counts a request cspsync sent since the last reading. */
  noteRequest(): void {
    if (this.#reading) this.#reading.sentSince += 1;
  }

  status(): QuotaStatus | undefined {
    const reading = this.#reading;
    if (!reading) return undefined;
    const threshold = reading.info.externalRequestThreshold;
    const estimatedUsed = reading.info.currentTimeframeRequestCount + reading.sentSince;
    const usedShare = threshold > 0 ? estimatedUsed / threshold : 1;
    const mode =
      usedShare >= this.#policy.refuseAt
        ? "refuse"
        : usedShare >= this.#policy.slowDownAt
          ? "slow"
          : "normal";
    return {
      threshold,
      timeframeMinutes: reading.info.requestThresholdTimeframe,
      estimatedUsed,
      remaining: Math.max(0, threshold - estimatedUsed),
      usedShare,
      readAt: reading.at,
      mode,
    };
  }

  /**
   * Decides whether the next request may go out, re-reading the threshold when the last reading is stale.
   * A failed reading does not block work (the request itself will surface the real problem), and is not
   * retried before the next refresh interval, so a broken endpoint cannot double the request count.
   */
  async beforeRequest(): Promise<QuotaDecision> {
    if (this.#isStale() && this.#trustedWhileStale()) {
      this.#staleSends += 1;
    } else if (this.#isStale()) {
      this.#lastAttemptAt = this.#now();
      await this.refresh().catch(() => undefined);
    } else if (!this.#reading && this.#refresh) {
      // The very first reading is under way: wait for it rather than send uncounted requests.
      await this.#refresh.catch(() => undefined);
    }
    const status = this.status();
    if (!status || status.mode === "normal") return { action: "send" };
    if (status.mode === "slow") return { action: "delay", ms: this.#policy.slowDownDelayMs };
    return { action: "refuse", status };
  }

  /**
   * One reading at a time, however many requests are waiting (docs/autotask.md §10: poll with a concurrency
   * of 1).
   */
  refresh(): Promise<void> {
    this.#refresh ??= this.#read()
      .then((info) => this.observe(info))
      .finally(() => {
        this.#refresh = undefined;
      });
    return this.#refresh;
  }

  /**
   * A stale reading still serves a few requests when it was far from the limit: those few cannot starve the
   * tenant's other integrations whatever happened since, and the next reading comes once they are spent.
   */
  #trustedWhileStale(): boolean {
    const reading = this.#reading;
    if (!reading || this.#staleSends >= this.#policy.staleAllowance) return false;
    const { externalRequestThreshold, currentTimeframeRequestCount } = reading.info;
    if (externalRequestThreshold <= 0) return false;
    return (
      (currentTimeframeRequestCount + reading.sentSince) / externalRequestThreshold <
      this.#policy.staleTrustBelow
    );
  }

  #isStale(): boolean {
    const lastTry = Math.max(this.#reading?.at ?? -Infinity, this.#lastAttemptAt ?? -Infinity);
    const refusing = this.status()?.mode === "refuse";
    const maxAge = refusing ? this.#policy.refusingRefreshIntervalMs : this.#policy.refreshIntervalMs;
    return this.#now() - lastTry >= maxAge;
  }
}
