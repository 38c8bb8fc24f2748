import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import { FrozenTask, decodeTaskRecord } from "../lib/frozen_task.ts";
import { TaskStore } from "../lib/task_store.ts";
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

test("TaskStore.replay() takes a frozen record that a storage parsed as plain JSON", () => {
  const store = new TaskStore({ load: async () => [], append: async () => {}, compact: async () => {}, recordCount: 0, close: async () => {} });
  store.replay(JSON.parse(FrozenTask.of(task("c")).toJournalJson()));
  assert.equal(store.get("t-1")?.state, "TASK_STATE_COMPLETED");
  assert.equal(store.get("t-1")?.task.artifacts?.[0]?.artifactId, "a");
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

test("TaskStore.compact() keeps at most maxFinishedTasks finished tasks, dropping the oldest but never one still owed a notification", async () => {
  const { openJournal } = await import("../lib/journal.ts");
  const { tempDir } = await import("./helpers.ts");
  const journal = await openJournal(tempDir(), { warn: () => {} });
  const store = new TaskStore(journal, { maxFinishedTasks: 10 });
  const finishedAt = (i: number) => new Date(Date.now() - 3_600_000 + i * 1000).toISOString(); // Within the retention.
  for (let i = 0; i < 30; i++) {
    const done: Task = { id: `t${i}`, contextId: "c", status: { state: "TASK_STATE_COMPLETED", timestamp: finishedAt(i) } };
    await store.commit(done.id, () => ({ type: "task", task: done }));
  }
  const running: Task = { id: "live", contextId: "c", status: { state: "TASK_STATE_WORKING", timestamp: finishedAt(0) } };
  await store.commit("live", () => ({ type: "task", task: running }));
  assert.equal(store.finishedCount, 30);
  assert.equal(store.needsCompaction(), true, "past the limit by more than its margin");
  await store.compact(() => [], () => new Set(["t0"])); // t0's final webhook is still owed.
  assert.equal(store.finishedCount, 10, "the owed task counts toward the limit");
  assert.deepEqual([...store.all()].map((s) => s.id).sort(), ["live", "t0", ...Array.from({ length: 9 }, (_, i) => `t${21 + i}`)].sort());
  assert.equal(store.needsCompaction(), false);
  await journal.close();
  const reopened = await openJournal(journal.path.replace(/\/journal\.jsonl$/, ""), { warn: () => {} });
  const again = new TaskStore(reopened);
  for (const record of await reopened.load()) again.replay(record);
  assert.equal(again.size, 11, "the journal holds what memory holds");
  await reopened.close();
});
