import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_RETRY_SCHEDULE_MS,
  nextDelayMs,
  parseDuration,
  parseRetryAfter,
  parseRetrySchedule,
} from "../lib/backoff.ts";

const NOW = Date.parse("2025-03-01T12:00:00Z");
const HOUR_MS = 3_600_000;

test("DEFAULT_RETRY_SCHEDULE_MS lists ten steps over about three days", () => {
  assert.deepEqual(DEFAULT_RETRY_SCHEDULE_MS, [
    0, 5_000, 300_000, 1_800_000, 2 * HOUR_MS, 5 * HOUR_MS, 10 * HOUR_MS, 14 * HOUR_MS, 20 * HOUR_MS, 24 * HOUR_MS,
  ]);
  const totalHours = DEFAULT_RETRY_SCHEDULE_MS.reduce((sum, ms) => sum + ms, 0) / HOUR_MS;
  assert.ok(totalHours > 72 && totalHours < 76, `${totalHours} h`);
  assert.ok(Object.isFrozen(DEFAULT_RETRY_SCHEDULE_MS));
});

test("parseDuration() reads every unit and plain milliseconds", () => {
  const cases: Array<[string, number]> = [
    ["0", 0], ["250", 250], ["250ms", 250], ["1s", 1_000], ["1.5s", 1_500], ["5m", 300_000],
    ["2h", 2 * HOUR_MS], ["1d", 24 * HOUR_MS], [" 30s ", 30_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test("parseDuration() throws RangeError for empty, negative, unknown-unit or huge input", () => {
  for (const text of ["", " ", "-5s", "5 s", "5x", "5S", "1e3", "s", "1.s", "99999999999999999d"]) {
    assert.throws(() => parseDuration(text), RangeError, JSON.stringify(text));
  }
  assert.throws(() => parseDuration("-1s"), /must not be negative/);
  assert.throws(() => parseDuration("5w"), /Cannot parse duration "5w"/);
});

test("parseRetrySchedule() reads comma-separated durations", () => {
  assert.deepEqual(parseRetrySchedule("0,1s,5s,30s"), [0, 1_000, 5_000, 30_000]);
  assert.deepEqual(parseRetrySchedule(" 0 , 5m ,2h"), [0, 300_000, 2 * HOUR_MS]);
  assert.deepEqual(parseRetrySchedule("100"), [100]);
});

test("parseRetrySchedule() throws RangeError naming the bad entry", () => {
  assert.throws(() => parseRetrySchedule(""), /empty/);
  assert.throws(() => parseRetrySchedule("0,,5s"), /entry 2 is empty/);
  assert.throws(() => parseRetrySchedule("0,1s,"), /entry 3 is empty/);
  assert.throws(() => parseRetrySchedule("0,-1s"), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /entry 2 is invalid/);
    assert.match(String((error.cause as Error).message), /negative/);
    return true;
  });
  assert.throws(() => parseRetrySchedule("0,soon"), RangeError);
});

test("nextDelayMs() draws from [base/2, base] of the step after the attempts made", () => {
  assert.equal(nextDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, () => 0), 2_500);
  assert.equal(nextDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, () => 0.999999), 5_000);
  assert.equal(nextDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, () => 0.5), 3_750);
  assert.equal(nextDelayMs(9, DEFAULT_RETRY_SCHEDULE_MS, () => 0), 12 * HOUR_MS);
  assert.equal(nextDelayMs(0, DEFAULT_RETRY_SCHEDULE_MS, () => 0.7), 0);
});

test("nextDelayMs() stays within the jitter band for many draws", () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  for (let attempt = 0; attempt < DEFAULT_RETRY_SCHEDULE_MS.length; attempt++) {
    const base = DEFAULT_RETRY_SCHEDULE_MS[attempt];
    for (let i = 0; i < 50; i++) {
      const delay = nextDelayMs(attempt, DEFAULT_RETRY_SCHEDULE_MS, random)!;
      assert.ok(Number.isInteger(delay) && delay >= base / 2 && delay <= base, `${attempt}: ${delay}`);
    }
  }
});

test("nextDelayMs() returns undefined once the schedule is exhausted", () => {
  assert.equal(nextDelayMs(10, DEFAULT_RETRY_SCHEDULE_MS, () => 0), undefined);
  assert.equal(nextDelayMs(3, [0, 1_000, 2_000]), undefined);
  assert.equal(nextDelayMs(0, []), undefined);
});

test("nextDelayMs() caps delays at 2^31-1 ms", () => {
  assert.equal(nextDelayMs(0, [30 * 24 * HOUR_MS], () => 0.999), 2 ** 31 - 1);
});

test("nextDelayMs() throws RangeError for a bad attempt, schedule entry or random source", () => {
  assert.throws(() => nextDelayMs(-1, DEFAULT_RETRY_SCHEDULE_MS), RangeError);
  assert.throws(() => nextDelayMs(1.5, DEFAULT_RETRY_SCHEDULE_MS), RangeError);
  assert.throws(() => nextDelayMs(0, [-5]), RangeError);
  assert.throws(() => nextDelayMs(0, [Number.NaN]), RangeError);
  assert.throws(() => nextDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS, () => 1), RangeError);
});

test("parseRetryAfter() reads delta seconds", () => {
  assert.equal(parseRetryAfter("2", NOW), 2_000);
  assert.equal(parseRetryAfter(" 120 ", NOW), 120_000);
  assert.equal(parseRetryAfter("0", NOW), 0);
});

test("parseRetryAfter() reads an HTTP date in all three formats", () => {
  assert.equal(parseRetryAfter("Sat, 01 Mar 2025 12:01:30 GMT", NOW), 90_000);
  assert.equal(parseRetryAfter("Saturday, 01-Mar-25 12:00:10 GMT", NOW), 10_000);
  assert.equal(parseRetryAfter("Sat Mar  1 12:00:05 2025", NOW), 5_000);
});

test("parseRetryAfter() gives minMs for a date in the past", () => {
  assert.equal(parseRetryAfter("Sat, 01 Mar 2025 11:00:00 GMT", NOW), 0);
  assert.equal(parseRetryAfter("Sat, 01 Mar 2025 11:00:00 GMT", NOW, { minMs: 1_000 }), 1_000);
});

test("parseRetryAfter() clamps to [minMs, maxMs], 24 h by default", () => {
  assert.equal(parseRetryAfter("999999999", NOW), 24 * HOUR_MS);
  assert.equal(parseRetryAfter("Sat, 01 Mar 2025 13:00:00 GMT", NOW, { maxMs: 60_000 }), 60_000);
  assert.equal(parseRetryAfter("1", NOW, { minMs: 5_000 }), 5_000);
});

test("parseRetryAfter() returns undefined for a missing or garbage header", () => {
  for (const value of [undefined, "", "soon", "-1", "1.5", "2025-03-01T13:00:00Z", "Sat, 99 Foo 2025 GMT", "x 1"]) {
    assert.equal(parseRetryAfter(value, NOW), undefined, String(value));
  }
});

test("parseRetryAfter() throws RangeError for inverted or negative bounds", () => {
  assert.throws(() => parseRetryAfter("1", NOW, { minMs: 10, maxMs: 5 }), RangeError);
  assert.throws(() => parseRetryAfter("1", NOW, { minMs: -1 }), RangeError);
});
