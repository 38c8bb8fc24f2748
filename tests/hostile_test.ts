/**
 * Hostile input against the agent, its push config methods and the webhook receiver: wrong types in
 * every method's params, deep nesting, huge values, invalid UTF-8, batches, slow-loris clients,
 * connection floods, every SSRF spelling and header injection, and hostile webhooks. Each gets a
 * clear error, the process keeps serving, memory stays bounded and the journals reload unharmed.
 * The basic bad-input list lives in server_test.ts and receiver_test.ts; this goes beyond it.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import type { Server } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { Agent } from "../lib/agent.ts";
import { WebhookReceiver } from "../lib/receiver.ts";
import { createAgentServer } from "../lib/server.ts";
import { decodeSecret, signStandardWebhook } from "../lib/signing.ts";
import type { ResolverFunction } from "../lib/ssrf.ts";
import { rawPost, startAgent, tempDir, userMessage } from "./helpers.ts";
import type { TestAgent } from "./helpers.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MiB = 1024 * 1024;

const rpc = (method: string, params: unknown, id: unknown = 1) => JSON.stringify({ jsonrpc: "2.0", id, method, params });

/** DNS for the SSRF guard, without the network: names map to what a hostile resolver would say. */
const resolver: ResolverFunction = async (host) => {
  const answers: Record<string, string[]> = {
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "metadata.google.internal": ["169.254.169.254"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "internal.example": ["10.1.2.3"],
    "v6.example": ["::1"],
  };
  const addresses = answers[host.toLowerCase()];
  if (!addresses) throw new Error(`no such host ${host}`);
  return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};

/** Starts an agent that logs unexpected errors into `logged` instead of the console. */
async function hostileAgent(options: Partial<Parameters<typeof startAgent>[0]> = {}) {
  const logged: unknown[] = [];
  const t = await startAgent({ handler: () => {}, ...options }, { logError: (error) => logged.push(error) });
  return { ...t, logged };
}

/** The tasks as a fresh agent reads them back from the journal: id → state. */
async function reloadTasks(dataDir: string): Promise<Map<string, string>> {
  const agent = await Agent.open({ dataDir, handler: () => {}, warn: () => {}, push: false });
  try {
    return new Map([...agent.store.all()].map(({ task }) => [task.id, task.status.state]));
  } finally {
    await agent.close();
  }
}

/** The tasks an open agent holds now: id → state. */
function liveTasks(t: TestAgent): Map<string, string> {
  return new Map([...t.agent.store.all()].map(({ task }) => [task.id, task.status.state]));
}

/**
 * Sends raw bytes on a fresh TCP connection and collects what comes back until the server closes
 * it; fails if the server has not closed it within `timeoutMs`.
 */
function rawExchange(port: number, payload: string | Uint8Array, options: { end?: boolean; timeoutMs?: number } = {}): Promise<string> {
  const { end = true, timeoutMs = 10_000 } = options;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => (end ? socket.end(payload) : socket.write(payload)));
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`The server kept the connection open for ${timeoutMs} ms; it answered ${JSON.stringify(received.slice(0, 100))}`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on("error", reject);
  });
}

