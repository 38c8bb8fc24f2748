/**
 * MinHeap: the outbox's schedule of due queues. Checked against a sorted list on seeded random
 * pushes and pops.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { MinHeap } from "../lib/heap.ts";
import { createPrng } from "./prng.ts";

test("MinHeap.pop() returns entries smallest `at` first, and undefined once empty", () => {
  const heap = new MinHeap<string>();
  for (const at of [50, 10, 40, 20, 30]) heap.push(at, `v${at}`);
  assert.equal(heap.size, 5);
  const popped = [];
  for (let entry = heap.pop(); entry; entry = heap.pop()) popped.push(entry);
  assert.deepEqual(popped, [10, 20, 30, 40, 50].map((at) => ({ at, value: `v${at}` })));
  assert.equal(heap.size, 0);
  assert.equal(heap.pop(), undefined);
  assert.equal(heap.peek(), undefined);
});

test("MinHeap.peek() shows the smallest entry without removing it", () => {
  const heap = new MinHeap<number>();
  heap.push(3, 3);
  heap.push(1, 1);
  heap.push(2, 2);
  assert.deepEqual(heap.peek(), { at: 1, value: 1 });
  assert.deepEqual(heap.peek(), { at: 1, value: 1 });
  assert.equal(heap.size, 3);
});

test("MinHeap keeps every entry with an equal `at`, values included", () => {
  const heap = new MinHeap<string>();
  for (const value of ["a", "b", "c", "d"]) heap.push(7, value);
  heap.push(1, "first");
  const values = [];
  for (let entry = heap.pop(); entry; entry = heap.pop()) values.push(entry.value);
  assert.equal(values[0], "first");
  assert.deepEqual(values.slice(1).sort(), ["a", "b", "c", "d"]);
});

test("MinHeap agrees with a sorted list over random interleaved pushes and pops", () => {
  for (const seed of [1, 2, 3, 42, 0x5eed]) {
    const rng = createPrng(seed);
    const heap = new MinHeap<number>();
    const model: number[] = [];
    for (let step = 0; step < 2000; step++) {
      if (model.length === 0 || rng.chance(0.6)) {
        const at = rng.int(-1000, 1000);
        heap.push(at, at);
        model.push(at);
        model.sort((a, b) => a - b);
      } else {
        const expected = model.shift();
        const entry = heap.pop();
        assert.equal(entry?.at, expected, `seed ${seed}, step ${step}`);
        assert.equal(entry?.value, expected);
      }
      assert.equal(heap.size, model.length);
      assert.equal(heap.peek()?.at, model[0], `seed ${seed}, step ${step}`);
    }
  }
});
