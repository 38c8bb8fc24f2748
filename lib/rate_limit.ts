/**
 * A request rate limit per principal: a token bucket each, refilled continuously. Pure but for the
 * buckets it holds; the clock is injected. Buckets of callers gone quiet are forgotten once full
 * again, so the map is bounded by the callers active within a refill period.
 *
 * @module
 */

/** Options of {@linkcode RateLimiter}. */
export interface RateLimitOptions {
  /** Requests a second, sustained, per principal. */
  perSecond: number;
  /** Requests that may come at once. @default 2 × perSecond */
  burst?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/**
 * Per-principal token buckets.
 *
 * @example Allow two requests, refuse the third
 * ```ts
 * import { RateLimiter } from "./rate_limit.ts";
 * const limiter = new RateLimiter({ perSecond: 1, burst: 2, now: () => 0 });
 * console.log(limiter.take("alice"), limiter.take("alice"), limiter.take("alice")); // 0 0 1000
 * ```
 */
export class RateLimiter {
  #rate: number;
  #burst: number;
  #now: () => number;
  #buckets = new Map<string, { tokens: number; at: number }>();

  /**
   * @param options See {@linkcode RateLimitOptions}.
   * @throws {RangeError} If `perSecond` or `burst` is not a positive number.
   */
  constructor(options: RateLimitOptions) {
    const { perSecond, burst = perSecond * 2, now = Date.now } = options;
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`perSecond must be a positive number, got ${perSecond}`);
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be at least 1, got ${burst}`);
    this.#rate = perSecond / 1000;
    this.#burst = burst;
    this.#now = now;
  }

  /**
   * Takes one request from the principal's bucket.
   *
   * @param principal Who is calling.
   * @returns 0 when the request may go ahead, else the ms until it would.
   */
  take(principal: string): number {
    const now = this.#now();
    if (this.#buckets.size > 10_000) this.#forgetFull(now);
    const bucket = this.#buckets.get(principal) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#rate);
    bucket.at = now;
    this.#buckets.set(principal, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#rate);
  }

  /** Forgets the buckets that have refilled: they hold nothing a new bucket would not. */
  #forgetFull(now: number): void {
    for (const [principal, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#rate >= this.#burst) this.#buckets.delete(principal);
    }
  }
}
