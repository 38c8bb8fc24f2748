/**
 * The client's side of the HTTP+JSON binding, pure: the verb, path and body toHttpRequest() makes
 * for each method, and the A2AError errorFromHttp() reads from an error answer. The agent's side
 * and the round trip are in `http_json_test.ts`.
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
