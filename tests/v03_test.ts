import assert from "node:assert/strict";
import { test } from "node:test";
import type { A2AError } from "../lib/errors.ts";
import type { AgentCard, Message, StreamResponse, Task } from "../lib/types.ts";
import { TASK_STATES } from "../lib/types.ts";
import {
  fromV03Message,
  fromV03PushConfig,
  fromV03SendParams,
  fromV03State,
  toV03Card,
  toV03Event,
  toV03Message,
  toV03PushConfig,
  toV03State,
  toV03Task,
} from "../lib/v03.ts";
import { rawPost, startScript, startTestReceiver, tempDir, waitFor } from "./helpers.ts";
import { V03, V10 } from "./wire_shape.ts";

test("toV03Task() turns the v1.0 form of each v0.3 spec task into the spec's example", () => {
  for (const name of ["taskInputRequired", "taskCompletedWithDataArtifact", "fileArtifactTask", "webhookTask"]) {
    assert.deepEqual(toV03Task(V10.fromV03[name] as Task), V03[name], name);
  }
});

test("toV03Event() gives the spec's stream events, with final: true on the completed status", () => {
  for (const name of ["streamTask", "streamArtifactUpdate", "streamStatusUpdateFinal"]) {
    assert.deepEqual(toV03Event(V10.fromV03[name] as StreamResponse), V03[name], name);
  }
  const working = { statusUpdate: { taskId: "t", contextId: "c", status: { state: "TASK_STATE_WORKING" as const, timestamp: "2025-01-01T00:00:00Z" } } };
  assert.equal(toV03Event(working).final, false);
  const asking = { statusUpdate: { ...working.statusUpdate, status: { ...working.statusUpdate.status, state: "TASK_STATE_INPUT_REQUIRED" as const } } };
  assert.equal(toV03Event(asking).final, true, "an interrupted state ends a v0.3 stream too");
  const message: Message = { messageId: "m", role: "ROLE_AGENT", parts: [{ text: "hi" }] };
  assert.deepEqual(toV03Event({ message }), { kind: "message", messageId: "m", role: "agent", parts: [{ kind: "text", text: "hi" }] });
});

test("fromV03Message() reads the spec's messages, file parts included, and toV03Message() gives them back", () => {
  assert.deepEqual(fromV03Message(V03.messageSendRequest.params.message), V10.fromV03.messageSendRequestMessage);
  const withFile = V03.streamTask.history[0];
  assert.deepEqual(fromV03Message(withFile), V10.fromV03.streamTask.task.history[0]);
  for (const message of [V03.messageSendRequest.params.message, withFile, V03.taskInputRequired.status.message]) {
    assert.deepEqual(toV03Message(fromV03Message(message) as unknown as Message), message);
  }
  // Liberal: no `kind`, the v1.0 role names, the spec example's own `data` spelling of file bytes.
  const loose = fromV03Message({ messageId: "m", role: "ROLE_USER", parts: [{ text: "a" }, { file: { data: "AAAA", name: "a.bin" } }] });
  assert.deepEqual(loose.parts, [{ text: "a" }, { raw: "AAAA", filename: "a.bin" }]);
});

test("toV03Message() gives v1.0 data that is not an object a v0.3 object to live in", () => {
  const message = toV03Message({ messageId: "m", role: "ROLE_AGENT", parts: [{ data: [1, 2] }, { data: { a: 1 }, metadata: { m: 1 } }] });
  assert.deepEqual(message.parts, [{ kind: "data", data: { value: [1, 2] } }, { kind: "data", data: { a: 1 }, metadata: { m: 1 } }]);
});

test("fromV03SendParams() maps blocking, the nested push config and its schemes to v1.0 params", () => {
  const params = fromV03SendParams(V03.messageSendParamsWithPush);
  assert.equal(params.protocolVersion, "0.3");
  assert.equal(params.message.role, "ROLE_USER");
  assert.equal(params.configuration?.returnImmediately, undefined, "v0.3 blocks unless told not to");
  // `schemes: ["Bearer"]` without credentials: the agent authenticates with its own Bearer JWT.
  assert.deepEqual(params.configuration?.taskPushNotificationConfig, { url: "https://client.example.com/webhook/a2a-notifications", token: "secure-client-token-for-task-aaa" });
  const nonBlocking = fromV03SendParams({ ...V03.messageSendParamsWithPush, configuration: { blocking: false, historyLength: 2 } });
  assert.deepEqual(nonBlocking.configuration, { returnImmediately: true, historyLength: 2 });
});

test("fromV03PushConfig() and toV03PushConfig() translate the nested config both ways", () => {
  const { pushNotificationConfig } = V03.pushNotificationConfigSetParams;
  assert.deepEqual(fromV03PushConfig(pushNotificationConfig, "pushNotificationConfig"), V10.fromV03.pushNotificationConfigSetParams);
  assert.deepEqual(toV03PushConfig(V10.fromV03.pushNotificationConfigResult), V03.pushNotificationConfigResult);
  const withScheme = toV03PushConfig({ ...V10.fromV03.pushNotificationConfigResult, authentication: { scheme: "Basic" } });
  assert.deepEqual(withScheme.pushNotificationConfig.authentication, { schemes: ["Basic"] });
});