/** One request on its own connection (no pooling), for floods. */
function postOnNewConnection(url: string, body: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function assertRpcError(response: { status: number; body: any }, code: number, what: string): void {
  assert.equal(response.status, 200, `${what}: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
  assert.equal(response.body?.jsonrpc, "2.0", what);
  assert.equal(response.body?.error?.code, code, `${what}: ${JSON.stringify(response.body).slice(0, 300)}`);
  assert.equal(typeof response.body.error.message, "string", what);
}

test("every method refuses a wrong type in each of its params with -32602 naming the field, and stores nothing", async () => {
  const t = await hostileAgent({ push: { ssrf: { allowPrivate: true }, resolver } });
  const url = `${t.url}/`;
  const { task } = await t.client.sendMessage({ message: userMessage({}) });
  const okMessage = userMessage({});
  const withMessage = (patch: Record<string, unknown>) => ({ message: { ...okMessage, ...patch } });
  const withPart = (part: unknown) => withMessage({ parts: [part] });
  const withConfig = (patch: Record<string, unknown>) => ({ message: okMessage, configuration: patch });
  const sendCases: Array<[params: unknown, field: string]> = [
    ["a string", "params"], [42, "params"], [[okMessage], "params"], [true, "params"],
    [{}, "message"], [{ message: "hi" }, "message"], [{ message: [okMessage] }, "message"],
    [withMessage({ messageId: 7 }), "message.messageId"], [withMessage({ messageId: "" }), "message.messageId"],
    [withMessage({ messageId: "m".repeat(257) }), "message.messageId"], [withMessage({ messageId: {} }), "message.messageId"],
    [withMessage({ role: 1 }), "message.role"], [withMessage({ role: "user" }), "message.role"], [withMessage({ role: null }), "message.role"],
    [withMessage({ parts: {} }), "message.parts"], [withMessage({ parts: "text" }), "message.parts"], [withMessage({ parts: [] }), "message.parts"],
    [withMessage({ parts: Array.from({ length: 1001 }, () => ({ text: "" })) }), "message.parts"],
    [withPart("text"), "message.parts[0]"], [withPart(null), "message.parts[0]"], [withPart({}), "message.parts[0]"],
    [withPart({ text: "a", data: 1 }), "message.parts[0]"], [withPart({ text: 5 }), "message.parts[0].text"],
    [withPart({ raw: "not base64!" }), "message.parts[0].raw"], [withPart({ raw: 5 }), "message.parts[0].raw"],
    [withPart({ url: 5 }), "message.parts[0].url"], [withPart({ url: "u".repeat(8193) }), "message.parts[0].url"],
    [withPart({ text: "a", metadata: [] }), "message.parts[0].metadata"], [withPart({ text: "a", metadata: "x" }), "message.parts[0].metadata"],
    [withPart({ text: "a", filename: 5 }), "message.parts[0].filename"], [withPart({ text: "a", mediaType: ["text/plain"] }), "message.parts[0].mediaType"],
    [withMessage({ contextId: 5 }), "message.contextId"], [withMessage({ taskId: [] }), "message.taskId"],
    [withMessage({ taskId: "t".repeat(257) }), "message.taskId"], [withMessage({ metadata: [1] }), "message.metadata"],
    [withMessage({ extensions: "x" }), "message.extensions"], [withMessage({ extensions: [1] }), "message.extensions"],
    [withMessage({ referenceTaskIds: [null] }), "message.referenceTaskIds"],
    [{ message: okMessage, configuration: "fast" }, "configuration"],
    [withConfig({ acceptedOutputModes: "text/plain" }), "configuration.acceptedOutputModes"],
    [withConfig({ historyLength: -1 }), "configuration.historyLength"], [withConfig({ historyLength: 1.5 }), "configuration.historyLength"],
    [withConfig({ historyLength: "5" }), "configuration.historyLength"], [withConfig({ historyLength: 2 ** 31 }), "configuration.historyLength"],
    [withConfig({ returnImmediately: "true" }), "configuration.returnImmediately"],
    [withConfig({ taskPushNotificationConfig: "http://127.0.0.1:9/hook" }), "configuration.taskPushNotificationConfig"],
    [withConfig({ taskPushNotificationConfig: {} }), "configuration.taskPushNotificationConfig.url"],
    [withConfig({ taskPushNotificationConfig: { url: 5 } }), "configuration.taskPushNotificationConfig.url"],
    [{ message: okMessage, metadata: "x" }, "metadata"], [{ message: okMessage, metadata: [] }, "metadata"],
    // snake_case spellings are read too, and checked the same way.
    [{ message: { ...okMessage, messageId: undefined, message_id: 5 } }, "message.messageId"],
  ];
  const cases: Array<[method: string, params: unknown, field: string]> = [
    ...sendCases.map(([params, field]) => ["SendMessage", params, field] as [string, unknown, string]),
    ...sendCases.map(([params, field]) => ["SendStreamingMessage", params, field] as [string, unknown, string]),
    ...["GetTask", "CancelTask", "SubscribeToTask"].flatMap((method): Array<[string, unknown, string]> => [
      [method, undefined, "params"], [method, "id", "params"], [method, [task.id], "params"], [method, {}, "id"],
      [method, { id: 5 }, "id"], [method, { id: "" }, "id"], [method, { id: null }, "id"], [method, { id: "i".repeat(257) }, "id"],
      [method, { id: task.id, historyLength: -1 }, "historyLength"], [method, { id: task.id, historyLength: "1" }, "historyLength"],
    ]),
    ["ListTasks", "all", "params"], ["ListTasks", [], "params"], ["ListTasks", { contextId: 1 }, "contextId"],
    ["ListTasks", { status: "DONE" }, "status"], ["ListTasks", { status: 5 }, "status"], ["ListTasks", { pageSize: 0 }, "pageSize"],
    ["ListTasks", { pageSize: 101 }, "pageSize"], ["ListTasks", { pageSize: "10" }, "pageSize"], ["ListTasks", { pageToken: 5 }, "pageToken"],
    ["ListTasks", { pageToken: "forged-token" }, "pageToken"], ["ListTasks", { pageToken: Buffer.from("[1,2]").toString("base64url") }, "pageToken"],
    ["ListTasks", { historyLength: -1 }, "historyLength"], ["ListTasks", { statusTimestampAfter: "yesterday" }, "statusTimestampAfter"],
    ["ListTasks", { statusTimestampAfter: 5 }, "statusTimestampAfter"], ["ListTasks", { includeArtifacts: "yes" }, "includeArtifacts"],
    ["CreateTaskPushNotificationConfig", "http://127.0.0.1:9/hook", "params"], ["CreateTaskPushNotificationConfig", { taskId: task.id }, "url"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: 5 }, "url"], ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "not a url" }, "url"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: `http://127.0.0.1:9/${"p".repeat(2048)}` }, "url"],
    ["CreateTaskPushNotificationConfig", { url: "http://127.0.0.1:9/hook" }, "taskId"], ["CreateTaskPushNotificationConfig", { taskId: 5, url: "http://127.0.0.1:9/hook" }, "taskId"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "http://127.0.0.1:9/hook", id: 5 }, "id"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "http://127.0.0.1:9/hook", token: 5 }, "token"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "http://127.0.0.1:9/hook", authentication: "Bearer" }, "authentication"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "http://127.0.0.1:9/hook", authentication: {} }, "authentication.scheme"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "http://127.0.0.1:9/hook", authentication: { scheme: 5 } }, "authentication.scheme"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "http://127.0.0.1:9/hook", authentication: { scheme: "Bearer", credentials: 5 } }, "authentication.credentials"],
    ["CreateTaskPushNotificationConfig", { taskId: task.id, url: "http://127.0.0.1:9/hook", tenant: 5 }, "tenant"],
    ["GetTaskPushNotificationConfig", null, "params"], ["GetTaskPushNotificationConfig", { id: "c" }, "taskId"],
    ["GetTaskPushNotificationConfig", { taskId: task.id }, "pushNotificationConfigId"], ["GetTaskPushNotificationConfig", { taskId: task.id, id: 5 }, "id"],
    ["GetTaskPushNotificationConfig", { taskId: task.id, id: "" }, "id"],
    ["ListTaskPushNotificationConfigs", [], "params"], ["ListTaskPushNotificationConfigs", {}, "taskId"],
    ["ListTaskPushNotificationConfigs", { taskId: task.id, pageSize: 0 }, "pageSize"], ["ListTaskPushNotificationConfigs", { taskId: task.id, pageSize: "1" }, "pageSize"],
    ["ListTaskPushNotificationConfigs", { taskId: task.id, pageToken: 5 }, "pageToken"],
    ["DeleteTaskPushNotificationConfig", 5, "params"], ["DeleteTaskPushNotificationConfig", { id: "c" }, "taskId"],
    ["DeleteTaskPushNotificationConfig", { taskId: task.id, id: 5 }, "id"],
  ];
  try {
    const recordsBefore = t.agent.journal!.recordCount;
    for (const [method, params, field] of cases) {
      const what = `${method} ${JSON.stringify(params)?.slice(0, 120)}`;
      const response = await rawPost(url, rpc(method, params));
      assertRpcError(response, -32602, what);
      assert.equal(response.body.error.data[0].metadata?.field, field, `${what}: ${response.body.error.message}`);
      assert.match(response.body.error.message, /^Invalid params: /, what);
    }
    assert.equal(t.agent.journal!.recordCount, recordsBefore, "refused requests journal nothing");
    assert.deepEqual([...liveTasks(t).keys()], [task.id]);
    assert.deepEqual((await t.client.listPushConfigs({ taskId: task.id })).configs, []);
    assert.deepEqual(t.logged, [], "bad params are the client's error, never an internal one");
  } finally {
    await t.close();
  }
  assert.deepEqual(await reloadTasks(t.dataDir), new Map([[task.id, "TASK_STATE_COMPLETED"]]));
});

