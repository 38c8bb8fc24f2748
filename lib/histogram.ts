/**
 * A histogram of durations, as Prometheus keeps one: a count per bucket (each the observations at
 * or below its upper bound), their sum and their number. Observing is two additions and a short
 * scan, cheap enough for every webhook attempt and every fsync. Pure; formatting is `metrics.ts`'s.
 *
 * @module
 */

/** Upper bounds, seconds, for a webhook attempt: from a local receiver's milliseconds to the 10 s timeout. */
export const ATTEMPT_SECONDS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Upper bounds, seconds, for an fsync: from an SSD's fraction of a millisecond to a stalled disk. */
export const FSYNC_SECONDS_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * Observations counted into buckets.
 *
 * @example Two attempts, one fast and one slow
 * ```ts
 * import { ATTEMPT_SECONDS_BUCKETS, Histogram } from "./histogram.ts";
 * const attempts = new Histogram(ATTEMPT_SECONDS_BUCKETS);
 * attempts.observe(0.004);
 * attempts.observe(3);
 * console.log(attempts.count, attempts.sum); // 2 3.004
 * console.log(attempts.cumulative()[0]); // [0.005, 1]
 * ```
 */
export class Histogram {
  /** The upper bounds, ascending (`+Inf` is implied). */
  readonly bounds: readonly number[];
  #counts: number[];
  #sum = 0;
  #count = 0;

  /**
   * @param bounds The buckets' upper bounds, ascending.
   * @throws {RangeError} If `bounds` is empty, not ascending, or holds a number that is not finite.
   */
  constructor(bounds: readonly number[]) {
    if (bounds.length === 0 || bounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && bound <= bounds[i - 1]!))) {
      throw new RangeError(`Cannot make a histogram: bounds must be finite and ascending, got ${bounds.join(", ")}`);
    }
    this.bounds = [...bounds];
    this.#counts = bounds.map(() => 0);
  }

  /**
   * Counts one observation.
   *
   * @param value The value, e.g. seconds.
   */
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    const index = this.bounds.findIndex((bound) => value <= bound);
    if (index !== -1) this.#counts[index]!++;
  }

  /** Observations so far. */
  get count(): number {
    return this.#count;
  }

  /** Their sum. */
  get sum(): number {
    return this.#sum;
  }

  /** Each bound with the observations at or below it (cumulative, as Prometheus wants them); `+Inf` is `count`. */
  cumulative(): Array<[number, number]> {
    let running = 0;
    return this.bounds.map((bound, i) => [bound, (running += this.#counts[i]!)]);
  }
}
