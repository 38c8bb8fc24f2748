/**
 * The agent's public keys, fetched from its JWKS URL and cached, for checking webhook JWTs
 * (`verify.ts`). Only EC P-256 keys are kept. It needs `node:crypto`, `fetch` and `errors.ts`.
 *
 * @module
 */

import { createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { WebhookVerificationError } from "./errors.ts";
import type { KeyResolver } from "./verify.ts";

/** Options of {@linkcode JwksCache}. */
export interface JwksCacheOptions {
  /** The fetch to use. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /** How long a fetched JWKS is trusted. @default {600_000} */
  maxAgeMs?: number;
  /** The least time between two fetches, however many unknown kids arrive. @default {30_000} */
  minRefetchIntervalMs?: number;
  /**
   * The least time before trying again after a fetch that failed (unreachable, non-2xx, bad
   * document), when it is shorter than `minRefetchIntervalMs`. @default {1_000}
   */
  failureRetryIntervalMs?: number;
  /** How long one fetch may take. @default {10_000} */
  timeoutMs?: number;
}

/**
 * Public keys from a JWKS URL, cached for `maxAgeMs`. An unknown `kid` triggers a re-fetch, at
 * most once per `minRefetchIntervalMs`; callers that arrive during a fetch share it. A fetch that
 * failed is tried again after `failureRetryIntervalMs` instead: a receiver that started while the
 * agent was unreachable must not refuse every webhook for the whole interval. Only keys fetched
 * within `maxAgeMs` are served; keys other than EC P-256 (`alg` ES256 or none) are ignored.
 *
 * @example Resolve keys from the agent's JWKS
 * ```ts
 * import { JwksCache } from "./jwks_cache.ts";
 * const jwks = new JwksCache("https://agent.example/.well-known/jwks.json", { maxAgeMs: 60_000 });
 * // await jwks.getKey(kid) when a JWT arrives.
 * ```
 */
export class JwksCache implements KeyResolver {
  #url: string;
  #options: Required<JwksCacheOptions>;
  #keys = new Map<string, KeyObject>();
  #fetchedAt: number | undefined;
  #attemptedAt: number | undefined;
  #lastError: unknown;
  #inFlight: Promise<void> | undefined;

  /**
   * @param url The JWKS URL (http or https).
   * @param options Clock, fetch, cache age, refetch interval and timeout.
   * @throws {TypeError} If `url` is not an http(s) URL.
   * @throws {RangeError} If a duration is negative or not finite.
   */
  constructor(url: string, options?: JwksCacheOptions) {
    const { fetch = globalThis.fetch, now = Date.now, maxAgeMs = 600_000 } = options ?? {};
    const { minRefetchIntervalMs = 30_000, failureRetryIntervalMs = 1_000, timeoutMs = 10_000 } = options ?? {};
    if (!/^https?:$/.test(new URL(url).protocol)) throw new TypeError(`Cannot fetch JWKS from ${url}: not http(s)`);
    for (const [name, value] of Object.entries({ maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs, timeoutMs })) {
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`Cannot create JwksCache: ${name} is ${value}`);
    }
    this.#url = url;
    this.#options = { fetch, now, maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs, timeoutMs };
  }

  /**
   * Finds the public key for `kid`, fetching the JWKS when the cache is stale or lacks it.
   *
   * @param kid The `kid` from the JWT header.
   * @returns The public key.
   * @throws {WebhookVerificationError} `UNKNOWN_KEY` if no fresh JWKS has the key, or the fetch
   * failed (the fetch error is the `cause`).
   */
  async getKey(kid: string): Promise<KeyObject> {
    const cached = this.#freshKey(kid);
    if (cached) return cached;
    const now = this.#options.now();
    const { minRefetchIntervalMs, failureRetryIntervalMs } = this.#options;
    const interval = this.#lastError === undefined ? minRefetchIntervalMs : Math.min(minRefetchIntervalMs, failureRetryIntervalMs);
    const mayFetch = this.#attemptedAt === undefined || now - this.#attemptedAt >= interval;
    if (!this.#inFlight && mayFetch) {
      this.#attemptedAt = now;
      this.#inFlight = this.#refresh().finally(() => (this.#inFlight = undefined));
    }
    try {
      await this.#inFlight;
    } catch (error) {
      throw new WebhookVerificationError("UNKNOWN_KEY", `Cannot fetch JWKS ${this.#url}`, { cause: error });
    }
    const key = this.#freshKey(kid);
    if (key) return key;
    throw new WebhookVerificationError("UNKNOWN_KEY", `No key ${kid} in JWKS ${this.#url}`, { cause: this.#lastError });
  }

  #freshKey(kid: string): KeyObject | undefined {
    const age = this.#fetchedAt === undefined ? Infinity : this.#options.now() - this.#fetchedAt;
    return age < this.#options.maxAgeMs ? this.#keys.get(kid) : undefined;
  }

  async #refresh(): Promise<void> {
    // Called unbound: Deno's fetch refuses to run with an options object as `this`.
    const { fetch, timeoutMs } = this.#options;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const response = await fetch(this.#url, { headers: { accept: "application/json" }, signal });
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`JWKS ${this.#url} answered HTTP ${response.status}`);
      }
      const document = (await response.json()) as { keys?: unknown };
      if (!Array.isArray(document?.keys)) throw new Error(`JWKS ${this.#url} has no "keys" array`);
      const keys = new Map<string, KeyObject>();
      for (const jwk of document.keys as Array<Record<string, unknown>>) {
        if (!isEs256Jwk(jwk) || keys.has(jwk.kid)) continue;
        keys.set(jwk.kid, createPublicKey({ key: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, format: "jwk" }));
      }
      this.#keys = keys;
      this.#fetchedAt = this.#options.now();
      this.#lastError = undefined;
    } catch (error) {
      this.#lastError = error;
      throw error;
    }
  }
}

function isEs256Jwk(jwk: Record<string, unknown>): jwk is { kid: string; x: string; y: string } {
  return typeof jwk === "object" && jwk !== null && jwk.kty === "EC" && jwk.crv === "P-256" &&
    (jwk.alg === undefined || jwk.alg === "ES256") && (jwk.use === undefined || jwk.use === "sig") &&
    typeof jwk.kid === "string" && jwk.kid !== "" && typeof jwk.x === "string" && typeof jwk.y === "string";
}