test("unknown fields anywhere in a request are ignored and never stored", async () => {
  const t = await hostileAgent();
  const marker = "UNKNOWN-FIELD-7f3a";
  try {
    const params = {
      message: { ...userMessage({ keep: "data" }), [marker]: 1, parts: [{ data: { keep: "data" }, [marker]: 2 }] },
      configuration: { [marker]: 3, returnImmediately: false },
      [marker]: { deep: [marker] },
    };
    const response = await rawPost(`${t.url}/`, JSON.stringify({ jsonrpc: "2.0", id: "u1", method: "SendMessage", params, [marker]: true }));
    assert.equal(response.body.id, "u1");
    const task = response.body.result.task;
    assert.equal(task.status.state, "TASK_STATE_COMPLETED");
    assert.ok(!JSON.stringify(await t.client.getTask({ id: task.id })).includes(marker));
    assert.deepEqual(task.history[0].parts, [{ data: { keep: "data" } }]);
  } finally {
    await t.close();
  }
  assert.ok(!readFileSync(join(t.dataDir, "journal.jsonl"), "utf8").includes(marker), "the journal holds no unknown field");
});

test("deep nesting is refused with -32602 in data and metadata, ignored elsewhere, and never crashes the agent", async () => {
  const t = await hostileAgent();
  const url = `${t.url}/`;
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  const send = (inner: string, where: "data" | "metadata" | "part metadata" | "unknown") => {
    const part = where === "data" ? `{"data":${inner}}` : where === "part metadata" ? `{"text":"x","metadata":{"m":${inner}}}` : `{"text":"x"}`;
    const extra = where === "metadata" ? `,"metadata":{"m":${inner}}` : where === "unknown" ? `,"ignored":${inner}` : "";
    return `{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[${part}]}${extra}}}`;
  };
  try {
    for (const depth of [101, 5_000, 100_000, 400_000]) {
      for (const where of ["data", "metadata", "part metadata"] as const) {
        const response = await rawPost(url, send(nested(depth), where));
        assertRpcError(response, -32602, `${where} nested ${depth} deep`);
        assert.match(response.body.error.message, /nested at most 100 levels deep/);
      }
      const ignored = await rawPost(url, send(nested(depth), "unknown"));
      assert.equal(ignored.body.result?.task?.status?.state, "TASK_STATE_COMPLETED", `an unknown field nested ${depth} deep is ignored`);
      assertRpcError(await rawPost(url, `{"jsonrpc":"2.0","id":${nested(depth)},"method":"GetTask","params":{}}`), -32600, `an id nested ${depth} deep`);
      assertRpcError(await rawPost(url, `{"jsonrpc":"2.0","id":1,"method":"GetTask","params":${nested(depth)}}`), -32602, `params nested ${depth} deep`);
      assertRpcError(await rawPost(url, nested(depth)), -32600, `a batch nested ${depth} deep`);
      assertRpcError(await rawPost(url, "[".repeat(depth)), -32700, `${depth} unclosed brackets`);
    }
    // Exactly at the limit is accepted, and journaled.
    const atLimit = await rawPost(url, send(nested(99), "data"));
    assert.equal(atLimit.body.result?.task?.status?.state, "TASK_STATE_COMPLETED", JSON.stringify(atLimit.body).slice(0, 300));
    assert.deepEqual(t.logged, []);
  } finally {
    await t.close();
  }
  const reloaded = await reloadTasks(t.dataDir);
  assert.equal(reloaded.size, 5, "4 tasks with ignored nesting and 1 at the limit, nothing else");
});

