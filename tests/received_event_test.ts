/**
 * describeEvent(): what a receiver records of an accepted webhook, for every body shape A2A senders
 * post (v1.0 StreamResponse members, a bare v1.0 Task, v0.3 objects told apart by `kind`), and the
 * bodies it refuses as MALFORMED. Pure: bodies built by hand, the clock passed in.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { WebhookVerificationError } from "../lib/errors.ts";
import { describeEvent } from "../lib/received_event.ts";

const NOW_MS = Date.UTC(2026, 10, 24, 12, 0, 0);
const STATUS = { state: "TASK_STATE_WORKING", timestamp: "2026-11-24T11:59:59.000Z", message: { messageId: "m", role: "ROLE_AGENT", parts: [{ data: {} }, { text: "step 3/10" }] } };

function describe(body: unknown) {
  return describeEvent("wh_1", Buffer.from(typeof body === "string" ? body : JSON.stringify(body)), NOW_MS);
}

function malformed(error: unknown): boolean {
  assert.ok(error instanceof WebhookVerificationError, String(error));
  assert.equal(error.code, "MALFORMED");
  return true;
}

test("describeEvent() reads each v1.0 StreamResponse member: task, statusUpdate, artifactUpdate and message", () => {
  assert.deepEqual(describe({ statusUpdate: { taskId: "t1", contextId: "c1", status: STATUS } }), {
    webhookId: "wh_1", taskId: "t1", kind: "statusUpdate", state: "TASK_STATE_WORKING", text: "step 3/10",
    statusTimestamp: "2026-11-24T11:59:59.000Z", receivedAt: "2026-11-24T12:00:00.000Z", duplicates: 0,
  });
  const task = describe({ task: { id: "t2", contextId: "c1", status: { state: "TASK_STATE_COMPLETED", timestamp: "x" } } });
  assert.deepEqual([task.kind, task.taskId, task.state, task.text], ["task", "t2", "TASK_STATE_COMPLETED", undefined]);
  const artifact = describe({ artifactUpdate: { taskId: "t3", contextId: "c1", artifact: { artifactId: "a", parts: [{ text: "out" }] } } });
  assert.deepEqual([artifact.kind, artifact.taskId, artifact.state, artifact.text], ["artifactUpdate", "t3", undefined, undefined]);
  const message = describe({ message: { messageId: "m", role: "ROLE_AGENT", taskId: "t4", parts: [{ text: "hello" }] } });
  assert.deepEqual([message.kind, message.taskId], ["message", "t4"]);
});

test("describeEvent() reads a bare v1.0 Task, told by its id and status", () => {
  const event = describe({ id: "t1", contextId: "c1", status: { state: "TASK_STATE_INPUT_REQUIRED", timestamp: "y" } });
  assert.deepEqual([event.kind, event.taskId, event.state, event.statusTimestamp], ["task", "t1", "TASK_STATE_INPUT_REQUIRED", "y"]);
});

test("describeEvent() reads v0.3 bodies by kind and records their states by v1.0 names", () => {
  const status = { state: "input-required", timestamp: "z", message: { kind: "message", parts: [{ kind: "text", text: "need a date" }] } };
  const update = describe({ kind: "status-update", taskId: "t1", contextId: "c1", status, final: true });
  assert.deepEqual([update.kind, update.taskId, update.state, update.text], ["statusUpdate", "t1", "TASK_STATE_INPUT_REQUIRED", "need a date"]);
  const task = describe({ kind: "task", id: "t2", contextId: "c1", status: { state: "completed" } });
  assert.deepEqual([task.kind, task.taskId, task.state], ["task", "t2", "TASK_STATE_COMPLETED"]);
  assert.equal(describe({ kind: "artifact-update", taskId: "t3", artifact: {} }).kind, "artifactUpdate");
  assert.equal(describe({ kind: "message", taskId: "t4", parts: [] }).kind, "message");
});

test("describeEvent() keeps the first text part of the status message, cut to 200 characters, and no empty one", () => {
  const long = "é".repeat(300);
  assert.equal(describe({ statusUpdate: { taskId: "t", status: { ...STATUS, message: { parts: [{ text: long }] } } } }).text, "é".repeat(200));
  assert.equal(describe({ statusUpdate: { taskId: "t", status: { ...STATUS, message: { parts: [{ text: "" }] } } } }).text, undefined);
  assert.equal(describe({ statusUpdate: { taskId: "t", status: { ...STATUS, message: { parts: "text" } } } }).text, undefined);
  assert.equal(describe({ statusUpdate: { taskId: "t", status: { ...STATUS, message: { parts: [null, 5, { text: 7 }] } } } }).text, undefined);
  const odd = describe({ statusUpdate: { taskId: "t", status: { state: 5, timestamp: 6 } } });
  assert.deepEqual([odd.state, odd.statusTimestamp], [undefined, undefined], "a state or timestamp that is not a string is left out");
});

test("describeEvent() refuses as MALFORMED a body that is not JSON, or not a StreamResponse, Task or update", () => {
  const bodies = [
    "not json", "", "null", "42", '"task"', "[]", "[{\"task\":{\"id\":\"t\"}}]", "{}",
    { statusUpdate: "t1" }, { statusUpdate: null }, { statusUpdate: { contextId: "c" } }, { statusUpdate: { taskId: 7 } },
    { task: { id: ["t"] } }, { message: { messageId: "m", parts: [] } }, { id: "t", contextId: "c" }, { status: { state: "completed" } },
    { kind: "status-update", status: {} }, { kind: "task-update", taskId: "t" }, { kind: "Task", id: "t", status: {} },
  ];
  for (const body of bodies) assert.throws(() => describe(body), malformed, JSON.stringify(body));
});

test("describeEvent() takes no kind from the prototype: constructor, __proto__, toString and hasOwnProperty are MALFORMED", () => {
  for (const kind of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
    assert.throws(() => describe(`{"kind":"${kind}","taskId":"t1","id":"t1","status":{"state":"completed"}}`), malformed, kind);
  }
  assert.throws(() => describe('{"__proto__":{"taskId":"t1"}}'), malformed);
  assert.throws(() => describe('{"constructor":{"taskId":"t1"}}'), malformed);
});
