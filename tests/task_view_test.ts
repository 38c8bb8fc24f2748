/**
 * viewTask() and pageOfTasks(): tasks as a client sees them through GetTask and ListTasks. Pure.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AError } from "../lib/errors.ts";
import { pageOfTasks, viewTask } from "../lib/task_view.ts";
import type { TaskSummary } from "../lib/task_view.ts";
import type { Message, Task } from "../lib/types.ts";

function message(n: number): Message {
  return { messageId: `m${n}`, role: n % 2 ? "ROLE_AGENT" : "ROLE_USER", parts: [{ text: `message ${n}` }] };
}

function fullTask(): Task {
  return {
    id: "t1",
    contextId: "c1",
    status: { state: "TASK_STATE_WORKING", timestamp: "2026-01-01T00:00:00.000Z" },
    history: [message(1), message(2), message(3), message(4)],
    artifacts: [{ artifactId: "a1", parts: [{ text: "result" }] }],
    metadata: { priority: "high" },
  };
}

function ids(task: Task) {
  return task.history?.map((m) => m.messageId);
}

test("viewTask() keeps the whole history without historyLength, and none with historyLength 0", () => {
  assert.deepEqual(viewTask(fullTask()), fullTask());
  const none = viewTask(fullTask(), { historyLength: 0 });
  assert.equal("history" in none, false);
  assert.deepEqual(none.artifacts, fullTask().artifacts);
  assert.deepEqual(none.metadata, { priority: "high" });
});

test("viewTask() keeps the last n messages for historyLength n", () => {
  assert.deepEqual(ids(viewTask(fullTask(), { historyLength: 1 })), ["m4"]);
  assert.deepEqual(ids(viewTask(fullTask(), { historyLength: 3 })), ["m2", "m3", "m4"]);
  assert.deepEqual(ids(viewTask(fullTask(), { historyLength: 10 })), ["m1", "m2", "m3", "m4"]);
});

test("viewTask() leaves out empty history and artifacts", () => {
  const task: Task = { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED", timestamp: "" }, history: [], artifacts: [] };
  assert.deepEqual(viewTask(task), { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED", timestamp: "" } });
});

test("viewTask() leaves artifacts out when includeArtifacts is false, and keeps them by default", () => {
  assert.equal("artifacts" in viewTask(fullTask(), { includeArtifacts: false }), false);
  assert.deepEqual(viewTask(fullTask(), { includeArtifacts: true }).artifacts, fullTask().artifacts);
  assert.deepEqual(viewTask(fullTask()).artifacts, fullTask().artifacts);
});

test("viewTask() hands out a copy that shares nothing with the stored task", () => {
  const stored = fullTask();
  const view = viewTask(stored, { historyLength: 2 });
  view.status.state = "TASK_STATE_FAILED";
  view.history![0]!.parts[0]!.text = "changed";
  view.artifacts![0]!.parts.push({ text: "more" });
  view.metadata!.priority = "low";
  assert.deepEqual(stored, fullTask());
});

test("viewTask() with copy: false reuses the task's objects (for a task that is already a fresh copy)", () => {
  const fresh = fullTask();
  const view = viewTask(fresh, { copy: false });
  assert.equal(view.status, fresh.status);
  assert.equal(view.artifacts, fresh.artifacts);
  assert.notEqual(view, fresh);
});

function summary(id: string, timestamp: string, extra: Partial<TaskSummary> = {}): TaskSummary {
  return { id, contextId: "ctx-a", state: "TASK_STATE_WORKING", timestamp, ...extra };
}

const TASKS: TaskSummary[] = [
  summary("t1", "2026-01-01T00:00:01.000Z"),
  summary("t2", "2026-01-01T00:00:03.000Z", { contextId: "ctx-b" }),
  summary("t3", "2026-01-01T00:00:02.000Z", { state: "TASK_STATE_COMPLETED" }),
  summary("t4", "2026-01-01T00:00:03.000Z"),
  summary("t5", "2026-01-01T00:00:00.000Z", { contextId: "ctx-b", state: "TASK_STATE_COMPLETED" }),
];

test("pageOfTasks() lists the newest change first, ties by id, and counts every match", () => {
  const { page, nextPageToken, pageSize, totalSize } = pageOfTasks(TASKS, {});
  assert.deepEqual(page.map((t) => t.id), ["t2", "t4", "t3", "t1", "t5"]);
  assert.equal(nextPageToken, "");
  assert.equal(pageSize, 50);
  assert.equal(totalSize, 5);
});

test("pageOfTasks() filters by context, by state and by statusTimestampAfter (inclusive)", () => {
  assert.deepEqual(pageOfTasks(TASKS, { contextId: "ctx-b" }).page.map((t) => t.id), ["t2", "t5"]);
  assert.deepEqual(pageOfTasks(TASKS, { status: "TASK_STATE_COMPLETED" }).page.map((t) => t.id), ["t3", "t5"]);
  assert.deepEqual(pageOfTasks(TASKS, { statusTimestampAfter: "2026-01-01T00:00:02.000Z" }).page.map((t) => t.id), ["t2", "t4", "t3"]);
  const both = pageOfTasks(TASKS, { contextId: "ctx-b", status: "TASK_STATE_COMPLETED" });
  assert.deepEqual(both.page.map((t) => t.id), ["t5"]);
  assert.equal(both.totalSize, 1);
});

test("pageOfTasks() page tokens walk every match once, in order, and the last page has no token", () => {
  const seen: string[] = [];
  let pageToken: string | undefined;
  let pages = 0;
  do {
    const result = pageOfTasks(TASKS, { pageSize: 2, ...(pageToken ? { pageToken } : {}) });
    assert.ok(result.page.length <= 2);
    assert.equal(result.totalSize, 5);
    seen.push(...result.page.map((t) => t.id));
    pageToken = result.nextPageToken;
    pages++;
  } while (pageToken && pages < 10);
  assert.deepEqual(seen, ["t2", "t4", "t3", "t1", "t5"]);
  assert.equal(pages, 3);
});

test("pageOfTasks() tokens stay valid when a newer task arrives between pages", () => {
  const first = pageOfTasks(TASKS, { pageSize: 2 });
  const grown = [...TASKS, summary("t6", "2026-01-01T00:00:09.000Z")];
  const second = pageOfTasks(grown, { pageSize: 2, pageToken: first.nextPageToken });
  assert.deepEqual(second.page.map((t) => t.id), ["t3", "t1"], "no task repeated, none skipped");
});

test("pageOfTasks() refuses a page token it did not issue with -32602 naming pageToken", () => {
  const foreign = ["not-a-token", Buffer.from("null").toString("base64url"), Buffer.from('{"a":1}').toString("base64url"), Buffer.from("[1,2]").toString("base64url")];
  for (const pageToken of foreign) {
    assert.throws(() => pageOfTasks(TASKS, { pageToken }), (error: A2AError) => {
      assert.ok(error instanceof A2AError, pageToken);
      assert.equal(error.code, -32602);
      assert.equal(error.details?.field, "pageToken");
      return true;
    });
  }
});
