/**
 * One scenario (send with an inline webhook, stream, get, push config set/get/list/delete with its
 * webhook, cancel) driven through each protocol the agent speaks: A2A v1.0 over JSON-RPC, v0.3 over
 * the same JSON-RPC endpoint, and v1.0 over HTTP+JSON. Every answer and webhook is checked against
 * the spec's examples in tests/fixtures/.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AClient } from "../lib/client.ts";
import { readSseData } from "../lib/sse.ts";
import type { TaskContext } from "../lib/runner.ts";
import type { Task } from "../lib/types.ts";
import { verifyStandardWebhook } from "../lib/verify.ts";
import { TEST_PUSH, rawPost, startAgent, startTestReceiver, waitFor } from "./helpers.ts";
import type { TestAgent } from "./helpers.ts";
import { V03, V10, assertWireShape } from "./wire_shape.ts";

type Json = any;

/** The scenario's operations, as one binding spells them. */
interface Driver {
  send(data: Json, webhook: string): Promise<Json>;
  sendAndReturn(data: Json): Promise<string>;
  stream(data: Json): Promise<Json[]>;
  get(id: string): Promise<Json>;
  cancel(id: string): Promise<Json>;
  setConfig(taskId: string, url: string): Promise<Json>;
  getConfig(taskId: string, id: string): Promise<Json>;
  listConfigs(taskId: string): Promise<Json[]>;
  deleteConfig(taskId: string, id: string): Promise<void>;
}

/** What the binding's answers must look like: spec examples, and how to read them. */
interface Expect {
  sendResult: Json;
  taskOf(result: Json): Json;
  streamTask: Json;
  streamArtifact: Json;
  streamFinal: Json;
  isArtifact(event: Json): boolean;
  task: Json;
  pushConfig: Json;
  configIdOf(config: Json): string;
  webhookFirst: Json;
  webhookLast: Json;
  stateOf(body: Json): string | undefined;
  completed: string;
  canceled: string;
}

/**
 * A config example as a2a-push answers it: the spec's examples echo `token`, but a2a-push never
 * returns secrets (a receiver checking only the token would be forgeable by anyone reading configs).
 */
function withoutToken(example: Json): Json {
  const copy = structuredClone(example);
  delete copy.token;
  if (copy.pushNotificationConfig) delete copy.pushNotificationConfig.token;
  return copy;
}

/** Completes in one step with an artifact, or waits for a cancel when the data says `wait`. */
async function handler(_task: Task, ctx: TaskContext): Promise<void> {
  if ((ctx.message?.parts[0]?.data as { wait?: boolean } | undefined)?.wait) {
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    return;
  }
  await ctx.working("step 1/1");
  await ctx.addArtifact({ artifactId: "report", parts: [{ text: "done" }] }, { lastChunk: true });
}

const v10Expect: Expect = {
  sendResult: V10.sendMessageResponse,
  taskOf: (result) => result.task,
  streamTask: V10.streamTask,
  streamArtifact: V10.streamArtifactUpdate,
  streamFinal: V10.streamStatusUpdate,
  isArtifact: (event) => "artifactUpdate" in event,
  task: V10.sendMessageResponse.task,
  pushConfig: withoutToken(V10.taskPushNotificationConfig),
  configIdOf: (config) => config.id,
  webhookFirst: V10.streamTask,
  webhookLast: V10.webhookStatusUpdate,
  stateOf: (body) => body.task?.status.state ?? body.statusUpdate?.status.state,
  completed: "TASK_STATE_COMPLETED",
  canceled: "TASK_STATE_CANCELED",
};

const v03Expect: Expect = {
  sendResult: V03.webhookTask,
  taskOf: (result) => result,
  streamTask: V03.streamTask,
  streamArtifact: V03.streamArtifactUpdate,
  streamFinal: V03.streamStatusUpdateFinal,
  isArtifact: (event) => event.kind === "artifact-update",
  task: V03.webhookTask,
  pushConfig: withoutToken(V03.pushNotificationConfigResult),
  configIdOf: (config) => config.pushNotificationConfig.id,
  webhookFirst: V03.webhookTask,
  webhookLast: V03.webhookTask,
  stateOf: (body) => body.status?.state,
  completed: "completed",
  canceled: "canceled",
};