test("huge strings and arrays get a clear answer within the body limit, and the agent keeps serving", async () => {
  const t = await hostileAgent();
  const url = `${t.url}/`;
  const almostMiB = MiB - 4096;
  try {
    const bigText = await rawPost(url, rpc("SendMessage", { message: { ...userMessage({}), parts: [{ text: "é".repeat(almostMiB / 2 - 200) }] } }));
    assert.equal(bigText.body.result?.task?.status?.state, "TASK_STATE_COMPLETED", "a text part near 1 MiB is a valid message");
    assertRpcError(await rawPost(url, rpc("GetTask", { id: "i".repeat(almostMiB) })), -32602, "a huge task id");
    assertRpcError(await rawPost(url, rpc("SendMessage", { message: { ...userMessage({}), messageId: "m".repeat(almostMiB) } })), -32602, "a huge messageId");
    assertRpcError(await rawPost(url, rpc("SendMessage", Array.from({ length: 200_000 }, () => 0))), -32602, "a 200,000-element params array");
    assertRpcError(await rawPost(url, rpc("SendMessage", { message: { ...userMessage({}), parts: Array.from({ length: 50_000 }, () => ({ text: "" })) } })), -32602, "50,000 parts");
    const longMethod = await rawPost(url, rpc("M".repeat(almostMiB), {}));
    assertRpcError(longMethod, -32601, "a huge method name");
    assert.ok(longMethod.body.error.message.length < 200, "the answer does not echo a huge method name");
    assertRpcError(await rawPost(url, rpc("GetTask", { id: "nope" }, "i".repeat(almostMiB))), -32001, "a huge request id");
    assertRpcError(await rawPost(url, `{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"${"\\u0000".repeat(100_000)}"}}`), -32602, "an id of escaped NULs");
    const many = await rawPost(url, rpc("SendMessage", { message: { ...userMessage({}), extensions: Array.from({ length: 50_000 }, (_, i) => `e${i}`) }, configuration: { returnImmediately: true } }));
    assert.equal(typeof many.body.result?.task?.id, "string", "a long string array within the limit is accepted");
    // A body declared far over the limit is refused at once, before a byte of it is sent.
    const refused = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: "POST", headers: { "content-type": "application/json", "content-length": String(10 * 1024 * MiB) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on("error", (error) => (error.message.includes("socket hang up") ? undefined : reject(error)));
      req.flushHeaders();
    });
    assert.equal(refused, 413);
    assert.equal((await t.client.listTasks({})).totalSize, 2);
    assert.deepEqual(t.logged, []);
  } finally {
    await t.close();
  }
  assert.equal((await reloadTasks(t.dataDir)).size, 2);
});

test("invalid UTF-8 anywhere in a body is refused with -32700; lone surrogate escapes round-trip through the journal", async () => {
  const t = await hostileAgent();
  const url = `${t.url}/`;
  const wrap = (bytes: number[]) => {
    const before = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"');
    return new Uint8Array([...before, ...bytes, ...Buffer.from('"}]}}}')]);
  };
  const invalid: Array<[string, number[]]> = [
    ["an overlong slash", [0xc0, 0xaf]], ["an overlong NUL", [0xc0, 0x80]], ["a UTF-8-encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a lone continuation byte", [0x80]], ["a truncated three-byte sequence", [0xe2, 0x82]], ["a code point over U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["the byte 0xFF", [0xff]], ["a five-byte form", [0xf8, 0x88, 0x80, 0x80, 0x80]], ["Latin-1 é", [0xe9]],
  ];
  try {
    for (const [name, bytes] of invalid) assertRpcError(await rawPost(url, wrap(bytes)), -32700, name);
    assertRpcError(await rawPost(url, new Uint8Array([...Buffer.from('{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}'), 0xe2])), -32700, "a truncated sequence after the JSON");
    assertRpcError(await rawPost(url, new Uint8Array([0xfe, 0xff, 0x00, 0x7b])), -32700, "a UTF-16 byte order mark");
    const bom = await rawPost(url, new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from(rpc("ListTasks", {}))]));
    assert.equal(bom.body.result?.totalSize, 0, "a UTF-8 byte order mark is allowed");
    const odd = "\ud800 \udfff \u0000 \u2028 \ufeff 😀";
    const { task } = await t.client.sendMessage({ message: { ...userMessage({}), parts: [{ text: odd }] } });
    assert.equal((await t.client.getTask({ id: task.id })).history![0]!.parts[0]!.text, odd);
    assert.deepEqual(t.logged, []);
  } finally {
    await t.close();
  }
  const reopened = await Agent.open({ dataDir: t.dataDir, handler: () => {}, warn: () => {}, push: false });
  try {
    assert.equal([...reopened.store.all()][0]!.task.history![0]!.parts[0]!.text, "\ud800 \udfff \u0000 \u2028 \ufeff 😀");
  } finally {
    await reopened.close();
  }
});

