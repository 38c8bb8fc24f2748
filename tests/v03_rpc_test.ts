/**
 * isV03Method(), and callV03() called directly on an agent in this process: what the v0.3 methods
 * do beyond the translations of `v03_test.ts` and the wire round trips of `bindings_test.ts` (the
 * deprecated config forms, the card aliases, the methods it does not know).
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { Agent } from "../lib/agent.ts";
import type { AgentOptions } from "../lib/agent.ts";
import type { A2AError } from "../lib/errors.ts";
import { callV03, isV03Method } from "../lib/v03_rpc.ts";
import { tempDir } from "./helpers.ts";

const V03_METHODS = [
  "message/send", "message/stream", "tasks/get", "tasks/list", "tasks/cancel", "tasks/resubscribe",
  "tasks/pushNotificationConfig/set", "tasks/pushNotificationConfig/get", "tasks/pushNotificationConfig/list",
  "tasks/pushNotificationConfig/delete", "agent/getAuthenticatedExtendedCard", "agent/authenticatedExtendedCard",
];

const V03_MESSAGE = { kind: "message", messageId: "m1", role: "user", parts: [{ kind: "text", text: "hi" }] };

/** An agent with push allowed to loopback, open for the duration of `run`. */
async function withAgent(run: (agent: Agent) => Promise<void>, options: Partial<AgentOptions> = {}): Promise<void> {
  const agent = await Agent.open({ dataDir: tempDir(), handler: () => {}, warn: () => {}, push: { ssrf: { allowPrivate: true } }, ...options });
  try {
    await run(agent);
  } finally {
    await agent.close();
  }
}

const code = (expected: number, field?: string) => (error: A2AError) => error.code === expected && (field === undefined || error.details?.field === field);

test("isV03Method() is true for each v0.3 method and false for v1.0 names, near misses and prototype keys", () => {
  for (const method of V03_METHODS) assert.equal(isV03Method(method), true, method);
  for (const method of ["SendMessage", "GetTask", "message/Send", "tasks/get/", "/tasks/get", "tasks", "", "constructor", "__proto__", "hasOwnProperty"]) {
    assert.equal(isV03Method(method), false, method);
  }
});

test("callV03() refuses a method it does not serve with -32601, naming it cut to 100 characters", async () => {
  await withAgent(async (agent) => {
    await assert.rejects(callV03(agent, "GetTask", {}), (error: A2AError) => error.code === -32601 && error.details?.method === "GetTask");
    const long = `tasks/${"x".repeat(200)}`;
    await assert.rejects(callV03(agent, long, {}), (error: A2AError) => error.code === -32601 && error.details?.method === long.slice(0, 100));
  });
});

test("callV03() answers message/send and tasks/get in v0.3 shapes, and filters tasks/list by a v0.3 state", async () => {
  await withAgent(async (agent) => {
    const task = (await callV03(agent, "message/send", { message: V03_MESSAGE })) as { kind: string; id: string; status: { state: string } };
    assert.deepEqual([task.kind, task.status.state], ["task", "completed"]);
    assert.equal(((await callV03(agent, "tasks/get", { id: task.id })) as { status: { state: string } }).status.state, "completed");
    const list = (await callV03(agent, "tasks/list", { status: "completed" })) as { tasks: Array<{ id: string; kind: string }> };
    assert.deepEqual(list.tasks.map((t) => [t.id, t.kind]), [[task.id, "task"]]);
    assert.deepEqual(((await callV03(agent, "tasks/list", { status: "working" })) as { tasks: unknown[] }).tasks, []);
  });
});

test("callV03() tasks/pushNotificationConfig/get with only the task's id finds the config made without an id, else the first", async () => {
  await withAgent(async (agent) => {
    const { id: taskId } = (await callV03(agent, "message/send", { message: V03_MESSAGE })) as { id: string };
    await assert.rejects(callV03(agent, "tasks/pushNotificationConfig/get", { id: taskId }), code(-32602, "pushNotificationConfigId"));
    await callV03(agent, "tasks/pushNotificationConfig/set", { taskId, pushNotificationConfig: { id: "a-first", url: "http://127.0.0.1:9/a" } });
    const first = (await callV03(agent, "tasks/pushNotificationConfig/get", { id: taskId })) as { pushNotificationConfig: { id: string } };
    assert.equal(first.pushNotificationConfig.id, "a-first", "no config has the task's id: the first one");
    const made = (await callV03(agent, "tasks/pushNotificationConfig/set", { taskId, pushNotificationConfig: { url: "http://127.0.0.1:9/b" } })) as { pushNotificationConfig: { id: string } };
    assert.equal(made.pushNotificationConfig.id, taskId, "a v0.3 config without an id gets the task's");
    const found = (await callV03(agent, "tasks/pushNotificationConfig/get", { id: taskId })) as { taskId: string; pushNotificationConfig: { id: string; url: string } };
    assert.deepEqual([found.taskId, found.pushNotificationConfig.id, found.pushNotificationConfig.url], [taskId, taskId, "http://127.0.0.1:9/b"]);
    const named = (await callV03(agent, "tasks/pushNotificationConfig/get", { id: taskId, pushNotificationConfigId: "a-first" })) as { pushNotificationConfig: { url: string } };
    assert.equal(named.pushNotificationConfig.url, "http://127.0.0.1:9/a");
    assert.equal(((await callV03(agent, "tasks/pushNotificationConfig/list", { id: taskId })) as unknown[]).length, 2);
  });
});

test("callV03() tasks/pushNotificationConfig/delete needs the config's id, and answers null", async () => {
  await withAgent(async (agent) => {
    const { id: taskId } = (await callV03(agent, "message/send", { message: V03_MESSAGE })) as { id: string };
    await callV03(agent, "tasks/pushNotificationConfig/set", { taskId, pushNotificationConfig: { id: "c1", url: "http://127.0.0.1:9/a" } });
    await assert.rejects(callV03(agent, "tasks/pushNotificationConfig/delete", { id: taskId }), code(-32602, "pushNotificationConfigId"));
    await assert.rejects(callV03(agent, "tasks/pushNotificationConfig/delete", { pushNotificationConfigId: "c1" }), code(-32602, "id"));
    assert.equal(await callV03(agent, "tasks/pushNotificationConfig/delete", { id: taskId, pushNotificationConfigId: "c1" }), null);
    assert.deepEqual(await callV03(agent, "tasks/pushNotificationConfig/list", { id: taskId }), []);
  });
});

test("callV03() answers both extended card names with the v0.3 card, and -32003 to every config method without push", async () => {
  const extendedCard = { name: "Extended", description: "more", version: "1", supportedInterfaces: [], capabilities: {}, defaultInputModes: [], defaultOutputModes: [], skills: [] };
  await withAgent(async (agent) => {
    for (const method of ["agent/getAuthenticatedExtendedCard", "agent/authenticatedExtendedCard"]) {
      const card = (await callV03(agent, method, {})) as { name: string; protocolVersion: string };
      assert.deepEqual([card.name, card.protocolVersion], ["Extended", "0.3.0"], method);
    }
    for (const method of V03_METHODS.filter((m) => m.startsWith("tasks/pushNotificationConfig/"))) {
      await assert.rejects(callV03(agent, method, { id: "t", taskId: "t", pushNotificationConfigId: "c", pushNotificationConfig: { url: "http://127.0.0.1:9/" } }), code(-32003), method);
    }
  }, { push: false, extendedCard: extendedCard as AgentOptions["extendedCard"] & object });
});
