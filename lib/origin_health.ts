/**
 * How many webhook attempts one origin may have in flight, and how long each may wait, learnt from
 * how its attempts went. The window grows by one per answered attempt (so it doubles each round
 * trip while every attempt is answered) up to the per-origin limit, and halves per failed or timed
 * out attempt, down to one: a single probe, whose answer opens the window again. An origin whose
 * last three attempts timed out gets a shorter timeout, so a receiver that never answers holds a
 * slot for seconds, not for the full timeout. Whether an origin answers at all decides its turns.
 * Pure: outcomes in, limits out, the clock injected. Left out: counting attempts and sharing the
 * slots between origins (`fair_share.ts`), sending (the outbox).
 *
 * A new origin starts at a window of 8, not at the per-origin limit: a healthy receiver answers in
 * milliseconds and reaches 64 after 56 answers, while one that never answers can hold only 8 slots
 * for one timeout before it is cut to the probe.
 *
 * @module
 */

import type { SendOutcome } from "./webhook_sender.ts";

/** What an attempt says about its origin's health. */
export type AttemptResult = "answered" | "failed" | "timedOut";

/** Options of {@linkcode OriginHealth}. */
export interface OriginHealthOptions {
  /** The largest window: attempts in flight to one origin. @default 64 */
  maxWindow?: number;
  /** The window of an origin with no history. @default 8, or `maxWindow` if smaller */
  initialWindow?: number;
  /** The timeout, ms, of attempts to an origin whose last 3 attempts timed out (every 4th still gets the sender's own). @default 2000 */
  shortTimeoutMs?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** Timeouts in a row after which an origin's attempts get the short timeout. */
const TIMEOUTS_BEFORE_SHORT = 3;
/** While the short timeout is on, one attempt in this many waits the full timeout, so a receiver that is only slow is found again. */
const FULL_TIMEOUT_EVERY = 4;
/** Origins remembered at most; the least recently used is forgotten (and is then treated as a new origin). */
const MAX_ORIGINS = 10_000;

/** One origin's history; an origin with none has the initial window. */
interface Health {
  window: number;
  /** Attempts in a row not answered (failed or timed out). */
  failures: number;
  /** Attempts in a row timed out. */
  timeouts: number;
  /** When the window was cut to the probe; undefined once it grew back to the initial window. */
  probingSince?: number;
}

/**
 * What an attempt's outcome says about the origin: any HTTP answer but a 5xx or a 429 means the
 * receiver is there and keeping up (a 4xx is the config's problem, not the origin's); a 5xx, a 429
 * or a connection error means it is failing; no answer in time is a timeout.
 *
 * @param outcome What the sender returned.
 * @returns The result to {@linkcode OriginHealth.record}.
 *
 * @example
 * ```ts
 * import { resultOf } from "./origin_health.ts";
 * console.log(resultOf({ ok: false, status: 404 })); // "answered"
 * console.log(resultOf({ ok: false, status: 503 })); // "failed"
 * ```
 */
export function resultOf(outcome: SendOutcome): AttemptResult {
  if (outcome.timedOut) return "timedOut";
  const { status } = outcome;
  return status !== undefined && status < 500 && status !== 429 ? "answered" : "failed";
}

/**
 * Per-origin windows and timeouts.
 *
 * @example An origin that fails is cut to one probe at a time, and grows back as it answers
 * ```ts
 * import { OriginHealth } from "./origin_health.ts";
 * const health = new OriginHealth({ initialWindow: 4 });
 * const origin = "https://hooks.example";
 * for (let i = 0; i < 2; i++) health.record(origin, "failed");
 * console.log(health.window(origin)); // 1
 * health.record(origin, "answered");
 * console.log(health.window(origin)); // 2
 * ```
 */
export class OriginHealth {
  #maxWindow: number;
  #initialWindow: number;
  #shortTimeoutMs: number;
  #now: () => number;
  #origins = new Map<string, Health>();

