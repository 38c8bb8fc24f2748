/**
 * Retry schedule math for webhook delivery: durations, the default schedule, the jittered delay
 * before the next attempt, and `Retry-After`. Pure: the clock (`now`) and `random` are passed in.
 * Timers, the journal and the HTTP request live in the sender, not here.
 *
 * @module
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * The longest delay a timer can wait, in ms (about 24.8 days): `setTimeout` stores its delay in a
 * signed 32-bit integer, and anything longer fires at once. Cap every computed delay with it.
 *
 * @example Cap a delay before scheduling it
 * ```ts
 * import { I32_MAX } from "./backoff.ts";
 * console.log(Math.min(I32_MAX, 30 * 24 * 3600 * 1000)); // 2147483647
 * ```
 */
export const I32_MAX = 2 ** 31 - 1;

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };

/**
 * The delay before each delivery attempt, the published schedule the big webhook senders share:
 * 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. Ten attempts over about three days
 * (75.6 h without jitter; {@linkcode nextDelayMs} can shorten each step by up to half).
 *
 * @example Read the delay after the first failure
 * ```ts
 * import { DEFAULT_RETRY_SCHEDULE_MS } from "./backoff.ts";
 * console.log(DEFAULT_RETRY_SCHEDULE_MS[1]); // 5000
 * ```
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  0,
  5 * SECOND_MS,
  5 * MINUTE_MS,
  30 * MINUTE_MS,
  2 * HOUR_MS,
  5 * HOUR_MS,
  10 * HOUR_MS,
  14 * HOUR_MS,
  20 * HOUR_MS,
  24 * HOUR_MS,
]);

/**
 * Parses a duration: a whole or decimal number followed by `ms`, `s`, `m`, `h` or `d`, or a plain
 * number of milliseconds (`"0"`, `"250"`).
 *
 * @param text The duration, e.g. `"250ms"`, `"1s"`, `"5m"`, `"2h"`, `"1d"`, `"1.5s"`.
 * @returns The duration in whole milliseconds (rounded).
 * @throws {RangeError} If the text is empty, negative, has an unknown unit or is too large.
 *
 * @example Parse a few durations
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./backoff.ts";
 * assert.equal(parseDuration("5m"), 300_000);
 * assert.equal(parseDuration("250"), 250);
 * ```
 */
export function parseDuration(text: string): number {
  const match = typeof text === "string" ? /^\s*(-?\d+(?:\.\d+)?)(ms|s|m|h|d)?\s*$/.exec(text) : null;
  if (match === null) {
    throw new RangeError(
      `Cannot parse duration ${JSON.stringify(text)}: expected a number with ms, s, m, h or d, e.g. "5s"`,
    );
  }
  const [, amount, unit = "ms"] = match;
  if (amount.startsWith("-")) {
    throw new RangeError(`Cannot parse duration ${JSON.stringify(text)}: it must not be negative`);
  }
  const ms = Math.round(Number(amount) * UNIT_MS[unit]);
  if (!Number.isSafeInteger(ms)) {
    throw new RangeError(`Cannot parse duration ${JSON.stringify(text)}: it is too large`);
  }
  return ms;
}

/**
 * Parses a comma-separated retry schedule, one duration per attempt, as in `"0,1s,5s,30s"`.
 *
 * @param text The schedule; spaces around entries are ignored.
 * @returns The delays in milliseconds, in order.
 * @throws {RangeError} If the text is empty, or an entry is empty, negative or not a duration;
 *   the message names the entry's position.
 *
 * @example Parse a short schedule for tests
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetrySchedule } from "./backoff.ts";
 * assert.deepEqual(parseRetrySchedule("0, 1s, 5s, 30s"), [0, 1000, 5000, 30000]);
 * ```
 */
export function parseRetrySchedule(text: string): number[] {
  if (typeof text !== "string" || text.trim() === "") {
    throw new RangeError("Cannot parse retry schedule: it is empty; expected durations like \"0,5s,5m\"");
  }
  return text.split(",").map((entry, index) => {
    if (entry.trim() === "") {
      throw new RangeError(`Cannot parse retry schedule ${JSON.stringify(text)}: entry ${index + 1} is empty`);
    }
    try {
      return parseDuration(entry);
    } catch (error) {
      throw new RangeError(`Cannot parse retry schedule ${JSON.stringify(text)}: entry ${index + 1} is invalid`, {
        cause: error,
      });
    }
  });
}

