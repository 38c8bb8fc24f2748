/**
 * TaskStream: one client's view of a task's events. Every read is bounded, so a stream that fails
 * to end fails its test instead of hanging the suite.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { clearTimeout, setTimeout } from "node:timers";
import { setImmediate as turn } from "node:timers/promises";
import { TaskStream } from "../lib/task_stream.ts";
import type { StreamResponse, TaskState } from "../lib/types.ts";

function statusEvent(state: TaskState, text: string = state): StreamResponse {
  return {
    statusUpdate: { taskId: "t1", contextId: "c1", status: { state, timestamp: "2026-01-01T00:00:00.000Z", message: { messageId: text, role: "ROLE_AGENT", parts: [{ text }] } } },
  };
}

function artifactEvent(text: string): StreamResponse {
  return { artifactUpdate: { taskId: "t1", contextId: "c1", artifact: { artifactId: "a", parts: [{ text }] } } };
}

/** Reads the stream to its end, failing after `timeoutMs`. */
async function readAll(stream: AsyncIterable<StreamResponse>, timeoutMs = 1000): Promise<StreamResponse[]> {
  const events: StreamResponse[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`stream did not end within ${timeoutMs} ms`)), timeoutMs)));
  try {
    await Promise.race([(async () => {
      for await (const event of stream) events.push(event);
    })(), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return events;
}

function textOf(event: StreamResponse) {
  return "statusUpdate" in event ? event.statusUpdate.status.message?.parts[0]?.text : "artifactUpdate" in event ? event.artifactUpdate.artifact.parts[0]?.text : "task";
}

test("TaskStream yields pushed events in order and ends after a terminal status", async () => {
  const stream = new TaskStream("t1");
  stream.push(statusEvent("TASK_STATE_WORKING", "one"));
  stream.push(artifactEvent("two"));
  stream.push(statusEvent("TASK_STATE_COMPLETED", "three"));
  assert.equal(stream.ended, true);
  assert.deepEqual((await readAll(stream)).map(textOf), ["one", "two", "three"]);
});

test("TaskStream wakes a reader waiting for the next event", async () => {
  const stream = new TaskStream("t1");
  const reading = readAll(stream);
  await turn();
  stream.push(statusEvent("TASK_STATE_WORKING", "later"));
  await turn();
  stream.push(statusEvent("TASK_STATE_FAILED", "end"));
  assert.deepEqual((await reading).map(textOf), ["later", "end"]);
});

test("TaskStream ends after an interrupted status (input or auth required)", async () => {
  for (const state of ["TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"] as const) {
    const stream = new TaskStream("t1");
    stream.push(statusEvent("TASK_STATE_WORKING", "working"));
    stream.push(statusEvent(state, "asks"));
    assert.equal(stream.ended, true, state);
    assert.deepEqual((await readAll(stream)).map(textOf), ["working", "asks"], state);
  }
});

test("TaskStream does not end on an intermediate status or an artifact", () => {
  const stream = new TaskStream("t1");
  stream.push(statusEvent("TASK_STATE_SUBMITTED"));
  stream.push(statusEvent("TASK_STATE_WORKING"));
  stream.push(artifactEvent("a"));
  assert.equal(stream.ended, false);
});

test("TaskStream.prepend() puts the opening Task before events already pushed", async () => {
  const stream = new TaskStream("t1");
  stream.push(statusEvent("TASK_STATE_WORKING", "update"));
  stream.prepend({ task: { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED", timestamp: "" } } });
  stream.push(statusEvent("TASK_STATE_COMPLETED", "done"));
  assert.deepEqual((await readAll(stream)).map(textOf), ["task", "update", "done"]);
});

test("TaskStream.close() ends the stream after the queued events and calls onEnd once", async () => {
  let ends = 0;
  const stream = new TaskStream("t1", () => ends++);
  stream.push(statusEvent("TASK_STATE_WORKING", "queued"));
  stream.close();
  stream.close();
  assert.equal(stream.ended, true);
  assert.equal(ends, 1);
  assert.deepEqual((await readAll(stream)).map(textOf), ["queued"]);
  assert.equal(ends, 1, "the reader's end does not call onEnd again");
});

test("TaskStream.close() wakes a reader waiting for an event", async () => {
  const stream = new TaskStream("t1");
  const reading = readAll(stream);
  await turn();
  stream.close();
  assert.deepEqual(await reading, []);
});

test("TaskStream calls onEnd once when it ends by a terminal status or by the reader leaving", async () => {
  let ends = 0;
  const finished = new TaskStream("t1", () => ends++);
  finished.push(statusEvent("TASK_STATE_CANCELED"));
  await readAll(finished);
  assert.equal(ends, 1);

  let left = 0;
  const abandoned = new TaskStream("t1", () => left++);
  abandoned.push(statusEvent("TASK_STATE_WORKING"));
  for await (const _event of abandoned) break; // The client went away after one event.
  assert.equal(abandoned.ended, true);
  assert.equal(left, 1);
});

test("TaskStream ignores pushes after it ended", async () => {
  const stream = new TaskStream("t1");
  stream.push(statusEvent("TASK_STATE_COMPLETED", "done"));
  stream.push(statusEvent("TASK_STATE_WORKING", "too late"));
  const closed = new TaskStream("t1");
  closed.close();
  closed.push(statusEvent("TASK_STATE_WORKING", "too late"));
  assert.deepEqual((await readAll(stream)).map(textOf), ["done"]);
  assert.deepEqual(await readAll(closed), []);
});

test("TaskStream.push() keeps a copy, so later changes to the event do not reach the reader", async () => {
  const stream = new TaskStream("t1");
  const event = statusEvent("TASK_STATE_WORKING", "as pushed");
  stream.push(event);
  if ("statusUpdate" in event) event.statusUpdate.status.message!.parts[0]!.text = "changed afterwards";
  stream.close();
  const [read] = await readAll(stream);
  assert.equal(textOf(read!), "as pushed");
  assert.notEqual(read, event);
});
