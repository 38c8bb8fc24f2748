/**
 * Backpressure for new work: a new task that will owe webhooks to an origin whose receiver is
 * behind (too many deliveries never attempted) waits, bounded, before it is journaled, so a fast
 * client cannot pile up more work than the receivers take and latency stays bounded. An origin
 * whose last attempt failed holds nobody up: a dead receiver must not stop new tasks. The outbox
 * counts; this file only keeps the counts and the waiters.
 *
 * @module
 */

import { clearTimeout, setTimeout } from "node:timers";

/** Options of {@linkcode Backpressure}. */
export interface BackpressureOptions {
  /** An origin with this many deliveries never attempted holds new work. @default 64 */
  maxFreshPerOrigin?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** Failing origins remembered at most; the oldest is forgotten (which only relaxes backpressure for it). */
const MAX_FAILING_ORIGINS = 10_000;

/**
 * Per-origin counts of deliveries never attempted, and the waiters they hold.
 *
 * @example
 * ```ts
 * import { Backpressure } from "./backpressure.ts";
 * const backpressure = new Backpressure({ maxFreshPerOrigin: 1 });
 * backpressure.count("https://hooks.example", 1);
 * const waiting = backpressure.admit(["https://hooks.example"], 5000); // held...
 * backpressure.count("https://hooks.example", -1); // ...until the delivery is attempted
 * await waiting;
 * ```
 */
export class Backpressure {
  #max: number;
  #now: () => number;
  #fresh = new Map<string, number>();
  #failing = new Set<string>();
  #waiters = new Set<() => void>();

  /** @param options See {@linkcode BackpressureOptions}. */
  constructor(options: BackpressureOptions = {}) {
    const { maxFreshPerOrigin = 64, now = Date.now } = options;
    this.#max = maxFreshPerOrigin;
    this.#now = now;
  }

  /**
   * Counts deliveries never attempted to an origin up or down; a count going down wakes waiters.
   *
   * @param origin The webhook URL's origin.
   * @param delta +1 for a new delivery, -1 once it is attempted or dropped.
   */
  count(origin: string, delta: 1 | -1): void {
    const count = (this.#fresh.get(origin) ?? 0) + delta;
    if (count <= 0) this.#fresh.delete(origin);
    else this.#fresh.set(origin, count);
    if (delta < 0) this.wakeAll();
  }

  /** Wakes every waiter to look again (a count went down, or the outbox stopped). */
  wakeAll(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Records how an origin's last attempt went: a failing origin holds no new work.
   *
   * @param origin The origin.
   * @param ok Whether the attempt was acknowledged.
   */
  outcome(origin: string, ok: boolean): void {
    if (ok) this.#failing.delete(origin);
    else {
      this.#failing.add(origin);
      if (this.#failing.size > MAX_FAILING_ORIGINS) this.#failing.delete(this.#failing.values().next().value!);
    }
  }

  /**
   * Resolves when every origin among `origins` has fewer than `maxFreshPerOrigin` deliveries never
   * attempted, or its last attempt failed, or `maxWaitMs` has passed, or `active()` turns false.
   *
   * @param origins The origins the new work will notify.
   * @param maxWaitMs The longest wait.
   * @param active Whether waiting makes sense (the outbox is sending). @default always
   * @returns Resolves when the work may go ahead; never rejects.
   */
  async admit(origins: string[], maxWaitMs: number, active: () => boolean = () => true): Promise<void> {
    const deadline = this.#now() + maxWaitMs;
    const busy = () => origins.some((origin) => !this.#failing.has(origin) && (this.#fresh.get(origin) ?? 0) >= this.#max);
    while (active() && busy()) {
      const left = deadline - this.#now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const waiters = this.#waiters;
        const timer = setTimeout(wake, left);
        timer.unref();
        function wake() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  }
}
