/**
 * FrozenTask and the journal decoders of frozen_task.ts: a finished task kept as its JSON text,
 * its journal line with the summary first, and the line read back as text (decodeTaskRecord) or as
 * only a location (decodeTaskRecordAt). Pure: tasks and lines built by hand.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { FrozenTask, decodeTaskRecord, decodeTaskRecordAt } from "../lib/frozen_task.ts";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import type { Task } from "../lib/types.ts";
import { finishedTask } from "./helpers.ts";

const task = finishedTask;

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

test("FrozenTask.of() keeps the summary fields and the task's JSON, and each read of task is a fresh copy", () => {
  const frozen = FrozenTask.of(task("c"));
  assert.deepEqual([frozen.type, frozen.id, frozen.contextId, frozen.state, frozen.timestamp, frozen.checkpoint], ["frozen", "t-1", "c", "TASK_STATE_COMPLETED", "2026-11-24T00:00:00.000Z", undefined]);
  assert.equal(frozen.json, JSON.stringify(task("c")));
  assert.equal(frozen.journalLine, undefined, "not on disk yet");
  const first = frozen.task;
  first.status.state = "TASK_STATE_FAILED";
  first.history!.length = 0;
  assert.deepEqual(frozen.task, task("c"), "changing a copy leaves the frozen task as it was");
  assert.notEqual(frozen.task, frozen.task);
});

test("FrozenTask.relocated() keeps only where the line is; the body must then be read from the journal", () => {
  const frozen = FrozenTask.of(task("c"));
  frozen.relocated({ position: 120, length: 400 });
  assert.deepEqual(frozen.journalLine, { position: 120, length: 400 });
  assert.equal(frozen.json, undefined);
  assert.throws(() => frozen.task, /Task t-1 is on disk: read it with TaskStore.read\(\)/);
  assert.throws(() => frozen.toJournalJson(), /Task t-1 is on disk: compaction copies its line/);
  assert.equal(frozen.state, "TASK_STATE_COMPLETED", "the summary stays");
  frozen.relocated({ position: 8, length: 400 });
  assert.deepEqual(frozen.journalLine, { position: 8, length: 400 }, "a later compaction moves it again");
});

test("FrozenTask.dropped() forgets the line, so a late read finds nothing rather than another line", () => {
  const frozen = new FrozenTask({ id: "t", contextId: "c", state: "TASK_STATE_CANCELED", timestamp: "x" }, { position: 0, length: 10 });
  assert.deepEqual(frozen.journalLine, { position: 0, length: 10 });
  frozen.dropped();
  assert.equal(frozen.journalLine, undefined);
  assert.equal(frozen.json, undefined);
});

test("FrozenTask.toJournalJson() puts type, id, contextId, state and timestamp first and the task's JSON last, as it was", () => {
  const frozen = FrozenTask.of(task("c"));
  const line = frozen.toJournalJson();
  assert.equal(line, `{"type":"frozen","id":"t-1","contextId":"c","state":"TASK_STATE_COMPLETED","timestamp":"2026-11-24T00:00:00.000Z","task":${frozen.json}}`);
  assert.deepEqual(Object.keys(JSON.parse(line)), ["type", "id", "contextId", "state", "timestamp", "task"]);
});

test("decodeTaskRecordAt() keeps only the location of a frozen line, and parses any other record", () => {
  const bytes = new TextEncoder().encode(FrozenTask.of(task('evil","task":{"id":"x"}')).toJournalJson());
  const decoded = decodeTaskRecordAt(bytes, { position: 64, length: bytes.length + 10 });
  assert.ok(decoded instanceof FrozenTask);
  assert.deepEqual(decoded.journalLine, { position: 64, length: bytes.length + 10 });
  assert.equal(decoded.json, undefined, "the task's JSON is not even decoded");
  assert.deepEqual([decoded.id, decoded.contextId, decoded.state], ["t-1", 'evil","task":{"id":"x"}', "TASK_STATE_COMPLETED"]);
  const status = new TextEncoder().encode('{"type":"status","taskId":"t"}');
  assert.deepEqual(decodeTaskRecordAt(status, { position: 0, length: status.length + 10 }), { type: "status", taskId: "t" });
});

test("decodeTaskRecord() refuses a frozen line whose head is out of order or whose ids are not strings", () => {
  const refused = [
    '{"type":"frozen","contextId":"c","id":"t","state":"TASK_STATE_COMPLETED","timestamp":"x","task":{}}',
    '{"type":"frozen","id":7,"contextId":"c","state":"TASK_STATE_COMPLETED","timestamp":"x","task":{}}',
    '{"type":"frozen","id":"t","contextId":"c","state":"TASK_STATE_COMPLETED","timestamp":"x"}',
  ];
  for (const line of refused) assert.throws(() => decodeTaskRecord(line), SyntaxError, line);
  const odd = decodeTaskRecord('{"type":"frozen","id":"t","contextId":"c","state":"TASK_STATE_FROM_THE_FUTURE","timestamp":"x","task":{"id":"t"}}') as FrozenTask;
  assert.equal(odd.state, "TASK_STATE_FROM_THE_FUTURE", "a state it does not know is kept as written");
  assert.deepEqual(odd.task, { id: "t" });
});

test("a frozen task's owner rides in its line's head, and a line written before owners existed still decodes", () => {
  const owned = FrozenTask.of(finishedTask("c"), { principal: "alice", tenant: "t\"1" });
  const line = owned.toJournalJson();
  assert.match(line, /"timestamp":"[^"]+","principal":"alice","tenant":"t\\"1","task":/);
  const decoded = decodeTaskRecord(line) as FrozenTask;
  assert.deepEqual([decoded.principal, decoded.tenant, decoded.task.id], ["alice", 't"1', "t-1"]);
  const old = decodeTaskRecord(FrozenTask.of(finishedTask("c")).toJournalJson()) as FrozenTask;
  assert.deepEqual([old.principal, old.tenant, old.task.id], [undefined, undefined, "t-1"]);
});

test("decodeTaskRecord() reads a frozen line whose id, contextId, tenant and principal are at their longest, every character escaped", () => {
  // Control characters take six bytes each in JSON (\u0001): the largest head a line can have.
  const finished = { ...finishedTask("\u0001".repeat(256)), id: "\u0002".repeat(256) };
  const owner = { principal: "\u0003".repeat(255), tenant: "\u0004".repeat(256) };
  const line = encodeRecord(FrozenTask.of(finished, owner));
  const [decoded] = decodeJournal(line, decodeTaskRecord).records as FrozenTask[];
  assert.ok(decoded instanceof FrozenTask);
  assert.deepEqual([decoded.id, decoded.contextId, decoded.principal, decoded.tenant], [finished.id, finished.contextId, owner.principal, owner.tenant]);
  assert.deepEqual(decoded.task, finished);
});
