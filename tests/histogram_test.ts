import assert from "node:assert/strict";
import { test } from "node:test";
import { ATTEMPT_SECONDS_BUCKETS, FSYNC_SECONDS_BUCKETS, Histogram } from "../lib/histogram.ts";

test("Histogram.observe() counts each value into the first bucket whose bound it does not exceed, and cumulative() sums them up", () => {
  const histogram = new Histogram([1, 2, 5]);
  for (const value of [0, 1, 1.5, 2, 4.9, 7]) histogram.observe(value);
  assert.deepEqual(histogram.cumulative(), [[1, 2], [2, 4], [5, 5]]);
  assert.equal(histogram.count, 6, "the value above every bound is counted in +Inf only");
  assert.equal(histogram.sum, 16.4);
});

test("Histogram refuses bounds that are empty, not ascending or not finite", () => {
  for (const bounds of [[], [2, 1], [1, 1], [1, Infinity], [Number.NaN]]) assert.throws(() => new Histogram(bounds), RangeError, String(bounds));
  assert.doesNotThrow(() => new Histogram(ATTEMPT_SECONDS_BUCKETS));
  assert.doesNotThrow(() => new Histogram(FSYNC_SECONDS_BUCKETS));
});
