/**
 * batchPerTurn: the calls of one turn of the event loop go out as one, each key once; the next
 * turn's calls go out as the next; a failed send fails every call of its turn.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { batchPerTurn } from "../lib/turn_batch.ts";

test("batchPerTurn() sends the keys of one turn's calls once, each key once, and every call gets the result", async () => {
  const sent: string[][] = [];
  const claim = batchPerTurn(async (keys) => (sent.push(keys), new Set(keys)));
  const [a, b, c] = await Promise.all([claim(["t1"]), claim(["t2", "t1"]), claim([])]);
  assert.deepEqual(sent, [["t1", "t2"]]);
  assert.equal(a, b);
  assert.equal(c, a);
});

test("batchPerTurn() sends a later turn's calls as a batch of their own", async () => {
  const sent: string[][] = [];
  const claim = batchPerTurn(async (keys) => (sent.push(keys), keys.length));
  assert.equal(await claim(["t1"]), 1);
  // Calls of a later turn: a batch of their own.
  const first = claim(["t2"]);
  const second = claim(["t3"]);
  assert.deepEqual(await Promise.all([first, second]), [2, 2]);
  assert.deepEqual(sent, [["t1"], ["t2", "t3"]]);
});

test("batchPerTurn() rejects every call of a turn whose send failed, and the next turn sends again", async () => {
  let fail = true;
  const claim = batchPerTurn(async (keys) => {
    if (fail) throw new Error("database unreachable");
    return keys;
  });
  await Promise.all([assert.rejects(claim(["t1"]), /unreachable/), assert.rejects(claim(["t2"]), /unreachable/)]);
  fail = false;
  assert.deepEqual(await claim(["t3"]), ["t3"]);
});