/** v1.0 over JSON-RPC or HTTP+JSON: our own client, chosen from the card. */
function clientDriver(client: A2AClient): Driver {
  const message = (data: Json) => ({ messageId: crypto.randomUUID(), role: "ROLE_USER" as const, parts: [{ data }] });
  return {
    send: (data, url) => client.sendMessage({ message: message(data), configuration: { taskPushNotificationConfig: { url, token: "tok" } } }),
    sendAndReturn: async (data) => (await client.sendMessage({ message: message(data), configuration: { returnImmediately: true } })).task.id,
    async stream(data) {
      const events: Json[] = [];
      for await (const event of client.sendStreamingMessage({ message: message(data) })) events.push(event);
      return events;
    },
    get: (id) => client.getTask({ id }),
    cancel: (id) => client.cancelTask({ id }),
    setConfig: (taskId, url) => client.createPushConfig({ taskId, id: "cfg-1", url, token: "tok" }),
    getConfig: (taskId, id) => client.getPushConfig({ taskId, id }),
    listConfigs: async (taskId) => (await client.listPushConfigs({ taskId })).configs,
    deleteConfig: (taskId, id) => client.deletePushConfig({ taskId, id }),
  };
}

/** v0.3 over JSON-RPC, as a v0.3 client sends it: raw JSON-RPC, no A2A-Version header. */
function v03Driver(url: string): Driver {
  const call = async (method: string, params: Json) => {
    const { status, body } = await rawPost(url, JSON.stringify({ jsonrpc: "2.0", id: crypto.randomUUID(), method, params }));
    assert.equal(status, 200);
    assert.equal(body.error, undefined, `${method}: ${JSON.stringify(body.error)}`);
    return body.result;
  };
  const message = (data: Json) => ({ kind: "message", messageId: crypto.randomUUID(), role: "user", parts: [{ kind: "data", data }] });
  return {
    send: (data, webhook) => call("message/send", { message: message(data), configuration: { pushNotificationConfig: { url: webhook, token: "tok" } } }),
    sendAndReturn: async (data) => (await call("message/send", { message: message(data), configuration: { blocking: false } })).id,
    async stream(data) {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "message/stream", params: { message: message(data) } });
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
      assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
      const events: Json[] = [];
      for await (const data of readSseData(response.body!)) {
        const rpc = JSON.parse(data);
        assert.equal(rpc.id, 7);
        events.push(rpc.result);
      }
      return events;
    },
    get: (id) => call("tasks/get", { id }),
    cancel: (id) => call("tasks/cancel", { id }),
    setConfig: (taskId, webhook) => call("tasks/pushNotificationConfig/set", { taskId, pushNotificationConfig: { id: "cfg-1", url: webhook, token: "tok" } }),
    getConfig: (id, configId) => call("tasks/pushNotificationConfig/get", { id, pushNotificationConfigId: configId }),
    listConfigs: (id) => call("tasks/pushNotificationConfig/list", { id }),
    deleteConfig: async (id, configId) => assert.equal(await call("tasks/pushNotificationConfig/delete", { id, pushNotificationConfigId: configId }), null),
  };
}

async function scenario(driver: Driver, expect: Expect, name: string, t: TestAgent): Promise<void> {
  const receiver = await startTestReceiver();
  try {
    // 1. SendMessage, blocking, with an inline webhook.
    const sent = await driver.send({}, `${receiver.url}?config=inline`);
    assertWireShape(sent, expect.sendResult, `${name} send`);
    const task = expect.taskOf(sent);
    assert.equal(task.status.state, expect.completed);
    assert.equal(task.artifacts[0].parts[0].text, "done");

    // 2. Streaming: the Task first, then updates, the last one final.
    const events = await driver.stream({});
    assertWireShape(events[0], expect.streamTask, `${name} stream[0]`);
    assertWireShape(events.find(expect.isArtifact), expect.streamArtifact, `${name} stream artifact`);
    assertWireShape(events.at(-1), expect.streamFinal, `${name} stream end`);

    // 3. GetTask.
    const got = await driver.get(task.id);
    assertWireShape(got, expect.task, `${name} get`);
    assert.equal(got.id, task.id);

    // 4. Push config set, get, list, delete on a task that waits; its first webhook is the task.
    const waiting = await driver.sendAndReturn({ wait: true });
    const created = await driver.setConfig(waiting, `${receiver.url}?config=managed`);
    assertWireShape(created, expect.pushConfig, `${name} set`);
    assert.equal(expect.configIdOf(created), "cfg-1");
    assertWireShape(await driver.getConfig(waiting, "cfg-1"), expect.pushConfig, `${name} get config`);
    const listed = await driver.listConfigs(waiting);
    assert.deepEqual(listed.map(expect.configIdOf), ["cfg-1"]);
    assertWireShape(listed, [expect.pushConfig], `${name} list`);
    const first = await waitFor(() => receiver.seen.find((s) => s.path.endsWith("config=managed")), { what: `${name}: the managed config's first webhook` });
    assertWireShape(JSON.parse(first.body), expect.webhookFirst, `${name} webhook of the new config`);
    await driver.deleteConfig(waiting, "cfg-1");
    await driver.deleteConfig(waiting, "cfg-1"); // Idempotent.
    assert.deepEqual(await driver.listConfigs(waiting), []);

    // 5. CancelTask.
    const canceled = await driver.cancel(waiting);
    assert.equal(canceled.status.state, expect.canceled);

    // 6. The inline webhook got the whole story, signed the same way whatever the version.
    const inline = await waitFor(() => {
      const seen = receiver.seen.filter((s) => s.path.endsWith("config=inline"));
      return seen.some((s) => expect.stateOf(JSON.parse(s.body)) === expect.completed) && seen;
    }, { what: `${name}: the inline config's completed webhook` });
    const bodies = inline.map((s) => JSON.parse(s.body));
    assertWireShape(bodies[0], expect.webhookFirst, `${name} first inline webhook`);
    assertWireShape(bodies.at(-1), expect.webhookLast, `${name} last inline webhook`);
    for (const seen of [...inline, first]) {
      assert.equal(seen.headers["content-type"], "application/a2a+json");
      assert.equal(seen.headers["x-a2a-notification-token"], "tok");
      assert.ok(verifyStandardWebhook(seen.headers, seen.body, [TEST_PUSH.secrets]).id);
      assert.match(String(seen.headers.authorization), /^Bearer ey/, "the agent's JWT");
    }
    assert.equal(receiver.seen.filter((s) => s.path.endsWith("config=managed")).length, 1, "nothing after the delete");
  } finally {
    await receiver.close();
  }
}

