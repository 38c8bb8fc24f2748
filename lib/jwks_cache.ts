/**
 * Public keys fetched from a JWKS URL and cached. `JwksCache` holds the agent's ES256 keys for
 * checking webhook JWTs (`verify.ts`); `fetchJwks()` reads any JWKS into the keys this project
 * verifies with (ES256 and RS256), for `oidc.ts` too. The caching rules are `remote_cache.ts`. It
 * needs `node:crypto`, `fetch` and `errors.ts`.
 *
 * @module
 */

import { createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { WebhookVerificationError } from "./errors.ts";
import { RemoteCache, checkDurations, fetchJson } from "./remote_cache.ts";
import type { FetchJsonOptions } from "./remote_cache.ts";
import type { KeyResolver } from "./verify.ts";

/** The least RSA modulus accepted: shorter keys are within reach of factoring (NIST SP 800-131A). */
const MIN_RSA_BITS = 2048;

/** A public key from a JWKS with the one algorithm it verifies. */
export interface JwkKey {
  /** The JWK's `kid`, or `undefined` when it has none. */
  kid: string | undefined;
  /** ES256 for an EC P-256 key, RS256 for an RSA key. */
  alg: "ES256" | "RS256";
  /** The key, made from the JWK's public members only. */
  key: KeyObject;
}

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
  #keys: RemoteCache<Map<string, KeyObject>>;

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
    checkDurations("JwksCache", { maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs, timeoutMs });
    this.#url = url;
    this.#keys = new RemoteCache(() => loadEs256Keys(url, { fetch, timeoutMs }), { now, maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs });
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
    const cached = this.#keys.fresh?.get(kid);
    if (cached) return cached;
    try {
      await this.#keys.refresh();
    } catch (error) {
      throw new WebhookVerificationError("UNKNOWN_KEY", `Cannot fetch JWKS ${this.#url}`, { cause: error });
    }
    const key = this.#keys.fresh?.get(kid);
    if (key) return key;
    throw new WebhookVerificationError("UNKNOWN_KEY", `No key ${kid} in JWKS ${this.#url}`, { cause: this.#keys.lastError });
  }
}

/**
 * Fetches a JWKS and keeps the keys this project verifies with: EC P-256 for ES256 and RSA of at
 * least 2048 bits for RS256, each with `alg` matching or absent and `use` "sig" or absent; other
 * keys are left out. Keys are made from their public members only, so a private member published
 * by mistake is never used.
 *
 * @param url The JWKS URL.
 * @param options Fetch, timeout and redirect rule, as {@linkcode fetchJson} takes them.
 * @returns The usable keys, in the document's order.
 * @throws {Error} If the fetch fails (see {@linkcode fetchJson}), the document has no `keys` array,
 * or a usable-looking key cannot be loaded (a point off the curve): a broken set is reported, not
 * trimmed.
 * @example Read a JWKS with an RSA key and an encryption key (a stand-in fetch keeps it off the network)
 * ```ts
 * import { generateKeyPairSync } from "node:crypto";
 * import { fetchJwks } from "./jwks_cache.ts";
 * const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
 * const fetch = async () => Response.json({ keys: [{ ...jwk, kid: "a" }, { ...jwk, kid: "b", use: "enc" }] });
 * const keys = await fetchJwks("https://issuer.example/jwks.json", { fetch });
 * console.log(keys.map((key) => `${key.kid} ${key.alg}`)); // [ 'a RS256' ]
 * ```
 */
export async function fetchJwks(url: string, options?: Omit<FetchJsonOptions, "what">): Promise<JwkKey[]> {
  const document = (await fetchJson(url, { ...options, what: "JWKS" })) as { keys?: unknown };
  if (!Array.isArray(document?.keys)) throw new Error(`JWKS ${url} has no "keys" array`);
  return document.keys.map((jwk: unknown, index: number) => {
    try {
      return usableKey(jwk);
    } catch (error) {
      throw new Error(`JWKS ${url} has a key that cannot be loaded (keys[${index}])`, { cause: error });
    }
  }).filter((key) => key !== undefined);
}

async function loadEs256Keys(url: string, options: Omit<FetchJsonOptions, "what">): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const { kid, alg, key } of await fetchJwks(url, options)) {
    if (alg === "ES256" && kid !== undefined && !keys.has(kid)) keys.set(kid, key);
  }
  return keys;
}

function usableKey(jwk: unknown): JwkKey | undefined {
  if (typeof jwk !== "object" || jwk === null) return undefined;
  const { kty, crv, x, y, n, e, alg, use, kid } = jwk as Record<string, unknown>;
  if (use !== undefined && use !== "sig") return undefined;
  const id = typeof kid === "string" && kid !== "" ? kid : undefined;
  if (kty === "EC" && crv === "P-256" && (alg === undefined || alg === "ES256") && typeof x === "string" && typeof y === "string") {
    return { kid: id, alg: "ES256", key: createPublicKey({ key: { kty, crv, x, y }, format: "jwk" }) };
  }
  if (kty === "RSA" && (alg === undefined || alg === "RS256") && typeof n === "string" && typeof e === "string") {
    const key = createPublicKey({ key: { kty, n, e }, format: "jwk" });
    return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS ? { kid: id, alg: "RS256", key } : undefined;
  }
  return undefined;
}
