/**
 * crc32() and crc32Portable(): the standard check value, and agreement between the native and the
 * portable implementations. Pure: bytes in, numbers out.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32, crc32Portable } from "../lib/crc32.ts";

test("crc32() gives the standard check value, natively and in the portable fallback alike", () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc32(check).toString(16), "cbf43926");
  assert.equal(crc32Portable(check).toString(16), "cbf43926");
  const bytes = new TextEncoder().encode(`{"some":"record ✓"}`.repeat(50));
  assert.equal(crc32Portable(bytes, 3, 700), crc32(bytes, 3, 700));
});
