/**
 * Request accounting for the emulator (docs/autotask.md §10): the rolling hourly threshold shared by the
 * whole tenant, its latency tiers, and the per-(integration code, endpoint) concurrency limit.
 */

export type AutotaskEmulatorLimits = {
  /** External requests allowed per timeframe; 10,000 on real tenants. */
  hourlyThreshold: number;
  /** Timeframe in minutes; 60 on real tenants. */
  timeframeMinutes: number;
  /** Concurrent requests per (integration code, endpoint); 3 for integrations created after 2023.1. */
  threadsPerEndpoint: number;
  /** Multiplies the usage latency tiers (0.5 s from 50 %, 1 s from 75 %); 0 turns them off for tests. */
  usageLatencyScale: number;
};

export const DEFAULT_LIMITS: AutotaskEmulatorLimits = {
  hourlyThreshold: 10_000,
  timeframeMinutes: 60,
  threadsPerEndpoint: 3,
  usageLatencyScale: 1,
};

export class RequestThreshold {
  readonly #limits: AutotaskEmulatorLimits;
  readonly #now: () => number;
  #timestamps: number[] = [];

  constructor(limits: AutotaskEmulatorLimits, now: () => number) {
    this.#limits = limits;
    this.#now = now;
  }

  #prune(): void {
    const cutoff = this.#now() - this.#limits.timeframeMinutes * 60_000;
    while (this.#timestamps.length > 0 && (this.#timestamps[0] ?? 0) <= cutoff) this.#timestamps.shift();
  }

  count(): number {
    this.#prune();
    return this.#timestamps.length;
  }

  /** Seconds until the oldest counted request leaves the window, for Retry-After. */
  secondsUntilSlotFrees(): number {
    this.#prune();
    const oldest = this.#timestamps[0];
    if (oldest === undefined) return 0;
    const windowMs = this.#limits.timeframeMinutes * 60_000;
    return Math.max(1, Math.ceil((oldest + windowMs - this.#now()) / 1000));
  }

  isExhausted(): boolean {
    return this.count() >= this.#limits.hourlyThreshold;
  }

  record(): void {
    this.#timestamps.push(this.#now());
  }

  /**
   * docs/autotask.md §10: no delay under 50 % of the threshold, about 0.5 s from 50 %, about 1 s from 75 %.
   */
  usageLatencyMs(): number {
    const share = this.count() / this.#limits.hourlyThreshold;
    const base = share >= 0.75 ? 1000 : share >= 0.5 ? 500 : 0;
    return base * this.#limits.usageLatencyScale;
  }

  info(): {
    externalRequestThreshold: number;
    requestThresholdTimeframe: number;
    currentTimeframeRequestCount: number;
  } {
    return {
      externalRequestThreshold: this.#limits.hourlyThreshold,
      requestThresholdTimeframe: this.#limits.timeframeMinutes,
      currentTimeframeRequestCount: this.count(),
    };
  }

  reset(): void {
    this.#timestamps = [];
  }
}

/** In-flight requests per (integration code, endpoint), with the high-water mark for tests. */
export class ThreadCounter {
  readonly #inFlight = new Map<string, number>();
  readonly #max = new Map<string, number>();

  static key(integrationCode: string, endpoint: string): string {
    return `${integrationCode.toLowerCase()}|${endpoint}`;
  }

  tryEnter(key: string, limit: number): boolean {
    const current = this.#inFlight.get(key) ?? 0;
    if (current >= limit) return false;
    this.#inFlight.set(key, current + 1);
    this.#max.set(key, Math.max(this.#max.get(key) ?? 0, current + 1));
    return true;
  }

  leave(key: string): void {
    this.#inFlight.set(key, Math.max(0, (this.#inFlight.get(key) ?? 1) - 1));
  }

  inFlight(key: string): number {
    return this.#inFlight.get(key) ?? 0;
  }

  maxInFlight(key: string): number {
    return this.#max.get(key) ?? 0;
  }

  reset(): void {
    this.#max.clear();
  }
}