  /**
   * @param options See {@linkcode OriginHealthOptions}.
   * @throws {RangeError} If `maxWindow` or `initialWindow` is not a positive integer, or `shortTimeoutMs` not positive.
   */
  constructor(options: OriginHealthOptions = {}) {
    const { maxWindow = 64, shortTimeoutMs = 2000, now = Date.now } = options;
    const { initialWindow = Math.min(8, maxWindow) } = options;
    for (const [name, value] of [["maxWindow", maxWindow], ["initialWindow", initialWindow]] as const) {
      if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`Cannot track origin health: ${name} must be a positive integer, got ${value}`);
    }
    if (!(shortTimeoutMs > 0)) throw new RangeError(`Cannot track origin health: shortTimeoutMs must be positive, got ${shortTimeoutMs}`);
    this.#maxWindow = maxWindow;
    this.#initialWindow = Math.min(initialWindow, maxWindow);
    this.#shortTimeoutMs = shortTimeoutMs;
    this.#now = now;
  }

  /**
   * How many attempts the origin may have in flight now.
   *
   * @param origin The webhook URL's origin.
   * @returns At least 1, at most `maxWindow`.
   */
  window(origin: string): number {
    return this.#origins.get(origin)?.window ?? this.#initialWindow;
  }

  /**
   * Whether the origin's last attempt was answered; a new origin, or one whose last attempt failed
   * or timed out, is not (yet) known to answer.
   *
   * @param origin The webhook URL's origin.
   * @returns True once an attempt was answered, until one is not.
   */
  answering(origin: string): boolean {
    return this.#origins.get(origin)?.failures === 0;
  }

  /**
   * The timeout for the origin's next attempt.
   *
   * @param origin The webhook URL's origin.
   * @returns `shortTimeoutMs` for an origin that keeps timing out, else undefined: the sender's own.
   */
  timeoutMs(origin: string): number | undefined {
    const timeouts = this.#origins.get(origin)?.timeouts ?? 0;
    if (timeouts < TIMEOUTS_BEFORE_SHORT) return undefined;
    return (timeouts - TIMEOUTS_BEFORE_SHORT) % FULL_TIMEOUT_EVERY === FULL_TIMEOUT_EVERY - 1 ? undefined : this.#shortTimeoutMs;
  }

  /**
   * Learns from one attempt's result.
   *
   * @param origin The webhook URL's origin.
   * @param result See {@linkcode resultOf}.
   * @returns A line for the log when the origin was just cut to one probe, or has recovered (its
   *   window is back to the initial one); otherwise undefined.
   */
  record(origin: string, result: AttemptResult): string | undefined {
    const health = this.#origins.get(origin) ?? { window: this.#initialWindow, failures: 0, timeouts: 0 };
    let line: string | undefined;
    health.timeouts = result === "timedOut" ? health.timeouts + 1 : 0;
    if (result === "answered") {
      health.failures = 0;
      health.window = Math.min(this.#maxWindow, health.window + 1);
      if (health.probingSince !== undefined && health.window >= this.#initialWindow) {
        line = `webhook origin ${origin} recovered after ${Math.round((this.#now() - health.probingSince) / 1000)} s: up to ${health.window} attempts at a time again`;
        delete health.probingSince;
      }
    } else {
      health.failures++;
      const before = health.window;
      health.window = Math.max(1, Math.floor(health.window / 2));
      if (health.window === 1 && health.probingSince === undefined) {
        health.probingSince = this.#now();
        line = `webhook origin ${origin} cut to one attempt at a time (a probe) after ${health.failures} unanswered attempt(s) in a row, the last ${result === "timedOut" ? "timed out" : "failed"}${before === 1 ? "" : ` (window was ${before})`}`;
      }
    }
    this.#remember(origin, health);
    return line;
  }

  /** Keeps an origin's history, the most recently used last. */
  #remember(origin: string, health: Health): void {
    this.#origins.delete(origin);
    this.#origins.set(origin, health);
    if (this.#origins.size > MAX_ORIGINS) this.#origins.delete(this.#origins.keys().next().value!);
  }
}
