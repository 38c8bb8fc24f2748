/** RateLimiter: the burst, the refill, one bucket per principal, and the answer it gives when empty. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { RateLimiter } from "../lib/rate_limit.ts";

test("RateLimiter.take() allows the burst at once, then one request per 1/perSecond, saying how long to wait", () => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 2, burst: 3, now: () => now });
  assert.deepEqual([limiter.take("a"), limiter.take("a"), limiter.take("a")], [0, 0, 0]);
  assert.equal(limiter.take("a"), 500);
  now = 499;
  assert.equal(limiter.take("a"), 2);
  now = 500;
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("b"), 0, "each principal has its own bucket");
  now = 100_000;
  assert.deepEqual([limiter.take("a"), limiter.take("a"), limiter.take("a"), limiter.take("a")], [0, 0, 0, 500], "a bucket never holds more than the burst");
});

test("RateLimiter defaults the burst to twice the rate, and refuses rates that are not positive", () => {
  const limiter = new RateLimiter({ perSecond: 2, now: () => 0 });
  assert.deepEqual([0, 1, 2, 3, 4].map(() => limiter.take("a")), [0, 0, 0, 0, 500]);
  assert.throws(() => new RateLimiter({ perSecond: 0 }), RangeError);
  assert.throws(() => new RateLimiter({ perSecond: 1, burst: 0.5 }), RangeError);
  assert.throws(() => new RateLimiter({ perSecond: Infinity }), RangeError);
});

test("RateLimiter forgets full buckets once it holds many, and still limits the active ones", () => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 1, burst: 1, now: () => now });
  for (let i = 0; i <= 10_001; i++) limiter.take(`p${i}`);
  assert.equal(limiter.take("p10001"), 1000, "a bucket just emptied is kept");
  now = 5000;
  assert.equal(limiter.take("p0"), 0);
  assert.equal(limiter.take("p0"), 1000);
});
