/**
 * The client's side of the HTTP+JSON binding, pure: the verb, path and body toHttpRequest() makes
 * for each method, and the A2AError errorFromHttp() reads from an error answer. The agent's side
 * and the round trip are in `http_json_routes_test.ts` and `http_json_test.ts`.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import type { A2AError } from "../lib/errors.ts";
import { errorFromHttp, toHttpRequest } from "../lib/http_json_client.ts";
import { V10 } from "./wire_shape.ts";

test("toHttpRequest() maps each method to the route of the spec's §11.3", () => {
  const cases: Array<[string, unknown, string, string, boolean]> = [
    ["SendMessage", { message: {} }, "POST", "/message:send", false],
    ["SendStreamingMessage", { message: {} }, "POST", "/message:stream", true],
    ["GetTask", { id: "t/1", historyLength: 0 }, "GET", "/tasks/t%2F1?historyLength=0", false],
    ["ListTasks", { contextId: "c", pageSize: 5, includeArtifacts: true }, "GET", "/tasks?contextId=c&pageSize=5&includeArtifacts=true", false],
    ["ListTasks", undefined, "GET", "/tasks", false],
    ["CancelTask", { id: "t1" }, "POST", "/tasks/t1:cancel", false],
    ["SubscribeToTask", { id: "t1" }, "GET", "/tasks/t1:subscribe", true],
    ["CreateTaskPushNotificationConfig", { taskId: "t1", url: "https://x" }, "POST", "/tasks/t1/pushNotificationConfigs", false],
    ["GetTaskPushNotificationConfig", { taskId: "t1", id: "c1" }, "GET", "/tasks/t1/pushNotificationConfigs/c1", false],
    ["ListTaskPushNotificationConfigs", { taskId: "t1", pageSize: 2 }, "GET", "/tasks/t1/pushNotificationConfigs?pageSize=2", false],
    ["DeleteTaskPushNotificationConfig", { taskId: "t1", id: "c1" }, "DELETE", "/tasks/t1/pushNotificationConfigs/c1", false],
    ["GetExtendedAgentCard", {}, "GET", "/extendedAgentCard", false],
  ];
  for (const [method, params, verb, path, stream] of cases) {
    const request = toHttpRequest(method, params);
    assert.deepEqual([request.method, request.path, request.stream], [verb, path, stream], method);
  }
  assert.deepEqual(toHttpRequest("CreateTaskPushNotificationConfig", { taskId: "t1", id: "c1", url: "https://x" }).body, { id: "c1", url: "https://x" });
  assert.throws(() => toHttpRequest("tasks/get", {}), (error: A2AError) => error.code === -32601);
  assert.throws(() => toHttpRequest("GetTask", {}), (error: A2AError) => error.code === -32602);
});

test("errorFromHttp() takes the code from the ErrorInfo reason, else from the HTTP status", () => {
  const notFound = errorFromHttp(404, V10.httpTaskNotFound);
  assert.equal(notFound.code, -32001);
  assert.equal(notFound.message, V10.httpTaskNotFound.error.message);
  assert.deepEqual(notFound.details, { taskId: "task-123" });
  assert.equal(errorFromHttp(400, { error: { code: 400, message: "bad" } }).code, -32602);
  assert.equal(errorFromHttp(404, { error: "No route for /x" }).code, -32601);
  assert.equal(errorFromHttp(415, {}).code, -32005);
  assert.equal(errorFromHttp(503, "down").code, -32603);
});

test("toHttpRequest() sends the body a cancel or a config needs without the ids the path carries", () => {
  assert.deepEqual(toHttpRequest("CancelTask", { id: "t1", metadata: { why: "done" } }), { method: "POST", path: "/tasks/t1:cancel", body: { metadata: { why: "done" } }, stream: false });
  assert.deepEqual(toHttpRequest("CreateTaskPushNotificationConfig", { taskId: "t1", url: "https://x" }).body, { url: "https://x" }, "no id: the agent makes one");
  const send = { message: { messageId: "m" } };
  assert.equal(toHttpRequest("SendMessage", send).body, send, "a message goes as it is");
  assert.equal(toHttpRequest("GetTask", { id: "t1" }).body, undefined);
});

test("toHttpRequest() percent-encodes ids and leaves undefined and null out of the query", () => {
  assert.equal(toHttpRequest("GetTask", { id: "a b?c#d", historyLength: undefined }).path, "/tasks/a%20b%3Fc%23d");
  assert.equal(toHttpRequest("ListTasks", { contextId: "c&d", status: null, pageToken: "x=y" }).path, "/tasks?contextId=c%26d&pageToken=x%3Dy");
  assert.equal(toHttpRequest("GetTaskPushNotificationConfig", { taskId: "t/1", id: "c/1" }).path, "/tasks/t%2F1/pushNotificationConfigs/c%2F1");
  assert.equal(toHttpRequest("ListTasks", [1, 2]).path, "/tasks", "params that are not an object add no query");
});

test("toHttpRequest() refuses a missing or empty id with -32602 naming the field the path needs", () => {
  const refusal = (field: string) => (error: A2AError) => error.code === -32602 && error.details?.field === field;
  assert.throws(() => toHttpRequest("CancelTask", { id: "" }), refusal("id"));
  assert.throws(() => toHttpRequest("SubscribeToTask", { id: 7 }), refusal("id"));
  assert.throws(() => toHttpRequest("ListTaskPushNotificationConfigs", {}), refusal("taskId"));
  assert.throws(() => toHttpRequest("DeleteTaskPushNotificationConfig", { taskId: "t1" }), refusal("id"));
  assert.throws(() => toHttpRequest("GetTask", null), refusal("id"));
});

test("errorFromHttp() keeps the agent's message and an object metadata, and falls back to the status for an unknown reason", () => {
  const info = (reason: unknown, metadata?: unknown) => ({ error: { code: 400, message: "nope", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, metadata }] } });
  const notCancelable = errorFromHttp(400, info("TASK_NOT_CANCELABLE", { taskId: "t1" }));
  assert.deepEqual([notCancelable.code, notCancelable.message, notCancelable.details], [-32002, "nope", { taskId: "t1" }]);
  assert.equal(errorFromHttp(400, info("TASK_NOT_CANCELABLE", "t1")).details, undefined, "metadata that is not an object is dropped");
  assert.equal(errorFromHttp(400, info("SOMETHING_NEW")).code, -32602, "an unknown reason: the status decides");
  assert.equal(errorFromHttp(404, info("constructor")).code, -32601, "no reason is taken from the prototype");
  assert.equal(errorFromHttp(500, { error: { details: [{ reason: "TASK_NOT_FOUND" }] } }).code, -32603, "a detail without the ErrorInfo type is not read");
  assert.equal(errorFromHttp(502, null).message, "Agent answered HTTP 502");
  assert.equal(errorFromHttp(400, { error: "plain text" }).message, "plain text");
});
