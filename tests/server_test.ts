import assert from "node:assert/strict";
import { request } from "node:http";
import { connect } from "node:net";
import { test } from "node:test";
import { Agent } from "../lib/agent.ts";
import { rawPost, startAgent, userMessage, waitFor } from "./helpers.ts";

const rpc = (method: string, params: unknown, id: unknown = 1) => JSON.stringify({ jsonrpc: "2.0", id, method, params });

test("the agent card is served and declares streaming", async () => {
  const t = await startAgent({ handler: () => {} });
  try {
    const card = await (await fetch(`${t.url}/.well-known/agent-card.json`)).json();
    assert.equal(card.capabilities.streaming, true);
    assert.deepEqual(card.supportedInterfaces[0], { url: `${t.url}/`, protocolBinding: "JSONRPC", protocolVersion: "1.0" });
  } finally {
    await t.close();
  }
});

test("bad input gets the spec's answer, the agent keeps serving, and the journal still loads", async () => {
  const t = await startAgent({ handler: () => {} });
  const url = `${t.url}/`;
  const { task } = await t.client.sendMessage({ message: userMessage({}) });
  const cases: Array<[string, string | Uint8Array, number, Record<string, string>?]> = [
    ["invalid JSON", "{not json", -32700],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), -32700],
    ["a JSON-RPC batch", `[${rpc("GetTask", { id: task.id })}]`, -32600],
    ["a non-request", '{"hello": "world"}', -32600],
    ["a wrong jsonrpc version", JSON.stringify({ jsonrpc: "1.0", id: 1, method: "GetTask" }), -32600],
    ["an object id", JSON.stringify({ jsonrpc: "2.0", id: {}, method: "GetTask", params: {} }), -32600],
    ["an unknown method", rpc("tasks/explode", {}), -32601],
    ["params that are not an object", rpc("GetTask", "abc"), -32602],
    ["a missing id field", rpc("GetTask", {}), -32602],
    ["a message without parts", rpc("SendMessage", { message: { messageId: "m", role: "ROLE_USER", parts: [] } }), -32602],
    ["a part with two kinds", rpc("SendMessage", { message: { messageId: "m", role: "ROLE_USER", parts: [{ text: "a", url: "b" }] } }), -32602],
    ["a wrong role", rpc("SendMessage", { message: { messageId: "m", role: "bot", parts: [{ text: "a" }] } }), -32602],
    ["a non-integer historyLength", rpc("GetTask", { id: task.id, historyLength: 1.5 }), -32602],
    ["an unknown task", rpc("GetTask", { id: "nope" }), -32001],
    ["a message to a terminal task", rpc("SendMessage", { message: { ...userMessage({}), taskId: task.id } }), -32004],
    ["a contradicting contextId", rpc("SendMessage", { message: { ...userMessage({}), taskId: task.id, contextId: "other" } }), -32602],
    ["an extended card the card does not declare", rpc("GetExtendedAgentCard", {}), -32004],
    ["an unsupported A2A-Version", rpc("GetTask", { id: task.id }), -32009, { "A2A-Version": "9.9" }],
  ];
  try {
    for (const [name, body, code, headers] of cases) {
      const response = await rawPost(url, body, headers);
      assert.equal(response.status, 200, name);
      assert.equal(response.body?.error?.code, code, `${name}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.data[0]["@type"], "type.googleapis.com/google.rpc.ErrorInfo", name);
    }
    const named = await rawPost(url, rpc("SendMessage", { message: { messageId: "m", role: "ROLE_USER", parts: [{ text: 5 }] } }));
    assert.match(named.body.error.message, /message\.parts\[0\]\.text must be a string/);

    const tooBig = await rawPost(url, rpc("SendMessage", { message: userMessage("x".repeat(1024 * 1024)) }));
    assert.equal(tooBig.status, 413);
    assert.match(tooBig.body.error, /exceeds the limit/);
    assert.equal((await fetch(url)).status, 405);
    assert.equal((await fetch(`${t.url}/nowhere`, { method: "POST", body: "{}" })).status, 404);
    assert.equal((await rawPost(url, rpc("GetTask", { id: task.id }), { "content-type": "text/plain" })).status, 415);

    // Still serving, and the stored task is untouched.
    const again = await t.client.getTask({ id: task.id });
    assert.equal(again.status.state, "TASK_STATE_COMPLETED");
    assert.equal((await t.client.sendMessage({ message: userMessage({}) })).task.status.state, "TASK_STATE_COMPLETED");
  } finally {
    await t.close();
  }
  const reopened = await Agent.open({ dataDir: t.dataDir, handler: () => {}, warn: () => {} });
  assert.equal(reopened.store.size, 2);
  await reopened.close();
});

test("a chunked body over the limit is refused with 413 before it is buffered", async () => {
  const t = await startAgent({ handler: () => {} }, { maxBodyBytes: 1000 });
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write("x".repeat(500));
      req.end();
    });
    assert.equal(status, 413);
  } finally {
    await t.close();
  }
});

test("application/a2a+json requests are accepted like application/json", async () => {
  const t = await startAgent({ handler: () => {} });
  try {
    const response = await rawPost(`${t.url}/`, rpc("ListTasks", {}), { "content-type": "application/a2a+json; charset=utf-8" });
    assert.equal(response.body.result.totalSize, 0);
  } finally {
    await t.close();
  }
});

test("past maxConnections a new connection is closed at once, and the agent serves again when one frees up", async () => {
  const t = await startAgent({ handler: async () => {} }, { maxConnections: 4 });
  const port = Number(new URL(t.url).port);
  const open = (): Promise<ReturnType<typeof connect>> => new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
  const held = await Promise.all(Array.from({ length: 4 }, open));
  try {
    const extra = await open();
    let closed = false;
    extra.on("close", () => (closed = true));
    extra.on("error", () => {});
    await waitFor(() => closed, { timeoutMs: 5000, what: "the fifth connection to be closed" });
    held.pop()!.destroy();
    await waitFor(async () => (await t.client.listTasks({}).then(() => true, () => false)), { timeoutMs: 5000, what: "the agent to serve again" });
  } finally {
    for (const socket of held) socket.destroy();
    await t.close();
  }
});
