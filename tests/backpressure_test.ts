/**
 * Backpressure: new work waits, bounded, while an origin has too many deliveries never attempted.
 * Waits are observed with a bounded race; the give-up deadline runs on an injected clock, or on a
 * few real milliseconds with a generous bound.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { clearTimeout, setTimeout } from "node:timers";
import { Backpressure } from "../lib/backpressure.ts";
import { stillWaiting, within } from "./helpers.ts";

const SLOW = "https://slow.example";
const OTHER = "https://other.example";
const LONG_WAIT_MS = 60_000;

test("Backpressure.admit() resolves at once while every origin is under the limit", async () => {
  const backpressure = new Backpressure({ maxFreshPerOrigin: 2 });
  backpressure.count(SLOW, 1);
  assert.equal(await within(backpressure.admit([SLOW, OTHER], LONG_WAIT_MS), 1000), "resolved");
  assert.equal(await within(backpressure.admit([], LONG_WAIT_MS), 1000), "resolved");
});

test("Backpressure.admit() waits at the limit until a delivery of that origin is attempted", async () => {
  const backpressure = new Backpressure({ maxFreshPerOrigin: 2 });
  backpressure.count(SLOW, 1);
  backpressure.count(SLOW, 1);
  const admitted = backpressure.admit([OTHER, SLOW], LONG_WAIT_MS);
  assert.equal(await stillWaiting(admitted), true);
  backpressure.count(OTHER, 1);
  assert.equal(await stillWaiting(admitted), true, "another origin's new delivery does not release it");
  backpressure.count(SLOW, -1);
  assert.equal(await within(admitted, 1000), "resolved");
});

test("Backpressure.admit() keeps waiting when a count goes down but the origin is still at the limit", async () => {
  const backpressure = new Backpressure({ maxFreshPerOrigin: 1 });
  backpressure.count(SLOW, 1);
  backpressure.count(OTHER, 1);
  const admitted = backpressure.admit([SLOW], LONG_WAIT_MS);
  backpressure.count(OTHER, -1); // Wakes every waiter; SLOW is still at its limit.
  assert.equal(await stillWaiting(admitted), true);
  backpressure.count(SLOW, -1);
  assert.equal(await within(admitted, 1000), "resolved");
});

test("Backpressure.admit() gives up once maxWaitMs has passed on its clock", async () => {
  let now = 1_000_000;
  const backpressure = new Backpressure({ maxFreshPerOrigin: 1, now: () => now });
  backpressure.count(SLOW, 1);
  const admitted = backpressure.admit([SLOW], 5000);
  backpressure.count(OTHER, 1);
  backpressure.count(OTHER, -1); // A wake-up before the deadline: it goes on waiting.
  assert.equal(await stillWaiting(admitted), true);
  now += 5001;
  backpressure.count(OTHER, 1);
  backpressure.count(OTHER, -1); // The next wake-up finds the deadline passed.
  assert.equal(await within(admitted, 1000), "resolved");
});

test("Backpressure.admit() gives up after maxWaitMs of real time with nothing to wake it", async () => {
  const backpressure = new Backpressure({ maxFreshPerOrigin: 1 });
  backpressure.count(SLOW, 1);
  const started = Date.now();
  assert.equal(await within(backpressure.admit([SLOW], 30), 2000), "resolved");
  assert.ok(Date.now() - started >= 25, `gave up after ${Date.now() - started} ms, before maxWaitMs`);
});

test("Backpressure.admit() does not hold new work for an origin whose last attempt failed", async () => {
  const backpressure = new Backpressure({ maxFreshPerOrigin: 1 });
  backpressure.count(SLOW, 1);
  backpressure.outcome(SLOW, false);
  assert.equal(await within(backpressure.admit([SLOW], LONG_WAIT_MS), 1000), "resolved");
  backpressure.outcome(SLOW, true); // It answers again: it holds new work again.
  assert.equal(await stillWaiting(backpressure.admit([SLOW], 50)), true);
});

test("Backpressure.admit() does not wait while active() is false, and stops at the first wake-up after it turns false", async () => {
  const backpressure = new Backpressure({ maxFreshPerOrigin: 1 });
  backpressure.count(SLOW, 1);
  assert.equal(await within(backpressure.admit([SLOW], LONG_WAIT_MS, () => false), 1000), "resolved");

  let active = true;
  const admitted = backpressure.admit([SLOW], LONG_WAIT_MS, () => active);
  assert.equal(await stillWaiting(admitted), true);
  active = false;
  backpressure.count(OTHER, 1);
  backpressure.count(OTHER, -1);
  assert.equal(await within(admitted, 1000), "resolved", "SLOW is still at its limit, but nobody is sending");
});
