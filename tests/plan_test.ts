/**
 * planDeliveries(): what one journal record owes, to which configs, with which body. Pure: every
 * test builds a record and a task by hand and reads the deliveries back.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { planDeliveries } from "../lib/plan.ts";
import type { Delivery } from "../lib/plan.ts";
import type { StoredPushConfig } from "../lib/push_config.ts";
import type { TaskRecord } from "../lib/task_records.ts";
import type { Artifact, Message, Task, TaskState, TaskStatus } from "../lib/types.ts";

const NOW = 1_767_225_600_000;

function config(id: string, extra: Partial<StoredPushConfig> = {}): StoredPushConfig {
  return { id, taskId: "t1", url: `https://hooks.example/${id}`, ...extra };
}

function status(state: TaskState, text?: string): TaskStatus {
  const message: Message | undefined = text === undefined ? undefined : { messageId: `m-${text}`, role: "ROLE_AGENT", parts: [{ text }] };
  return message ? { state, timestamp: "2026-01-01T00:00:01.000Z", message } : { state, timestamp: "2026-01-01T00:00:01.000Z" };
}

/** A running task with history, an artifact and metadata, as the store holds it. */
function runningTask(): Task {
  return {
    id: "t1",
    contextId: "c1",
    status: status("TASK_STATE_WORKING"),
    history: [{ messageId: "m0", role: "ROLE_USER", parts: [{ text: "hello" }] }],
    artifacts: [{ artifactId: "a1", parts: [{ text: "part 1" }] }],
    metadata: { origin: "test" },
  };
}

function plan(record: TaskRecord, before: Task | undefined, configs: StoredPushConfig[], extra: { v03Task?: (task: Task) => unknown } = {}) {
  return planDeliveries(record, before, configs, { now: NOW, ...extra });
}

function bodyOf(delivery: Delivery) {
  return JSON.parse(delivery.body);
}

test("planDeliveries() owes a new task's Task only to its inline configs", () => {
  const task = runningTask();
  task.status = status("TASK_STATE_SUBMITTED");
  const inline = [config("inline-1"), config("inline-2")];
  const deliveries = plan({ type: "task", task, pushConfigs: inline }, undefined, [config("other")]);
  assert.deepEqual(deliveries.map((d) => [d.configId, d.kind]), [["inline-1", "task"], ["inline-2", "task"]]);
  assert.deepEqual(bodyOf(deliveries[0]!).task.status, task.status);
  // A new task without inline configs owes nothing, whatever configs are passed.
  assert.deepEqual(plan({ type: "task", task }, undefined, [config("other")]), []);
});

test("planDeliveries() owes a new push config the task as it is now, to that config only", () => {
  const before = runningTask();
  const deliveries = plan({ type: "push.config", taskId: "t1", config: config("new") }, before, [config("old")]);
  assert.equal(deliveries.length, 1);
  assert.equal(deliveries[0]!.configId, "new");
  assert.equal(deliveries[0]!.kind, "task");
  assert.deepEqual(bodyOf(deliveries[0]!), { task: { id: "t1", contextId: "c1", status: before.status, artifacts: before.artifacts, metadata: before.metadata } });
});

test("planDeliveries() owes an intermediate status update as `status` to every config", () => {
  const update = status("TASK_STATE_WORKING", "step 1");
  const deliveries = plan({ type: "status", taskId: "t1", status: update }, runningTask(), [config("a"), config("b")]);
  assert.deepEqual(deliveries.map((d) => [d.configId, d.kind]), [["a", "status"], ["b", "status"]]);
  assert.deepEqual(bodyOf(deliveries[0]!), { statusUpdate: { taskId: "t1", contextId: "c1", status: update } });
});

test("planDeliveries() owes a terminal or interrupted status as `final` to every config", () => {
  const finals: TaskState[] = ["TASK_STATE_COMPLETED", "TASK_STATE_FAILED", "TASK_STATE_CANCELED", "TASK_STATE_REJECTED", "TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"];
  for (const state of finals) {
    const deliveries = plan({ type: "status", taskId: "t1", status: status(state) }, runningTask(), [config("a"), config("b")]);
    assert.deepEqual(deliveries.map((d) => d.kind), ["final", "final"], state);
  }
  for (const state of ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING"] as const) {
    assert.equal(plan({ type: "status", taskId: "t1", status: status(state) }, runningTask(), [config("a")])[0]!.kind, "status", state);
  }
});