test("the scenario round-trips over A2A v1.0 JSON-RPC with the spec's shapes", async () => {
  const t = await startAgent({ handler, push: TEST_PUSH });
  try {
    const client = await A2AClient.fromCardUrl(t.url);
    assert.equal(client.binding, "JSONRPC", "JSON-RPC is the card's first interface");
    await scenario(clientDriver(client), v10Expect, "v1.0 JSON-RPC", t);
  } finally {
    await t.close();
  }
});

test("the scenario round-trips over A2A v0.3 JSON-RPC with the v0.3 spec's shapes and v0.3 webhooks", async () => {
  const t = await startAgent({ handler, push: TEST_PUSH });
  try {
    await scenario(v03Driver(`${t.url}/`), v03Expect, "v0.3 JSON-RPC", t);
  } finally {
    await t.close();
  }
});

test("the scenario round-trips over A2A v1.0 HTTP+JSON with the spec's shapes", async () => {
  const t = await startAgent({ handler, push: TEST_PUSH });
  try {
    const client = await A2AClient.fromCardUrl(t.url, { binding: "HTTP+JSON" });
    assert.equal(client.binding, "HTTP+JSON");
    assert.equal(client.url, t.url);
    await scenario(clientDriver(client), v10Expect, "HTTP+JSON", t);
  } finally {
    await t.close();
  }
});

