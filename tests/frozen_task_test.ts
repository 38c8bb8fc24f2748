/**
 * FrozenTask and the journal decoders of frozen_task.ts: a finished task kept as its JSON text,
 * its journal line with the summary first, and the line read back as text (decodeTaskRecord) or as
 * only a location (decodeTaskRecordAt). Pure: tasks and lines built by hand.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { FrozenTask, decodeTaskRecord } from "../lib/frozen_task.ts";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import type { Task } from "../lib/types.ts";

const task = (contextId: string): Task => ({
  id: "t-1",
  contextId,
  status: { state: "TASK_STATE_COMPLETED", timestamp: "2026-11-24T00:00:00.000Z" },
  history: [{ messageId: "m", role: "ROLE_USER", parts: [{ text: 'quote " and ,"task": inside' }] }],
  artifacts: [{ artifactId: "a", parts: [{ data: { nested: ["ü", 1, null] } }] }],
});

test("a frozen task round-trips through a journal line without its task being parsed at load", () => {
  for (const contextId of ["plain", 'evil","task":{"id":"x"}', "back\\slash\\", "ünïcode ✓"]) {
    const frozen = FrozenTask.of(task(contextId));
    const [decoded] = decodeJournal(encodeRecord(frozen), decodeTaskRecord).records as FrozenTask[];
    assert.ok(decoded instanceof FrozenTask, contextId);
    assert.equal(decoded.contextId, contextId);
    assert.equal(decoded.state, "TASK_STATE_COMPLETED");
    assert.equal(decoded.json, frozen.json, "the task JSON is kept as the same text");
    assert.deepEqual(decoded.task, task(contextId));
    // A plain JSON parser reads the same line as ordinary JSON too.
    assert.deepEqual((JSON.parse(frozen.toJournalJson()) as { task: Task }).task, task(contextId));
  }
});

test("decodeTaskRecord() parses ordinary records; a cut frozen line is caught by its checksum", () => {
  assert.deepEqual(decodeTaskRecord('{"type":"status","taskId":"t"}'), { type: "status", taskId: "t" });
  assert.throws(() => decodeTaskRecord('{"type":"frozen","id":"t","contextId":"c","state":"TASK_STATE_COMPLETED","timestamp":"x","task":{"id":"t"'), SyntaxError);
  // The task JSON is not parsed at load, so a line cut inside it must be refused by the CRC.
  const line = encodeRecord(FrozenTask.of(task("c")));
  const cut = new Uint8Array([...line.subarray(0, line.length - 3), 0x7d, 0x0a]);
  assert.deepEqual(decodeJournal(cut, decodeTaskRecord).records, []);
});

test("a frozen task larger than the head window with multi-byte text round-trips at every alignment", () => {
  for (let pad = 0; pad < 4; pad++) {
    const big = task("c");
    big.history![0]!.parts = [{ text: "x".repeat(pad) + "é✓🎉".repeat(2000) }];
    const [decoded] = decodeJournal(encodeRecord(FrozenTask.of(big)), decodeTaskRecord).records as FrozenTask[];
    assert.ok(decoded instanceof FrozenTask, `pad ${pad}`);
    assert.deepEqual(decoded.task, big);
  }
});