test("planDeliveries() owes a message record's status to the task's configs and the message's inline configs", () => {
  const before = runningTask();
  before.status = status("TASK_STATE_INPUT_REQUIRED");
  const message: Message = { messageId: "m1", role: "ROLE_USER", parts: [{ text: "more" }], taskId: "t1" };
  const record: TaskRecord = { type: "message", taskId: "t1", message, status: status("TASK_STATE_SUBMITTED"), pushConfigs: [config("inline")] };
  const deliveries = plan(record, before, [config("existing")]);
  assert.deepEqual(deliveries.map((d) => [d.configId, d.kind]), [["existing", "status"], ["inline", "status"]]);
  assert.equal(bodyOf(deliveries[1]!).statusUpdate.status.state, "TASK_STATE_SUBMITTED");
  // A message without a status is no event: it owes nothing.
  assert.deepEqual(plan({ type: "message", taskId: "t1", message, pushConfigs: [config("inline")] }, before, [config("existing")]), []);
});

test("planDeliveries() keeps an artifact update's append and lastChunk, and leaves false ones out", () => {
  const artifact: Artifact = { artifactId: "a1", parts: [{ text: "part 2" }] };
  const [chunk] = plan({ type: "artifact", taskId: "t1", artifact, append: true, lastChunk: true }, runningTask(), [config("a")]);
  assert.equal(chunk!.kind, "artifact");
  assert.deepEqual(bodyOf(chunk!), { artifactUpdate: { taskId: "t1", contextId: "c1", artifact, append: true, lastChunk: true } });
  const [whole] = plan({ type: "artifact", taskId: "t1", artifact, append: false, lastChunk: false }, runningTask(), [config("a")]);
  assert.deepEqual(bodyOf(whole!), { artifactUpdate: { taskId: "t1", contextId: "c1", artifact } });
});

test("planDeliveries() owes nothing for checkpoints, push records, a deleted config, or a task it does not know", () => {
  const configs = [config("a")];
  const before = runningTask();
  const records: TaskRecord[] = [
    { type: "checkpoint", taskId: "t1", checkpoint: { step: 2 } },
    { type: "push.config.deleted", taskId: "t1", id: "a", reason: "deleted by the client" },
    { type: "push.attempt", taskId: "t1", id: "msg_1", attempts: 1, nextAt: NOW },
    { type: "push.done", taskId: "t1", id: "msg_1" },
    { type: "push.dead", taskId: "t1", id: "msg_1", attempts: 3 },
    { type: "push.replay", taskId: "t1", id: "msg_1", nextAt: NOW },
    { type: "push.purged", taskId: "t1", id: "msg_1" },
  ];
  for (const record of records) assert.deepEqual(plan(record, before, configs), [], record.type);
  assert.deepEqual(plan({ type: "status", taskId: "t1", status: status("TASK_STATE_WORKING") }, undefined, configs), []);
});

test("planDeliveries() gives a v0.3 config the whole task after the change, in the shape v03Task returns", () => {
  const v03Task = (task: Task) => ({ kind: "task", v03: true, ...task });
  const configs = [config("v1"), config("v03", { protocolVersion: "0.3" })];
  const before = runningTask();

  const update = status("TASK_STATE_COMPLETED", "all done");
  const [v1, v03] = plan({ type: "status", taskId: "t1", status: update }, before, configs, { v03Task });
  assert.deepEqual(bodyOf(v1!), { statusUpdate: { taskId: "t1", contextId: "c1", status: update } });
  assert.deepEqual(bodyOf(v03!), { kind: "task", v03: true, id: "t1", contextId: "c1", status: update, artifacts: before.artifacts, metadata: before.metadata });
  assert.equal(v03!.kind, "final", "the kind follows the record, whatever the body's shape");

  const artifact: Artifact = { artifactId: "a1", parts: [{ text: "part 2" }] };
  const [, appended] = plan({ type: "artifact", taskId: "t1", artifact, append: true }, before, configs, { v03Task });
  assert.deepEqual(bodyOf(appended!).artifacts, [{ artifactId: "a1", parts: [{ text: "part 1" }, { text: "part 2" }] }], "the artifact after the append");
  assert.deepEqual(before, runningTask(), "the task passed in is left as it was");
});