/**
 * The delay before the next attempt, or `undefined` when the schedule is used up.
 *
 * Jitter spreads retries so that endpoints coming back from an outage are not hit by every
 * sender at once. Pure "full jitter" draws from [0, base], which would let the 24 h step fire
 * after a few seconds and turn a three-day schedule into hours; drawing from [base/2, base]
 * keeps each step at least half its length while still spreading the herd.
 *
 * @param attempt How many attempts were already made (0 before the first, 1 after the first
 *   failure).
 * @param schedule The delay before each attempt, e.g. {@linkcode DEFAULT_RETRY_SCHEDULE_MS}.
 * @param random A source of numbers in [0, 1); `Math.random` by default.
 * @returns Whole milliseconds in [ceil(base/2), base] with base = `schedule[attempt]`, capped at
 *   2^31-1 (the most `setTimeout` can wait); `undefined` once `attempt >= schedule.length`.
 * @throws {RangeError} If `attempt` is not a non-negative integer, the schedule entry is not a
 *   non-negative finite number, or `random()` returns a value outside [0, 1).
 *
 * @example Delay after the first failure, with a fixed random source
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_RETRY_SCHEDULE_MS, nextDelayMs } from "./backoff.ts";
 * assert.equal(nextDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, () => 0), 2500);
 * assert.equal(nextDelayMs(10, DEFAULT_RETRY_SCHEDULE_MS), undefined);
 * ```
 */
export function nextDelayMs(
  attempt: number,
  schedule: readonly number[],
  random: () => number = Math.random,
): number | undefined {
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new RangeError(`Cannot compute retry delay: attempt must be a non-negative integer, got ${attempt}`);
  }
  if (attempt >= schedule.length) return undefined;
  const base = schedule[attempt];
  if (typeof base !== "number" || !Number.isFinite(base) || base < 0) {
    throw new RangeError(`Cannot compute retry delay: schedule entry ${attempt} is ${base}, not a duration in ms`);
  }
  const draw = random();
  if (!(draw >= 0 && draw < 1)) {
    throw new RangeError(`Cannot compute retry delay: random() returned ${draw}, outside [0, 1)`);
  }
  const low = Math.ceil(base / 2);
  const high = Math.floor(base);
  return Math.min(I32_MAX, low + Math.floor(draw * (high - low + 1)));
}

/**
 * Reads a `Retry-After` header (RFC 9110): delta seconds (`"120"`) or an HTTP date
 * (`"Wed, 21 Oct 2015 07:28:00 GMT"`, and the obsolete RFC 850 and asctime forms).
 *
 * @param value The header value, if any.
 * @param now The current time in ms since the epoch, for HTTP dates.
 * @param options `minMs` (default 0) and `maxMs` (default 24 h) bound the result, so a
 *   receiver can neither make us spin nor park a delivery for weeks.
 * @returns The wait in ms, clamped to [minMs, maxMs] (a date in the past gives `minMs`), or
 *   `undefined` if the header is missing or not a valid value.
 * @throws {RangeError} If `minMs` or `maxMs` is negative, not finite, or `minMs > maxMs`.
 *
 * @example Read both forms
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetryAfter } from "./backoff.ts";
 * const now = Date.parse("2025-01-01T00:00:00Z");
 * assert.equal(parseRetryAfter("2", now), 2000);
 * assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:01:00 GMT", now), 60_000);
 * assert.equal(parseRetryAfter("soon", now), undefined);
 * ```
 */
export function parseRetryAfter(
  value: string | undefined,
  now: number,
  options?: { minMs?: number; maxMs?: number },
): number | undefined {
  const { minMs = 0, maxMs = DAY_MS } = options ?? {};
  if (!(Number.isFinite(minMs) && Number.isFinite(maxMs) && minMs >= 0 && minMs <= maxMs)) {
    throw new RangeError(`Cannot read Retry-After: need 0 <= minMs <= maxMs, got minMs ${minMs}, maxMs ${maxMs}`);
  }
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  let waitMs: number;
  if (/^\d+$/.test(text)) {
    waitMs = Number(text) * SECOND_MS;
  } else if (isHttpDate(text)) {
    // asctime carries no zone; HTTP dates are always GMT, and Date.parse would assume local time.
    const at = Date.parse(text.endsWith("GMT") ? text : `${text} GMT`);
    if (Number.isNaN(at)) return undefined;
    waitMs = at - now;
  } else {
    return undefined;
  }
  return Math.min(maxMs, Math.max(minMs, waitMs));
}

// Date.parse alone accepts nearly anything ("1" is the year 2001), so the shape is checked first.
function isHttpDate(text: string): boolean {
  return (
    /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text) || // IMF-fixdate
    /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/.test(text) || // RFC 850
    /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/.test(text) // asctime
  );
}