test("v1.0 and v0.3 configs on one task each get their own webhook bodies", async () => {
  const receiver = await startTestReceiver();
  const t = await startAgent({ handler, push: TEST_PUSH });
  try {
    const { task } = await t.client.sendMessage({ message: { messageId: "m", role: "ROLE_USER", parts: [{ data: { wait: true } }] }, configuration: { returnImmediately: true, taskPushNotificationConfig: { url: `${receiver.url}?v=1` } } });
    await rawPost(`${t.url}/`, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/pushNotificationConfig/set", params: { taskId: task.id, pushNotificationConfig: { url: `${receiver.url}?v=03` } } }));
    await t.client.cancelTask({ id: task.id });
    const bodies = await waitFor(() => {
      const done = (v: string) => receiver.seen.filter((s) => s.path.endsWith(`v=${v}`)).map((s) => JSON.parse(s.body));
      const [v1, v03] = [done("1"), done("03")];
      return v1.some((b) => b.statusUpdate?.status.state === "TASK_STATE_CANCELED") && v03.some((b) => b.status?.state === "canceled") && { v1, v03 };
    }, { what: "both configs' canceled webhooks" });
    assert.ok(bodies.v1.every((b) => "task" in b || "statusUpdate" in b), "v1.0: StreamResponse bodies");
    assert.ok(bodies.v03.every((b) => b.kind === "task" && b.id === task.id), "v0.3: whole Tasks");
    // The v0.3 config made without an id takes the task's, so the deprecated get-by-task finds it.
    const got = await rawPost(`${t.url}/`, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tasks/pushNotificationConfig/get", params: { id: task.id } }));
    assert.equal(got.body.result.pushNotificationConfig.id, task.id);
    // And a v1.0 Get of the same config shows no trace of the version marker.
    const v1 = await t.client.getPushConfig({ taskId: task.id, id: task.id });
    assert.deepEqual(Object.keys(v1).sort(), ["id", "taskId", "url"]);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("A2A-Version picks nothing but errors: an unknown version gets -32009, v1.0 names work without it", async () => {
  const t = await startAgent({ handler });
  const url = `${t.url}/`;
  const send = (method: string, message: Json) => JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { message } });
  const v03Message = { kind: "message", messageId: "m1", role: "user", parts: [{ kind: "text", text: "hi" }] };
  const v1Message = { messageId: "m2", role: "ROLE_USER", parts: [{ text: "hi" }] };
  try {
    for (const version of ["9.9", "0.2", "2.0"]) {
      for (const [method, message] of [["message/send", v03Message], ["SendMessage", v1Message]] as const) {
        const { body } = await rawPost(url, send(method, message), { "A2A-Version": version });
        assert.equal(body.error?.code, -32009, `${method} with ${version}`);
      }
    }
    for (const version of [undefined, "", "0.3", "1.0"]) {
      const headers: Record<string, string> = version === undefined ? {} : { "A2A-Version": version };
      const v03 = await rawPost(url, send("message/send", v03Message), headers);
      assert.equal(v03.body.result.kind, "task", `message/send with ${version}`);
      const v1 = await rawPost(url, send("SendMessage", v1Message), headers);
      assert.equal(v1.body.result.task.status.state, "TASK_STATE_COMPLETED", `SendMessage with ${version}`);
    }
    const card = await (await fetch(`${t.url}/.well-known/agent-card.json`)).json();
    assert.deepEqual(card.supportedInterfaces.map((i: Json) => `${i.protocolBinding} ${i.protocolVersion}`), ["JSONRPC 1.0", "HTTP+JSON 1.0", "JSONRPC 0.3"]);
    assert.equal(card.url, url, "v0.3 clients read url");
    assert.equal(card.preferredTransport, "JSONRPC");
    const unknown = await rawPost(url, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/explode", params: {} }));
    assert.equal(unknown.body.error.code, -32601);
    for (const [method, params] of [["GetTask", { id: "nope" }], ["tasks/get", { id: "nope" }]] as const) {
      const { body } = await rawPost(url, JSON.stringify({ jsonrpc: "2.0", id: 2, method, params }));
      assertWireShape(body, V10.jsonRpcTaskNotFound, `${method} of an unknown task`);
    }
  } finally {
    await t.close();
  }
});

test("v0.3 resubscribe, list and errors keep v0.3 shapes", async () => {
  const t = await startAgent({ handler, push: false });
  const url = `${t.url}/`;
  const call = async (method: string, params: Json) => (await rawPost(url, JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }))).body;
  try {
    const waiting = (await call("message/send", { message: { kind: "message", messageId: "w", role: "user", parts: [{ kind: "data", data: { wait: true } }] }, configuration: { blocking: false } })).result;
    assert.equal(waiting.status.state, "submitted");
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tasks/resubscribe", params: { id: waiting.id } }) });
    const events = readSseData(response.body!)[Symbol.asyncIterator]();
    const firstEvent = JSON.parse((await events.next()).value).result;
    assert.equal(firstEvent.kind, "task");
    await call("tasks/cancel", { id: waiting.id });
    const rest: Json[] = [];
    for (let next = await events.next(); !next.done; next = await events.next()) rest.push(JSON.parse(next.value).result);
    assert.deepEqual(rest.map((e) => [e.kind, e.status?.state, e.final]).at(-1), ["status-update", "canceled", true]);

    const list = (await call("tasks/list", { status: "canceled" })).result;
    assert.deepEqual(list.tasks.map((task: Json) => [task.kind, task.id]), [["task", waiting.id]]);
    assert.equal((await call("tasks/get", { id: "nope" })).error.code, -32001);
    assert.equal((await call("tasks/cancel", { id: waiting.id })).error.code, -32002);
    assert.equal((await call("tasks/resubscribe", { id: waiting.id })).error.code, -32004);
    assert.equal((await call("tasks/pushNotificationConfig/set", { taskId: waiting.id, pushNotificationConfig: { url: "https://example.com" } })).error.code, -32003);
    assert.equal((await call("tasks/pushNotificationConfig/list", { id: waiting.id })).error.code, -32003);
    assert.equal((await call("agent/getAuthenticatedExtendedCard", {})).error.code, -32004);
    assert.match((await call("message/send", { message: { kind: "message", messageId: "x", role: "robot", parts: [] } })).error.message, /message\.role must be "user" or "agent"/);
  } finally {
    await t.close();
  }
});