test("JSON-RPC batches, notifications and odd ids each get one JSON-RPC answer", async () => {
  const t = await hostileAgent();
  const url = `${t.url}/`;
  try {
    for (const body of ["[]", `[${rpc("ListTasks", {})},${rpc("ListTasks", {})}]`, "[[[]]]", "[1,2,3]", `[${rpc("SendMessage", { message: userMessage({}) })}]`]) {
      assertRpcError(await rawPost(url, body), -32600, `batch ${body.slice(0, 40)}`);
    }
    for (const id of [true, false, {}, [1], { id: 1 }]) {
      const response = await rawPost(url, rpc("ListTasks", {}, id));
      assertRpcError(response, -32600, `id ${JSON.stringify(id)}`);
      assert.equal(response.body.id, null);
    }
    for (const id of [0, -1, 1.5, 1e300, "", "é", "a".repeat(1000)]) {
      const response = await rawPost(url, rpc("ListTasks", {}, id));
      assert.equal(response.body.id, id, `id ${JSON.stringify(id).slice(0, 20)} is echoed`);
      assert.equal(response.body.result.totalSize, 0);
    }
    const notification = await rawPost(url, JSON.stringify({ jsonrpc: "2.0", method: "ListTasks", params: {} }));
    assert.equal(notification.body.id, null);
    for (const body of ["null", "0", '"text"', "true", "{}", '{"jsonrpc":"2.0"}', '{"jsonrpc":2,"method":"ListTasks","id":1}', '{"jsonrpc":"2.0","method":5,"id":1}']) {
      assertRpcError(await rawPost(url, body), -32600, body);
    }
    for (const body of ["", " ", "{", '{"a":}', "\u0000", "NaN", "{'a':1}", '{"a":1}}']) assertRpcError(await rawPost(url, body), -32700, JSON.stringify(body));
    assert.equal(t.agent.store.size, 0);
    assert.deepEqual(t.logged, []);
  } finally {
    await t.close();
  }
});

test("slow-loris clients that never finish their headers or body are cut off with 408 while others are served", async () => {
  const agent = await Agent.open({ dataDir: tempDir(), handler: () => {}, warn: () => {}, push: false });
  const server = createAgentServer(agent) as Server & { connectionsCheckingInterval: number };
  // The shipped limits: 10 s for headers, 30 s for the whole request, checked every second.
  assert.equal(server.headersTimeout, 10_000);
  assert.equal(server.requestTimeout, 30_000);
  assert.equal(server.connectionsCheckingInterval, 1_000);
  // The same machinery with short limits, so the test takes a second, not forty.
  server.headersTimeout = 300;
  server.requestTimeout = 600;
  server.connectionsCheckingInterval = 50;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const started = Date.now();
    const slow: Array<Promise<string>> = [];
    for (let i = 0; i < 40; i++) {
      slow.push(rawExchange(port, "", { end: false }));
      slow.push(rawExchange(port, "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n", { end: false }));
      slow.push(rawExchange(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"jsonrpc"', { end: false }));
      slow.push(rawExchange(port, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"jso\r\n", { end: false }));
    }
    // A true slow-loris keeps sending a header byte now and then: that does not extend its time.
    const dripping = new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let received = "";
      let n = 0;
      const drip = setInterval(() => socket.write(n++ === 0 ? "GET / HTTP/1.1\r\n" : `X-${n}: y\r\n`), 20);
      const bound = setTimeout(() => socket.destroy(new Error("the dripping client was never cut off")), 10_000);
      socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
      socket.on("close", () => {
        clearInterval(drip);
        clearTimeout(bound);
        resolve(received);
      });
      socket.on("error", reject);
    });
    // Meanwhile, well-behaved clients are answered.
    for (let i = 0; i < 20; i++) assert.equal((await rawPost(`http://127.0.0.1:${port}/`, rpc("ListTasks", {}))).body.result.totalSize, 0);
    const answers = await Promise.all([...slow, dripping]);
    const elapsed = Date.now() - started;
    for (const answer of answers) assert.match(answer, /^HTTP\/1\.1 408 Request Timeout/);
    assert.ok(elapsed < 5_000, `slow clients were cut off after ${elapsed} ms`);
    assert.equal((await rawPost(`http://127.0.0.1:${port}/`, rpc("ListTasks", {}))).status, 200);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await agent.close();
  }
});

