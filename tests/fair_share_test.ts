import assert from "node:assert/strict";
import { test } from "node:test";
import { FairShare } from "../lib/fair_share.ts";

const A = "https://a.example";
const B = "https://b.example";
const C = "https://c.example";

/** Health as FairShare reads it: windows by origin (default unlimited), and the origins that do not answer. */
function health(windows: Record<string, number> = {}, unproven: Set<string> = new Set()) {
  return { window: (origin: string) => windows[origin] ?? Infinity, answering: (origin: string) => !unproven.has(origin) };
}

/** Takes until nothing more is given, bounded; returns the keys. */
function drain(fair: FairShare, max = 1000): string[] {
  const keys: string[] = [];
  while (keys.length < max) {
    const turn = fair.take();
    if (!turn) break;
    keys.push(turn.key);
  }
  return keys;
}

test("FairShare.take() gives origins turns, however many keys each has waiting, each origin's keys oldest first", () => {
  const fair = new FairShare({ maxInFlight: 100 });
  for (let i = 1; i <= 4; i++) fair.add(`a${i}`, A);
  fair.add("b1", B);
  fair.add("c1", C);
  fair.add("c2", C);
  assert.deepEqual(drain(fair), ["a1", "b1", "c1", "a2", "c2", "a3", "a4"]);
  assert.equal(fair.inFlight, 7);
  assert.equal(fair.waiting, 0);
});

test("FairShare.take() gives principals turns first, then their origins, so a caller with many origins gets no more turns than one with one", () => {
  const fair = new FairShare({ maxInFlight: 100 });
  for (const origin of [A, B, C]) for (let i = 1; i <= 2; i++) fair.add(`m-${origin.slice(8, 9)}${i}`, origin, "mallory");
  fair.add("v1", "https://victim.example", "victim");
  fair.add("v2", "https://victim.example", "victim");
  assert.deepEqual(drain(fair).slice(0, 4), ["m-a1", "v1", "m-b1", "v2"]);
});

test("FairShare.take() keeps an origin within its window, and its keys wait until an attempt to it is released", () => {
  const fair = new FairShare({ maxInFlight: 100, health: health({ [A]: 1 }) });
  for (let i = 1; i <= 3; i++) fair.add(`a${i}`, A);
  fair.add("b1", B);
  assert.deepEqual(drain(fair), ["a1", "b1"]);
  assert.equal(fair.inFlightTo(A), 1);
  fair.release(A);
  assert.deepEqual(drain(fair), ["a2"]);
  fair.release(A);
  assert.deepEqual(drain(fair), ["a3"]);
});

test("FairShare.take() stops at maxInFlight, and a released slot goes to the next origin in turn", () => {
  const fair = new FairShare({ maxInFlight: 2 });
  for (const key of ["a1", "a2", "b1", "c1"]) fair.add(key, key.startsWith("a") ? A : key.startsWith("b") ? B : C);
  assert.deepEqual(drain(fair), ["a1", "b1"]);
  assert.equal(fair.take(), undefined, "every slot is taken");
  fair.release(A);
  assert.deepEqual(drain(fair), ["c1"], "C's turn, not A's again");
  fair.release(B);
  assert.deepEqual(drain(fair), ["a2"]);
});

test("FairShare keeps a slot for a newcomer: no origin holds more than maxInFlight / (active origins + 1)", () => {
  const fair = new FairShare({ maxInFlight: 12 });
  for (let i = 0; i < 20; i++) fair.add(`a${i}`, A);
  assert.equal(fair.share, 6);
  assert.equal(drain(fair).length, 6, "alone, an origin holds half the slots");
  for (let i = 0; i < 20; i++) fair.add(`b${i}`, B);
  assert.equal(fair.share, 4);
  assert.equal(drain(fair).length, 4);
  fair.add("c1", C);
  assert.deepEqual(drain(fair), ["c1"], "the newcomer finds a slot");
  assert.equal(fair.inFlight, 11);
});

test("FairShare keeps a quarter of the slots for answering origins, however many origins do not answer", () => {
  const holes = new Set(Array.from({ length: 20 }, (_, i) => `https://hole${i}.example`));
  const fair = new FairShare({ maxInFlight: 8, health: health({}, holes) });
  for (const hole of holes) fair.add(`${hole}/1`, hole);
  assert.equal(drain(fair).length, 6, "origins not known to answer hold three quarters");
  fair.add("a1", A);
  fair.add("b1", B);
  assert.deepEqual(drain(fair), ["a1", "b1"], "answering origins find the rest free");
});

test("FairShare gives answering and unproven origins turns in alternation, and moves an origin when its health changes", () => {
  const unproven = new Set([B]);
  const fair = new FairShare({ maxInFlight: 100, health: health({}, unproven) });
  for (let i = 1; i <= 3; i++) {
    fair.add(`a${i}`, A);
    fair.add(`b${i}`, B);
  }
  assert.deepEqual(drain(fair, 2), ["a1", "b1"]);
  unproven.delete(B);
  unproven.add(A);
  fair.release(A);
  fair.release(B);
  assert.deepEqual(drain(fair), ["b2", "a2", "b3", "a3"]);
});

test("FairShare.delete() takes a waiting key out without a turn; an origin with nothing in flight or waiting is forgotten", () => {
  const fair = new FairShare({ maxInFlight: 10 });
  fair.add("a1", A);
  fair.add("a2", A);
  fair.add("b1", B);
  fair.delete("a1");
  fair.delete("b1");
  fair.delete("no-such-key");
  assert.equal(fair.share, 5, "B is forgotten: one active origin");
  assert.deepEqual(drain(fair), ["a2"]);
  fair.release(A);
  assert.equal(fair.share, 10);
});

test("FairShare.add() of a waiting key keeps its place, and moves it when its origin changed", () => {
  const fair = new FairShare({ maxInFlight: 10 });
  fair.add("k1", A);
  fair.add("k2", A);
  fair.add("k1", A);
  fair.add("k2", B);
  assert.deepEqual(drain(fair), ["k1", "k2"]);
  assert.equal(fair.inFlightTo(B), 1);
});

test("FairShare.release() throws a RangeError for an origin with nothing in flight, and the constructor for a bad maxInFlight", () => {
  const fair = new FairShare();
  assert.throws(() => fair.release(A), RangeError);
  assert.throws(() => new FairShare({ maxInFlight: 0 }), RangeError);
});
