/**
 * A value fetched over the network and cached: the rules every key cache here needs (the JWKS of
 * the agent in `jwks_cache.ts`, an OIDC issuer's keys in `oidc.ts`). How long a copy is trusted,
 * how often a miss may fetch again, one fetch shared by everyone who waits for it, and a quicker
 * retry after a fetch that failed. `fetchJson()` is the fetch both use. What the document means is
 * left to the caller. It needs only `fetch`.
 *
 * @module
 */

/** Options of {@linkcode RemoteCache}. */
export interface RemoteCacheOptions {
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /** How long a loaded value is trusted. @default {600_000} */
  maxAgeMs?: number;
  /** The least time between two loads, however many misses ask for one. @default {30_000} */
  minRefetchIntervalMs?: number;
  /**
   * The least time before trying again after a load that failed, when it is shorter than
   * `minRefetchIntervalMs`. @default {1_000}
   */
  failureRetryIntervalMs?: number;
}

/**
 * A value loaded on demand and trusted for `maxAgeMs`. {@linkcode RemoteCache.refresh} loads it
 * again at most once per `minRefetchIntervalMs`, so a flood of misses (unknown key ids, say) cannot
 * turn into a flood of fetches; callers that arrive during a load share it. After a load that
 * failed the wait is `failureRetryIntervalMs` instead: a server that started while the other side
 * was down must not refuse everyone for the whole interval. A failed load keeps the last good value
 * until it is `maxAgeMs` old.
 *
 * @example Load a value on the first miss, then serve it from the cache
 * ```ts
 * import { RemoteCache } from "./remote_cache.ts";
 * let loads = 0;
 * const cache = new RemoteCache(async () => ({ version: ++loads }));
 * if (cache.fresh === undefined) await cache.refresh();
 * await cache.refresh(); // Within minRefetchIntervalMs: no second load.
 * console.log(cache.fresh, loads); // { version: 1 } 1
 * ```
 */
export class RemoteCache<T> {
  #load: () => Promise<T>;
  #options: Required<RemoteCacheOptions>;
  #value: { value: T; loadedAt: number } | undefined;
  #attemptedAt: number | undefined;
  #lastError: unknown;
  #inFlight: Promise<void> | undefined;

  /**
   * @param load Fetches the value; a rejection is a failed load.
   * @param options Clock, cache age and the two refetch intervals.
   * @throws {RangeError} If a duration is negative or not finite.
   */
  constructor(load: () => Promise<T>, options?: RemoteCacheOptions) {
    const { now = Date.now, maxAgeMs = 600_000, minRefetchIntervalMs = 30_000, failureRetryIntervalMs = 1_000 } = options ?? {};
    checkDurations("RemoteCache", { maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs });
    this.#load = load;
    this.#options = { now, maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs };
  }

  /** The value, if it was loaded less than `maxAgeMs` ago; else `undefined`. */
  get fresh(): T | undefined {
    const loaded = this.#value;
    return loaded && this.#options.now() - loaded.loadedAt < this.#options.maxAgeMs ? loaded.value : undefined;
  }

  /** Why the last load failed, or `undefined` if it succeeded (or none ran yet). */
  get lastError(): unknown {
    return this.#lastError;
  }

  /**
   * Loads the value again, unless the last attempt is too recent (then it returns at once), and
   * joins a load already under way.
   *
   * @returns When the load it started or joined has finished, or at once.
   * @throws {unknown} What the load it started or joined threw.
   */
  async refresh(): Promise<void> {
    const now = this.#options.now();
    const { minRefetchIntervalMs, failureRetryIntervalMs } = this.#options;
    const interval = this.#lastError === undefined ? minRefetchIntervalMs : Math.min(minRefetchIntervalMs, failureRetryIntervalMs);
    const mayLoad = this.#attemptedAt === undefined || now - this.#attemptedAt >= interval;
    if (!this.#inFlight && mayLoad) {
      this.#attemptedAt = now;
      this.#inFlight = this.#run().finally(() => (this.#inFlight = undefined));
    }
    await this.#inFlight;
  }

  async #run(): Promise<void> {
    try {
      const value = await this.#load();
      this.#value = { value, loadedAt: this.#options.now() };
      this.#lastError = undefined;
    } catch (error) {
      this.#lastError = error;
      throw error;
    }
  }
}

/** Options of {@linkcode fetchJson}. */
export interface FetchJsonOptions {
  /** The fetch to use. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** How long the whole request may take, body included. @default {10_000} */
  timeoutMs?: number;
  /** What the document is, for error messages. @default {"Document"} */
  what?: string;
  /** `"error"` refuses a redirect, which could lead from https to http. @default {"follow"} */
  redirect?: "follow" | "error";
}

/**
 * GETs `url` and parses its body as JSON, within `timeoutMs`.
 *
 * @param url The document's URL.
 * @param options Fetch, timeout, a name for messages and the redirect rule.
 * @returns The parsed body.
 * @throws {Error} If the request fails or times out, the answer is not 2xx, or the body is not JSON.
 * @example A document, and an answer that is not 2xx (a stand-in fetch keeps it off the network)
 * ```ts
 * import { fetchJson } from "./remote_cache.ts";
 * const fetch = async (url: string | URL | Request) => String(url).endsWith("/jwks.json") ? Response.json({ keys: [] }) : new Response("", { status: 404 });
 * console.log(await fetchJson("https://agent.example/.well-known/jwks.json", { fetch })); // { keys: [] }
 * await fetchJson("https://agent.example/missing", { fetch, what: "JWKS" }).catch((error) => console.log(error.message));
 * // JWKS https://agent.example/missing answered HTTP 404
 * ```
 */
export async function fetchJson(url: string, options?: FetchJsonOptions): Promise<unknown> {
  // Called unbound: Deno's fetch refuses to run with an options object as `this`.
  const { fetch = globalThis.fetch, timeoutMs = 10_000, what = "Document", redirect = "follow" } = options ?? {};
  const signal = AbortSignal.timeout(timeoutMs);
  const response = await fetch(url, { headers: { accept: "application/json" }, signal, redirect });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${what} ${url} answered HTTP ${response.status}`);
  }
  return await response.json();
}

/**
 * Checks durations given in options, for the classes that take them.
 *
 * @param owner The class being made, for the message.
 * @param durations Each option's name and value.
 * @returns Nothing; it throws on the first bad value.
 * @throws {RangeError} If a value is negative or not finite.
 * @example A negative interval
 * ```ts
 * import { checkDurations } from "./remote_cache.ts";
 * try { checkDurations("JwksCache", { maxAgeMs: -1 }); } catch (error) { console.log(error.message); }
 * // Cannot create JwksCache: maxAgeMs is -1
 * ```
 */
export function checkDurations(owner: string, durations: Record<string, number>): void {
  for (const [name, value] of Object.entries(durations)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new RangeError(`Cannot create ${owner}: ${name} is ${value}`);
  }
}
