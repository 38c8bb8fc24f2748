import assert from "node:assert/strict";
import { test } from "node:test";
import { OriginHealth, resultOf } from "../lib/origin_health.ts";

const ORIGIN = "https://hooks.example";

test("resultOf() counts a 4xx as answered, a 5xx, a 429 or a connection error as failed, and a timeout as timed out", () => {
  assert.equal(resultOf({ ok: true, status: 200 }), "answered");
  assert.equal(resultOf({ ok: false, status: 404, error: "HTTP 404" }), "answered");
  assert.equal(resultOf({ ok: false, status: 302, error: "HTTP 302" }), "answered");
  assert.equal(resultOf({ ok: false, status: 500, error: "HTTP 500" }), "failed");
  assert.equal(resultOf({ ok: false, status: 429, error: "HTTP 429" }), "failed");
  assert.equal(resultOf({ ok: false, error: "connect ECONNREFUSED" }), "failed");
  assert.equal(resultOf({ ok: false, error: "no answer within 10000 ms", timedOut: true }), "timedOut");
});

test("OriginHealth starts an origin at a window of 8, or at maxWindow if smaller", () => {
  assert.equal(new OriginHealth().window(ORIGIN), 8);
  assert.equal(new OriginHealth({ maxWindow: 2 }).window(ORIGIN), 2);
  assert.equal(new OriginHealth({ initialWindow: 64 }).window(ORIGIN), 64);
});

test("OriginHealth.record() halves the window per unanswered attempt down to one probe, and grows it by one per answer up to maxWindow", () => {
  const health = new OriginHealth({ maxWindow: 10 });
  const windows: number[] = [];
  for (const result of ["failed", "timedOut", "failed", "failed"] as const) {
    health.record(ORIGIN, result);
    windows.push(health.window(ORIGIN));
  }
  assert.deepEqual(windows, [4, 2, 1, 1]);
  for (let i = 0; i < 20; i++) health.record(ORIGIN, "answered");
  assert.equal(health.window(ORIGIN), 10, "capped at maxWindow");
  assert.equal(health.window("https://other.example"), 8, "origins are apart");
});

test("OriginHealth.record() says once when an origin is cut to the probe and once when it is back to its first window", () => {
  let now = 1_000_000;
  const health = new OriginHealth({ initialWindow: 4, now: () => now });
  const lines = [];
  for (let i = 0; i < 5; i++) lines.push(health.record(ORIGIN, "timedOut"));
  assert.deepEqual(lines.map(Boolean), [false, true, false, false, false]);
  assert.equal(lines[1], `webhook origin ${ORIGIN} cut to one attempt at a time (a probe) after 2 unanswered attempt(s) in a row, the last timed out (window was 2)`);
  now += 42_000;
  // Flapping between one and two is still probing: no line per delivery.
  assert.equal(health.record(ORIGIN, "answered"), undefined);
  assert.equal(health.record(ORIGIN, "failed"), undefined);
  assert.deepEqual([1, 2, 3].map(() => health.record(ORIGIN, "answered")), [undefined, undefined, `webhook origin ${ORIGIN} recovered after 42 s: up to 4 attempts at a time again`]);
  assert.equal(health.record(ORIGIN, "answered"), undefined);
});

test("OriginHealth.timeoutMs() is short after three timeouts in a row, every fourth attempt waits the full timeout, and any answer ends it", () => {
  const health = new OriginHealth({ shortTimeoutMs: 2000 });
  const timeouts: Array<number | undefined> = [];
  for (let i = 0; i < 11; i++) {
    timeouts.push(health.timeoutMs(ORIGIN));
    health.record(ORIGIN, "timedOut");
  }
  const S = 2000;
  const F = undefined;
  assert.deepEqual(timeouts, [F, F, F, S, S, S, F, S, S, S, F]);
  health.record(ORIGIN, "failed"); // A quick failure is not a timeout: the receiver is there.
  assert.equal(health.timeoutMs(ORIGIN), undefined);
});

test("OriginHealth throws a RangeError for a window that is not a positive integer or a timeout that is not positive", () => {
  assert.throws(() => new OriginHealth({ maxWindow: 0 }), RangeError);
  assert.throws(() => new OriginHealth({ initialWindow: 1.5 }), RangeError);
  assert.throws(() => new OriginHealth({ shortTimeoutMs: 0 }), RangeError);
});

test("OriginHealth forgets the oldest of more than 10,000 origins, which only gives it a new origin's window", () => {
  const health = new OriginHealth();
  for (let i = 0; i <= 10_000; i++) health.record(`https://o${i}.example`, "failed");
  assert.equal(health.window("https://o0.example"), 8);
  assert.equal(health.window("https://o10000.example"), 4);
});

test("OriginHealth.answering() is false for a new origin and after an unanswered attempt, true after an answer", () => {
  const health = new OriginHealth();
  assert.equal(health.answering(ORIGIN), false);
  health.record(ORIGIN, "answered");
  assert.equal(health.answering(ORIGIN), true);
  health.record(ORIGIN, "timedOut");
  assert.equal(health.answering(ORIGIN), false);
  health.record(ORIGIN, "answered");
  assert.equal(health.answering(ORIGIN), true);
});
