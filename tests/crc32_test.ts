/**
 * crc32() and crc32Portable(): the standard check value, ranges of a buffer, and agreement between
 * the native and the portable implementations. Pure: bytes in, numbers out.
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

test("crc32() of nothing is 0, and of a range is the CRC of that slice alone", () => {
  const bytes = new TextEncoder().encode("xx123456789yy");
  for (const sum of [crc32, crc32Portable]) {
    assert.equal(sum(new Uint8Array(0)), 0, sum.name);
    assert.equal(sum(bytes, 5, 5), 0, `${sum.name}: an empty range`);
    assert.equal(sum(bytes, 2, 11), 0xcbf43926, sum.name);
    assert.equal(sum(bytes, 2), sum(bytes.subarray(2)), `${sum.name}: end defaults to the length`);
  }
});

test("crc32() is an unsigned 32-bit number that tells one flipped bit apart, in both implementations", () => {
  const bytes = new TextEncoder().encode('{"type":"status","taskId":"t1"}');
  const flipped = bytes.slice();
  flipped[10]! ^= 1;
  for (const sum of [crc32, crc32Portable]) {
    const value = sum(bytes);
    assert.ok(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, `${sum.name}: ${value}`);
    assert.notEqual(sum(flipped), value, sum.name);
  }
  assert.equal(crc32(flipped), crc32Portable(flipped));
});
