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
