/**
 * applyToTask() and toEvent(): what a journal record does to a task, and the stream event a client
 * sees for it. Pure: tasks and records built by hand.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { applyToTask, toEvent } from "../lib/task_records.ts";
import type { TaskRecord } from "../lib/task_records.ts";
import type { Artifact, Message, Task, TaskStatus } from "../lib/types.ts";

const IDS = { id: "t1", contextId: "c1" };
const working: TaskStatus = { state: "TASK_STATE_WORKING", timestamp: "2026-01-01T00:00:01.000Z" };

function task(extra: Partial<Task> = {}): Task {
  return { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED", timestamp: "2026-01-01T00:00:00.000Z" }, ...extra };
}

function agentMessage(text: string): Message {
  return { messageId: `m-${text}`, role: "ROLE_AGENT", parts: [{ text }] };
}

test("applyToTask() sets a status and appends its message to the history", () => {
  const t = task({ history: [agentMessage("first")] });
  const status: TaskStatus = { ...working, message: agentMessage("step 1") };
  const result = applyToTask(t, { type: "status", taskId: "t1", status });
  assert.equal(result, t, "the task is changed in place and returned");
  assert.deepEqual(t.status, status);
  assert.deepEqual(t.history, [agentMessage("first"), agentMessage("step 1")]);
});

test("applyToTask() starts a history for a status message, and leaves it alone for a status without one", () => {
  const t = task();
  applyToTask(t, { type: "status", taskId: "t1", status: working });
  assert.equal(t.history, undefined);
  applyToTask(t, { type: "status", taskId: "t1", status: { ...working, message: agentMessage("hi") } });
  assert.deepEqual(t.history, [agentMessage("hi")]);
});

test("applyToTask() appends a message record's message and sets its status only when it has one", () => {
  const t = task({ status: { state: "TASK_STATE_INPUT_REQUIRED", timestamp: "2026-01-01T00:00:01.000Z" } });
  const reply: Message = { messageId: "u1", role: "ROLE_USER", parts: [{ text: "yes" }], taskId: "t1" };
  applyToTask(t, { type: "message", taskId: "t1", message: reply });
  assert.equal(t.status.state, "TASK_STATE_INPUT_REQUIRED");
  assert.deepEqual(t.history, [reply]);
  const submitted: TaskStatus = { state: "TASK_STATE_SUBMITTED", timestamp: "2026-01-01T00:00:02.000Z" };
  applyToTask(t, { type: "message", taskId: "t1", message: { ...reply, messageId: "u2" }, status: submitted });
  assert.deepEqual(t.status, submitted);
  assert.deepEqual(t.history!.map((m) => m.messageId), ["u1", "u2"]);
});

test("applyToTask() adds a new artifact as a copy", () => {
  const t = task();
  const artifact: Artifact = { artifactId: "a1", name: "report", parts: [{ text: "one" }] };
  applyToTask(t, { type: "artifact", taskId: "t1", artifact });
  artifact.parts.push({ text: "changed later by the caller" });
  assert.deepEqual(t.artifacts, [{ artifactId: "a1", name: "report", parts: [{ text: "one" }] }]);
});

test("applyToTask() appends an artifact's parts to the one with its id, keeping its other fields", () => {
  const t = task({ artifacts: [{ artifactId: "other", parts: [{ text: "x" }] }, { artifactId: "a1", name: "report", parts: [{ text: "one" }] }] });
  applyToTask(t, { type: "artifact", taskId: "t1", artifact: { artifactId: "a1", parts: [{ text: "two" }, { text: "three" }] }, append: true });
  assert.deepEqual(t.artifacts, [
    { artifactId: "other", parts: [{ text: "x" }] },
    { artifactId: "a1", name: "report", parts: [{ text: "one" }, { text: "two" }, { text: "three" }] },
  ]);
});

test("applyToTask() replaces an artifact with the same id when the update is not an append", () => {
  const t = task({ artifacts: [{ artifactId: "a1", name: "draft", parts: [{ text: "one" }] }] });
  applyToTask(t, { type: "artifact", taskId: "t1", artifact: { artifactId: "a1", name: "final", parts: [{ text: "whole" }] } });
  assert.deepEqual(t.artifacts, [{ artifactId: "a1", name: "final", parts: [{ text: "whole" }] }]);
});

test("applyToTask() leaves the task as it was for checkpoints and push records", () => {
  const t = task({ history: [agentMessage("h")], artifacts: [{ artifactId: "a", parts: [{ text: "p" }] }] });
  const records: TaskRecord[] = [
    { type: "checkpoint", taskId: "t1", checkpoint: { step: 3 } },
    { type: "push.config", taskId: "t1", config: { id: "c", taskId: "t1", url: "https://hooks.example/" } },
    { type: "push.config.deleted", taskId: "t1", id: "c", reason: "x" },
    { type: "push.done", taskId: "t1", id: "msg_1" },
  ];
  for (const record of records) {
    applyToTask(t, record);
    assert.deepEqual(t, task({ history: [agentMessage("h")], artifacts: [{ artifactId: "a", parts: [{ text: "p" }] }] }), record.type);
  }
});

test("toEvent() turns task, status and artifact records into the stream events a client sees", () => {
  const t = task();
  assert.deepEqual(toEvent({ type: "task", task: t }, IDS), { task: t });
  assert.deepEqual(toEvent({ type: "status", taskId: "t1", status: working }, IDS), { statusUpdate: { taskId: "t1", contextId: "c1", status: working } });
  const artifact: Artifact = { artifactId: "a1", parts: [{ text: "p" }] };
  assert.deepEqual(toEvent({ type: "artifact", taskId: "t1", artifact, append: true, lastChunk: true }, IDS), {
    artifactUpdate: { taskId: "t1", contextId: "c1", artifact, append: true, lastChunk: true },
  });
  assert.deepEqual(toEvent({ type: "artifact", taskId: "t1", artifact, append: false, lastChunk: false }, IDS), { artifactUpdate: { taskId: "t1", contextId: "c1", artifact } });
});

test("toEvent() takes the ids from the task, not from the record", () => {
  const event = toEvent({ type: "status", taskId: "ignored", status: working }, { id: "t9", contextId: "c9" });
  assert.deepEqual(event, { statusUpdate: { taskId: "t9", contextId: "c9", status: working } });
});

test("toEvent() makes a message record's status an update, and gives nothing for a bare message, a checkpoint or a push record", () => {
  const message: Message = { messageId: "u1", role: "ROLE_USER", parts: [{ text: "yes" }] };
  const submitted: TaskStatus = { state: "TASK_STATE_SUBMITTED", timestamp: "2026-01-01T00:00:02.000Z" };
  assert.deepEqual(toEvent({ type: "message", taskId: "t1", message, status: submitted }, IDS), { statusUpdate: { taskId: "t1", contextId: "c1", status: submitted } });
  assert.equal(toEvent({ type: "message", taskId: "t1", message }, IDS), undefined);
  assert.equal(toEvent({ type: "checkpoint", taskId: "t1", checkpoint: 1 }, IDS), undefined);
  assert.equal(toEvent({ type: "push.config", taskId: "t1", config: { id: "c", taskId: "t1", url: "https://hooks.example/" } }, IDS), undefined);
  assert.equal(toEvent({ type: "push.done", taskId: "t1", id: "msg_1" }, IDS), undefined);
});
