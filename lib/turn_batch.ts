/**
 * Calls made in one turn of the event loop, sent as one: the keys they name are gathered until the
 * next turn, then handed to one `send` (one database query instead of one per caller), and every
 * caller gets its result. What callers do with the shared result (pick out their keys) is theirs.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/**
 * Batches calls per turn of the event loop.
 *
 * @param send Does the work for every key named in one turn (each key once, in first-named order).
 * @returns `(keys) => result`: the result of the `send` that took these keys; it rejects as that `send` does.
 *
 * @example Three calls, one send
 * ```ts
 * import { batchPerTurn } from "./turn_batch.ts";
 * let sends = 0;
 * const claim = batchPerTurn(async (ids: string[]) => (sends++, new Set(ids)));
 * const [a, b] = await Promise.all([claim(["t1"]), claim(["t2", "t1"])]);
 * console.log(sends, a.has("t2"), b.size); // 1 true 2
 * ```
 */
export function batchPerTurn<T>(send: (keys: string[]) => Promise<T>): (keys: readonly string[]) => Promise<T> {
  let open: { keys: Set<string>; result: Promise<T> } | undefined;
  return (keys) => {
    if (!open) {
      const batch: { keys: Set<string>; result?: Promise<T> } = { keys: new Set() };
      batch.result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        open = undefined; // Calls from now on go to the next batch.
        return send([...batch.keys]);
      });
      open = batch as { keys: Set<string>; result: Promise<T> };
    }
    for (const key of keys) open.keys.add(key);
    return open.result;
  };
}
