/** messageRecord(): the record a message makes of a task, and the rules that refuse one. Pure. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { Quotas } from "../lib/access.ts";
import type { A2AError } from "../lib/errors.ts";
import { messageRecord } from "../lib/message_record.ts";
import { LiveTask } from "../lib/task_records.ts";
import type { Message, TaskState } from "../lib/types.ts";

const message = (extra: Partial<Message> = {}): Message => ({ messageId: "m1", role: "ROLE_USER", parts: [{ text: "hi" }], ...extra });
const stored = (state: TaskState, owner: { principal?: string; tenant?: string } = { principal: "alice" }) =>
  new LiveTask({ id: "t1", contextId: "c1", status: { state, timestamp: "" } }, undefined, owner);
const base = { taskId: "t1", pushConfigs: [], timestamp: "2026-11-27T00:00:00Z", newContextId: () => "new-context" };
const code = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as A2AError).code;
  }
  return undefined;
};

test("messageRecord() makes a new task: submitted, the message first in its history, owned by its caller, with its configs", () => {
  const config = { id: "h", taskId: "t1", url: "https://r.example/hook" };
  const record = messageRecord(message(), undefined, { ...base, caller: { principal: "alice", tenant: "x" }, pushConfigs: [config], metadata: { a: 1 } });
  assert.equal(record.type, "task");
  if (record.type !== "task") return;
  assert.deepEqual([record.task.contextId, record.task.status.state, record.principal, record.tenant], ["new-context", "TASK_STATE_SUBMITTED", "alice", "x"]);
  assert.deepEqual(record.task.history?.[0], { ...message(), taskId: "t1", contextId: "new-context" });
  assert.deepEqual(record.task.metadata, { a: 1 });
  assert.deepEqual(record.pushConfigs, [config]);
});

test("messageRecord() continues a task that asked for input, and refuses one that is another's, ended, running, or in another context", () => {
  const caller = { principal: "alice" };
  const reply = messageRecord(message({ taskId: "t1" }), stored("TASK_STATE_INPUT_REQUIRED"), { ...base, caller });
  assert.deepEqual([reply.type, reply.type === "message" && reply.status?.state], ["message", "TASK_STATE_SUBMITTED"]);
  assert.equal(code(() => messageRecord(message({ taskId: "t1" }), stored("TASK_STATE_INPUT_REQUIRED"), { ...base, caller: { principal: "bob" } })), -32001);
  assert.equal(code(() => messageRecord(message({ taskId: "t1" }), undefined, { ...base, caller })), -32001);
  assert.equal(code(() => messageRecord(message({ taskId: "t1" }), stored("TASK_STATE_COMPLETED"), { ...base, caller })), -32004);
  assert.equal(code(() => messageRecord(message({ taskId: "t1" }), stored("TASK_STATE_WORKING"), { ...base, caller })), -32004);
  assert.equal(code(() => messageRecord(message({ taskId: "t1", contextId: "other" }), stored("TASK_STATE_INPUT_REQUIRED"), { ...base, caller })), -32602);
});

test("messageRecord() checks another's task before its configs, so a bad config tells nothing about a task that is not the caller's", () => {
  const wrongTenant = { id: "h", taskId: "t1", url: "https://r.example/hook", tenant: "elsewhere" };
  const quotas = new Quotas({ maxConfigsPerTask: 1 });
  const existing = [{ id: "old", taskId: "t1", url: "https://r.example/old" }];
  assert.equal(code(() => messageRecord(message({ taskId: "t1" }), stored("TASK_STATE_INPUT_REQUIRED"), { ...base, caller: { principal: "bob" }, pushConfigs: [wrongTenant], existingConfigs: existing, quotas })), -32001);
  assert.equal(code(() => messageRecord(message({ taskId: "t1" }), stored("TASK_STATE_INPUT_REQUIRED"), { ...base, caller: { principal: "alice" }, pushConfigs: [wrongTenant] })), -32602);
  const fresh = { id: "h", taskId: "t1", url: "https://r.example/hook" };
  assert.equal(code(() => messageRecord(message({ taskId: "t1" }), stored("TASK_STATE_INPUT_REQUIRED"), { ...base, caller: { principal: "alice" }, pushConfigs: [fresh], existingConfigs: existing, quotas })), -32050);
});