test("toV03State() and fromV03State() map every state both ways", () => {
  for (const state of TASK_STATES) {
    const v03 = toV03State(state);
    assert.match(v03, /^[a-z]+(-[a-z]+)?$/);
    assert.equal(fromV03State(v03), state);
    assert.equal(fromV03State(state), state, "v1.0 names pass through");
  }
  assert.equal(toV03State("TASK_STATE_INPUT_REQUIRED"), "input-required");
  assert.equal(toV03State("TASK_STATE_UNSPECIFIED"), "unknown");
  assert.equal(fromV03State("unknown"), undefined);
  assert.equal(fromV03State("running"), undefined);
});

test("v0.3 input that v0.3 does not allow is refused with -32602 naming the v0.3 field", () => {
  const message = V03.messageSendRequest.params.message;
  const cases: Array<[string, () => unknown, RegExp]> = [
    ["a wrong role", () => fromV03Message({ ...message, role: "bot" }), /message\.role must be "user" or "agent"/],
    ["a file with bytes and uri", () => fromV03Message({ ...message, parts: [{ kind: "file", file: { bytes: "AA==", uri: "https://x" } }] }), /message\.parts\[0\]\.file must have exactly one of bytes, uri/],
    ["a non-boolean blocking", () => fromV03SendParams({ message, configuration: { blocking: "yes" } }), /configuration\.blocking must be a boolean/],
    ["schemes that are not a list", () => fromV03PushConfig({ url: "https://x", authentication: { schemes: "Bearer" } }, "config"), /config\.authentication\.schemes/],
    ["no message", () => fromV03SendParams({}), /message must be an object/],
    ["no parts", () => fromV03SendParams({ message: { ...message, parts: [] } }), /message\.parts must be a non-empty array/],
  ];
  for (const [name, call, pattern] of cases) {
    assert.throws(call, (error: A2AError) => error.code === -32602 && pattern.test(error.message), name);
  }
});

test("toV03Card() keeps the v1.0 card and adds the fields v0.3 clients read", () => {
  const card: AgentCard = {
    name: "a", description: "d", version: "1", capabilities: { extendedAgentCard: true }, defaultInputModes: [], defaultOutputModes: [], skills: [],
    supportedInterfaces: [
      { url: "http://h/", protocolBinding: "JSONRPC", protocolVersion: "1.0" },
      { url: "http://h", protocolBinding: "HTTP+JSON", protocolVersion: "1.0" },
    ],
  };
  const union = toV03Card(card);
  assert.deepEqual(union.supportedInterfaces, card.supportedInterfaces);
  assert.equal(union.protocolVersion, "0.3.0");
  assert.equal(union.url, "http://h/");
  assert.equal(union.preferredTransport, "JSONRPC");
  assert.deepEqual(union.additionalInterfaces, [{ url: "http://h/", transport: "JSONRPC" }]);
  assert.equal(union.supportsAuthenticatedExtendedCard, true);
});

test("the demo agent answers a v0.3 message/send with a v0.3 task and a v0.3 webhook", async () => {
  const receiver = await startTestReceiver();
  const agent = await startScript("scripts/long_running_agent.ts", ["--port", "0", "--data-dir", tempDir(), "--allow-private-webhooks", "--quiet", "--retry-schedule", "0,100ms"]);
  try {
    // No A2A-Version header: a v0.3 client as the v0.3 tutorials write them.
    const request = {
      jsonrpc: "2.0",
      id: "req-1",
      method: "message/send",
      params: {
        message: { kind: "message", role: "user", messageId: "m-1", parts: [{ kind: "data", data: { steps: 1, stepMs: 0 } }] },
        configuration: { pushNotificationConfig: { url: receiver.url, token: "tok-1" } },
      },
    };
    const { status, body } = await rawPost(`${agent.url}/`, JSON.stringify(request));
    assert.equal(status, 200);
    const task = body.result;
    assert.equal(task.kind, "task");
    assert.equal(task.status.state, "completed");
    assert.equal(task.artifacts[0].parts[0].kind, "text");
    assert.equal(task.history[0].role, "user");
    const last = await waitFor(() => receiver.seen.find((s) => JSON.parse(s.body).status?.state === "completed"), { what: "the completed v0.3 webhook" });
    const webhook = JSON.parse(last.body);
    assert.equal(webhook.kind, "task");
    assert.equal(webhook.id, task.id);
    assert.equal(webhook.artifacts[0].parts[0].kind, "text");
    assert.equal(last.headers["x-a2a-notification-token"], "tok-1");
    assert.ok(receiver.seen.every((s) => JSON.parse(s.body).kind === "task"), "every v0.3 webhook is a whole Task");
  } finally {
    await agent.kill();
    await receiver.close();
  }
});
