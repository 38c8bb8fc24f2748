import assert from "node:assert/strict";
import { test } from "node:test";
import { carriedDeliveries, sdkEventRecord } from "../lib/sdk_plan.ts";
import type { Task } from "../lib/types.ts";

const NOW = Date.parse("2026-11-27T12:00:00.000Z");
let counter = 0;
const options = (configIds: string[] = ["a", "b"]) => ({ configIds, now: NOW, newId: () => `msg_${++counter}` });
const current: Task = { id: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING", timestamp: "2026-11-27T11:00:00.000Z" } };

test("sdkEventRecord() carries one delivery per config, with the event's exact body and a fresh webhook-id each", () => {
  const event = { statusUpdate: { taskId: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING" as const, timestamp: "2026-11-27T11:30:00.000Z" }, metadata: {} } };
  const record = sdkEventRecord(event, "t1", current, options());
  assert.equal(record.type, "status");
  const deliveries = "deliveries" in record ? record.deliveries! : [];
  assert.deepEqual(deliveries.map((d) => [d.configId, d.kind, d.body, d.attempts, d.nextAt]), [
    ["a", "status", JSON.stringify(event), 0, NOW],
    ["b", "status", JSON.stringify(event), 0, NOW],
  ]);
  assert.notEqual(deliveries[0]!.id, deliveries[1]!.id);
  assert.deepEqual(carriedDeliveries(record), deliveries);
});

test("sdkEventRecord() names what a delivery carries for the collapse rule: only a working update is a progress update", () => {
  const kind = (event: Parameters<typeof sdkEventRecord>[0]) => carriedDeliveries(sdkEventRecord(event, "t1", current, options(["a"])))[0]!.kind;
  const status = (state: "TASK_STATE_WORKING" | "TASK_STATE_INPUT_REQUIRED" | "TASK_STATE_FAILED") => ({ statusUpdate: { taskId: "t1", contextId: "c1", status: { state, timestamp: "" } } });
  assert.equal(kind(status("TASK_STATE_WORKING")), "status");
  assert.equal(kind(status("TASK_STATE_INPUT_REQUIRED")), "final");
  assert.equal(kind(status("TASK_STATE_FAILED")), "final");
  assert.equal(kind({ task: current }), "task");
  assert.equal(kind({ artifactUpdate: { taskId: "t1", contextId: "c1", artifact: { artifactId: "r", parts: [{ text: "x" }] } } }), "artifact");
  assert.equal(kind({ message: { messageId: "m", role: "ROLE_AGENT", parts: [{ text: "hi" }], taskId: "t1" } }), "message");
});

test("sdkEventRecord() keeps the sender's copy of the task as the agent's records would: artifact, message, status", () => {
  const artifact = sdkEventRecord({ artifactUpdate: { taskId: "t1", contextId: "c1", artifact: { artifactId: "r", parts: [{ text: "x" }] }, append: true, lastChunk: true } }, "t1", current, options());
  assert.deepEqual({ ...artifact, deliveries: undefined }, { type: "artifact", taskId: "t1", artifact: { artifactId: "r", parts: [{ text: "x" }] }, append: true, lastChunk: true, deliveries: undefined });
  const message = { messageId: "m", role: "ROLE_AGENT" as const, parts: [{ text: "hi" }], taskId: "t1" };
  assert.deepEqual({ ...sdkEventRecord({ message }, "t1", current, options()), deliveries: undefined }, { type: "message", taskId: "t1", message, deliveries: undefined });
  // The SDK leaves out a state it does not know and a missing timestamp: the copy keeps the state before and takes the event's time.
  const vague = sdkEventRecord({ statusUpdate: { taskId: "t1", contextId: "c1", status: {} as never } }, "t1", current, options());
  assert.deepEqual("status" in vague && vague.status, { state: "TASK_STATE_WORKING", timestamp: "2026-11-27T12:00:00.000Z" });
  // An update without its status or artifact is still owed; the copy stays as it was.
  const empty = sdkEventRecord({ artifactUpdate: { taskId: "t1", contextId: "c1" } as never }, "t1", current, options());
  assert.equal(empty.type, "status");
  assert.deepEqual("status" in empty && empty.status, current.status);
  assert.equal(carriedDeliveries(empty).length, 2);
});

test("sdkEventRecord() starts the copy of a task it meets first through an update: from the SDK's task when given, else from the update", () => {
  const update = { statusUpdate: { taskId: "t9", contextId: "c9", status: { state: "TASK_STATE_WORKING" as const, timestamp: "2026-11-27T11:59:00.000Z" } } };
  const given: Task = { id: "t9", contextId: "c9", status: { state: "TASK_STATE_WORKING", timestamp: "2026-11-27T11:59:00.000Z" }, history: [{ messageId: "u", role: "ROLE_USER", parts: [{ text: "go" }] }] };
  const fromSdk = sdkEventRecord(update, "t9", undefined, { ...options(), taskAfter: given });
  assert.deepEqual("task" in fromSdk && fromSdk.task, given);
  const fromUpdate = sdkEventRecord(update, "t9", undefined, options());
  assert.deepEqual("task" in fromUpdate && fromUpdate.task, { id: "t9", contextId: "c9", status: update.statusUpdate.status });
  const fromArtifact = sdkEventRecord({ artifactUpdate: { taskId: "t9", contextId: "c9", artifact: { artifactId: "r", parts: [] } } }, "t9", undefined, options());
  assert.deepEqual("task" in fromArtifact && fromArtifact.task, { id: "t9", contextId: "c9", status: { state: "TASK_STATE_SUBMITTED", timestamp: "2026-11-27T12:00:00.000Z" } });
  assert.equal(carriedDeliveries(fromArtifact)[0]!.kind, "artifact");
  assert.deepEqual(carriedDeliveries({ type: "push.done", taskId: "t9", id: "msg_1" }), []);
});
