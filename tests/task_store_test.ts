import assert from "node:assert/strict";
import { test } from "node:test";
import { FrozenTask } from "../lib/frozen_task.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { Task } from "../lib/types.ts";
import { finishedTask } from "./helpers.ts";

const task = finishedTask;

test("TaskStore.replay() takes a frozen record that a storage parsed as plain JSON", () => {
  const store = new TaskStore({ load: async () => [], append: async () => {}, compact: async () => {}, recordCount: 0, close: async () => {} });
  store.replay(JSON.parse(FrozenTask.of(task("c")).toJournalJson()));
  assert.equal(store.get("t-1")?.state, "TASK_STATE_COMPLETED");
  assert.equal(store.get("t-1")?.task.artifacts?.[0]?.artifactId, "a");
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

test("TaskStore keeps each task's owner through finishing, compaction and a restart, and counts open tasks per principal", async () => {
  const { openJournal, decodeTaskRecordAt } = { ...(await import("../lib/journal.ts")), ...(await import("../lib/frozen_task.ts")) };
  const { tempDir } = await import("./helpers.ts");
  const dir = tempDir();
  const journal = await openJournal(dir, { warn: () => {}, decode: decodeTaskRecordAt });
  const store = new TaskStore(journal);
  const at = new Date().toISOString();
  const make = (id: string, principal?: string, tenant?: string) => store.commit(id, () => ({ type: "task", task: { id, contextId: "c", status: { state: "TASK_STATE_SUBMITTED", timestamp: at } }, ...(principal ? { principal } : {}), ...(tenant ? { tenant } : {}) }));
  await make("a1", "alice");
  await make("a2", "alice", "team");
  await make("b1", "bob");
  await make("n1");
  assert.deepEqual([store.openTasks("alice"), store.openTasks("bob"), store.openTasks(undefined), store.openTasks("carol")], [2, 1, 1, 0]);
  await store.commit("a1", () => ({ type: "status", taskId: "a1", status: { state: "TASK_STATE_COMPLETED", timestamp: at } }));
  assert.equal(store.openTasks("alice"), 1, "a finished task is no longer open");
  assert.deepEqual([store.get("a1")?.principal, store.get("a2")?.tenant], ["alice", "team"], "the frozen task keeps its owner");
  await store.compact(() => []);
  await journal.close();
  const reopened = await openJournal(dir, { warn: () => {}, decode: decodeTaskRecordAt });
  const again = new TaskStore(reopened);
  for (const record of await reopened.load()) again.replay(record);
  again.freezeFinished();
  const owners = Object.fromEntries([...again.all()].map((s) => [s.id, [s.principal, s.tenant]]));
  assert.deepEqual(owners, { a1: ["alice", undefined], a2: ["alice", "team"], b1: ["bob", undefined], n1: [undefined, undefined] });
  assert.deepEqual([again.openTasks("alice"), again.openTasks("bob"), again.openTasks(undefined)], [1, 1, 1]);
  await reopened.close();
});
