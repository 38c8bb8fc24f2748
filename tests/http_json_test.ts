import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AClient } from "../lib/client.ts";
import type { A2AError } from "../lib/errors.ts";
import { readSseData } from "../lib/sse.ts";
import type { Task } from "../lib/types.ts";
import type { TaskContext } from "../lib/runner.ts";
import { startAgent, userMessage } from "./helpers.ts";
import { V10, assertWireShape } from "./wire_shape.ts";

type Json = any;

async function http(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; type: string; allow: string | null; body: Json }> {
  const response = await fetch(url, { method: init.method ?? "GET", body: init.body, headers: { ...(init.body === undefined ? {} : { "content-type": "application/a2a+json" }), ...init.headers } });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type") ?? "", allow: response.headers.get("allow"), body: text ? JSON.parse(text) : undefined };
}

async function waitsForCancel(_task: Task, ctx: TaskContext): Promise<void> {
  if ((ctx.message?.parts[0]?.data as { wait?: boolean } | undefined)?.wait) await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
}

test("HTTP+JSON errors carry the status of the spec's §5.4 table and a google.rpc.Status body", async () => {
  const t = await startAgent({ handler: waitsForCancel, push: false });
  const { task: done } = await t.client.sendMessage({ message: userMessage({}) });
  const post = (path: string, body: unknown, headers?: Record<string, string>) => http(`${t.url}${path}`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
  const cases: Array<[string, () => Promise<{ status: number; body: Json }>, number, string, string]> = [
    ["an unknown task", () => http(`${t.url}/tasks/nope`), 404, "NOT_FOUND", "TASK_NOT_FOUND"],
    ["a finished task canceled", () => post(`/tasks/${done.id}:cancel`, {}), 400, "FAILED_PRECONDITION", "TASK_NOT_CANCELABLE"],
    ["a message to a finished task", () => post("/message:send", { message: { ...userMessage({}), taskId: done.id } }), 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION"],
    ["a subscription to a finished task", () => http(`${t.url}/tasks/${done.id}:subscribe`), 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION"],
    ["push configs when push is off", () => http(`${t.url}/tasks/${done.id}/pushNotificationConfigs`), 400, "FAILED_PRECONDITION", "PUSH_NOTIFICATION_NOT_SUPPORTED"],
    ["an extended card the card does not declare", () => http(`${t.url}/extendedAgentCard`), 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION"],
    ["a message without parts", () => post("/message:send", { message: { messageId: "m", role: "ROLE_USER", parts: [] } }), 400, "INVALID_ARGUMENT", "INVALID_PARAMS"],
    ["invalid JSON", () => post("/message:send", "{nope"), 400, "INVALID_ARGUMENT", "PARSE_ERROR"],
    ["a page size that is not a number", () => http(`${t.url}/tasks?pageSize=lots`), 400, "INVALID_ARGUMENT", "INVALID_PARAMS"],
    ["A2A-Version 0.3 (v0.3 is JSON-RPC only here)", () => http(`${t.url}/tasks/${done.id}`, { headers: { "A2A-Version": "0.3" } }), 400, "FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED"],
    ["a malformed id", () => http(`${t.url}/tasks/%E0%A4%A`), 400, "INVALID_ARGUMENT", "INVALID_PARAMS"],
  ];
  // ErrorInfo.metadata is optional: only errors about a task carry one (its id).
  const shape = structuredClone(V10.httpTaskNotFound);
  delete shape.error.details[0].metadata;
  try {
    for (const [name, call, status, rpcStatus, reason] of cases) {
      const response = await call();
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.body)}`);
      assertWireShape(response.body, reason === "TASK_NOT_FOUND" ? V10.httpTaskNotFound : shape, name);
      assert.equal(response.body.error.code, status, name);
      assert.equal(response.body.error.status, rpcStatus, name);
      assert.equal(response.body.error.details[0].reason, reason, name);
    }
    const wrongVerb = await http(`${t.url}/tasks/${done.id}`, { method: "DELETE" });
    assert.equal(wrongVerb.status, 405);
    assert.equal(wrongVerb.allow, "GET");
    const wrongType = await post("/message:send", JSON.stringify({ message: userMessage({}) }), { "content-type": "text/plain" });
    assert.equal(wrongType.status, 415);
    assert.equal((await http(`${t.url}/tasks/a/b/c`)).status, 404, "other paths fall through to the server's 404");
    // The client turns them back into the same A2AError codes.
    const client = new A2AClient(t.url, { binding: "HTTP+JSON" });
    await assert.rejects(client.getTask({ id: "nope" }), (error: A2AError) => error.code === -32001 && error.details?.taskId === "nope");
    await assert.rejects(client.cancelTask({ id: done.id }), (error: A2AError) => error.code === -32002);
    await assert.rejects(async () => {
      for await (const _ of client.subscribeToTask({ id: done.id })) { /* never */ }
    }, (error: A2AError) => error.code === -32004);
  } finally {
    await t.close();
  }
});

test("GET /tasks and GET /tasks/{id} take their parameters from the query", async () => {
  const t = await startAgent({ handler: waitsForCancel });
  try {
    const a = (await t.client.sendMessage({ message: userMessage({}, { contextId: "ctx-a" }) })).task;
    await t.client.sendMessage({ message: userMessage({}, { contextId: "ctx-b" }) });
    const waiting = (await t.client.sendMessage({ message: userMessage({ wait: true }, { contextId: "ctx-a" }), configuration: { returnImmediately: true } })).task;

    const byContext = await http(`${t.url}/tasks?contextId=ctx-a&pageSize=1`);
    assert.equal(byContext.type, "application/a2a+json");
    assertWireShape(byContext.body, V10.listTasksResponse);
    assert.equal(byContext.body.totalSize, 2);
    assert.equal(byContext.body.tasks.length, 1);
    const next = await http(`${t.url}/tasks?contextId=ctx-a&pageSize=1&pageToken=${encodeURIComponent(byContext.body.nextPageToken)}`);
    assert.deepEqual([...byContext.body.tasks, ...next.body.tasks].map((task: Json) => task.id).sort(), [a.id, waiting.id].sort());

    for (const status of ["TASK_STATE_COMPLETED", "completed"]) {
      const completed = await http(`${t.url}/tasks?status=${status}&includeArtifacts=true&historyLength=0`);
      assert.equal(completed.body.totalSize, 2, status);
      assert.equal(completed.body.tasks[0].history, undefined);
    }
    const full = await http(`${t.url}/tasks/${a.id}`);
    assert.equal(full.body.history.length, 1);
    assert.equal((await http(`${t.url}/tasks/${a.id}?historyLength=0`)).body.history, undefined);
    const canceled = await http(`${t.url}/tasks/${waiting.id}:cancel`, { method: "POST" });
    assert.equal(canceled.body.status.state, "TASK_STATE_CANCELED", "a cancel needs no body");
  } finally {
    await t.close();
  }
});

test("HTTP+JSON streams are SSE of bare StreamResponses, by GET or POST :subscribe", async () => {
  const t = await startAgent({ handler: waitsForCancel });
  try {
    const response = await fetch(`${t.url}/message:stream`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: userMessage({}) }) });
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events: Json[] = [];
    for await (const data of readSseData(response.body!)) events.push(JSON.parse(data));
    assert.equal("jsonrpc" in events[0], false);
    assertWireShape(events[0], V10.streamTask);
    assertWireShape(events.at(-1), V10.streamStatusUpdate);

    for (const method of ["GET", "POST"]) {
      const { task } = await t.client.sendMessage({ message: userMessage({ wait: true }), configuration: { returnImmediately: true } });
      const stream = await fetch(`${t.url}/tasks/${task.id}:subscribe`, { method });
      const reader = readSseData(stream.body!)[Symbol.asyncIterator]();
      assert.equal(JSON.parse((await reader.next()).value).task.id, task.id, method);
      await t.client.cancelTask({ id: task.id });
      let last: Json;
      for (let next = await reader.next(); !next.done; next = await reader.next()) last = JSON.parse(next.value);
      assert.equal(last.statusUpdate.status.state, "TASK_STATE_CANCELED", method);
    }
  } finally {
    await t.close();
  }
});

test("a push config body may wrap the config in `config`, and the path names the task", async () => {
  const t = await startAgent({ handler: waitsForCancel, push: { ssrf: { allowPrivate: true } } });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({ wait: true }), configuration: { returnImmediately: true } });
    const created = await http(`${t.url}/tasks/${task.id}/pushNotificationConfigs`, { method: "POST", body: JSON.stringify({ taskId: "other", config: { id: "c9", url: "http://127.0.0.1:9/hook" } }) });
    assert.equal(created.status, 200);
    assert.deepEqual(created.body, { id: "c9", taskId: task.id, url: "http://127.0.0.1:9/hook" });
    const deleted = await http(`${t.url}/tasks/${task.id}/pushNotificationConfigs/c9`, { method: "DELETE" });
    assert.deepEqual([deleted.status, deleted.body], [200, {}]);
    const refused = await http(`${t.url}/tasks/${task.id}/pushNotificationConfigs`, { method: "POST", body: "[1]" });
    assert.equal(refused.status, 400);
    await t.client.cancelTask({ id: task.id });
  } finally {
    await t.close();
  }
});