test("planDeliveries() makes the v0.3 body once per record, however many v0.3 configs there are", () => {
  let calls = 0;
  const v03Task = (task: Task) => ({ kind: "task", n: ++calls, id: task.id });
  const configs = [config("x", { protocolVersion: "0.3" }), config("y", { protocolVersion: "0.3" })];
  const deliveries = plan({ type: "status", taskId: "t1", status: status("TASK_STATE_WORKING") }, runningTask(), configs, { v03Task });
  assert.equal(calls, 1);
  assert.equal(deliveries[0]!.body, deliveries[1]!.body);
});

test("planDeliveries() gives a v0.3 config v1.0 bodies when no v03Task is passed", () => {
  const update = status("TASK_STATE_WORKING");
  const [delivery] = plan({ type: "status", taskId: "t1", status: update }, runningTask(), [config("v03", { protocolVersion: "0.3" })]);
  assert.deepEqual(bodyOf(delivery!), { statusUpdate: { taskId: "t1", contextId: "c1", status: update } });
});

test("planDeliveries() puts no history in any body, v1.0 or v0.3", () => {
  const configs = [config("v1"), config("v03", { protocolVersion: "0.3" })];
  const v03Task = (task: Task) => ({ ...task });
  const task = runningTask();
  const records: Array<[TaskRecord, Task | undefined]> = [
    [{ type: "task", task, pushConfigs: configs }, undefined],
    [{ type: "push.config", taskId: "t1", config: config("v03b", { protocolVersion: "0.3" }) }, task],
    [{ type: "status", taskId: "t1", status: status("TASK_STATE_WORKING", "adds to history") }, task],
    [{ type: "message", taskId: "t1", message: { messageId: "m9", role: "ROLE_USER", parts: [{ text: "x" }] }, status: status("TASK_STATE_SUBMITTED") }, task],
  ];
  for (const [record, before] of records) {
    const deliveries = plan(record, before, configs, { v03Task });
    assert.ok(deliveries.length > 0, record.type);
    for (const delivery of deliveries) {
      const body = bodyOf(delivery);
      assert.equal((body.task ?? body).history, undefined, `${record.type} to ${delivery.configId}: ${delivery.body}`);
    }
  }
});

test("planDeliveries() gives each delivery a unique id, zero attempts, and now as nextAt and createdAt", () => {
  const configs = Array.from({ length: 20 }, (_, i) => config(`c${i}`));
  const deliveries = [
    ...plan({ type: "status", taskId: "t1", status: status("TASK_STATE_WORKING") }, runningTask(), configs),
    ...plan({ type: "status", taskId: "t1", status: status("TASK_STATE_WORKING") }, runningTask(), configs),
  ];
  assert.equal(new Set(deliveries.map((d) => d.id)).size, 40);
  for (const delivery of deliveries) {
    assert.match(delivery.id, /^msg_[0-9a-f]{32}$/);
    assert.equal(delivery.taskId, "t1");
    assert.equal(delivery.attempts, 0);
    assert.equal(delivery.nextAt, NOW);
    assert.equal(delivery.createdAt, NOW);
    assert.equal(delivery.lastError, undefined);
  }
  let n = 0;
  const custom = planDeliveries({ type: "status", taskId: "t1", status: status("TASK_STATE_WORKING") }, runningTask(), configs.slice(0, 2), { now: 5, newId: () => `id-${n++}` });
  assert.deepEqual(custom.map((d) => [d.id, d.nextAt]), [["id-0", 5], ["id-1", 5]]);
});

test("planDeliveries() owes one delivery per config when a message's inline config has the id of one the task has", () => {
  // A v0.3 client re-sends its push config with every message; without an id it is the task's id.
  const before = runningTask();
  before.status = status("TASK_STATE_INPUT_REQUIRED");
  const existing = config("t1", { protocolVersion: "0.3" });
  const resent = config("t1", { protocolVersion: "0.3", url: "https://hooks.example/moved" });
  const message: Message = { messageId: "m1", role: "ROLE_USER", parts: [{ text: "more" }], taskId: "t1" };
  const deliveries = plan({ type: "message", taskId: "t1", message, status: status("TASK_STATE_SUBMITTED"), pushConfigs: [resent] }, before, [existing, config("other")]);
  assert.deepEqual(deliveries.map((d) => d.configId).sort(), ["other", "t1"], "the receiver would get the same update twice, under two webhook-ids");
});
