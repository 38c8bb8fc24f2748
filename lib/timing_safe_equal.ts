/**
 * Compares a secret a client sent (a token, an `Authorization` value) with the expected one in
 * constant time. Shared by the agent's admin routes and the receiver's `verify.ts`, which must stay
 * copyable: it imports nothing but `node:crypto`. Comparing HMACs or digests of equal length is
 * left to `node:crypto`'s own `timingSafeEqual`.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Whether `given` equals `expected`, taking the same time wherever they differ and whatever their
 * lengths (both are hashed first, so the comparison is of two equal-length digests).
 *
 * @param given What the client sent; `undefined` (the header was missing) never matches.
 * @param expected The secret.
 * @returns True when they are equal.
 *
 * @example Check a bearer token
 * ```ts
 * import { timingSafeEqualText } from "./timing_safe_equal.ts";
 * console.log(timingSafeEqualText("Bearer abc", "Bearer abc")); // true
 * console.log(timingSafeEqualText(undefined, "Bearer abc")); // false
 * ```
 */
export function timingSafeEqualText(given: string | undefined, expected: string): boolean {
  const hash = (value: string) => createHash("sha256").update(value).digest();
  return given !== undefined && timingSafeEqual(hash(given), hash(expected));
}