test("malformed HTTP gets a 4xx from the server, which keeps serving", async () => {
  const t = await hostileAgent();
  const port = Number(new URL(t.url).port);
  const cases: Array<[string, string, RegExp]> = [
    ["a request target that is not a URL", "GET http://[ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["a bad Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n{}", /^HTTP\/1\.1 400 /],
    ["Content-Length and Transfer-Encoding together", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["a header over 16 KiB", `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ["a header line with a bare LF in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["garbage instead of HTTP", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003", /^HTTP\/1\.1 400 /],
  ];
  try {
    for (const [name, payload, expected] of cases) assert.match(await rawExchange(port, payload), expected, name);
    assert.equal((await rawPost(`${t.url}/`, rpc("ListTasks", {}))).body.result.totalSize, 0);
    assert.deepEqual(t.logged, []);
  } finally {
    await t.close();
  }
});

test("a flood of concurrent connections and idle sockets is served with bounded memory; the journal reloads the same", async () => {
  const t = await hostileAgent();
  const url = `${t.url}/`;
  const port = Number(new URL(t.url).port);
  const idle: Array<ReturnType<typeof connect>> = [];
  try {
    // 500 sockets that connect and say nothing hold no request state the server must buffer.
    await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve());
      socket.on("error", reject);
      idle.push(socket);
    })));
    const rssBefore = process.memoryUsage().rss;
    const bodies = [
      () => rpc("SendMessage", { message: userMessage({ pad: "x".repeat(16_000) }), configuration: { returnImmediately: true } }),
      () => rpc("ListTasks", { pageSize: 5 }),
      () => rpc("GetTask", { id: "missing" }),
      () => "{broken",
      () => rpc("SendMessage", { message: { messageId: "m", role: "nobody", parts: [] } }),
    ];
    let created = 0;
    for (let round = 0; round < 3; round++) {
      const responses = await Promise.all(Array.from({ length: 300 }, (_, i) => postOnNewConnection(url, bodies[i % bodies.length]!())));
      for (const [i, response] of responses.entries()) {
        assert.equal(response.status, 200);
        assert.equal(response.body.jsonrpc, "2.0");
        assert.ok("result" in response.body || "error" in response.body, `request ${i} got a JSON-RPC answer`);
        if (i % bodies.length === 0) created++;
      }
    }
    const growthMiB = (process.memoryUsage().rss - rssBefore) / MiB;
    assert.ok(growthMiB < 200, `RSS grew by ${growthMiB.toFixed(0)} MiB over 900 requests`);
    assert.equal((await t.client.listTasks({})).totalSize, created);
    assert.deepEqual(t.logged, []);
  } finally {
    for (const socket of idle) socket.destroy();
    await t.close();
  }
  const reloaded = await reloadTasks(t.dataDir);
  assert.equal(reloaded.size, 180);
});

// A name with no DNS answer is accepted at creation (conformance_test): the connect-time guard judges it.
test("every SSRF spelling is refused with -32602 by CreateTaskPushNotificationConfig and inline in SendMessage", async () => {
  const t = await hostileAgent({ push: { resolver } });
  const { task } = await t.client.sendMessage({ message: userMessage({}) });
  const urls = [
    "http://127.0.0.1/", "http://127.1/", "http://0x7f.1/", "http://0x7f000001/", "http://2130706433/", "http://017700000001/",
    "http://0177.0.0.1/", "http://127.000.000.001/", "http://%31%32%37.0.0.1/", "http://127\u30020\u30020\u30021/", "http://127.0.0.1\t/",
    "  http://127.0.0.1/  ", "HTTP://127.0.0.1:80/", "http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://[::127.0.0.1]/", "http://[64:ff9b::a00:1]/", "http://[2002:7f00:1::]/", "http://[fe80::1%25eth0]/",
    "http://0.0.0.0/", "http://0/", "http://[::]/", "http://10.0.0.1/", "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fd00::1]/", "http://[fc00::1]/", "http://100.64.0.1/",
    "http://224.0.0.1/", "http://255.255.255.255/", "http://192.0.2.1/", "http://198.18.0.1/", "http://localhost/", "http://LOCALHOST./",
    "http://foo.localhost/", "http://metadata.google.internal/", "http://rebind.example/", "http://127.0.0.1.nip.io/", "http://internal.example/",
    "http://v6.example/", "http://user:pass@hooks.example/", "http://token@hooks.example/",
    "ftp://hooks.example/", "file:///etc/passwd", "gopher://127.0.0.1:25/", "javascript:alert(1)", "data:text/plain,x", "ws://hooks.example/",
    "//127.0.0.1/", "/webhook", "http://", "http://[::1/", "",
  ];
  const url = `${t.url}/`;
  try {
    for (const target of urls) {
      const created = await rawPost(url, rpc("CreateTaskPushNotificationConfig", { taskId: task.id, url: target }));
      assertRpcError(created, -32602, `create ${JSON.stringify(target)}`);
      assert.equal(created.body.error.data[0].metadata.field, "url", target);
      if (target !== "") assert.match(created.body.error.message, /refused \([A-Z_]+\)/, target);
      const v03 = await rawPost(url, rpc("CreateTaskPushNotificationConfig", { taskId: task.id, pushNotificationConfig: { url: target } }));
      assertRpcError(v03, -32602, `create (v0.3 shape) ${JSON.stringify(target)}`);
      const inline = await rawPost(url, rpc("SendMessage", { message: userMessage({}), configuration: { taskPushNotificationConfig: { url: target } } }));
      assertRpcError(inline, -32602, `inline ${JSON.stringify(target)}`);
      assert.equal(inline.body.error.data[0].metadata.field, "configuration.taskPushNotificationConfig.url", target);
    }
    assert.deepEqual((await t.client.listPushConfigs({ taskId: task.id })).configs, []);
    assert.deepEqual([...liveTasks(t).keys()], [task.id], "no inline refusal created a task");
    assert.deepEqual(t.logged, []);
  } finally {
    await t.close();
  }
  assert.equal((await reloadTasks(t.dataDir)).size, 1);
});

test("header injection in token, credentials, scheme or id is refused with -32602 on both config paths", async () => {
  const t = await hostileAgent({ push: { ssrf: { allowPrivate: true }, resolver, schedule: [3_600_000] } });
  const { task } = await t.client.sendMessage({ message: userMessage({}) });
  const hook = "http://127.0.0.1:9/hook";
  const bad = ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rb", "a\u0000b", "a\tb", "a\u007fb", "é", "a\u2028b", "a\u0085b", "\r\n\r\nGET / HTTP/1.1"];
  const configs: Array<[Record<string, unknown>, string]> = [
    ...bad.map((value): [Record<string, unknown>, string] => [{ token: value }, "token"]),
    ...bad.map((value): [Record<string, unknown>, string] => [{ authentication: { scheme: "Bearer", credentials: value } }, "authentication.credentials"]),
    ...bad.map((value): [Record<string, unknown>, string] => [{ authentication: { scheme: value } }, "authentication.scheme"]),
    ...bad.map((value): [Record<string, unknown>, string] => [{ authentication: { schemes: [value] } }, "authentication.scheme"]),
    ...bad.map((value): [Record<string, unknown>, string] => [{ id: value }, "id"]),
    [{ authentication: { scheme: "Bearer x" } }, "authentication.scheme"], [{ authentication: { scheme: "Bea:rer" } }, "authentication.scheme"],
    [{ authentication: { scheme: "" } }, "authentication.scheme"], [{ authentication: { schemes: [] } }, "authentication.scheme"],
  ];
  const url = `${t.url}/`;
  try {
    for (const [extra, field] of configs) {
      const what = JSON.stringify(extra);
      const created = await rawPost(url, rpc("CreateTaskPushNotificationConfig", { taskId: task.id, url: hook, ...extra }));
      assertRpcError(created, -32602, `create ${what}`);
      assert.equal(created.body.error.data[0].metadata.field, field, what);
      const v03 = await rawPost(url, rpc("CreateTaskPushNotificationConfig", { taskId: task.id, pushNotificationConfig: { url: hook, ...extra } }));
      assertRpcError(v03, -32602, `create (v0.3 shape) ${what}`);
      const inline = await rawPost(url, rpc("SendMessage", { message: userMessage({}), configuration: { taskPushNotificationConfig: { url: hook, ...extra } } }));
      assertRpcError(inline, -32602, `inline ${what}`);
      assert.equal(inline.body.error.data[0].metadata.field, `configuration.taskPushNotificationConfig.${field}`, what);
    }
    // The same fields with printable values are accepted, so the refusals above are about the values.
    const fine = await t.client.createPushConfig({ taskId: task.id, url: hook, id: "cfg-1", token: "tok en~!", authentication: { scheme: "Bearer", credentials: "abc.DEF-123 =" } });
    assert.equal(fine.id, "cfg-1");
    assert.equal(fine.authentication?.credentials, undefined, "credentials never come back");
    assert.deepEqual((await t.client.listPushConfigs({ taskId: task.id })).configs.map((c) => c.id), ["cfg-1"]);
    assert.deepEqual([...liveTasks(t).keys()], [task.id]);
    assert.deepEqual(t.logged, []);
  } finally {
    await t.close();
  }
});

/** The notification token the HMAC receiver's push configs carry. */
const NOTIFICATION_TOKEN = "hostile-test-token";

/** A receiver (HMAC and the notification token) on a free port. */
async function startHmacReceiver(dataDir = tempDir()) {
  const logs: string[] = [];
  const receiver = await WebhookReceiver.open({ dataDir, agentUrl: "http://127.0.0.1:1", jwt: false, secrets: [SECRET], token: NOTIFICATION_TOKEN, log: (line) => logs.push(line), fetch: async () => Response.json({}, { status: 503 }) });
  const server = receiver.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    receiver,
    dataDir,
    logs,
    port,
    url: `http://127.0.0.1:${port}/webhook`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await receiver.close();
    },
  };
}

/** Headers signed with the shared secret, as the agent makes them for a push config with the token. */
function signedHeaders(body: string, options: { id?: string; timestamp?: number } = {}): Record<string, string> {
  const { id = `msg_${crypto.randomUUID().replaceAll("-", "")}`, timestamp = Math.floor(Date.now() / 1000) } = options;
  return {
    "content-type": "application/a2a+json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signStandardWebhook(id, timestamp, body, [decodeSecret(SECRET)]),
    "x-a2a-notification-token": NOTIFICATION_TOKEN,
  };
}

const postWebhook = (url: string, headers: Record<string, string>, body: string | Uint8Array) =>
  fetch(url, { method: "POST", headers, body: body as BodyInit }).then(async (r) => ({ status: r.status, body: (await r.json()) as { reason?: string; accepted?: boolean } }));

test("the receiver refuses forged, replayed, expired, tampered and oversized webhooks over HTTP, and never records them", async () => {
  const r = await startHmacReceiver();
  const body = JSON.stringify({ statusUpdate: { taskId: "t1", contextId: "c", status: { state: "TASK_STATE_WORKING", timestamp: new Date().toISOString() } } });
  const now = Math.floor(Date.now() / 1000);
  const genuine = signedHeaders(body);
  try {
    assert.equal((await postWebhook(r.url, genuine, body)).body.accepted, true);
    const cases: Array<[string, Record<string, string>, string | Uint8Array, number, string]> = [
      ["a replay under a new webhook-id", { ...genuine, "webhook-id": "msg_other" }, body, 401, "BAD_SIGNATURE"],
      ["a replay with a fresh timestamp", { ...genuine, "webhook-timestamp": String(now + 1) }, body, 401, "BAD_SIGNATURE"],
      ["a replay ten minutes later", signedHeaders(body, { timestamp: now - 600 }), body, 401, "STALE_TIMESTAMP"],
      ["a timestamp ten minutes ahead", signedHeaders(body, { timestamp: now + 600 }), body, 401, "STALE_TIMESTAMP"],
      ["a timestamp in milliseconds", { ...genuine, "webhook-timestamp": String(Date.now()) }, body, 401, "STALE_TIMESTAMP"],
      ["a negative timestamp", { ...genuine, "webhook-timestamp": "-1" }, body, 400, "MALFORMED"],
      ["a timestamp with a fraction", { ...genuine, "webhook-timestamp": `${now}.5` }, body, 400, "MALFORMED"],
      ["a body with a byte appended", genuine, `${body} `, 401, "BAD_SIGNATURE"],
      ["a body cut short", genuine, body.slice(0, -1), 401, "BAD_SIGNATURE"],
      ["an empty body", genuine, "", 401, "BAD_SIGNATURE"],
      ["a signature for another secret", { ...genuine, "webhook-signature": signStandardWebhook(genuine["webhook-id"]!, now, body, [Buffer.alloc(24, 1)]) }, body, 401, "BAD_SIGNATURE"],
      ["a v2 signature", { ...genuine, "webhook-signature": genuine["webhook-signature"]!.replace("v1,", "v2,") }, body, 401, "BAD_SIGNATURE"],
      ["a truncated signature", { ...genuine, "webhook-signature": genuine["webhook-signature"]!.slice(0, -4) }, body, 401, "BAD_SIGNATURE"],
      ["a signature that is not base64", { ...genuine, "webhook-signature": "v1,!!!!" }, body, 401, "BAD_SIGNATURE"],
      ["a thousand wrong signatures", { ...genuine, "webhook-signature": Array.from({ length: 1000 }, () => "v1,AAAA").join(" ") }, body, 401, "BAD_SIGNATURE"],
      ["an empty signature", { ...genuine, "webhook-signature": " " }, body, 400, "MISSING_HEADERS"],
      ["no headers at all", { "content-type": "application/json" }, body, 400, "MISSING_HEADERS"],
      ["a webhook-id with a dot", { ...genuine, "webhook-id": "msg.1" }, body, 400, "MALFORMED"],
    ];
    for (const [name, headers, payload, status, reason] of cases) {
      const response = await postWebhook(r.url, headers, payload);
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.reason, reason, name);
    }
    // Oversized: declared, streamed without a length, and headers past Node's 16 KiB.
    assert.equal((await postWebhook(r.url, signedHeaders("x"), "x".repeat(MiB + 1))).status, 413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(r.url, { method: "POST", headers: { ...signedHeaders("x"), "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      for (let i = 0; i < 20; i++) req.write("y".repeat(64 * 1024));
      req.end();
    });
    assert.equal(chunked, 413);
    assert.match(await rawExchange(r.port, `POST /webhook HTTP/1.1\r\nHost: a\r\nwebhook-signature: ${"v1,A ".repeat(5000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    assert.equal(r.receiver.events().length, 1, "only the genuine webhook is recorded");
    assert.deepEqual((await postWebhook(r.url, genuine, body)).body, { duplicate: true });
  } finally {
    await r.close();
  }
  const again = await startHmacReceiver(r.dataDir);
  try {
    assert.deepEqual(again.receiver.events().map((e) => [e.webhookId, e.duplicates]), [[genuine["webhook-id"], 1]]);
  } finally {
    await again.close();
  }
});

test("signed but hostile bodies, malformed paths and a flood of forgeries never crash the receiver", async () => {
  const r = await startHmacReceiver();
  const deep = "[".repeat(300_000) + "]".repeat(300_000);
  const hostile: Array<[string, string, number]> = [
    ["not JSON", "{not json", 400], ["JSON null", "null", 400], ["a JSON string", '"task"', 400], ["an array", "[1]", 400],
    ["deep nesting", deep, 400], ["a task without an id", '{"task":{"status":{}}}', 400], ["a numeric task id", '{"statusUpdate":{"taskId":5}}', 400],
    ["parts that are a string", '{"task":{"id":"t2","status":{"state":"TASK_STATE_WORKING","message":{"parts":"abc"}}}}', 200],
    ["a null part", '{"task":{"id":"t3","status":{"state":"TASK_STATE_WORKING","message":{"parts":[null,{"text":5},{"text":"ok"}]}}}}', 200],
    ["a status that is a string", '{"statusUpdate":{"taskId":"t4","status":"done"}}', 200],
    ["a state that is an object", '{"statusUpdate":{"taskId":"t5","status":{"state":{"x":1}}}}', 200],
    ["a prototype key", '{"__proto__":{"task":{"id":"t6"}},"constructor":1}', 400],
  ];
  try {
    for (const [name, body, status] of hostile) {
      const response = await postWebhook(r.url, signedHeaders(body), body);
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.body)}`);
      if (status === 400) assert.equal(response.body.reason, "MALFORMED", name);
    }
    const text = r.receiver.events().find((e) => e.taskId === "t3")?.text;
    assert.equal(text, "ok", "the first text part is found past hostile ones");
    for (const path of ["/tasks/%E0%A4%A", "/tasks/%", "/tasks/%ZZ"]) {
      assert.match(await rawExchange(r.port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 400 /, path);
    }
    assert.match(await rawExchange(r.port, "GET http://[ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), /^HTTP\/1\.1 400 /);
    assert.equal((await fetch(`http://127.0.0.1:${r.port}/tasks/unknown`)).status, 404);

    const recorded = r.receiver.events().length;
    const rssBefore = process.memoryUsage().rss;
    const body = JSON.stringify({ task: { id: "t-flood", pad: "z".repeat(32_000) } });
    for (let round = 0; round < 3; round++) {
      const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => {
        const headers = signedHeaders(body);
        if (i % 2 === 0) headers["webhook-signature"] = `v1,${Buffer.alloc(32, i).toString("base64")}`;
        else headers["webhook-timestamp"] = String(Math.floor(Date.now() / 1000) - 3600);
        return postWebhook(r.url, headers, body).then((response) => response.status);
      }));
      assert.ok(statuses.every((status) => status === 401), `forgeries are refused: ${[...new Set(statuses)]}`);
    }
    const growthMiB = (process.memoryUsage().rss - rssBefore) / MiB;
    assert.ok(growthMiB < 200, `RSS grew by ${growthMiB.toFixed(0)} MiB over 600 forgeries`);
    assert.equal(r.receiver.events().length, recorded, "no forgery is recorded");
    assert.ok(!r.logs.some((line) => line.startsWith("error:")), r.logs.filter((line) => line.startsWith("error:")).join("\n"));
  } finally {
    await r.close();
  }
  const again = await startHmacReceiver(r.dataDir);
  try {
    assert.deepEqual(again.receiver.events().map((e) => e.taskId).sort(), ["t2", "t3", "t4", "t5"]);
  } finally {
    await again.close();
  }
});
