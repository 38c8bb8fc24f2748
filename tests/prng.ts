/**
 * A seeded pseudo-random generator for the fuzz tests (mulberry32), with helpers to pick values and
 * build random bytes. Same seed, same sequence, on every platform: a failure prints its seed, and
 * `FUZZ_SEED=<seed>` replays it. Not for anything that needs real randomness.
 */

/** A seeded random source. */
export interface Prng {
  /** The seed it started from. */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** `length` random bytes. */
  bytes(length: number): Uint8Array;
}

/**
 * Makes a mulberry32 generator.
 *
 * @param seed Any integer; only its low 32 bits count.
 * @returns The generator.
 */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    seed: seed >>> 0,
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(0, items.length - 1)]!,
    bytes: (length) => Uint8Array.from({ length }, () => int(0, 255)),
  };
}

/** The seed every run tries first, so a plain `npm test` is reproducible. */
export const DEFAULT_FUZZ_SEED = 0x5eed_a2a;

/**
 * The seeds of this run: `FUZZ_SEED` alone when set, else the fixed default plus a fresh random one
 * (new inputs each run, still replayable from the printed seed).
 *
 * @param env The environment. @default process.env
 * @returns One or two seeds.
 * @throws {RangeError} If `FUZZ_SEED` is not an integer.
 */
export function fuzzSeeds(env: Record<string, string | undefined> = process.env): number[] {
  const given = env.FUZZ_SEED;
  if (given !== undefined && given !== "") {
    const seed = Number(given);
    if (!Number.isInteger(seed)) throw new RangeError(`FUZZ_SEED must be an integer, got ${given}`);
    return [seed >>> 0];
  }
  return [DEFAULT_FUZZ_SEED, Math.floor(Math.random() * 2 ** 32)];
}

/**
 * A random JSON value, biased towards the shapes parsers trip on: empty and huge strings, odd
 * numbers, nesting, control and non-ASCII characters.
 *
 * @param rng The generator.
 * @param depth How deep it may still nest. @default 3
 * @returns A JSON-serialisable value.
 */
export function randomJson(rng: Prng, depth = 3): unknown {
  switch (rng.int(0, depth > 0 ? 8 : 5)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 31, 2 ** 53, -0, 1e308, rng.int(-1000, 1000)]);
    case 3:
    case 4:
      return randomString(rng);
    case 5:
      return rng.pick(["ROLE_USER", "TASK_STATE_COMPLETED", "http://127.0.0.1:1/x", "", "whsec_", "__proto__"]);
    case 6:
      return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth - 1));
    default: {
      const obj: Record<string, unknown> = {};
      for (let i = rng.int(0, 4); i > 0; i--) obj[randomKey(rng)] = randomJson(rng, depth - 1);
      return obj;
    }
  }
}

const KEYS = [
  "id", "taskId", "contextId", "messageId", "message", "role", "parts", "text", "raw", "url", "data",
  "metadata", "configuration", "historyLength", "pageSize", "pageToken", "status", "token",
  "authentication", "scheme", "credentials", "returnImmediately", "taskPushNotificationConfig",
  "__proto__", "constructor", "message_id", "task_id",
];

function randomKey(rng: Prng): string {
  return rng.chance(0.8) ? rng.pick(KEYS) : randomString(rng);
}

/**
 * A random string: mostly short, sometimes long, with control, surrogate and non-ASCII characters.
 *
 * @param rng The generator.
 * @returns The string.
 */
export function randomString(rng: Prng): string {
  const length = rng.chance(0.05) ? rng.int(300, 5000) : rng.int(0, 12);
  let text = "";
  for (let i = 0; i < length; i++) {
    text += String.fromCharCode(rng.pick([
      rng.int(0x20, 0x7e), rng.int(0x20, 0x7e), rng.int(0x20, 0x7e), rng.int(0, 0x1f), 0x0d, 0x0a,
      rng.int(0x80, 0x7ff), rng.int(0xd800, 0xdfff), 0xfeff, 0x2028,
    ]));
  }
  return text;
}
