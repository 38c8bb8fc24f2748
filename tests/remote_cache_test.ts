/**
 * RemoteCache and fetchJson(): a value loaded on demand, with an injected load and clock, so the
 * intervals pass without waiting; fetchJson() against a fake fetch.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { RemoteCache, checkDurations, fetchJson } from "../lib/remote_cache.ts";

const NOW_MS = 1_700_000_000_000;

/** A cache over a load that counts its calls, fails while `failing`, and can be held open. */
function counted(options: { maxAgeMs?: number } = {}) {
  const state = { loads: 0, failing: false, clock: NOW_MS, gate: undefined as Promise<void> | undefined };
  const cache = new RemoteCache(async () => {
    state.loads += 1;
    await state.gate;
    if (state.failing) throw new Error(`load ${state.loads} failed`);
    return state.loads;
  }, { now: () => state.clock, minRefetchIntervalMs: 30_000, failureRetryIntervalMs: 1_000, ...options });
  return { cache, state };
}

test("RemoteCache.refresh() loads once, and not again within minRefetchIntervalMs", async () => {
  const { cache, state } = counted();
  assert.equal(cache.fresh, undefined);
  await cache.refresh();
  assert.equal(cache.fresh, 1);
  state.clock += 29_999;
  await cache.refresh();
  assert.equal(state.loads, 1);
  state.clock += 1;
  await cache.refresh();
  assert.equal(cache.fresh, 2);
});

test("RemoteCache.refresh() shares one load among callers that arrive while it runs", async () => {
  const { cache, state } = counted();
  let open!: () => void;
  state.gate = new Promise((resolve) => (open = resolve));
  const waiting = [cache.refresh(), cache.refresh(), cache.refresh()];
  open();
  await Promise.all(waiting);
  assert.equal(state.loads, 1);
});

test("RemoteCache.refresh() rethrows a failed load to everyone who waited for it, and retries after failureRetryIntervalMs", async () => {
  const { cache, state } = counted();
  state.failing = true;
  await assert.rejects(Promise.all([cache.refresh(), cache.refresh()]), /load 1 failed/);
  assert.match((cache.lastError as Error).message, /load 1 failed/);
  state.clock += 999;
  await cache.refresh(); // Too soon: returns at once, without a load.
  assert.equal(state.loads, 1);
  state.failing = false;
  state.clock += 1;
  await cache.refresh();
  assert.equal(cache.fresh, 2);
  assert.equal(cache.lastError, undefined);
});

test("RemoteCache keeps the last good value through a failed load until it is maxAgeMs old", async () => {
  const { cache, state } = counted({ maxAgeMs: 60_000 });
  await cache.refresh();
  state.failing = true;
  state.clock += 30_000;
  await assert.rejects(cache.refresh());
  assert.equal(cache.fresh, 1, "still fresh");
  state.clock += 30_000;
  assert.equal(cache.fresh, undefined, "too old to serve");
});

test("new RemoteCache() and checkDurations() refuse negative and non-finite durations", () => {
  assert.throws(() => new RemoteCache(async () => 1, { maxAgeMs: -1 }), RangeError);
  assert.throws(() => new RemoteCache(async () => 1, { failureRetryIntervalMs: Number.NaN }), RangeError);
  assert.throws(() => checkDurations("Thing", { timeoutMs: Infinity }), /Cannot create Thing: timeoutMs is Infinity/);
  checkDurations("Thing", { timeoutMs: 0 });
});

test("fetchJson() parses a 2xx body, names the document on a non-2xx answer, and passes the redirect rule", async () => {
  const seen: RequestInit[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push(init ?? {});
    return String(input).endsWith("/ok") ? Response.json({ a: 1 }) : new Response("gone", { status: 410 });
  }) as typeof globalThis.fetch;
  assert.deepEqual(await fetchJson("https://x.example/ok", { fetch }), { a: 1 });
  await assert.rejects(fetchJson("https://x.example/gone", { fetch, what: "JWKS", redirect: "error" }), /JWKS https:\/\/x\.example\/gone answered HTTP 410/);
  assert.deepEqual(seen.map((init) => init.redirect), ["follow", "error"]);
  assert.ok(seen.every((init) => init.signal instanceof AbortSignal), "every fetch has a timeout");
});
